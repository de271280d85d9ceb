"""MobileNet v1 (Howard et al. 2017) from ``mx.gluon.model_zoo``, as a symbol.

The Gluon network is traced on a symbolic input under the fixed prefix
``mobilenet_``, so layer and parameter names are the same at every width and
in every process (``mobilenet_relu22_fwd`` is the last 19x19 layer at 300x300
input). The parameter names are those of the Gluon model, which keeps its
ImageNet weights loadable by name.
"""
from __future__ import annotations

import mxnet as mx

from symbol.backbones import register

PREFIX = "mobilenet_"


def mobilenet_symbol(data, multiplier: float):
    """MobileNet v1 features with channel ``multiplier`` (1.0, 0.75, 0.5, 0.25).

    Returns the last ReLU, of shape (B, 1024*multiplier, H/32, W/32).
    """
    net = mx.gluon.model_zoo.vision.MobileNet(multiplier=multiplier, prefix=PREFIX)
    return net.features(data)


def _register(multiplier: float):
    name = f"mobilenet{multiplier}"

    @register(name)
    def build(data):
        return mobilenet_symbol(data, multiplier)

    build.__doc__ = f"MobileNet v1, width {multiplier}."
    return build


for _m in (1.0, 0.5, 0.25):
    _register(_m)
