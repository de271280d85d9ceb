"""Shared fixtures: a small synthetic VOC dataset made once per session, and its RecordIO."""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MXNET_ENGINE_TYPE", "NaiveEngine")

import pytest  # noqa: E402

from tools.make_synthetic_voc import CLASSES, generate  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def voc_root(tmp_path_factory) -> Path:
    """A 40 + 12 image synthetic VOC folder."""
    out = tmp_path_factory.mktemp("synthetic")
    return generate(out, name="synthetic", trainval=40, test=12, seed=3)


@pytest.fixture(scope="session")
def packed(voc_root, tmp_path_factory):
    """``(train_rec, val_rec)`` packed from ``voc_root``."""
    from dataset.recordio import pack_records
    from dataset.voc import load_voc
    out = tmp_path_factory.mktemp("rec")
    paths = []
    for split, name in (("trainval", "train"), ("test", "val")):
        rec = out / f"{name}.rec"
        pack_records(load_voc(voc_root, split, CLASSES), rec, CLASSES, progress=False)
        paths.append(rec)
    return tuple(paths)
