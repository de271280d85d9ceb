"""MobileNet v1 (Howard et al. 2017) from ``mx.gluon.model_zoo``, as a symbol.

The Gluon network is traced on a symbolic input under the fixed prefix
``mobilenet_``, so layer and parameter names are the same at every width and
in every process. The taps are the network's own ReLU layers, the last one
at each output stride: ``mobilenet_relu10_fwd`` (stride 8, 38x38 at 300x300
input), ``mobilenet_relu22_fwd`` (stride 16) and ``mobilenet_relu26_fwd``
(stride 32).
"""
from __future__ import annotations

import mxnet as mx

from symbol.backbones.gluon import renaming_importer
from symbol.backbones.registry import register

PREFIX = "mobilenet_"
TAPS = ("mobilenet_relu10_fwd", "mobilenet_relu22_fwd", "mobilenet_relu26_fwd")


def gluon_mobilenet(multiplier: float, *, classes: int = 1000) -> mx.gluon.HybridBlock:
    """The Gluon model-zoo MobileNet v1 under the project's fixed prefix, with ``classes`` outputs."""
    return mx.gluon.model_zoo.vision.MobileNet(multiplier=multiplier, classes=classes, prefix=PREFIX)


def mobilenet_symbol(data, multiplier: float):
    """MobileNet v1 features with channel ``multiplier`` (1.0, 0.75, 0.5, 0.25).

    Returns the last ReLU, of shape (B, 1024*multiplier, H/32, W/32).
    """
    return gluon_mobilenet(multiplier).features(data)


def _register(multiplier: float):
    def factory():
        return gluon_mobilenet(multiplier)

    @register(f"mobilenet{multiplier}", taps=TAPS, import_weights=renaming_importer(factory))
    def build(data):
        return mobilenet_symbol(data, multiplier)

    build.__doc__ = f"MobileNet v1, width {multiplier}."
    return build


for _m in (1.0, 0.5, 0.25):
    _register(_m)
