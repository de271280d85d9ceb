"""Every case of the bad-input corpus, through its real command line: one-line named error, non-zero
exit, no traceback, nothing at the output path."""
import subprocess

import pytest

from common.paths import REPO
from tests.bad_inputs.corpus import CASES

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_a_named_error(name, tmp_path):
    run = CASES[name].build(tmp_path)
    out = subprocess.run(run.argv, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode != 0, f"{name}: exit 0\n{out.stdout[-1000:]}"
    assert "Traceback" not in out.stderr, f"{name}:\n{out.stderr[-3000:]}"
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:") or ": error:" in line]
    assert errors, f"{name}: no error line\n{out.stderr[-2000:]}"
    assert any(run.message in line for line in errors), f"{name}: {errors}"
    assert not run.output.exists(), f"{name}: {run.output} was written"
