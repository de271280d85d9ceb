"""MXNet's dist_sync kvstore through tools/launch on loopback: 2 workers + 1 server.

Their parameters after an epoch equal one process's with the same global batch (the batches of
the two workers concatenated); each worker reads its own half of the .rec; killing a worker
stops the job, leaves rank 0's checkpoint intact, and --resume continues from it.
"""
import json
import os
import signal
import subprocess
import sys
import time

import mxnet as mx
import numpy as np
import pytest

from common import modelfile
from common.paths import REPO
from dataset.augmentation import NO_AUGMENTATION
from dataset.iterator import DetBatch, DetRecordIter
from tests.processes import job_marker, marked
from tools.make_synthetic_voc import CLASSES
from train.config import TrainConfig
from train.trainer import build_trainer

pytestmark = pytest.mark.e2e
SEED, BATCH = 5, 4


def _command(packed, prefix, *extra, epochs=1):
    launch = [sys.executable, "-m", "tools.launch", "-n", "2", "-s", "1", "--grace", "5",
              "--silence-timeout", "120", "--"]
    return [*launch, sys.executable, str(REPO / "train.py"), "--train-rec", str(packed[0]),
            "--prefix", str(prefix), "--network", "vgg16_reduced_tiny", "--data-shape", "300",
            "--batch-size", str(BATCH), "--epochs", str(epochs), "--optimizer", "adam", "--lr", "0.002",
            "--lr-steps", "", "--warmup-epochs", "0", "--no-augment", "--threads", "1", "--no-progress",
            "--seed", str(SEED), "--kvstore", "dist_sync", "--record-log", *extra]


def _reference(packed, tmp_path, amp=None, optimizer="adam"):
    """One process, batch 2 x BATCH: each step the two workers' batches of that step, concatenated."""
    config = TrainConfig.build(train_rec=packed[0], prefix=tmp_path / "ref" / "ssd",
                         network="vgg16_reduced_tiny", data_shape=300, class_names=CLASSES,
                         batch_size=2 * BATCH, epochs=1, optimizer=optimizer, lr=0.002, lr_steps=(),
                         warmup_epochs=0, augmentation=NO_AUGMENTATION, progress=False, threads=1, seed=SEED,
                         amp=amp)
    trainer = build_trainer(config)
    start = {k: v.asnumpy() for k, v in trainer.module.get_params()[0].items()}
    parts = []
    for rank in range(2):
        part = config.replace(batch_size=BATCH)
        parts.append(list(DetRecordIter(part.data.train_rec, batch_size=BATCH, data_shape=300,
                                        mean=part.model.mean, std=part.model.std,
                                        augmentation=NO_AUGMENTATION, shuffle=True,
                                        seed=SEED * 100003 + 1, threads=1, num_parts=2, part_index=rank)))
    for step in range(trainer.batches_per_epoch):
        a, b = parts[0][step % len(parts[0])], parts[1][step % len(parts[1])]
        trainer.step(DetBatch(data=[mx.nd.concat(a.data[0], b.data[0], dim=0)],
                              label=[mx.nd.concat(a.label[0], b.label[0], dim=0)], pad=0))
    return start, {k: v.asnumpy() for k, v in trainer.module.get_params()[0].items()}


def test_two_workers_equal_one_process_with_the_global_batch(packed, tmp_path):
    prefix = tmp_path / "dist" / "ssd"
    out = subprocess.run(_command(packed, prefix), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    seen = [set(json.loads(open(f"{prefix}-records-worker{r}.json").read())["1"]) for r in range(2)]
    assert seen[0] and seen[1] and not seen[0] & seen[1]  # disjoint halves of the records
    assert len(seen[0] | seen[1]) >= 36  # of 40
    got = {k: v.asnumpy() for k, v in modelfile.load_params(prefix, 1)[0].items()}
    start, want = _reference(packed, tmp_path)
    assert set(got) == set(want)
    # The same updates up to the order of float sums (Adam magnifies those where gradients are ~0):
    # the distance between the two runs is a small fraction of how far the weights moved.
    moved = np.concatenate([(want[k] - start[k]).ravel() for k in sorted(want)])
    apart = np.concatenate([(got[k] - want[k]).ravel() for k in sorted(want)])
    assert np.linalg.norm(apart) <= 2e-3 * np.linalg.norm(moved)
    for name in want:  # and so for every tensor
        assert np.linalg.norm(got[name] - want[name]) <= 1e-2 * np.linalg.norm(want[name] - start[name]), name
    assert modelfile.load_meta(prefix).made_by["workers"] == 2


@pytest.mark.bf16
def test_two_bf16_workers_equal_one_bf16_process(packed, tmp_path):
    """--amp bf16 under dist_sync: the update of one bf16 process with the global batch.

    SGD, whose update is linear in the gradients: each worker's weight gradients are rounded to
    bfloat16 before they are summed (one process rounds the sum), which Adam's normalization would
    magnify where gradients are near zero."""
    prefix = tmp_path / "dist" / "ssd"
    out = subprocess.run(_command(packed, prefix, "--amp", "bf16", "--optimizer", "sgd"), capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    args, auxs = modelfile.load_params(prefix, 1)
    assert {v.dtype for v in {**args, **auxs}.values()} == {np.float32}
    assert modelfile.load_meta(prefix).made_by["amp"] == "bf16"
    start, want = _reference(packed, tmp_path, amp="bf16", optimizer="sgd")
    want.pop("anchors_fixed")
    moved = np.concatenate([(want[k] - start[k]).ravel() for k in sorted(want)])
    apart = np.concatenate([(args[k].asnumpy() - want[k]).ravel() for k in sorted(want)])
    assert np.linalg.norm(apart) <= 2e-2 * np.linalg.norm(moved)


def test_a_killed_worker_ends_the_job_and_resume_works(packed, tmp_path):
    prefix = tmp_path / "killed" / "ssd"
    marker = job_marker()  # every process of the job inherits it: leftovers can be found
    job = subprocess.Popen(_command(packed, prefix, "--checkpoint-every", "1", epochs=30),
                           env={**os.environ, **marker}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    deadline = time.time() + 300
    while not modelfile.params_path(prefix, 2).exists() and time.time() < deadline:
        assert job.poll() is None, job.stderr.read()[-2000:]
        time.sleep(0.2)
    victims = marked(marker, also=b"DMLC_ROLE=worker")
    assert len(victims) == 2
    killed_at = time.time()
    os.kill(victims[-1], signal.SIGKILL)
    out, err = job.communicate(timeout=120)
    assert job.returncode != 0 and time.time() - killed_at < 60
    assert "worker" in err and "exited with code" in err
    time.sleep(0.5)
    assert marked(marker) == []  # no worker, server, scheduler or launcher left
    last = modelfile.latest_epoch(prefix)
    modelfile.load_params(prefix, last)  # intact
    resumed = subprocess.run(_command(packed, prefix, "--resume", str(last), epochs=last + 1),
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert modelfile.latest_epoch(prefix) == last + 1
