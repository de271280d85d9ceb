"""Running a detector over an evaluation set into one or more evaluators.

An evaluator is anything with ``update(detections, ground_truth, image_size,
...)``: ``VOCEvaluator`` and ``COCOEvaluator``. Detections and ground truth
are normalized; ``image_size`` is ``(width, height)`` in pixels.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence

import numpy as np
from tqdm import tqdm

from common.images import read_image
from dataset.label_layout import normalized_objects
from dataset.records import ImageRecord
from symbol import detection_layout as rows


@dataclass
class Sample:
    """One evaluated image, kept for pictures of ground truth vs predictions."""

    detections: np.ndarray     # (K, 6) normalized
    ground_truth: np.ndarray   # (M, 6) normalized
    image_size: tuple          # (width, height)
    index: int                 # position in the evaluation set
    path: Optional[str] = None


def evaluate_batches(forward: Callable[[np.ndarray], np.ndarray], iterator, evaluators, *,
                     progress: bool = False, keep: int = 0, total: Optional[int] = None) -> List[Sample]:
    """Forward every batch of ``iterator`` and add each real (non-padding) image.

    Pass a freshly made iterator (``wrap_last_batch=False``): ImageDetRecordIter
    loses prefetched batches when reset after it has been idle, so this function
    does not reset it. ``forward`` maps a batch's data (B, 3, S, S) to (B, K, 6) detections,
    normalized (``symbol.detection_layout``), whose boxes are clipped to the image (rows left
    with no area dropped, as users see them); ground truth comes from the batch label
    (B, M, 6) and boxes are compared in the original pixels when the ``DetBatch``
    has ``image_sizes``. Returns the first ``keep`` images' samples.
    """
    evaluators = evaluators if isinstance(evaluators, (list, tuple)) else [evaluators]
    kept, index = [], 0
    bar = tqdm(iterator, desc="evaluating", unit="batch", total=total, disable=not progress, leave=False)
    for batch in bar:
        dets = forward(batch.data[0].asnumpy())
        labels = batch.label[0].asnumpy()
        real = dets.shape[0] - (batch.pad or 0)
        sizes = batch.image_sizes
        for i in range(real):
            size = None if sizes is None else tuple(int(v) for v in sizes[i])
            inside = rows.inside_image(rows.valid(dets[i]))
            for ev in evaluators:
                ev.update(inside, labels[i], size)
            if len(kept) < keep:
                kept.append(Sample(inside, labels[i], size, index))
            index += 1
    return kept


def evaluate_records(detector, records: Sequence[ImageRecord], evaluators, *, image_ids=None,
                     progress: bool = False, keep: int = 0) -> List[Sample]:
    """Detect on every record's image file and add it to ``evaluators``.

    ``image_ids`` (COCO ids, one per record) are passed to evaluators that take them.
    """
    kept = []
    for k, record in enumerate(tqdm(records, desc="evaluating", unit="img", disable=not progress,
                                    leave=False)):
        image = read_image(record.path)
        h, w = image.shape[:2]
        dets = rows.to_normalized(detector.detect([image])[0], w, h)
        gt = normalized_objects(record)
        for ev in evaluators:
            ev.update(dets, gt, (w, h), image_id=None if image_ids is None else image_ids[k])
        if len(kept) < keep:
            kept.append(Sample(dets, gt, (w, h), k, str(record.path)))
    return kept


def evaluate_rec(detector, rec, evaluators, *, batch_size: int, progress: bool = False,
                 keep: int = 0) -> List[Sample]:
    """Evaluate ``detector`` (taking batches of ``batch_size``) on a packed ``.rec``.

    The iterator makes the detector's inputs: its channel order, normalized unless the
    model normalizes inside (ONNX files take raw pixels).
    """
    from dataset.iterator import DetRecordIter
    meta = detector.meta
    mean, std = detector.input_normalization
    it = DetRecordIter(rec, batch_size=batch_size, data_shape=meta.data_shape, mean=mean, std=std,
                       wrap_last_batch=False, channel_order=meta.channel_order)
    return evaluate_batches(detector.forward, it, evaluators, progress=progress, keep=keep,
                            total=it.num_batches())
