"""Caffe SSD's DetectionOutput as an MXNet graph (the detection stage of every converted Caffe model).

MXNet's ``MultiBoxDetection`` keeps one class per default box (the best
one); Caffe's DetectionOutput scores *every* class of every box. To give the
same detections, the converted graph does what Caffe does:

1. decode every box with its prior and the prior's variances (CENTER_SIZE
   code; ``variance_encoded_in_target`` uses variance 1), optionally clip;
2. per foreground class, keep the ``top_k`` best-scoring boxes
   (``nms_param.top_k``);
3. greedy NMS per class at ``nms_threshold`` among boxes scoring above
   ``confidence_threshold`` (``box_nms`` with the class as id);
4. keep the ``keep_top_k`` best detections over all classes.

Output: (B, K, 6) rows ``[class_id, score, xmin, ymin, xmax, ymax]``,
normalized, sorted by score, ``-1`` rows for nothing; ``class_id`` counts
foreground classes from 0 (Caffe's label minus one when the background is 0).
"""
from __future__ import annotations

from dataclasses import dataclass

import mxnet as mx


@dataclass(frozen=True)
class DetectionConfig:
    num_classes: int           # including the background
    background_id: int         # -1 for none
    nms_threshold: float
    top_k: int                 # per class before NMS, -1 for all
    keep_top_k: int            # after NMS over all classes, -1 for all
    confidence_threshold: float
    variance_encoded_in_target: bool
    clip: bool


def decode(loc, priors, variance_encoded: bool):
    """Boxes (B, N, 4) corner-form from offsets (B, N*4) and the PriorBox blob (1, 2, N*4)."""
    anchors = mx.sym.reshape(mx.sym.slice_axis(priors, axis=1, begin=0, end=1), shape=(1, -1, 4))
    offsets = mx.sym.reshape(loc, shape=(0, -1, 4))
    if not variance_encoded:
        var = mx.sym.reshape(mx.sym.slice_axis(priors, axis=1, begin=1, end=2), shape=(1, -1, 4))
        offsets = mx.sym.broadcast_mul(offsets, var)
    part = lambda x, i: mx.sym.slice_axis(x, axis=2, begin=i, end=i + 1)  # noqa: E731
    pw, ph = part(anchors, 2) - part(anchors, 0), part(anchors, 3) - part(anchors, 1)
    pcx, pcy = (part(anchors, 0) + part(anchors, 2)) / 2, (part(anchors, 1) + part(anchors, 3)) / 2
    cx = mx.sym.broadcast_add(mx.sym.broadcast_mul(part(offsets, 0), pw), pcx)
    cy = mx.sym.broadcast_add(mx.sym.broadcast_mul(part(offsets, 1), ph), pcy)
    w = mx.sym.broadcast_mul(mx.sym.exp(part(offsets, 2)), pw)
    h = mx.sym.broadcast_mul(mx.sym.exp(part(offsets, 3)), ph)
    return mx.sym.concat(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, dim=2)


def detection_output(loc, conf, priors, cfg: DetectionConfig, name: str, num_priors: int):
    """The DetectionOutput graph; ``conf`` is (B, N * C) probabilities, class fastest."""
    boxes = decode(loc, priors, cfg.variance_encoded_in_target)
    if cfg.clip:
        boxes = mx.sym.clip(boxes, 0.0, 1.0)
    scores = mx.sym.transpose(mx.sym.reshape(conf, shape=(0, -1, cfg.num_classes)), axes=(0, 2, 1))
    if 0 <= cfg.background_id < cfg.num_classes:
        keep = [c for c in range(cfg.num_classes) if c != cfg.background_id]
        parts = [mx.sym.slice_axis(scores, axis=1, begin=c, end=c + 1) for c in keep]
        scores = mx.sym.concat(*parts, dim=1) if len(parts) > 1 else parts[0]
    k = num_priors if cfg.top_k < 0 else min(cfg.top_k, num_priors)
    top_scores, top_idx = mx.sym.topk(scores, axis=2, k=k, ret_typ="both", name=name + "_topk")
    batch_idx = mx.sym.broadcast_like(
        mx.sym.reshape(mx.sym.contrib.arange_like(top_idx, axis=0), shape=(-1, 1, 1)), top_idx)
    class_idx = mx.sym.broadcast_like(
        mx.sym.reshape(mx.sym.contrib.arange_like(top_idx, axis=1), shape=(1, -1, 1)), top_idx)
    picked = mx.sym.gather_nd(boxes, mx.sym.stack(batch_idx, top_idx, axis=0))  # (B, C', k, 4)
    rows = mx.sym.concat(mx.sym.expand_dims(class_idx, axis=3), mx.sym.expand_dims(top_scores, axis=3),
                         picked, dim=3)
    rows = mx.sym.reshape(rows, shape=(0, -1, 6))
    # Caffe keeps scores strictly above the threshold; box_nms keeps those above valid_thresh.
    out = mx.sym.contrib.box_nms(rows, overlap_thresh=cfg.nms_threshold,
                                 valid_thresh=cfg.confidence_threshold, topk=-1, coord_start=2,
                                 score_index=1, id_index=0, force_suppress=False,
                                 in_format="corner", out_format="corner", name=name + "_nms")
    total = k * (cfg.num_classes - (1 if 0 <= cfg.background_id < cfg.num_classes else 0))
    if 0 < cfg.keep_top_k < total:
        out = mx.sym.slice_axis(out, axis=1, begin=0, end=cfg.keep_top_k)
    return mx.sym.identity(out, name=name)
