"""Box coding and the detection stage's settings: what training targets and detection outputs share.

SSD (Liu et al., 2016, eq. 2) regresses offsets of a ground-truth box relative
to its default box. The Caffe reference implementation divides the encoded
offsets by a per-coordinate *variance* ("variance_encoded_in_target: false"
with ``variance: [0.1, 0.1, 0.2, 0.2]``); MXNet's ``MultiBoxTarget`` and
``MultiBoxDetection`` take the same four numbers. This module is the only
place that states them, and the only place that states the defaults of the
detection stage (``DetectionParams``). It imports nothing heavy, so command
lines can show these defaults without loading MXNet.
"""
from __future__ import annotations

from dataclasses import dataclass

#: Variances for (center-x, center-y, width, height) offsets.
VARIANCES = (0.1, 0.1, 0.2, 0.2)


def _tidy(value: float) -> float:
    """``value`` at float32 precision without float32's decimal noise (0.45, not 0.44999998807907104).

    Detection settings travel through MXNet attributes and Caffe protobufs as float32.
    """
    return float(f"{float(value):.7g}")


@dataclass(frozen=True)
class DetectionParams:
    """Post-processing of the detection stage (decode, threshold, NMS).

    Parameters
    ----------
    nms_threshold : float
        IoU above which a lower-scoring box of the same class is suppressed, in [0, 1].
    nms_topk : int
        Boxes kept per image before NMS, by score (-1 for all; > 0 otherwise).
    force_suppress : bool
        Suppress overlapping boxes across classes too.
    threshold : float
        Minimum class score for a box to be output, in [0, 1].
    """

    nms_threshold: float = 0.45
    nms_topk: int = 400
    force_suppress: bool = False
    threshold: float = 0.01

    def __post_init__(self):
        for name in ("nms_threshold", "threshold"):
            value = getattr(self, name)
            if not 0.0 <= float(value) <= 1.0:  # also False for NaN
                raise ValueError(f"detection {name} must be in [0, 1], got {value}")
            object.__setattr__(self, name, _tidy(value))
        if int(self.nms_topk) != self.nms_topk or not (self.nms_topk == -1 or self.nms_topk > 0):
            raise ValueError(f"detection nms_topk must be -1 (all) or a positive integer, "
                             f"got {self.nms_topk}")
        object.__setattr__(self, "nms_topk", int(self.nms_topk))
        object.__setattr__(self, "force_suppress", bool(self.force_suppress))
