"""VGG16-reduced (Liu et al. 2016, section 3): VGG16 with fc6/fc7 as convolutions.

fc6 becomes a 3x3 convolution with dilation 6 (the "a trous" trick) and
1024 filters, fc7 a 1x1 convolution with 1024 filters; pool5 is 3x3, stride
1, pad 1. pool3 rounds up (Caffe's ceil mode) so 300x300 input gives the
38x38 conv4_3 map of the paper. Layer names follow the Caffe model
(``conv4_3``, ``relu4_3``, ``fc7``, ``relu7``), which keeps taps stable.
"""
from __future__ import annotations

import mxnet as mx

from symbol.backbones.registry import register

# (number of 3x3 convolutions, channels) per VGG16 stage.
VGG16_STAGES = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))


def vgg16_reduced_symbol(data, *, width: float = 1.0):
    """VGG16-reduced up to ``relu7``; ``width`` scales every channel count.

    Parameters
    ----------
    data : Symbol
        Input of shape (B, 3, H, W).
    width : float
        Channel multiplier (1.0 is the paper's network; smaller values make
        cheap test networks with the same topology).

    Returns
    -------
    Symbol
        ``relu7`` of shape (B, 1024*width, ceil(H/16), ceil(W/16)).
    """
    x = data
    for stage, (repeat, channels) in enumerate(VGG16_STAGES, start=1):
        for i in range(1, repeat + 1):
            x = mx.sym.Convolution(x, name=f"conv{stage}_{i}", num_filter=max(1, int(channels * width)),
                                   kernel=(3, 3), pad=(1, 1))
            x = mx.sym.Activation(x, name=f"relu{stage}_{i}", act_type="relu")
        if stage < 5:
            x = mx.sym.Pooling(x, name=f"pool{stage}", pool_type="max", kernel=(2, 2), stride=(2, 2),
                               pooling_convention="full")
    x = mx.sym.Pooling(x, name="pool5", pool_type="max", kernel=(3, 3), stride=(1, 1), pad=(1, 1))
    fc_channels = max(1, int(1024 * width))
    x = mx.sym.Convolution(x, name="fc6", num_filter=fc_channels, kernel=(3, 3), pad=(6, 6),
                           dilate=(6, 6))
    x = mx.sym.Activation(x, name="relu6", act_type="relu")
    x = mx.sym.Convolution(x, name="fc7", num_filter=fc_channels, kernel=(1, 1))
    return mx.sym.Activation(x, name="relu7", act_type="relu")


#: Layers presets tap: conv4_3 (stride 8, 38x38 at 300) and fc7 (stride 16, 19x19).
TAPS = ("relu4_3", "relu7")


def import_gluon_vgg16(arrays):
    """Gluon model-zoo ``vgg16`` ImageNet weights -> VGG16-reduced names.

    The 13 convolutions keep their weights. fc6 and fc7 are turned into
    convolutions and *subsampled* as the paper does (section 3, "we subsample
    parameters from fc6 and fc7"): fc6's (4096, 512*7*7) becomes every 4th
    filter and every 3rd tap of its 7x7 window, a (1024, 512, 3, 3) kernel
    that the dilation of 6 spreads over the same 13x13 field as before;
    fc7's (4096, 4096) becomes every 4th filter and input, (1024, 1024, 1, 1).
    """
    names = {}
    index = 0  # position in Gluon's features: conv, relu per convolution, pool per stage
    for stage, (repeat, _) in enumerate(VGG16_STAGES, start=1):
        for i in range(1, repeat + 1):
            names[f"features.{index}"] = f"conv{stage}_{i}"
            index += 2
        index += 1
    out, used = {}, set()
    for key, layer in names.items():
        for part in ("weight", "bias"):
            if f"{key}.{part}" in arrays:
                out[f"{layer}_{part}"] = arrays[f"{key}.{part}"]
                used.add(f"{key}.{part}")
    fc6, fc7 = f"features.{index}", f"features.{index + 2}"
    if f"{fc6}.weight" in arrays:
        w = arrays[f"{fc6}.weight"].asnumpy().reshape(4096, 512, 7, 7)
        out["fc6_weight"] = mx.nd.array(w[::4, :, ::3, ::3])
        out["fc6_bias"] = mx.nd.array(arrays[f"{fc6}.bias"].asnumpy()[::4])
        used |= {f"{fc6}.weight", f"{fc6}.bias"}
    if f"{fc7}.weight" in arrays:
        w = arrays[f"{fc7}.weight"].asnumpy()
        out["fc7_weight"] = mx.nd.array(w[::4, ::4].reshape(1024, 1024, 1, 1))
        out["fc7_bias"] = mx.nd.array(arrays[f"{fc7}.bias"].asnumpy()[::4])
        used |= {f"{fc7}.weight", f"{fc7}.bias"}
    return out, sorted(set(arrays) - used)


@register("vgg16_reduced", taps=TAPS, import_weights=import_gluon_vgg16)
def vgg16_reduced(data):
    """The paper's VGG16-reduced backbone."""
    return vgg16_reduced_symbol(data)


@register("vgg16_reduced_tiny", taps=TAPS)
def vgg16_reduced_tiny(data):
    """VGG16-reduced at 1/16 width: the same graph, cheap enough for tests."""
    return vgg16_reduced_symbol(data, width=1.0 / 16)
