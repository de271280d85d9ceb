"""MobileNet v2 (Sandler et al. 2018) from ``mx.gluon.model_zoo``, for SSDLite.

Traced under the prefix ``mobilenetv2_``. SSDLite (MobileNetV2 paper,
section 6.2) attaches its first prediction layer to the *expansion* of the
first stride-32 bottleneck (block 13, 576 channels at width 1.0, output
stride 16) and the second to the last 1x1 convolution (1280 channels,
stride 32); these are marked ``mobilenetv2_expand13`` and
``mobilenetv2_last``.
"""
from __future__ import annotations

import mxnet as mx

from symbol.backbones.gluon import renaming_importer, trace
from symbol.backbones.registry import register

PREFIX = "mobilenetv2_"
#: ``features`` index of bottleneck 13 (three stem layers come first).
_BLOCK13 = 3 + 13
#: Children of a bottleneck's ``out``: expand conv, bn, relu6, depthwise conv, bn, relu6, project, bn.
_EXPANSION_END = 3


def _register(multiplier: float):
    def factory():
        return mx.gluon.model_zoo.vision.MobileNetV2(multiplier, prefix=PREFIX)

    taps = (PREFIX + "expand13", PREFIX + "last")

    @register(f"mobilenetv2_{multiplier}", taps=taps, import_weights=renaming_importer(factory))
    def build(data):
        features = factory().features
        block13 = features[_BLOCK13]
        assert not block13.use_shortcut  # stride 2: its output is ``out(x)`` alone
        # Blocks in order, bottleneck 13 split after its expansion; the last is relu6 of conv1.
        blocks = (list(features[:_BLOCK13]) + list(block13.out[:_EXPANSION_END])
                  + list(block13.out[_EXPANSION_END:]) + list(features[_BLOCK13 + 1:23]))
        marks = {_BLOCK13 + _EXPANSION_END - 1: taps[0], len(blocks) - 1: taps[1]}
        return trace(blocks, data, marks)

    build.__doc__ = f"MobileNet v2, width {multiplier}, up to its last 1x1 convolution."
    return build


_register(1.0)
