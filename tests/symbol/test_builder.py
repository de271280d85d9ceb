import mxnet as mx
import numpy as np
import pytest

from symbol.anchors import numpy_prior
from symbol.backbones import available, get_backbone
from symbol.builder import DetectionParams, body, deploy_symbol, train_symbol
from symbol.presets import available_presets, get_preset


@pytest.mark.parametrize("size,anchors,maps", [
    (300, 8732, [38, 19, 10, 5, 3, 1]),
    (512, 24564, [64, 32, 16, 8, 4, 2, 1]),
])
def test_vgg16_reduced_anchor_counts(size, anchors, maps):
    preset = get_preset("vgg16_reduced", size)
    assert [h for h, _ in preset.feature_shapes()] == maps
    assert preset.num_anchors() == anchors
    _, shapes, _ = deploy_symbol(preset, 20).infer_shape(data=(1, 3, size, size))
    assert shapes == [(1, anchors, 6)]


@pytest.mark.parametrize("network,size", [("vgg16_reduced", 300), ("vgg16_reduced", 512),
                                          ("mobilenet0.25", 300)])
@pytest.mark.parametrize("batch", [1, 8])
def test_train_and_deploy_symbols_infer_shapes(network, size, batch):
    preset = get_preset(network, size)
    n = preset.num_anchors()
    train = train_symbol(preset, 20)
    assert train.list_outputs() == ["loss_output", "cls_loss_output", "loc_loss_output", "num_pos_output"]
    _, outs, _ = train.infer_shape(data=(batch, 3, size, size), label=(batch, 7, 6))
    assert outs == [(batch,)] * 4
    _, outs, _ = deploy_symbol(preset, 20).infer_shape(data=(batch, 3, size, size))
    assert outs == [(batch, n, 6)]
    # The two heads share the body: same parameters apart from nothing.
    assert set(train.list_arguments()) - {"label"} == set(deploy_symbol(preset, 20).list_arguments())


def test_body_anchors_equal_numpy_priors():
    preset = get_preset("vgg16_reduced_tiny", 300)
    _, _, anchors = body(mx.sym.var("data"), preset, 3)
    exe = anchors.simple_bind(mx.cpu(), data=(1, 3, 300, 300), grad_req="null")
    got = exe.forward(data=mx.nd.zeros((1, 3, 300, 300)))[0].asnumpy()[0]
    want = np.concatenate([numpy_prior(spec, h, w) for spec, (h, w)
                           in zip(preset.anchors, preset.feature_shapes())])
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_vgg16_reduced_layers_follow_the_paper():
    sym = get_backbone("vgg16_reduced")(mx.sym.var("data"))
    internals = sym.get_internals()
    args = dict(zip(internals.list_arguments(), internals.infer_shape(data=(1, 3, 300, 300))[0]))
    assert args["fc6_weight"] == (1024, 512, 3, 3)  # fc6 as a 3x3 convolution
    assert args["fc7_weight"] == (1024, 1024, 1, 1)
    fc6 = [n for n in internals if n.name == "fc6"][0]
    assert fc6.attr("dilate") == "(6, 6)"


def test_conv4_3_is_l2_normalized_with_learned_scale_20():
    preset = get_preset("vgg16_reduced", 300)
    sym = train_symbol(preset, 20)
    assert "head0_norm_scale" in sym.list_arguments()
    assert "head1_norm_scale" not in sym.list_arguments()
    mod = mx.mod.Module(deploy_symbol(preset, 2), label_names=None)
    mod.bind([("data", (1, 3, 300, 300))], for_training=False)
    mod.init_params(mx.init.Xavier())
    scale = mod.get_params()[0]["head0_norm_scale"].asnumpy()
    assert scale.shape == (1, 512, 1, 1) and np.all(scale == 20)


def test_unknown_network_and_size_list_the_choices():
    with pytest.raises(KeyError, match="unknown network 'resnet9'.*vgg16_reduced"):
        get_preset("resnet9", 300)
    with pytest.raises(KeyError, match=r"no preset for input size 416; available sizes: \[300, 512\]"):
        get_preset("vgg16_reduced", 416)
    with pytest.raises(KeyError, match="mobilenet0.25"):
        get_backbone("nope")
    assert "vgg16_reduced_300" in available_presets() and "vgg16_reduced" in available()


def test_deploy_head_options_reach_the_operator():
    sym = deploy_symbol(get_preset("vgg16_reduced_tiny", 300), 3,
                        DetectionParams(nms_threshold=0.3, nms_topk=50, force_suppress=True))
    node = [n for n in sym.get_internals() if n.name == "detection"][0]
    assert node.attr("nms_threshold") == "0.3" and node.attr("nms_topk") == "50"
    assert node.attr("force_suppress") == "True"
