"""kill -9 in the middle of training, then --resume: the result equals an uninterrupted run."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from common import modelfile
from common.paths import REPO

pytestmark = pytest.mark.e2e


def _train(packed, prefix, *extra):
    return [sys.executable, str(REPO / "train.py"), "--train-rec", str(packed[0]), "--prefix", str(prefix),
            "--network", "vgg16_reduced_tiny", "--data-shape", "300", "--batch-size", "8", "--epochs", "3",
            "--optimizer", "adam", "--lr", "0.002", "--lr-steps", "", "--warmup-epochs", "0", "--no-augment",
            "--threads", "1", "--no-progress", "--seed", "5", *extra]


def test_killed_run_resumes_to_the_uninterrupted_result(packed, tmp_path):
    killed = tmp_path / "killed" / "ssd"
    process = subprocess.Popen(_train(packed, killed), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while not modelfile.params_path(killed, 1).exists() and time.time() < deadline:
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        time.sleep(0.05)
    time.sleep(0.3)  # somewhere in epoch 2, perhaps in the middle of writing a file
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert modelfile.latest_epoch(killed) in (1, 2)
    resume = modelfile.latest_epoch(killed)
    resumed = subprocess.run(_train(packed, killed, "--resume", str(resume)), capture_output=True)
    assert resumed.returncode == 0
    straight = tmp_path / "straight" / "ssd"
    assert subprocess.run(_train(packed, straight), capture_output=True).returncode == 0
    a, b = modelfile.load_params(straight, 3)[0], modelfile.load_params(killed, 3)[0]
    for name in a:
        np.testing.assert_allclose(b[name].asnumpy(), a[name].asnumpy(), rtol=1e-4, atol=1e-6, err_msg=name)
    assert not list(killed.parent.glob(".*.tmp"))  # a write the kill interrupted was cleaned up
