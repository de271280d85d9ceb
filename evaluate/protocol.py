"""What every evaluator offers: ``update`` with one image, ``result`` with what it measured.

``VOCEvaluator`` (VOC07 and area AP), ``COCOEvaluator`` (pycocotools' AP@[.5:.95]) and
``ErrorBreakdown`` (recall by size, confusion) follow it; ``evaluate.runner`` fills any number of
them in one pass over the data and ``evaluate.cli`` composes their results.
"""
from __future__ import annotations

from typing import Dict, Optional, Protocol, Tuple

import numpy as np


class Evaluator(Protocol):
    def update(self, detections: np.ndarray, ground_truth: np.ndarray,
               image_size: Optional[Tuple[int, int]] = None, image_id: Optional[int] = None) -> None:
        """Add one image.

        Parameters
        ----------
        detections : ndarray (K, 6)
            ``[class_id, score, xmin, ymin, xmax, ymax]`` normalized; class -1 rows are skipped.
        ground_truth : ndarray (M, 5 or 6)
            ``[class_id, xmin, ymin, xmax, ymax(, difficult)]`` normalized; class -1 rows are padding.
        image_size : (int, int), optional
            ``(width, height)`` in pixels: boxes are compared in pixels.
        image_id : int, optional
            The image's id in a COCO json (evaluators that need none ignore it).
        """

    def result(self) -> Dict[str, object]:
        """What was measured over the images added, JSON-ready."""
