"""Feature maps of an SSD network: tapped backbone layers, extra layers and the optional top-down path.

Maps are listed finest first; every function returns symbols of shape
(B, C_i, H_i, W_i).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Tuple

import mxnet as mx

from symbol.anchors import count_anchors
from symbol.backbones import get_backbone, tap
from symbol.layers import conv_act, separable_conv
from symbol.presets import Preset


def feature_maps(data, preset: Preset) -> list:
    """Tapped backbone layers plus extra layers, finest first."""
    backbone = get_backbone(preset.network)
    net = backbone(data)
    feats = [tap(net, name, backbone) for name in preset.taps]
    x = feats[-1]
    bn, act = preset.extra_batchnorm, preset.activation
    for i, extra in enumerate(preset.extras):
        name = f"extra{i + 1}"
        x = conv_act(x, name + "_1", extra.bottleneck, kernel=1, batchnorm=bn, act=act)
        if preset.separable:
            # SSDLite (MobileNetV2 paper, section 6.2): the 3x3 convolution is depthwise separable.
            x = separable_conv(x, name + "_2", extra.bottleneck, extra.channels,
                               kernel=extra.kernel, stride=extra.stride, pad=extra.pad, act=act)
        else:
            x = conv_act(x, name + "_2", extra.channels, kernel=extra.kernel, stride=extra.stride,
                         pad=extra.pad, batchnorm=bn, act=act)
        feats.append(x)
    return feats


@lru_cache(maxsize=None)
def feature_shapes(preset: Preset) -> Tuple[Tuple[int, int], ...]:
    """(height, width) of every feature map of ``preset``, inferred from its symbol, finest first."""
    feats = mx.sym.Group(feature_maps(mx.sym.var("data"), preset))
    _, shapes, _ = feats.infer_shape(data=(1, 3, preset.data_shape, preset.data_shape))
    return tuple((s[2], s[3]) for s in shapes)


def num_anchors(preset: Preset) -> int:
    """Total default boxes per image of ``preset``."""
    return count_anchors(preset.anchors, feature_shapes(preset))


def top_down(taps: list, channels: int, *, batchnorm: bool, act: str = "relu") -> list:
    """Feature-pyramid top-down path (Lin et al., "Feature Pyramid Networks", CVPR 2017, sec. 3).

    Every tapped map gets a 1x1 lateral projection to ``channels``; going from the
    coarsest map to the finest, the running sum is upsampled 2x (nearest), cropped to
    the finer map (19x19 from 10x10 gives 20x20, cropped to 19x19) and added to its
    lateral; a 3x3 convolution (+ activation) then smooths each sum. The heads of
    the fine maps thus see the context of the deeper layers, which a 3x3 head on an
    early backbone layer (receptive field ~60 px for MobileNet's stride-8 layer) lacks.

    Parameters
    ----------
    taps : list of Symbol
        Maps (B, C_i, H_i, W_i), finest first, with ``2 * H_{i+1} >= H_i``.
    channels : int
        Channels of every output map.

    Returns
    -------
    list of Symbol
        (B, channels, H_i, W_i) per tap, finest first. Layers ``td{i}_lateral``, ``td{i}_smooth``.
    """
    outputs, merged = [], None
    for i in reversed(range(len(taps))):
        lateral = mx.sym.Convolution(taps[i], name=f"td{i}_lateral", num_filter=channels, kernel=(1, 1))
        if merged is not None:
            up = mx.sym.UpSampling(merged, scale=2, sample_type="nearest", num_args=1, name=f"td{i}_up")
            lateral = lateral + mx.sym.slice_like(up, lateral, axes=(2, 3), name=f"td{i}_crop")
        merged = lateral
        outputs.append(conv_act(merged, f"td{i}_smooth", channels, kernel=3, pad=1, batchnorm=batchnorm,
                                act=act))
    return outputs[::-1]


def check_top_down(preset: Preset, shapes) -> None:
    sides = [s[2] for s in shapes[:len(preset.taps)]]
    for fine, coarse in zip(sides, sides[1:]):
        if 2 * coarse < fine:
            raise ValueError(f"preset {preset.name}: top_down needs each tapped map at least half "
                             f"the size of the previous one, got sides {sides}")
