"""Caffe SSD's PriorBox in numpy, and when MXNet's MultiBoxPrior reproduces it.

Caffe (weiliu89's ``prior_box_layer.cpp``) places, at every feature cell
``(h, w)``, centred on ``((w + offset) * step_w, (h + offset) * step_h)``
pixels, for each ``min_size``: a square box of that size, then (with
``max_size``) a square of ``sqrt(min_size * max_size)``, then one box per
aspect ratio other than 1 (``w = s * sqrt(ar)``, ``h = s / sqrt(ar)``). The
ratio list starts with 1 and adds each given ratio (and, with ``flip``, its
inverse) unless already present. Coordinates are divided by the image size,
optionally clipped to [0, 1]; the output blob is ``(1, 2, H * W * A * 4)``:
boxes, then the variance of every coordinate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import mxnet as mx
import numpy as np

from symbol.anchors import anchor_grid


@dataclass(frozen=True)
class PriorBoxConfig:
    """A PriorBox layer's parameters, sizes in pixels."""

    min_sizes: Tuple[float, ...]
    max_sizes: Tuple[float, ...]
    aspect_ratios: Tuple[float, ...]  # expanded: 1 first, flips included, no duplicates
    clip: bool
    variances: Tuple[float, float, float, float]
    img_size: Optional[Tuple[float, float]]  # (height, width); None: the input image's
    step: Optional[Tuple[float, float]]       # (step_h, step_w); None: image / feature
    offset: float

    @property
    def per_location(self) -> int:
        return len(self.min_sizes) * (len(self.aspect_ratios) + (1 if self.max_sizes else 0))


def expand_ratios(ratios, flip: bool) -> Tuple[float, ...]:
    """Caffe's list: 1, then each ratio (and 1/ratio with flip) not already within 1e-6."""
    out = [1.0]
    for r in ratios:
        for value in ((r, 1.0 / r) if flip else (r,)):
            if all(abs(value - o) >= 1e-6 for o in out):
                out.append(value)
    return tuple(out)


def caffe_priors(cfg: PriorBoxConfig, feature_hw, image_hw) -> np.ndarray:
    """The PriorBox top blob (1, 2, H * W * A * 4), float32."""
    fh, fw = feature_hw
    img_h, img_w = cfg.img_size or image_hw
    step_h, step_w = cfg.step or (img_h / fh, img_w / fw)
    sizes = []  # (width, height) in pixels, Caffe's order
    for i, s in enumerate(cfg.min_sizes):
        sizes.append((s, s))
        if cfg.max_sizes:
            big = math.sqrt(s * cfg.max_sizes[i])
            sizes.append((big, big))
        for ar in cfg.aspect_ratios[1:]:
            sizes.append((s * math.sqrt(ar), s / math.sqrt(ar)))
    pixels = anchor_grid(fh, fw, np.array(sizes, np.float64) / 2, step_y=step_h, step_x=step_w,
                         offset=cfg.offset)
    boxes = pixels / np.array([img_w, img_h, img_w, img_h], np.float64)
    if cfg.clip:
        boxes = np.clip(boxes, 0.0, 1.0)
    variances = np.tile(np.array(cfg.variances, np.float64), (len(boxes), 1))
    return np.stack([boxes.reshape(-1), variances.reshape(-1)])[None].astype(np.float32)


def multibox_prior_kwargs(cfg: PriorBoxConfig, feature_hw, image_hw) -> Optional[dict]:
    """``MultiBoxPrior`` arguments giving the same boxes, or None when it cannot.

    MultiBoxPrior takes one list of sizes paired with the first ratio and
    the other ratios paired with the first size: Caffe's order when there is
    a single ``min_size``. The caller still checks the numbers.
    """
    img_h, img_w = cfg.img_size or image_hw
    if len(cfg.min_sizes) != 1 or img_h != img_w or feature_hw[0] != feature_hw[1]:
        return None
    step_h, step_w = cfg.step or (img_h / feature_hw[0], img_w / feature_hw[1])
    sizes = [cfg.min_sizes[0] / img_w]
    if cfg.max_sizes:
        sizes.append(math.sqrt(cfg.min_sizes[0] * cfg.max_sizes[0]) / img_w)
    return dict(sizes=tuple(sizes), ratios=tuple(cfg.aspect_ratios), clip=cfg.clip,
                steps=(step_h / img_h, step_w / img_w), offsets=(cfg.offset, cfg.offset))


def multibox_prior_matches(kwargs: dict, feature_hw, expected: np.ndarray, atol: float = 1e-6) -> bool:
    """Whether MultiBoxPrior(**kwargs) on a (1, 1, H, W) map equals Caffe's boxes."""
    out = mx.nd.contrib.MultiBoxPrior(mx.nd.zeros((1, 1) + tuple(feature_hw)), **kwargs).asnumpy()
    boxes = expected[0, 0]
    return out.size == boxes.size and np.abs(out.reshape(-1) - boxes).max() <= atol
