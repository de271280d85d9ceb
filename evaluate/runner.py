"""Running a bound detection module over a DetRecordIter into a VOCEvaluator."""
from __future__ import annotations

import mxnet as mx
from tqdm import tqdm

from evaluate.voc_ap import VOCEvaluator


def evaluate_module(module: mx.mod.Module, iterator, evaluator: VOCEvaluator,
                    *, progress: bool = False, bgr: bool = False) -> VOCEvaluator:
    """Forward every batch of ``iterator`` and add each real (non-padding) image.

    Pass a freshly made iterator (``wrap_last_batch=False``): ImageDetRecordIter
    loses prefetched batches when reset after it has been idle, so this function
    does not reset it. ``module`` must output (B, N, 6) detections, normalized, and be bound
    with the iterator's batch size (``bgr``: the model takes BGR, the iterator's
    RGB channels are reversed); ground truth comes from the batch label
    (B, M, 6) and boxes are compared in the original pixels when the batch
    carries ``image_sizes``.
    """
    for batch in tqdm(iterator, desc="evaluating", unit="batch", disable=not progress, leave=False):
        data = [mx.nd.flip(batch.data[0], axis=1)] if bgr else batch.data
        module.forward(mx.io.DataBatch(data), is_train=False)
        dets = module.get_outputs()[0].asnumpy()
        labels = batch.label[0].asnumpy()
        real = dets.shape[0] - (batch.pad or 0)
        sizes = getattr(batch, "image_sizes", None)
        for i in range(real):
            evaluator.update(dets[i], labels[i], None if sizes is None else tuple(sizes[i]))
    return evaluator
