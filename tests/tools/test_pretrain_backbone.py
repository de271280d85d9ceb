import logging

import mxnet as mx
import numpy as np
import pytest

from dataset.voc import load_voc
from symbol.backbones.mobilenet import mobilenet_symbol
from symbol.backbones.vgg import vgg16_reduced_symbol
from symbol.builder import train_symbol
from symbol.presets import get_preset
from tools.make_synthetic_voc import CLASSES
from tools.pretrain_backbone import main
from train.params import load_pretrained
from train.pretrain import extract_crops


def test_crops_are_objects_and_background(voc_root):
    records = load_voc(voc_root, "trainval", CLASSES)[:10]
    crops, labels = extract_crops(records, 32, np.random.default_rng(0))
    objects = sum(1 for r in records for o in r.objects if not o.difficult)
    assert crops.shape[1:] == (32, 32, 3) and crops.dtype == np.uint8
    assert (labels < len(CLASSES)).sum() == objects
    assert (labels == len(CLASSES)).sum() > 0


@pytest.mark.parametrize("network, backbone, first", [
    ("mobilenet0.25", lambda x: mobilenet_symbol(x, 0.25), "mobilenet_conv0_weight"),
    ("vgg16_reduced_tiny", lambda x: vgg16_reduced_symbol(x, width=1 / 16), "conv1_1_weight"),
])
def test_pretrained_file_loads_every_backbone_weight_by_name(voc_root, tmp_path, caplog, network, backbone,
                                                             first):
    out = tmp_path / "backbone.params"
    assert main(["--root", str(voc_root), "--network", network, "--size", "32", "--epochs", "1",
                 "--batch-size", "16", "--out", str(out)]) == 0
    saved = mx.nd.load(str(out))
    sym = train_symbol(get_preset(network, 300), len(CLASSES))
    with caplog.at_level(logging.INFO):
        args, auxs = load_pretrained(out, sym, data=(1, 3, 300, 300), label=(1, 2, 6))
    assert set(args) | set(auxs) == set(saved)
    features = backbone(mx.sym.Variable("data"))
    names = set(features.list_arguments() + features.list_auxiliary_states()) - {"data"}
    assert names == set(saved)
    np.testing.assert_array_equal(args[first].asnumpy(), saved[first].asnumpy())
    assert "names in the file are not in the network" not in caplog.text
