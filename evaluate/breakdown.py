"""Where a detector loses recall: by object size, and which classes it mistakes for which.

``ErrorBreakdown`` is an evaluator (``update(detections, ground_truth,
image_size)``, as ``VOCEvaluator``) for ``evaluate.py --breakdown``. It
separates the two ways an object is missed, which mAP alone does not:
no box at all (*not found*), or a box with the wrong class (*found* but
not *recognized*).
"""
from __future__ import annotations

import math
from typing import Dict, List, Sequence

import numpy as np

from common.boxes import box_iou
from dataset import label_layout as objs
from evaluate.voc_ap import image_boxes
from symbol import detection_layout as rows

#: Object-size bin edges: sqrt(box area) over the image's shorter side.
SIZE_BINS = (0.0, 0.05, 0.075, 0.1, 0.15, 0.25, 0.4, math.inf)


class ErrorBreakdown:
    """Recall of non-difficult objects by size, and a class confusion matrix.

    An object is *found* when a detection of any class with score >= ``score``
    overlaps it at IoU >= ``iou``, and *recognized* when one of its own class
    does. The confusion matrix counts, per true class, the class of the
    highest-scoring such detection; its last column counts objects not found.

    Parameters
    ----------
    class_names : sequence of str
    score : float
        Detections below this score are ignored.
    iou : float
        Overlap that counts as finding an object.
    bins : sequence of float
        Increasing size-bin edges (fractions of the image's shorter side).
    """

    def __init__(self, class_names: Sequence[str], *, score: float = 0.05, iou: float = 0.5,
                 bins: Sequence[float] = SIZE_BINS):
        if list(bins) != sorted(bins) or len(bins) < 2:
            raise ValueError(f"size bins must be increasing edges, got {list(bins)}")
        self.class_names, self.score, self.iou, self.bins = tuple(class_names), score, iou, tuple(bins)
        n = len(self.class_names)
        self.objects = np.zeros(len(bins) - 1, np.int64)
        self.found = np.zeros(len(bins) - 1, np.int64)
        self.recognized = np.zeros(len(bins) - 1, np.int64)
        self.confusion = np.zeros((n, n + 1), np.int64)

    def update(self, detections, ground_truth, image_size=None, image_id=None) -> None:
        """Add one image; arguments as ``VOCEvaluator.update``."""
        dets, gts, difficult, offset = image_boxes(detections, ground_truth, image_size)
        dets, gts = dets[dets[:, rows.SCORE] >= self.score], gts[~difficult]
        short = min(image_size) if image_size is not None else 1.0
        overlaps = box_iou(gts[:, objs.BOX], dets[:, rows.BOX], offset) >= self.iou  # (objects, detections)
        for gt, over in zip(gts, overlaps):
            cls = int(gt[objs.CLASS_ID])
            x1, y1, x2, y2 = gt[objs.BOX]
            side = math.sqrt((x2 - x1 + offset) * (y2 - y1 + offset)) / short
            b = int(np.searchsorted(self.bins, side, side="right")) - 1
            b = min(max(b, 0), len(self.objects) - 1)
            self.objects[b] += 1
            if not over.any():
                self.confusion[cls, -1] += 1
                continue
            self.found[b] += 1
            self.recognized[b] += bool((over & (dets[:, rows.CLASS_ID] == cls)).any())
            best = int(np.argmax(np.where(over, dets[:, rows.SCORE], -1.0)))
            self.confusion[cls, int(dets[best, rows.CLASS_ID])] += 1

    def size_rows(self) -> List[Dict[str, object]]:
        """Per size bin: edges, objects, found and recognized fractions (None when empty)."""
        rows = []
        for i, n in enumerate(self.objects):
            frac = lambda k: float(k) / n if n else None  # noqa: E731
            rows.append({"min": self.bins[i], "max": self.bins[i + 1], "objects": int(n),
                         "found": frac(self.found[i]), "recognized": frac(self.recognized[i])})
        return rows

    def result(self) -> Dict[str, object]:
        """JSON-ready summary."""
        return {"score": self.score, "iou": self.iou, "by_size": self.size_rows(),
                "confusion": {"classes": list(self.class_names) + ["not found"],
                              "counts": self.confusion.tolist()}}

    def format(self) -> str:
        """The size table and the confusion matrix as fixed-width text."""
        pct = lambda v: "    -" if v is None else f"{v:5.3f}"  # noqa: E731
        lines = [f"recall by object size (sqrt(area) / shorter image side), detections with score >= "
                 f"{self.score}, IoU >= {self.iou}:", "size          objects  found  recognized"]
        for r in self.size_rows():
            hi = "inf" if math.isinf(r["max"]) else f"{r['max']:.3f}"
            lines.append(f"{r['min']:.3f}-{hi:<6} {r['objects']:8d}  {pct(r['found'])}  "
                         f"{pct(r['recognized'])}")
        width = max(len(n) for n in self.class_names + ("not found",))
        header = " ".join(f"{n[:width]:>{width}}" for n in self.class_names + ("not found",))
        lines += ["", "confusion (rows: true class; columns: class of the best detection over it):",
                  f"{'':{width}} {header}"]
        for name, row in zip(self.class_names, self.confusion):
            lines.append(f"{name:{width}} " + " ".join(f"{v:>{width}d}" for v in row))
        return "\n".join(lines)
