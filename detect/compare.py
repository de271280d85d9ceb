"""Detection-for-detection comparison of two detectors' rows: the judge of every equality check.

Used for an MXNet model against its ONNX export, a converted Caffe model
against OpenCV DNN, and one engine or precision against another. Rows are
matched within an image: each row of the first is paired with the unpaired
row of the second of the same class that is closest (largest coordinate or
score difference), which tolerates the order of exactly tied scores. The
report gives the rows that found no partner and the largest box and score
differences of the pairs. Boxes are compared in the units the rows are in
(normalized, or pixels).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Tuple

import numpy as np

from common.boxes import box_iou
from symbol import detection_layout as rows


@dataclass
class Comparison:
    images: int = 0
    rows: int = 0
    unmatched: int = 0
    box_diff: float = 0.0
    score_diff: float = 0.0
    worst_images: List[int] = field(default_factory=list)

    def within(self, box: float = 1e-4, score: float = 1e-5) -> bool:
        return self.unmatched == 0 and self.box_diff <= box and self.score_diff <= score

    def __str__(self) -> str:
        return (f"{self.images} images, {self.rows} detections, {self.unmatched} unmatched, "
                f"max box difference {self.box_diff:.2g}, max score difference {self.score_diff:.2g}")


def match(a: np.ndarray, b: np.ndarray, *, cut: Optional[float] = None, margin: float = 0.0):
    """``(unmatched, box_diff, score_diff)`` of detection rows ``a`` and ``b`` (K, 6) of one image.

    With ``cut``, only rows scoring at least ``cut`` are compared, and a row scoring within
    ``margin`` of the cut may lack a partner without being counted (the other side may
    score it just under the cut). ``class_id -1`` rows are ignored.
    """
    low = -np.inf if cut is None else cut - margin
    high = -np.inf if cut is None else cut + margin
    a, b = (rows.by_score(r[r[:, rows.SCORE] >= low]) for r in (rows.valid(a), rows.valid(b)))
    free = np.ones(len(b), bool)
    unmatched, box, score = 0, 0.0, 0.0
    for row in a:
        same = free & (b[:, rows.CLASS_ID] == row[rows.CLASS_ID])
        if not same.any():
            unmatched += int(row[rows.SCORE] >= high)
            continue
        dist = np.where(same, np.abs(b[:, 1:] - row[1:]).max(axis=1), np.inf)
        j = int(np.argmin(dist))
        free[j] = False
        box = max(box, float(np.abs(b[j, rows.BOX] - row[rows.BOX]).max()))
        score = max(score, float(abs(b[j, rows.SCORE] - row[rows.SCORE])))
    return unmatched + int((free & (b[:, rows.SCORE] >= high)).sum()), box, score


def compare(first, second, images_bgr: Iterable[np.ndarray]) -> Comparison:
    """Run two ``Detector``s on each image; their rows (normalized) compared by ``match``."""
    result = Comparison()
    for index, image in enumerate(images_bgr):
        a = first.forward(first.preprocess(image)[None])[0]
        b = second.forward(second.preprocess(image)[None])[0]
        unmatched, box, score = match(a, b)
        result.images += 1
        result.rows += len(rows.valid(a))
        result.unmatched += unmatched
        if unmatched:
            result.worst_images.append(index)
        result.box_diff, result.score_diff = max(result.box_diff, box), max(result.score_diff, score)
    return result


def found_share(reference: np.ndarray, candidate: np.ndarray, *, score: float = 0.5,
                iou: float = 0.8) -> Tuple[int, int]:
    """``(found, total)``: how many of ``reference``'s rows scoring at least ``score`` have a row of
    ``candidate`` of the same class, also scoring at least ``score``, overlapping it by ``iou`` or more.

    Rows (K, 6) of one image, boxes in any one unit. Used to judge reduced precision (INT8, BF16)
    against fp32: a detection users see is still seen.
    """
    ref = rows.valid(reference)
    ref = ref[ref[:, rows.SCORE] >= score]
    cand = rows.valid(candidate)
    cand = cand[cand[:, rows.SCORE] >= score]
    found = 0
    for row in ref:
        same = cand[cand[:, rows.CLASS_ID] == row[rows.CLASS_ID]]
        found += bool(len(same)) and bool((box_iou(row[rows.BOX], same[:, rows.BOX]) >= iou).any())
    return found, len(ref)
