"""Every registered network: taps, presets, shapes, Gluon weights import, anchor sizes."""
import math
import re

import mxnet as mx
import numpy as np
import pytest

from symbol.anchors import RATIOS_4, RATIOS_6, paper_anchors, ratios_for
from symbol.backbones import available, get_backbone, tap
from symbol.builder import deploy_symbol, train_symbol
from symbol.features import feature_shapes, num_anchors
from symbol.presets import all_presets, get_preset
from train.params import load_pretrained

PRESETS = all_presets()
#: Gluon model-zoo constructor (default prefix, as a downloaded file was saved) per backbone.
GLUON_MODELS = {"resnet50": "resnet50_v1", "resnet101": "resnet101_v1", "inceptionv3": "inceptionv3",
                "mobilenet1.0": "mobilenet1.0", "mobilenet0.5": "mobilenet0.5",
                "mobilenet0.25": "mobilenet0.25", "mobilenetv2_1.0": "mobilenetv2_1.0"}
AUTO_NAMED = re.compile(r"_(plus|activation|concat|elemwise_add|identity)\d+$")


@pytest.mark.parametrize("name", available())
def test_taps_are_stable_names_at_growing_strides(name):
    backbone = get_backbone(name)
    net = backbone(mx.sym.var("data"))
    shapes = mx.sym.Group([tap(net, t, backbone) for t in backbone.taps]).infer_shape(
        data=(1, 3, 512, 512))[1]
    sides = [s[2] for s in shapes]
    assert sides == sorted(sides, reverse=True) and len(set(sides)) == len(sides)
    assert not any(AUTO_NAMED.search(t) for t in backbone.taps)
    # Two traces give the same names (no process-global counters involved).
    again = backbone(mx.sym.var("data"))
    assert again.list_arguments() == net.list_arguments()


def test_unknown_tap_names_the_backbone_and_its_taps():
    backbone = get_backbone("resnet50")
    with pytest.raises(KeyError, match=r"'stage9' is not in backbone 'resnet50'.*resnet50_v1_stage3"):
        tap(backbone(mx.sym.var("data")), "stage9", backbone)


@pytest.mark.parametrize("preset", PRESETS, ids=[p.name for p in PRESETS])
def test_train_and_deploy_symbols_infer_shapes_at_batch_1_and_4(preset):
    anchors = num_anchors(preset)
    train, deploy = train_symbol(preset, 3), deploy_symbol(preset, 3)
    for batch in (1, 4):
        data = (batch, 3, preset.data_shape, preset.data_shape)
        _, out, _ = train.infer_shape(data=data, label=(batch, 5, 6))
        assert out == [(batch,)] * 4
        _, out, _ = deploy.infer_shape(data=data)
        assert out == [(batch, anchors, 6)]


def test_every_network_has_300_and_512_presets_and_mobilenets_608():
    sizes = {}
    for p in PRESETS:
        sizes.setdefault(p.network, set()).add(p.data_shape)
    assert set(sizes) == set(available())
    assert all({300, 512} <= s for s in sizes.values())
    assert all(608 in sizes[n] for n in ("mobilenet1.0", "mobilenet0.5", "mobilenet0.25", "mobilenetv2_1.0"))
    # MobileNet v1 also at 384 with SSD300's layout
    sides = (48, 24, 12, 6, 3, 1)
    assert all(feature_shapes(get_preset(f"mobilenet{m}", 384)) == tuple((s, s) for s in sides)
               for m in ("1.0", "0.5", "0.25"))


def _pairs(percents):
    """(s_k, sqrt(s_k * s_k+1)) from scales written out in percent."""
    return [(a / 100, round(math.sqrt(a * b) / 100, 6)) for a, b in zip(percents, percents[1:])]


def test_paper_anchor_sizes_are_pinned():
    # 300: first layer 10% (max 20%), then 20..90% in steps of (90-20)//4 = 17, as SSD300's
    # min_sizes 30, 60, 111, 162, 213, 264 and max_sizes 60, ..., 315 pixels.
    assert [s.sizes for s in paper_anchors(6, 300)] == [(0.1, round(math.sqrt(0.02), 6))] + _pairs(
        [20, 37, 54, 71, 88, 105])
    # 512: first layer 4% (max 10%), then 10..90% in steps of (90-10)//5 = 16.
    assert [s.sizes for s in paper_anchors(7, 512)] == [(0.04, round(math.sqrt(0.004), 6))] + _pairs(
        [10, 26, 42, 58, 74, 90, 106])
    assert ratios_for(6) == (RATIOS_4, RATIOS_6, RATIOS_6, RATIOS_6, RATIOS_4, RATIOS_4)
    assert get_preset("resnet50", 512).anchors == paper_anchors(6, 512)
    assert get_preset("inceptionv3", 300).anchors == paper_anchors(6, 300)


def test_ssdlite_uses_depthwise_separable_heads_and_extras():
    sym = deploy_symbol(get_preset("mobilenetv2_1.0", 300), 3)
    internals = sym.get_internals()
    args = dict(zip(internals.list_arguments(), internals.infer_shape(data=(1, 3, 300, 300))[0]))
    assert args["head0_cls_dw_weight"] == (576, 1, 3, 3)        # depthwise on the expansion (576)
    assert args["head0_cls_weight"] == (4 * 4, 576, 1, 1)       # 4 anchors x (3 + 1) classes
    assert args["head1_loc_dw_weight"] == (1280, 1, 3, 3)
    assert args["extra1_2_dw_weight"] == (256, 1, 3, 3) and args["extra1_2_weight"] == (512, 256, 1, 1)
    relu6 = {n.name: float(n.attr("a_max")) for n in internals if n.name.endswith("relu6")}
    assert relu6["head0_cls_dw_relu6"] == relu6["extra4_2_relu6"] == 6.0


def _gluon_file(tmp_path, model: str, side: int):
    net = mx.gluon.model_zoo.vision.get_model(model)
    net.initialize(mx.init.Uniform(1.0))
    net(mx.nd.zeros((1, 3, side, side)))
    path = tmp_path / f"{model}.params"
    net.save_parameters(str(path))
    return path, {k: p.data().asnumpy() for k, p in net._collect_params_with_prefix().items()}


@pytest.mark.parametrize("network", sorted(GLUON_MODELS))
def test_gluon_model_zoo_weights_arrive_in_every_backbone_parameter(network, tmp_path, caplog):
    side = 299 if network == "inceptionv3" else 224
    path, saved = _gluon_file(tmp_path, GLUON_MODELS[network], side)
    sym = train_symbol(get_preset(network, 300), 3)
    args, auxs = load_pretrained(path, sym, network=network, data=(1, 3, 300, 300), label=(1, 2, 6))
    loaded = {**args, **auxs}
    backbone_names = {n for n in sym.list_arguments() + sym.list_auxiliary_states()
                      if not re.match(r"(head|extra)\d|data|label", n)}
    assert set(loaded) == backbone_names
    # Every array arrives unchanged: compare as multisets of values, name by name via the importer.
    renamed, unused = get_backbone(network).import_weights({k: mx.nd.array(v) for k, v in saved.items()})
    assert set(unused) == {k for k in saved if k.startswith("output.")}
    for name, value in renamed.items():
        np.testing.assert_array_equal(loaded[name].asnumpy(), value.asnumpy())


def test_vgg16_reduced_imports_gluon_vgg16_with_subsampled_fc6_fc7(tmp_path):
    path, saved = _gluon_file(tmp_path, "vgg16", 224)
    sym = train_symbol(get_preset("vgg16_reduced", 300), 3)
    args, _ = load_pretrained(path, sym, network="vgg16_reduced", data=(1, 3, 300, 300), label=(1, 2, 6))
    np.testing.assert_array_equal(args["conv1_1_weight"].asnumpy(), saved["features.0.weight"])
    np.testing.assert_array_equal(args["conv5_3_bias"].asnumpy(), saved["features.28.bias"])
    fc6 = saved["features.31.weight"].reshape(4096, 512, 7, 7)
    np.testing.assert_array_equal(args["fc6_weight"].asnumpy()[5, 7], fc6[20, 7, ::3, ::3])
    fc7 = saved["features.33.weight"]
    np.testing.assert_array_equal(args["fc7_weight"].asnumpy()[3, 10, 0, 0], fc7[12, 40])
    np.testing.assert_array_equal(args["fc7_bias"].asnumpy(), saved["features.33.bias"][::4])
    vgg = {f"conv{s}_{i}_{p}" for s, n in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3))
           for i in range(1, n + 1) for p in ("weight", "bias")} | {"fc6_weight", "fc6_bias",
                                                                     "fc7_weight", "fc7_bias"}
    assert set(args) == vgg


def test_gluon_file_needs_a_network_that_can_import_it(tmp_path):
    path = tmp_path / "g.params"
    mx.nd.save(str(path), {"features.0.weight": mx.nd.zeros((2,))})
    sym = train_symbol(get_preset("vgg16_reduced_tiny", 300), 3)
    with pytest.raises(ValueError, match="Gluon model-zoo file.*network must be known"):
        load_pretrained(path, sym, data=(1, 3, 300, 300), label=(1, 2, 6))
    with pytest.raises(ValueError, match="'vgg16_reduced_tiny' cannot import"):
        load_pretrained(path, sym, network="vgg16_reduced_tiny", data=(1, 3, 300, 300), label=(1, 2, 6))


def test_mobilenet_300_presets_follow_the_paper_and_scales_can_be_overridden():
    from symbol.presets import with_anchor_scales
    preset = get_preset("mobilenet0.5", 300)
    assert preset.anchors == paper_anchors(6, 300)
    small = with_anchor_scales(preset, (0.1, 0.9, 0.05, 0.1))
    assert small.anchors[0].sizes == (0.05, round(math.sqrt(0.005), 6))
    assert [a.ratios for a in small.anchors] == [a.ratios for a in preset.anchors]
    with pytest.raises(ValueError, match="--anchor-scales: expected s_min,s_max"):
        with_anchor_scales(preset, (0.9, 0.1))
