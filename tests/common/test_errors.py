"""The line of a library error shown to users."""
import mxnet as mx
import pytest

from common.errors import reason


def test_mxnet_errors_give_their_check_not_the_cpp_traceback(tmp_path):
    path = tmp_path / "cut.params"
    mx.nd.save(str(path), {"a": mx.nd.ones((50, 50))})
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(mx.base.MXNetError) as err:
        mx.nd.load(str(path))
    assert reason(err.value) == "fi->Read(data): Invalid NDArray file format"


@pytest.mark.parametrize("message, want", [
    ("first line\nsecond", "first line"),
    ("\n  \nTraceback (most recent call last):\n  File \"x.cc\", line 3\nMXNetError: bad shape", "bad shape"),
    ("[07:29:32] ../src/io/x.cc:54: Check failed: n > 0: empty\nStack trace:\n  [bt] (0) lib",
     "n > 0: empty"),
])
def test_the_first_line_stating_the_problem(message, want):
    assert reason(ValueError(message)) == want


def test_an_empty_message_names_the_exception_and_long_ones_are_cut():
    assert reason(KeyError()) == "KeyError"
    assert reason(ValueError("x" * 500), limit=10) == "x" * 10
