"""COCO AP@[.5:.95], AP50, AP75, AP small/medium/large through pycocotools.

``COCOEvaluator`` takes images one at a time, like ``VOCEvaluator``: the
detections (normalized ``[class_id, score, xmin, ymin, xmax, ymax]``) are
converted to COCO results (pixel ``[x, y, width, height]``, original
category ids). The ground truth is either the original COCO json (crowd
regions, areas and ids exactly as pycocotools sees them when run directly)
or built from the per-image labels (VOC folders and ``.rec`` files; difficult
objects become crowd regions, which COCO's matching ignores).
"""
from __future__ import annotations

import contextlib
import io
from typing import Dict, List, Optional, Sequence

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from dataset import label_layout as objs
from symbol import detection_layout as rows

#: Names of COCOeval.stats, in order.
STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


class COCOEvaluator:
    """Accumulates COCO results image by image.

    Parameters
    ----------
    class_names : sequence of str
    category_ids : sequence of int, optional
        COCO category id of each class index (default ``1..K``).
    ground_truth : dict, optional
        A COCO instances dict; when given, ``update`` needs ``image_id`` and
        ignores its labels.
    """

    def __init__(self, class_names: Sequence[str], category_ids: Optional[Sequence[int]] = None,
                 ground_truth: Optional[dict] = None):
        self.class_names = tuple(class_names)
        self.category_ids = tuple(category_ids or range(1, len(class_names) + 1))
        if len(self.category_ids) != len(self.class_names):
            raise ValueError(f"{len(self.category_ids)} category ids for {len(self.class_names)} classes")
        self._given = ground_truth
        self.results: List[dict] = []
        self._images: List[dict] = []
        self._annotations: List[dict] = []
        self.num_images = 0

    def update(self, detections: np.ndarray, ground_truth: np.ndarray, image_size,
               image_id: Optional[int] = None) -> None:
        """Add one image; ``image_size`` is ``(width, height)`` in pixels.

        ``ground_truth`` rows ``[class_id, xmin, ymin, xmax, ymax(, difficult)]``
        normalized (ignored when the evaluator was given a COCO json).
        """
        if image_id is None:
            if self._given is not None:
                raise ValueError("image_id is required with a COCO ground-truth json")
            image_id = self.num_images + 1
        self.num_images += 1
        w, h = image_size
        dets = rows.to_pixels(rows.valid(np.asarray(detections, np.float64)), w, h)
        for row in dets:
            x1, y1, x2, y2 = row[rows.BOX]
            self.results.append({"image_id": int(image_id),
                                 "category_id": self.category_ids[int(row[rows.CLASS_ID])],
                                 "bbox": [x1, y1, x2 - x1, y2 - y1], "score": float(row[rows.SCORE])})
        if self._given is None:
            self._add_ground_truth(ground_truth, image_id, w, h)

    def _add_ground_truth(self, ground_truth, image_id, w, h) -> None:
        self._images.append({"id": int(image_id), "width": int(w), "height": int(h)})
        gts = objs.objects_to_pixels(objs.valid_objects(np.asarray(ground_truth, np.float64)), w, h)
        for row, crowd in zip(gts, objs.difficult(gts)):
            x1, y1, x2, y2 = row[objs.BOX]
            self._annotations.append({
                "id": len(self._annotations) + 1, "image_id": int(image_id),
                "category_id": self.category_ids[int(row[objs.CLASS_ID])], "bbox": [x1, y1, x2 - x1, y2 - y1],
                "area": (x2 - x1) * (y2 - y1), "iscrowd": int(crowd)})

    def ground_truth(self) -> dict:
        """The COCO instances dict the results are scored against."""
        if self._given is not None:
            return self._given
        return {"images": self._images, "annotations": self._annotations,
                "categories": [{"id": i, "name": n} for i, n in zip(self.category_ids, self.class_names)]}

    def result(self) -> Dict[str, object]:
        """``{"stats": {AP, AP50, ...}, "per_class": {name: AP@[.5:.95] or None}}`` by pycocotools."""
        gt = COCO()
        gt.dataset = self.ground_truth()
        with contextlib.redirect_stdout(io.StringIO()):
            gt.createIndex()
            if not self.results:
                return {"stats": {k: 0.0 for k in STAT_NAMES}, "per_class": dict.fromkeys(self.class_names)}
            dt = gt.loadRes(self.results)
            cocoeval = COCOeval(gt, dt, iouType="bbox")  # every image of the ground truth, as run directly
            cocoeval.evaluate()
            cocoeval.accumulate()
            cocoeval.summarize()
        return {"stats": dict(zip(STAT_NAMES, (float(v) for v in cocoeval.stats))),
                "per_class": self._per_class(cocoeval)}

    def _per_class(self, cocoeval: COCOeval) -> Dict[str, Optional[float]]:
        """AP@[.5:.95] per class: precision over IoUs and recall points, all areas, 100 detections."""
        precision = cocoeval.eval["precision"]  # (T, R, K, A, M)
        out = {}
        for k, cat in enumerate(cocoeval.params.catIds):
            values = precision[:, :, k, 0, -1]
            values = values[values > -1]
            name = self.class_names[self.category_ids.index(cat)]
            out[name] = float(values.mean()) if values.size else None
        return out
