"""Pascal VOC average precision: 11-point (VOC2007) and area under the PR curve (VOC2010+).

Boxes are compared in the pixels of the original image with the VOC
devkit's convention that boxes are inclusive integer pixel ranges (width =
xmax - xmin + 1), which GluonCV's metrics follow too. When an image's size
is unknown, normalized boxes are compared without the +1 term. A detection matches the ground truth box of its
class with the highest IoU; at IoU >= ``iou_thresh`` it is a true positive
if that box is not difficult and not matched yet, ignored if the box is
difficult, and a false positive otherwise (VOC devkit ``VOCevaldet``).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np

from common.boxes import box_iou
from dataset import label_layout as objs
from symbol import detection_layout as rows


def descending(scores: np.ndarray) -> np.ndarray:
    """Indices by decreasing score, ties broken as GluonCV's VOC metrics do.

    The reverse of NumPy's default (ascending) argsort, both within an image
    and over the pooled detections of a class; the devkit's MATLAB sort keeps
    tied detections in input order instead, which gives another, equally
    valid AP when scores tie.
    """
    return np.argsort(scores)[::-1]


def voc07_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """11-point interpolated AP: mean over r in {0, 0.1, ..., 1} of max precision at recall >= r."""
    ap = 0.0
    for t in np.arange(0.0, 1.1, 0.1):
        above = precision[recall >= t]
        ap += (above.max() if above.size else 0.0) / 11.0
    return float(ap)


def area_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """Area under the monotone (upper-envelope) precision-recall curve."""
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    idx = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


def image_boxes(detections, ground_truth, image_size=None):
    """One image's rows without padding, in pixels when ``image_size`` is given.

    Parameters
    ----------
    detections : array (K, 6)
        ``[class_id, score, xmin, ymin, xmax, ymax]`` normalized; class -1 rows are dropped.
    ground_truth : array (M, 5 or 6)
        ``[class_id, xmin, ymin, xmax, ymax(, difficult)]`` normalized; class -1 rows are dropped.
    image_size : (int, int), optional
        ``(width, height)``: boxes are scaled to pixels and compared with the VOC devkit's
        inclusive-pixel convention (``offset`` 1); otherwise they stay normalized (offset 0).

    Returns
    -------
    (detections, ground_truth, difficult, offset)
        float64 arrays (K', 6) and (M', >=5), bool (M',), float.
    """
    dets = rows.valid(np.array(detections, np.float64))
    gts = objs.valid_objects(np.array(ground_truth, np.float64))
    offset = 0.0
    if image_size is not None:
        dets, gts = rows.to_pixels(dets, *image_size), objs.objects_to_pixels(gts, *image_size)
        offset = 1.0
    return dets, gts, objs.difficult(gts), offset


class VOCEvaluator:
    """Accumulates detections and ground truth image by image; reports per-class AP.

    Parameters
    ----------
    class_names : sequence of str
    iou_thresh : float
    """

    def __init__(self, class_names: Sequence[str], iou_thresh: float = 0.5):
        self.class_names = tuple(class_names)
        self.iou_thresh = iou_thresh
        self.reset()

    def reset(self) -> None:
        n = len(self.class_names)
        self._scores: List[List[float]] = [[] for _ in range(n)]
        self._matches: List[List[int]] = [[] for _ in range(n)]  # 1 TP, 0 FP, -1 ignored
        self._num_gt = np.zeros(n, dtype=np.int64)
        self.num_images = 0

    def update(self, detections: np.ndarray, ground_truth: np.ndarray, image_size=None,
               image_id=None) -> None:
        """Add one image (``image_id`` is accepted for symmetry with ``COCOEvaluator``).

        Parameters
        ----------
        detections : ndarray (K, 6)
            ``[class_id, score, xmin, ymin, xmax, ymax]`` normalized; rows with class -1
            are skipped.
        ground_truth : ndarray (M, 5 or 6)
            ``[class_id, xmin, ymin, xmax, ymax(, difficult)]`` normalized; class -1 rows
            are padding.
        image_size : (int, int), optional
            ``(width, height)`` in pixels: boxes are compared in pixels, VOC style.
        """
        dets, gts, difficult, offset = image_boxes(detections, ground_truth, image_size)
        top = int(gts[:, objs.CLASS_ID].max()) if len(gts) else -1
        if top >= len(self.class_names):
            raise ValueError(f"image {self.num_images}: ground-truth class id {top}, but the model has "
                             f"{len(self.class_names)} classes ({', '.join(self.class_names)})")
        self.num_images += 1
        for c in range(len(self.class_names)):
            of_c = gts[:, objs.CLASS_ID] == c
            gt_c, diff_c = gts[of_c, objs.BOX], difficult[of_c]
            self._num_gt[c] += int((~diff_c).sum())
            det_c = dets[dets[:, rows.CLASS_ID] == c]
            if not len(det_c):
                continue
            det_c = det_c[descending(det_c[:, rows.SCORE])]
            self._scores[c].extend(det_c[:, rows.SCORE].tolist())
            self._matches[c].extend(self._match(det_c[:, rows.BOX], gt_c, diff_c, offset))

    def _match(self, boxes: np.ndarray, gt: np.ndarray, difficult: np.ndarray,
               offset: float) -> List[int]:
        if not len(gt):
            return [0] * len(boxes)
        iou = box_iou(boxes, gt, offset)
        taken = np.zeros(len(gt), bool)
        out = []
        for row in iou:
            j = int(np.argmax(row))
            if row[j] < self.iou_thresh:
                out.append(0)
            elif difficult[j]:
                out.append(-1)
            elif not taken[j]:
                taken[j] = True
                out.append(1)
            else:
                out.append(0)
        return out

    def scored(self, c: int):
        """``(labels, scores)`` of class ``c`` for PR-curve tools such as TensorBoard's, which compute
        recall over the positive labels they are given: every detection (1 for a true positive, 0 for
        a false one; detections of difficult objects left out) and every non-difficult object that no
        detection found (label 1, score 0: missed at every threshold above 0). The positives are then
        all of the class's objects, as in ``pr_curve``."""
        scores = np.array(self._scores[c], np.float64)
        matches = np.array(self._matches[c], np.int64)
        keep = matches >= 0
        labels = (matches[keep] == 1).astype(np.int64)
        missed = int(self._num_gt[c] - labels.sum())
        return (np.concatenate([labels, np.ones(missed, np.int64)]),
                np.concatenate([scores[keep], np.zeros(missed)]))

    def pr_curve(self, c: int):
        """``(recall, precision)`` arrays of class ``c``, by descending score; None without GT."""
        if self._num_gt[c] == 0:
            return None
        scores = np.array(self._scores[c])
        matches = np.array(self._matches[c], dtype=np.int64)
        matches = matches[descending(scores)]
        matches = matches[matches >= 0]
        tp = np.cumsum(matches == 1)
        fp = np.cumsum(matches == 0)
        recall = tp / self._num_gt[c]
        precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
        return recall, precision

    def average_precisions(self, metric: str = "voc07") -> Dict[str, Optional[float]]:
        """AP per class name (None for classes without non-difficult ground truth)."""
        fn = {"voc07": voc07_ap, "area": area_ap}[metric]
        out = {}
        for c, name in enumerate(self.class_names):
            curve = self.pr_curve(c)
            out[name] = None if curve is None else fn(*curve)
        return out

    def mean_ap(self, metric: str = "voc07") -> float:
        values = [v for v in self.average_precisions(metric).values() if v is not None]
        return float(np.mean(values)) if values else float("nan")

    def result(self) -> Dict[str, object]:
        """Per-class VOC07 and area AP plus their means (None where a class has no ground truth)."""
        voc07, area = self.average_precisions("voc07"), self.average_precisions("area")
        return {"num_images": self.num_images,
                "per_class": {name: {"voc07_ap": voc07[name], "area_ap": area[name],
                                     "num_gt": int(self._num_gt[i])}
                              for i, name in enumerate(self.class_names)},
                "voc07_map": self.mean_ap("voc07"), "area_map": self.mean_ap("area")}
