"""Small symbol building blocks with stable, readable names."""
from __future__ import annotations

import mxnet as mx


def activation(data, name: str, act: str = "relu"):
    """ReLU-family activation named ``name``; ``relu6`` is ``min(max(x, 0), 6)`` (MobileNet v2)."""
    if act == "relu6":
        return mx.sym.clip(data, 0.0, 6.0, name=name)
    return mx.sym.Activation(data, name=name, act_type=act)


def conv_act(data, name: str, channels: int, *, kernel: int = 3, stride: int = 1,
             pad: int = 0, dilate: int = 1, groups: int = 1, batchnorm: bool = False,
             act: str = "relu"):
    """Convolution (+ BatchNorm) + activation.

    Layers are named ``name`` (convolution), ``name + '_bn'`` and
    ``name + '_' + act``; parameters follow MXNet's ``<layer>_weight``
    convention. ``groups == channels`` makes a depthwise convolution.
    """
    x = mx.sym.Convolution(data, name=name, num_filter=channels, kernel=(kernel, kernel),
                           stride=(stride, stride), pad=(pad, pad), dilate=(dilate, dilate),
                           num_group=groups, no_bias=batchnorm)
    if batchnorm:
        x = mx.sym.BatchNorm(x, name=name + "_bn", fix_gamma=False, eps=1e-5, momentum=0.9)
    return activation(x, name + "_" + act, act)


def separable_conv(data, name: str, in_channels: int, channels: int, *, kernel: int = 3,
                   stride: int = 1, pad: int = 1, act: str = "relu6"):
    """Depthwise ``kernel`` x ``kernel`` conv then pointwise 1x1 conv, each with BN + activation.

    The layers are ``name + '_dw'`` and ``name``.
    """
    x = conv_act(data, name + "_dw", in_channels, kernel=kernel, stride=stride, pad=pad,
                 groups=in_channels, batchnorm=True, act=act)
    return conv_act(x, name, channels, kernel=1, batchnorm=True, act=act)


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
