"""Small symbol building blocks with stable, readable names."""
from __future__ import annotations

import mxnet as mx


def conv_act(data, name: str, channels: int, *, kernel: int = 3, stride: int = 1,
             pad: int = 0, dilate: int = 1, batchnorm: bool = False, act: str = "relu"):
    """Convolution (+ BatchNorm) + activation.

    Layers are named ``name`` (convolution), ``name + '_bn'`` and
    ``'relu' + name``-style ``name + '_relu'``; parameters follow MXNet's
    ``<layer>_weight`` convention.
    """
    x = mx.sym.Convolution(data, name=name, num_filter=channels, kernel=(kernel, kernel),
                           stride=(stride, stride), pad=(pad, pad), dilate=(dilate, dilate),
                           no_bias=batchnorm)
    if batchnorm:
        x = mx.sym.BatchNorm(x, name=name + "_bn", fix_gamma=False, eps=1e-5, momentum=0.9)
    return mx.sym.Activation(x, name=name + "_" + act, act_type=act)


def l2_normalize(data, name: str, channels: int, scale: float):
    """Channel-wise L2 normalization with a learned per-channel scale.

    ParseNet-style normalization that SSD applies to VGG16's conv4_3
    (paper, section 3.1: "scale 20 ... learned during back propagation").
    The scale variable ``name + '_scale'`` is initialized to ``scale``.
    """
    normed = mx.sym.L2Normalization(data, mode="channel", name=name)
    gamma = mx.sym.Variable(name + "_scale", shape=(1, channels, 1, 1),
                            init=mx.init.Constant(scale))
    return mx.sym.broadcast_mul(normed, gamma, name=name + "_scaled")
