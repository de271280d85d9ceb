"""The README's recipe for adding a backbone: one registered function and one preset."""
import mxnet as mx
import numpy as np
import pytest

from symbol import presets
from symbol.backbones import registry
from symbol.backbones.registry import register
from symbol.builder import deploy_symbol, train_symbol
from symbol.features import feature_shapes, num_anchors
from symbol.layers import conv_act
from symbol.presets import get_preset, halving_extras, paper_preset, register_preset


@pytest.fixture
def scratch_registries(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(presets, "_PRESETS", dict(presets._PRESETS))


def test_a_backbone_is_one_function_and_one_preset(scratch_registries):
    # As in the README, "Adding a backbone".
    @register("tinynet", taps=("tiny_s8_relu", "tiny_s16_relu"))
    def tinynet(data):
        x = data
        for name, channels in (("tiny_s2", 8), ("tiny_s4", 16), ("tiny_s8", 32), ("tiny_s16", 64)):
            x = conv_act(x, name, channels, stride=2, pad=1)
        return x

    register_preset(paper_preset("tinynet", 300,
                                 extras=halving_extras((32, 64), (32, 64), (32, 64), (32, 64))))

    preset = get_preset("tinynet", 300)
    assert feature_shapes(preset) == ((38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (2, 2))
    mod = mx.mod.Module(train_symbol(preset, 2), label_names=("label",))
    mod.bind([("data", (2, 3, 300, 300))], [("label", (2, 1, 6))])
    mod.init_params(mx.init.Xavier())
    mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.01})
    label = mx.nd.array([[[0, 0.1, 0.1, 0.5, 0.6, 0]], [[1, 0.3, 0.2, 0.9, 0.7, 0]]])
    mod.forward_backward(mx.io.DataBatch([mx.nd.random.uniform(shape=(2, 3, 300, 300))], [label]))
    mod.update()
    assert np.isfinite(mod.get_outputs()[0].asnumpy()).all()
    _, out, _ = deploy_symbol(preset, 2).infer_shape(data=(1, 3, 300, 300))
    assert out == [(1, num_anchors(preset), 6)]
