"""Default boxes ("anchors"): every rule for their sizes, ratios, steps and layout.

All sizes, steps and anchor coordinates are normalized to the input image
(0..1). Anchors are ``[xmin, ymin, xmax, ymax]``.

MXNet's ``MultiBoxPrior`` makes, at every feature-map location, one box per
size with the first ratio and one box per additional ratio with the first
size, i.e. ``len(sizes) + len(ratios) - 1`` boxes. SSD's default boxes map
onto it as ``sizes = (s_k, sqrt(s_k * s_{k+1}))`` and ``ratios = (1, 2, 1/2
[, 3, 1/3])`` (paper, section 2.2 "Choosing scales and aspect ratios").
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np

#: Aspect ratios of a layer with four default boxes per location.
RATIOS_4 = (1.0, 2.0, 0.5)
#: Aspect ratios of a layer with six default boxes per location.
RATIOS_6 = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)


@dataclass(frozen=True)
class AnchorSpec:
    """Default boxes of one feature layer.

    Parameters
    ----------
    sizes : tuple of float
        Box sizes as a fraction of the input side; the first one is paired
        with every ratio.
    ratios : tuple of float
        Width/height aspect ratios; the first should be 1.
    step : float or None
        Distance between neighbouring anchor centres, as a fraction of the
        input. ``None`` uses ``1 / feature_size``, the paper's
        ``(i + 0.5) / |f_k|`` centres.
    offset : float
        Centre offset in units of ``step`` (0.5 = cell centre).
    """

    sizes: Tuple[float, ...]
    ratios: Tuple[float, ...]
    step: Optional[float] = None
    offset: float = 0.5

    def __post_init__(self):
        if not self.sizes or any(s <= 0 for s in self.sizes):
            raise ValueError(f"AnchorSpec.sizes must be positive, got {self.sizes}")
        if not self.ratios or any(r <= 0 for r in self.ratios):
            raise ValueError(f"AnchorSpec.ratios must be positive, got {self.ratios}")
        if self.step is not None and self.step <= 0:
            raise ValueError(f"AnchorSpec.step must be positive or None, got {self.step}")

    @classmethod
    def from_json(cls, data: dict) -> "AnchorSpec":
        """The AnchorSpec of ``dataclasses.asdict`` data (lists become tuples)."""
        return cls(sizes=tuple(data["sizes"]), ratios=tuple(data["ratios"]), step=data.get("step"),
                   offset=data.get("offset", 0.5))

    @property
    def per_location(self) -> int:
        """Number of anchors at each feature-map cell."""
        return len(self.sizes) + len(self.ratios) - 1

    def prior_kwargs(self) -> dict:
        """Keyword arguments for ``mx.sym.contrib.MultiBoxPrior``."""
        step = -1.0 if self.step is None else float(self.step)
        return dict(sizes=tuple(float(s) for s in self.sizes),
                    ratios=tuple(float(r) for r in self.ratios),
                    steps=(step, step), offsets=(self.offset, self.offset),
                    clip=False)


def linear_scales(num_layers: int, *, s_min: float, s_max: float,
                  first: Optional[Tuple[float, float]] = None) -> list:
    """Per-layer ``(s_k, s'_k)`` pairs of the SSD linear scale rule.

    The paper spaces scales linearly from ``s_min`` to ``s_max`` (eq. 4).
    The released Caffe models (``ssd_pascal.py``) compute the same rule on
    integer percentages with a floored step, and give the first, finest
    layer its own smaller scale ``first = (min, max)``; this function
    follows the released models so that converted Caffe weights match.
    The extra square box of layer k has size ``sqrt(s_k * s_{k+1})``.

    Parameters
    ----------
    num_layers : int
        Number of feature layers, including the one that uses ``first``.
    s_min, s_max : float
        Smallest and largest linear scale (fraction of the input side).
    first : (float, float), optional
        ``(min_size, max_size)`` of the first layer; when given, the linear
        rule spans the remaining ``num_layers - 1`` layers.

    Returns
    -------
    list of (float, float)
        ``(s_k, sqrt(s_k * s_{k+1}))`` for every layer, rounded to 1e-6.
    """
    linear_layers = num_layers - (1 if first else 0)
    if linear_layers < 2:
        raise ValueError(f"linear_scales needs at least 2 linear layers, num_layers={num_layers}")
    lo, hi = round(s_min * 100), round(s_max * 100)
    step = (hi - lo) // (linear_layers - 1)
    percents = [lo + i * step for i in range(linear_layers + 1)]
    pairs = [(percents[i] / 100.0, percents[i + 1] / 100.0) for i in range(linear_layers)]
    if first:
        pairs.insert(0, tuple(first))
    return [(round(a, 6), round(math.sqrt(a * b), 6)) for a, b in pairs]


def ssd_anchor_specs(ratios: Sequence[Sequence[float]], *, s_min: float, s_max: float,
                     first: Optional[Tuple[float, float]] = None,
                     steps: Optional[Sequence[Optional[float]]] = None) -> Tuple[AnchorSpec, ...]:
    """AnchorSpecs for ``len(ratios)`` layers from the linear scale rule (``steps``: per layer, or None)."""
    scales = linear_scales(len(ratios), s_min=s_min, s_max=s_max, first=first)
    steps = list(steps) if steps is not None else [None] * len(ratios)
    if len(steps) != len(ratios):
        raise ValueError(f"ssd_anchor_specs: {len(steps)} steps for {len(ratios)} layers")
    return tuple(AnchorSpec(sizes=s, ratios=tuple(r), step=st) for s, r, st in zip(scales, ratios, steps))


def caffe_steps(data_shape: int, pixels: Sequence[int]) -> Tuple[float, ...]:
    """Anchor steps of the released Caffe models, given in pixels (``prior_box_param.step``), normalized.

    SSD300 centres its conv4_3 anchors 8 px apart (``(i + 0.5) * 8``), not ``300 / 38`` as the
    feature map's own grid would; converted Caffe weights only predict well on Caffe's grid.
    """
    return tuple(p / data_shape for p in pixels)


def ratios_for(num_layers: int) -> Tuple[Tuple[float, ...], ...]:
    """SSD's aspect-ratio pattern: 4 boxes on the first and the last two layers, 6 elsewhere."""
    if num_layers < 3:
        raise ValueError(f"ratios_for: num_layers must be >= 3, got {num_layers}")
    return (RATIOS_4,) + (RATIOS_6,) * (num_layers - 3) + (RATIOS_4,) * 2


def paper_anchors(num_layers: int, data_shape: int) -> Tuple[AnchorSpec, ...]:
    """Anchors of the paper's linear scale rule for networks without a Caffe release.

    At 300 input: s_min 0.2, s_max 0.9 and a first layer of 0.1 (as SSD300);
    at 512 and above: s_min 0.1, s_max 0.9 and a smaller first layer of 0.04
    (as the paper's SSD512 on COCO), for the smaller objects a finer input resolves.
    """
    if data_shape <= 300:
        return ssd_anchor_specs(ratios_for(num_layers), s_min=0.2, s_max=0.9, first=(0.1, 0.2))
    return ssd_anchor_specs(ratios_for(num_layers), s_min=0.1, s_max=0.9, first=(0.04, 0.1))


def rescaled(anchors: Sequence[AnchorSpec], scales: Sequence[float]) -> Tuple[AnchorSpec, ...]:
    """``anchors`` with sizes from the linear rule at other scales, their aspect ratios kept.

    ``scales`` is ``(s_min, s_max)`` or ``(s_min, s_max, first_min, first_max)`` as
    fractions of the input side (``train.py --anchor-scales``), e.g. smaller anchors
    for a dataset of small objects.
    """
    if len(scales) not in (2, 4) or not all(0 < v <= 1.5 for v in scales) or scales[0] >= scales[1]:
        raise ValueError(f"--anchor-scales: expected s_min,s_max[,first_min,first_max] with "
                         f"0 < s_min < s_max, got {list(scales)}")
    first = tuple(scales[2:4]) if len(scales) == 4 else None
    return ssd_anchor_specs([a.ratios for a in anchors], s_min=scales[0], s_max=scales[1], first=first,
                            steps=[a.step for a in anchors])


def count_anchors(specs: Sequence[AnchorSpec], feature_sizes: Sequence[Tuple[int, int]]) -> int:
    """Total anchors for feature maps of ``(height, width)``."""
    if len(specs) != len(feature_sizes):
        raise ValueError(f"{len(specs)} anchor specs for {len(feature_sizes)} feature maps")
    return sum(s.per_location * h * w for s, (h, w) in zip(specs, feature_sizes))


def anchor_grid(height: int, width: int, half_sizes: np.ndarray, *, step_y: float, step_x: float,
                offset: float) -> np.ndarray:
    """Boxes centred on every cell of a ``height`` x ``width`` map, the grid every prior layer shares.

    Cell ``(i, j)`` is centred on ``((j + offset) * step_x, (i + offset) * step_y)``
    (paper, section 2.2: centres ``((i + 0.5) / |f_k|, (j + 0.5) / |f_k|)``).

    Parameters
    ----------
    half_sizes : array (A, 2)
        Half width and half height of each of the A boxes per cell, in the units of the steps.
    step_y, step_x : float
        Distance between neighbouring centres.
    offset : float
        Centre offset in units of a step.

    Returns
    -------
    ndarray (height * width * A, 4), float64
        ``[xmin, ymin, xmax, ymax]`` ordered by row, column, then box.
    """
    half = np.asarray(half_sizes, np.float64).reshape(-1, 2)
    cy = (np.arange(height) + offset) * step_y
    cx = (np.arange(width) + offset) * step_x
    cyy, cxx = np.meshgrid(cy, cx, indexing="ij")
    centres = np.stack([cxx, cyy], axis=-1).reshape(-1, 1, 2)  # (HW, 1, 2)
    return np.concatenate([centres - half, centres + half], axis=-1).reshape(-1, 4)


def numpy_prior(spec: AnchorSpec, height: int, width: int) -> np.ndarray:
    """Anchors of one layer computed in numpy, the twin of ``MultiBoxPrior``.

    Returns
    -------
    ndarray of shape (height * width * spec.per_location, 4)
        ``[xmin, ymin, xmax, ymax]`` normalized, ordered by row, column, then
        anchor (sizes with the first ratio, then the other ratios with the
        first size), as the operator orders them.
    """
    step_y = 1.0 / height if spec.step is None else spec.step
    step_x = 1.0 / width if spec.step is None else spec.step
    # MultiBoxPrior scales widths by the feature map's height/width so that a
    # ratio-1 box stays square on non-square maps.
    aspect = height / width
    half_sizes = [(s * aspect / 2, s / 2) for s in spec.sizes]
    s0 = spec.sizes[0]
    for r in spec.ratios[1:]:
        sr = math.sqrt(r)
        half_sizes.append((s0 * aspect * sr / 2, s0 / sr / 2))
    boxes = anchor_grid(height, width, np.array(half_sizes), step_y=step_y, step_x=step_x, offset=spec.offset)
    return boxes.astype(np.float32)
