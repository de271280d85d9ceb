import mxnet as mx
import numpy as np
import pytest

from symbol.anchors import numpy_prior
from symbol.backbones import available, get_backbone
from symbol.builder import body, deploy_symbol, train_symbol
from symbol.coding import DetectionParams
from symbol.features import feature_shapes, num_anchors
from symbol.presets import available_presets, get_preset


@pytest.mark.parametrize("size,anchors,maps", [
    (300, 8732, [38, 19, 10, 5, 3, 1]),
    (512, 24564, [64, 32, 16, 8, 4, 2, 1]),
])
def test_vgg16_reduced_anchor_counts(size, anchors, maps):
    preset = get_preset("vgg16_reduced", size)
    assert [h for h, _ in feature_shapes(preset)] == maps
    assert num_anchors(preset) == anchors
    _, shapes, _ = deploy_symbol(preset, 20).infer_shape(data=(1, 3, size, size))
    assert shapes == [(1, anchors, 6)]


@pytest.mark.parametrize("network,size", [("vgg16_reduced", 300), ("vgg16_reduced", 512),
                                          ("mobilenet0.25", 300)])
@pytest.mark.parametrize("batch", [1, 8])
def test_train_and_deploy_symbols_infer_shapes(network, size, batch):
    preset = get_preset(network, size)
    n = num_anchors(preset)
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
                           in zip(preset.anchors, feature_shapes(preset))])
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


def _conv_np(x, w, b=None, pad=0):
    """Direct NCHW convolution, stride 1 (numpy twin for small inputs)."""
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    k = w.shape[2]
    h, wd = x.shape[2] - k + 1, x.shape[3] - k + 1
    out = np.zeros((x.shape[0], w.shape[0], h, wd))
    for i in range(k):
        for j in range(k):
            out += np.einsum("nchw,oc->nohw", x[:, :, i:i + h, j:j + wd], w[:, :, i, j])
    return out if b is None else out + b[None, :, None, None]


def test_top_down_path_equals_numpy_twin():
    from symbol.features import top_down
    rng = np.random.default_rng(0)
    shapes = [(1, 3, 7, 7), (1, 5, 4, 4), (1, 4, 2, 2)]  # 4 -> 8 cropped to 7, 2 -> 4
    taps = [mx.sym.var(f"t{i}") for i in range(3)]
    outs = mx.sym.Group(top_down(taps, 2, batchnorm=False))
    inputs = {f"t{i}": rng.normal(size=s) for i, s in enumerate(shapes)}
    params = {}
    arg_shapes = outs.infer_shape(**{k: v.shape for k, v in inputs.items()})[0]
    for name, shape in zip(outs.list_arguments(), arg_shapes):
        if name not in inputs:
            params[name] = rng.normal(size=shape)
    got = [o.asnumpy() for o in outs.eval(ctx=mx.cpu(), **{k: mx.nd.array(v, dtype="float64")
                                                            for k, v in {**inputs, **params}.items()})]
    merged, want = None, []
    for i in (2, 1, 0):
        lateral = _conv_np(inputs[f"t{i}"], params[f"td{i}_lateral_weight"], params[f"td{i}_lateral_bias"])
        if merged is not None:
            up = merged.repeat(2, axis=2).repeat(2, axis=3)
            lateral = lateral + up[:, :, :lateral.shape[2], :lateral.shape[3]]
        merged = lateral
        smooth = _conv_np(merged, params[f"td{i}_smooth_weight"], params[f"td{i}_smooth_bias"], pad=1)
        want.insert(0, np.maximum(smooth, 0))
    assert [g.shape for g in got] == [(1, 2, 7, 7), (1, 2, 4, 4), (1, 2, 2, 2)]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-9)


def test_top_down_preset_keeps_anchors_and_heads_see_its_channels():
    from dataclasses import replace
    plain = get_preset("mobilenet0.25", 300)
    fpn = replace(plain, top_down=24)
    symbol = deploy_symbol(fpn, 3)
    _, outs, _ = symbol.infer_shape(data=(2, 3, 300, 300))
    assert outs == [(2, num_anchors(plain), 6)]
    shapes = dict(zip(symbol.list_arguments(), symbol.infer_shape(data=(2, 3, 300, 300))[0]))
    for i in range(len(plain.taps)):  # heads on the taps read the path's 24 channels
        assert shapes[f"head{i}_cls_weight"][1] == 24
    assert shapes[f"head{len(plain.taps)}_cls_weight"][1] != 24  # extras keep their own


def test_top_down_rejects_taps_that_shrink_more_than_twice():
    from dataclasses import replace
    preset = replace(get_preset("vgg16_reduced_tiny", 300), name="bad", top_down=8,
                     taps=("relu3_3", "relu7"))  # 75x75 then 19x19
    assert [h for h, _ in feature_shapes(replace(preset, top_down=0))][:2] == [75, 19]
    with pytest.raises(ValueError, match=r"preset bad: top_down needs .* got sides \[75, 19\]"):
        deploy_symbol(preset, 2)
    with pytest.raises(ValueError, match="top_down must be >= 0"):
        replace(preset, top_down=-1)


def test_every_preset_survives_its_json_round_trip():
    """The spec stored whole in a model's metadata gives back the same preset (anchors, extras, Caffe
    names)."""
    import json

    from symbol.presets import Preset, all_presets
    for preset in all_presets():
        stored = json.loads(json.dumps(preset.to_json()))
        assert Preset.from_json(stored) == preset, preset.name
    with pytest.raises(ValueError, match="metadata field spec: not a network spec"):
        Preset.from_json({"name": "x"}, where="metadata field spec")


def test_resolve_preset_applies_every_override():
    from symbol.anchors import rescaled
    from symbol.presets import resolve_preset
    base = get_preset("mobilenet0.5", 384)
    assert resolve_preset("mobilenet0.5", 384) == base
    spec = resolve_preset("mobilenet0.5", 384, anchor_scales=(0.1, 0.9, 0.05, 0.1), top_down=64)
    assert spec.top_down == 64 and spec.anchors == rescaled(base.anchors, (0.1, 0.9, 0.05, 0.1))
    assert spec.taps == base.taps and spec.extras == base.extras
