"""The command-line machinery: flag types, the help formatter, the main() preamble."""
import argparse
import re

import pytest

from common import cli
from train import cli as train


@pytest.mark.parametrize("parse, good, bad", [
    (cli.positive_int, {"1": 1, "64": 64}, ("0", "-3", "1.5", "x")),
    (cli.nonnegative_int, {"0": 0, "7": 7}, ("-1", "nan")),
    (cli.positive_float, {"0.5": 0.5, "1e-4": 1e-4}, ("0", "-1", "nan", "inf", "x")),
    (cli.nonnegative_float, {"0": 0.0, "2.5": 2.5}, ("-0.1", "inf")),
    (cli.unit_float, {"0": 0.0, "0.45": 0.45, "1": 1.0}, ("1.01", "-0.1", "nan")),
])
def test_numeric_flag_types(parse, good, bad):
    for text, value in good.items():
        parsed = parse(text)
        assert parsed == value and type(parsed) is type(value), text
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError, match=repr(text)):
            parse(text)


def test_triple():
    assert cli.triple("1,2,3") == (1.0, 2.0, 3.0) and cli.triple("2") == (2.0, 2.0, 2.0)
    for text in ("1,2", "a,b,c", "1,nan,2"):
        with pytest.raises(argparse.ArgumentTypeError):
            cli.triple(text)


def test_contexts_from_flags():
    import mxnet as mx

    from common.devices import parse_contexts
    assert parse_contexts(None, 2) == [mx.cpu(0), mx.cpu(1)]
    assert parse_contexts("", 1) == [mx.cpu(0)]  # an empty --gpus is the CPU
    with pytest.raises(ValueError, match="--gpus: expected comma-separated GPU ids, got 'a,b'"):
        parse_contexts("a,b", 1)
    with pytest.raises(ValueError, match="--gpus: no GPU id in ','"):
        parse_contexts(",", 1)
    with pytest.raises(ValueError, match="--cpus must be >= 1, got 0"):
        parse_contexts(None, 0)


@pytest.mark.parametrize("gpus, visible, expected", [
    ("0", 2, ["gpu(0)"]), ("1,0", 2, ["gpu(1)", "gpu(0)"]), (" 0 , 1 ", 2, ["gpu(0)", "gpu(1)"]),
    ("2", 2, "--gpus 2: no GPU 2; MXNet sees 2 (ids 0..1)"), ("0,-1", 2, "no GPU -1"),
    ("0", 0, "--gpus 0: MXNet sees no GPU"),
])
def test_gpu_ids_are_parsed_and_checked_against_the_visible_gpus(gpus, visible, expected, monkeypatch):
    """The GPU path without a GPU: MXNet's count of visible GPUs is stubbed."""
    import mxnet as mx

    from common.devices import parse_contexts
    monkeypatch.setattr(mx.context, "num_gpus", lambda: visible)
    if isinstance(expected, list):
        assert [str(c) for c in parse_contexts(gpus, 1)] == expected
    else:
        with pytest.raises(ValueError, match=re.escape(expected)):
            parse_contexts(gpus, 1)


@pytest.mark.parametrize("network, size, message", [
    ("resnet9", 300, "error: unknown network 'resnet9'; available: inceptionv3, mobilenet0.25"),
    ("resnet50", 416, "error: network 'resnet50' has no preset for input size 416; "
                      "available sizes: [300, 512]"),
])
def test_train_names_the_available_networks_and_sizes(packed, tmp_path, capsys, network, size, message):
    code = train.main(["--train-rec", str(packed[0]), "--prefix", str(tmp_path / "m"), "--network", network,
                       "--data-shape", str(size)])
    assert code == 2 and message in capsys.readouterr().err


def test_help_states_each_default_once():
    p = argparse.ArgumentParser(formatter_class=cli.HelpFormatter)
    p.add_argument("--lr", type=float, default=0.01, help="learning rate")
    p.add_argument("--names", default=None, help="class names (default: the .rec's sidecar)")
    p.add_argument("--log-dir", default=None, help="TensorBoard folder")
    text = " ".join(p.format_help().split())
    assert "learning rate (default: 0.01)" in text
    assert "class names (default: the .rec's sidecar) --log-dir" in text
    assert "TensorBoard folder" in text and "None" not in text


def test_every_flag_of_train_has_help_and_states_its_default():
    parser = train.build_parser()
    text = " ".join(parser.format_help().split())
    assert text.count("(default: None)") == 0
    for flag in ("--epochs", "--seed", "--lr-factor", "--batch-size"):
        action = next(a for a in parser._actions if flag in a.option_strings)
        assert action.help, flag
    assert "last epoch to train (default: 120)" in text


def test_run_main_turns_user_errors_into_one_line_and_exit_2(capsys):
    def run(args):
        raise FileNotFoundError("data/x.rec: not found")
    assert cli.run_main(lambda: cli.make_parser("prog", "d"), run, []) == 2
    assert capsys.readouterr().err == "error: data/x.rec: not found\n"


def test_run_main_records_the_command_line():
    seen = {}

    def build():
        p = cli.make_parser("python tool.py", "d")
        p.add_argument("--name")
        return p
    assert cli.run_main(build, lambda args: seen.setdefault("command", args.command) and 0,
                        ["--name", "a b"]) == 0
    assert seen["command"] == "python tool.py --name 'a b'"
