"""Converted Caffe SSD and VGG16 weights load into the training symbol, exactly.

Our training symbol with a converted model's weights, turned into our deploy graph, must
compute OpenCV DNN's class probabilities, box offsets and priors (within 1e-4) on the same input.
The project's own VGG16-SSD300 prototxt (``tests/tools/caffe/vgg_ssd.py``, 1/16 width) always runs;
the real ones of ../shared/caffe_ssd run when present.
"""
import logging

import cv2
import mxnet as mx
import numpy as np
import pytest

from common.paths import CAFFE_SSD
from symbol.builder import body, train_symbol
from symbol.presets import get_preset
from tests.conftest import shared_model
from tests.tools.caffe.vgg_ssd import vgg_ssd300
from tools.caffe_converter.model_writer import convert
from tools.caffe_converter.random_weights import probe_input, write_random_caffemodel
from train.params import load_pretrained


def _converted(tmp_path, text, classes_fg=6, name="vgg"):
    proto = tmp_path / f"{name}.prototxt"
    proto.write_text(text)
    weights = tmp_path / f"{name}.caffemodel"
    write_random_caffemodel(proto, weights, seed=2)
    convert(proto, weights, tmp_path / name)
    return proto, weights, tmp_path / f"{name}-0000.params"


def _parameters(preset, classes=6):
    """The training symbol's learnable parameters (what the loader counts)."""
    return [a for a in train_symbol(preset, classes).list_arguments() if a not in ("data", "label")]


def _renamed(preset):
    """Our parameters whose converted Caffe tensor has another name (the preset's Caffe layout)."""
    return [k for k in preset.caffe.names() if k in _parameters(preset)]


def _class_heads(preset):
    return [a for a in _parameters(preset) if a.startswith("head") and "_cls_" in a]


def _backbone(network):
    from symbol.backbones import get_backbone
    return [a for a in get_backbone(network)(mx.sym.var("data")).list_arguments() if a != "data"]


def _ours(preset, classes, params, caplog=None):
    sym = train_symbol(preset, classes)
    size = preset.data_shape
    args, auxs = load_pretrained(params, sym, network=preset.network, preset=preset,
                                 data=(1, 3, size, size), label=(1, 1, 6))
    return args, auxs


def _equal_to_opencv(preset, classes, proto, weights, args, auxs):
    size = preset.data_shape
    blob = probe_input((1, 3, size, size))
    cls, loc, anchors = body(mx.sym.var("data"), preset, classes)
    group = mx.sym.Group([mx.sym.softmax(cls, axis=1), loc, anchors])
    exe = group.bind(mx.cpu(), {"data": mx.nd.array(blob), **{k: v for k, v in args.items()
                                                                 if k in group.list_arguments()}},
                     aux_states=auxs, grad_req="null")
    prob, offsets, priors = (o.asnumpy() for o in exe.forward(is_train=False))
    net = cv2.dnn.readNetFromCaffe(str(proto), str(weights))
    net.enableFusion(False)
    net.setInput(blob)
    conf, mbox_loc, mbox_prior = net.forward(["mbox_conf_softmax", "mbox_loc", "mbox_priorbox"])
    np.testing.assert_allclose(prob.transpose(0, 2, 1).reshape(-1), conf.reshape(-1), atol=1e-4)
    np.testing.assert_allclose(offsets.reshape(-1), mbox_loc.reshape(-1), atol=1e-4)
    np.testing.assert_allclose(priors.reshape(-1), mbox_prior[0, 0].reshape(-1), atol=1e-4)


def test_tiny_vgg_ssd300_loads_exactly_and_equals_opencv(tmp_path, caplog):
    preset = get_preset("vgg16_reduced_tiny", 300)
    proto, weights, params = _converted(tmp_path, vgg_ssd300(width=1 / 16, classes=7))
    with caplog.at_level(logging.INFO):
        args, auxs = _ours(preset, 6, params)
    total, renamed = len(_parameters(preset)), len(_renamed(preset))
    assert renamed > 0  # the heads, extras and the L2 scale have Caffe names of their own
    assert f"{total} of {total} parameters loaded ({renamed} renamed from Caffe names)" in caplog.text
    _equal_to_opencv(preset, 6, proto, weights, args, auxs)


def test_finetuning_to_other_classes_keeps_every_other_tensor_and_trains(tmp_path, caplog):
    preset = get_preset("vgg16_reduced_tiny", 300)
    _, _, params = _converted(tmp_path, vgg_ssd300(width=1 / 16, classes=21))
    with caplog.at_level(logging.INFO):
        args, auxs = _ours(preset, 6, params)
    heads = _class_heads(preset)  # the class-prediction convolutions, weight and bias per feature map
    assert len(heads) == 2 * len(preset.anchors)
    assert f"{len(heads)} re-initialized (another class count), 0 initialized fresh" in caplog.text
    assert not set(heads) & set(args) and len(args) == len(_parameters(preset)) - len(heads)
    sym = train_symbol(preset, 6)
    mod = mx.mod.Module(sym, label_names=("label",))
    mod.bind([("data", (2, 3, 300, 300))], [("label", (2, 1, 6))])
    mod.init_params(mx.init.Xavier(), arg_params=args, aux_params=auxs, allow_missing=True)
    mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 1e-3})
    label = mx.nd.array([[[0, 0.1, 0.1, 0.5, 0.6, 0]], [[3, 0.3, 0.2, 0.9, 0.7, 0]]])
    mod.forward_backward(mx.io.DataBatch([mx.nd.array(probe_input((2, 3, 300, 300)))], [label]))
    mod.update()
    assert np.isfinite(mod.get_outputs()[0].asnumpy()).all()


def test_a_tensor_without_a_place_is_an_error(tmp_path):
    preset = get_preset("vgg16_reduced_tiny", 300)
    _, _, params = _converted(tmp_path, vgg_ssd300(width=1 / 16, classes=7))
    blob = mx.nd.load(str(params))
    blob["arg:conv11_mbox_conf_weight"] = mx.nd.zeros((1,))
    mx.nd.save(str(params), blob)
    with pytest.raises(ValueError, match="tensor 'conv11_mbox_conf_weight' has no place in the network"):
        _ours(preset, 6, params)
    with pytest.raises(ValueError, match="has no Caffe layout"):
        _ours(get_preset("mobilenet0.25", 300), 6, params)


def test_vgg_classifier_converts_to_backbone_weights(tmp_path, caplog):
    from tools.caffe_converter.convert_backbone import main
    proto = tmp_path / "cls.prototxt"
    proto.write_text(vgg_ssd300(width=1 / 16, classifier=True))
    weights = tmp_path / "cls.caffemodel"
    write_random_caffemodel(proto, weights, seed=4)
    out = tmp_path / "vgg_tiny.params"
    assert main([str(proto), str(weights), str(out), "--network", "vgg16_reduced_tiny", "--rgb"]) == 0
    preset = get_preset("vgg16_reduced_tiny", 300)
    with caplog.at_level(logging.INFO):
        args, _ = _ours(preset, 6, out)
    backbone, total = len(_backbone("vgg16_reduced_tiny")), len(_parameters(preset))
    assert f"{backbone} of {total} parameters loaded" in caplog.text
    assert "0 of the file's tensors not used" in caplog.text
    # the backbone computes OpenCV's relu7 on the same picture (RGB for ours, BGR for Caffe's)
    from symbol.backbones import get_backbone
    blob = probe_input((1, 3, 300, 300))
    feats = get_backbone("vgg16_reduced_tiny")(mx.sym.var("data"))
    weights_in = {k: args[k] for k in feats.list_arguments() if k != "data"}
    exe = feats.bind(mx.cpu(), {"data": mx.nd.array(blob[:, ::-1].copy()), **weights_in}, grad_req="null")
    net = cv2.dnn.readNetFromCaffe(str(proto), str(weights))
    net.enableFusion(False)
    net.setInput(blob)
    np.testing.assert_allclose(exe.forward()[0].asnumpy(), net.forward("fc7_relu"), atol=1e-4)


@pytest.mark.e2e
@pytest.mark.parametrize("name", [shared_model("vgg16_ssd300_voc0712"), shared_model("vgg16_ssd512_coco")])
def test_released_vgg16_ssds_load_into_the_training_symbol(name, tmp_path, caplog):
    size = 512 if "512" in name else 300
    classes = 80 if "coco" in name else 20
    preset = get_preset("vgg16_reduced", size)
    if "coco" in name:  # the released COCO model's smaller boxes (configs/ssd512_vgg16_coco.toml)
        from symbol.presets import with_anchor_scales
        preset = with_anchor_scales(preset, (0.1, 0.9, 0.04, 0.1))
    proto = CAFFE_SSD / name / "deploy.prototxt"
    weights = tmp_path / "w.caffemodel"
    write_random_caffemodel(proto, weights)
    convert(proto, weights, tmp_path / "m")
    with caplog.at_level(logging.INFO):
        args, auxs = _ours(preset, classes, tmp_path / "m-0000.params")
    total = len(train_symbol(preset, classes).list_arguments()) - 2
    assert f"{total} of {total} parameters loaded" in caplog.text
    _equal_to_opencv(preset, classes, proto, weights, args, auxs)


@pytest.mark.e2e
@pytest.mark.parametrize("name", [shared_model("vgg16_ssd300_voc0712")])
def test_released_vgg16_up_to_fc7_is_the_backbone(name, tmp_path):
    """The VGG16 fc-reduced classifier the paper starts from, cut out of the released SSD300's prototxt."""
    from google.protobuf import text_format

    from tools.caffe_converter.caffemodel import read_prototxt
    from tools.caffe_converter.convert_backbone import convert_backbone
    net = read_prototxt(CAFFE_SSD / name / "deploy.prototxt")
    keep = []
    for layer in net.layer:
        keep.append(layer)
        if layer.name == "relu7":
            break
    del net.layer[:]
    net.layer.extend(keep)
    proto = tmp_path / "vgg16_fc_reduced.prototxt"
    proto.write_text(text_format.MessageToString(net))
    weights = tmp_path / "vgg.caffemodel"
    write_random_caffemodel(proto, weights)
    arrays, left_out = convert_backbone(proto, weights, network="vgg16_reduced", rgb=True)
    assert len(arrays) == 30 and left_out == []
