"""Every network x {300, 512}: a real training step, a checkpoint, deploy.py and demo.py."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from common import modelfile
from dataset.augmentation import NO_AUGMENTATION
from dataset.recordio import pack_records
from dataset.voc import load_voc
from detect import demo, deploy
from symbol.backbones import available
from tools.make_synthetic_voc import CLASSES
from train.config import TrainConfig
from train.trainer import build_trainer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def two_images(voc_root, tmp_path_factory):
    """A two-image training set: one step at batch 2."""
    records = [r for r in load_voc(voc_root, "trainval", CLASSES) if r.objects][:2]
    rec = tmp_path_factory.mktemp("two") / "two.rec"
    pack_records(records, rec, CLASSES, progress=False)
    return rec


def _config(rec, prefix, network, size, **kw):
    base = TrainConfig.build(train_rec=rec, prefix=prefix, network=network, data_shape=size,
                       class_names=CLASSES, batch_size=2, epochs=1, lr=1e-3, lr_steps=(),
                       warmup_epochs=0, augmentation=NO_AUGMENTATION, progress=False, threads=1)
    return base.replace(**kw)


@pytest.mark.parametrize("size", (300, 512))
@pytest.mark.parametrize("network", available())
def test_train_step_deploy_and_demo(network, size, two_images, images, tmp_path):
    trainer = build_trainer(_config(two_images, tmp_path / "ssd", network, size))
    before = {k: v.asnumpy() for k, v in trainer.module.get_params()[0].items()}
    [stats] = trainer.fit()
    assert np.isfinite(stats.loss) and stats.loss > 0
    after = trainer.module.get_params()[0]
    assert any(not np.array_equal(before[k], after[k].asnumpy()) for k in before)

    out = tmp_path / "deploy" / "ssd"
    assert deploy.main(["--prefix", str(tmp_path / "ssd"), "--out", str(out)]) == 0
    assert modelfile.load_meta(out).network == network
    assert demo.main([str(images[0]), "--prefix", str(out), "--out", str(tmp_path / "demo"),
                      "--thresh", "0", "--no-draw"]) == 0
    result = json.loads((tmp_path / "demo" / "detections.json").read_text())
    [image] = result["images"]
    assert image["detections"], "an untrained network still scores some boxes above 0"
    for d in image["detections"]:
        x1, y1, x2, y2 = d["box"]
        assert 0 <= x1 <= x2 <= image["width"] and 0 <= y1 <= y2 <= image["height"]


def test_finetuning_onto_other_classes_reinitializes_only_the_class_layers(two_images, voc_root,
                                                                          tmp_path, caplog):
    source = build_trainer(_config(two_images, tmp_path / "six", "mobilenet0.25", 300))
    source.fit()
    three = CLASSES[:3]
    records = [r for r in load_voc(voc_root, "trainval", CLASSES)
               if r.objects and all(o.class_id < 3 for o in r.objects)][:2]
    rec = tmp_path / "three.rec"
    pack_records(records, rec, three, progress=False)
    with caplog.at_level(logging.INFO):
        target = build_trainer(_config(rec, tmp_path / "three", "mobilenet0.25", 300, class_names=three,
                                 pretrained=modelfile.params_path(tmp_path / "six", 1), seed=9))
    assert "number of classes differs; re-initializing the class-prediction layers" in caplog.text
    assert "shape mismatch" not in caplog.text
    src_args, src_auxs = modelfile.load_params(tmp_path / "six", 1)
    args, auxs = target.module.get_params()
    cls_layers = {k for k in args if k.startswith("head") and "_cls_" in k}
    assert len(cls_layers) == 12  # weight and bias of six heads
    for name, value in {**args, **auxs}.items():
        same = np.array_equal(value.asnumpy(), {**src_args, **src_auxs}[name].asnumpy())
        assert same == (name not in cls_layers), name
    assert args["head0_cls_weight"].shape[0] == 4 * (3 + 1)
