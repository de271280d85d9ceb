"""The detection stage as standard ONNX operators (opset 13), in two semantics.

Both take the network body's raw outputs and produce ``detections`` (B, K, 6):
rows ``[class_id, score, xmin, ymin, xmax, ymax]`` (``symbol.detection_layout``),
normalized, sorted by score, ``-1`` rows for padding; every node is named
``post/...`` so a runtime can replace the stage with other settings.

``multibox`` reproduces MXNet's ``MultiBoxDetection`` (the deploy head of
models built here): softmax over classes, one class per anchor (the best
foreground class, the first on ties), decoding with ``symbol.coding.VARIANCES``
and clipping to the image, the ``nms_topk`` best anchors, then greedy NMS per
class (across classes with ``force_suppress``).

``caffe`` reproduces Caffe SSD's ``DetectionOutput`` (converted models,
``symbol/caffe_detection.py``): every foreground class of every prior
is a candidate, decoding with each prior's own variances, the ``top_k`` best
per class, NMS per class, then the ``keep_top_k`` best over all classes.

Differences from MXNet, at exact equality only: ONNX Runtime keeps scores
strictly above the threshold where MultiBoxDetection keeps ``score >=
threshold``; it suppresses a box at ``IoU > nms_threshold`` where
MultiBoxDetection suppresses at ``IoU >= nms_threshold``; boxes of exactly
equal scores may come out in another order. ``nms_threshold = 0`` means no
NMS and no top-k, as in MultiBoxDetection.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np
from onnx import TensorProto

from detect.onnx.graph import END, GraphBuilder
from symbol.coding import VARIANCES, DetectionParams

#: Prefix of every node and constant of a detection stage.
STAGE = "post"
#: Output name of the detection stage.
DETECTIONS = "detections"


@dataclass(frozen=True)
class CaffeDetection:
    """A converted model's DetectionOutput settings (``symbol.caffe_detection.DetectionConfig``).

    ``top_k`` is per class before NMS, ``keep_top_k`` over all classes after it (-1: all);
    ``background_id`` is the background class's index among ``num_classes`` (-1: none).
    """

    num_classes: int
    background_id: int
    top_k: int
    keep_top_k: int
    variance_encoded_in_target: bool
    clip: bool


def _decode(g: GraphBuilder, loc: str, priors: str, variances: str, clip: bool) -> str:
    """Corner boxes (B, N, 4) from offsets ``loc`` (B, N*4), ``priors`` (N, 4) corners and ``variances``
    ((N, 4) or (4,)), CENTER_SIZE code.

    ``x = off_x * var_x * prior_w + prior_cx``, ``half_w = exp(off_w * var_w) * prior_w / 2``
    (paper, eq. 2 inverted), the operations in MultiBoxDetection's and Caffe's order.
    """
    lo = g.op("Slice", [priors, g.const([0]), g.const([2]), g.const([1])], "prior_min")
    hi = g.op("Slice", [priors, g.const([2]), g.const([4]), g.const([1])], "prior_max")
    size = g.op("Sub", [hi, lo], "prior_wh")
    centre = g.op("Div", [g.op("Add", [lo, hi]), g.const(np.float32(2))], "prior_centre")
    var_xy = g.op("Slice", [variances, g.const([0]), g.const([2]), g.const([-1])], "var_xy")
    var_wh = g.op("Slice", [variances, g.const([2]), g.const([4]), g.const([-1])], "var_wh")
    offsets = g.op("Reshape", [loc, g.const([0, -1, 4])], "offsets")
    xy = g.op("Slice", [offsets, g.const([0]), g.const([2]), g.const([2])], "off_xy")
    wh = g.op("Slice", [offsets, g.const([2]), g.const([4]), g.const([2])], "off_wh")
    xy = g.op("Add", [g.op("Mul", [g.op("Mul", [xy, var_xy]), size]), centre], "centre")
    scale = g.op("Exp", [g.op("Mul", [wh, var_wh])], "scale")
    half = g.op("Div", [g.op("Mul", [scale, size]), g.const(np.float32(2))], "half")
    boxes = g.op("Concat", [g.op("Sub", [xy, half]), g.op("Add", [xy, half])], "boxes", axis=2)
    if clip:
        boxes = g.op("Clip", [boxes, g.const(np.float32(0)), g.const(np.float32(1))], "clipped")
    return boxes


def _nms(g: GraphBuilder, boxes: str, scores: str, per_class: int, params: DetectionParams) -> str:
    """NonMaxSuppression: selected (M, 3) ``[batch, class, box]`` of boxes (B, N, 4), scores (B, C, N)."""
    return g.op("NonMaxSuppression", [boxes, scores, g.const([per_class]),
                                      g.const([params.nms_threshold]), g.const([params.threshold])], "nms")


def _kept_scores(g: GraphBuilder, scores: str, selected: str) -> str:
    """Scores (B, C, N) where NMS kept the box for that class, -1 elsewhere."""
    values = g.op("GatherND", [scores, selected], "kept_values")
    empty = g.op("Sub", [g.op("Mul", [scores, g.const(np.float32(0))]), g.const(np.float32(1))], "minus_one")
    return g.op("ScatterND", [empty, selected, values], "kept_scores")


def _rows(g: GraphBuilder, classes: str, scores: str, boxes: str) -> str:
    """``detections`` (B, K, 6) from classes (B, K) float, scores (B, K) (-1: none), boxes (B, K, 4)."""
    kept = g.op("Greater", [scores, g.const(np.float32(-1))], "kept")
    minus = g.const(np.float32(-1))
    classes = g.op("Where", [kept, classes, minus], "class_id")
    kept3 = g.op("Unsqueeze", [kept, g.const([2])])
    boxes = g.op("Where", [kept3, boxes, minus], "box")
    columns = [g.op("Unsqueeze", [classes, g.const([2])]), g.op("Unsqueeze", [scores, g.const([2])]), boxes]
    return g.named("Concat", columns, DETECTIONS, axis=2)


def _gather_rows(g: GraphBuilder, data: str, index: str) -> str:
    """``data`` (B, N, D) at ``index`` (B, K) along axis 1: (B, K, D)."""
    return g.op("GatherND", [data, g.op("Unsqueeze", [index, g.const([2])])], "gather", batch_dims=1)


def multibox(cls_logits: str, loc: str, anchors: str, num_anchors: int, num_classes: int,
             params: DetectionParams) -> Tuple[GraphBuilder, str]:
    """MultiBoxDetection's stage on ``cls_logits`` (B, C + 1, N) and ``loc`` (B, N * 4).

    ``anchors`` names an (N, 4) tensor of normalized corners (the body's MultiBoxPrior output).
    Output (B, K, 6) with ``K = nms_topk`` (all N when -1 or when ``nms_threshold`` is 0).
    """
    g = GraphBuilder(STAGE)
    n = num_anchors
    prob = g.op("Softmax", [cls_logits], "prob", axis=1)
    fg = g.op("Slice", [prob, g.const([1]), g.const([END]), g.const([1])], "foreground")
    score = g.op("ReduceMax", [fg], "score", axes=[1], keepdims=0)
    best = g.op("ArgMax", [fg], "best_class", axis=1, keepdims=0)  # the first maximum, as MultiBoxDetection
    boxes = _decode(g, loc, anchors, g.const(np.array(VARIANCES, np.float32), "variances"), clip=True)
    no_nms = params.nms_threshold <= 0  # MultiBoxDetection then skips top-k and NMS
    k = n if no_nms or params.nms_topk < 0 else min(params.nms_topk, n)
    top_score, top = g.op("TopK", [score, g.const([k])], "topk", outputs=2, axis=1)
    top_boxes = _gather_rows(g, boxes, top)
    top_class = g.op("Cast", [g.op("GatherElements", [best, top], "top_class", axis=1)], to=TensorProto.FLOAT)
    if no_nms:
        passed = g.op("Less", [top_score, g.const(np.float32(params.threshold))])
        kept = g.op("Where", [passed, g.const(np.float32(-1)), top_score], "kept_score")
        return g, _rows(g, top_class, kept, top_boxes)
    if params.force_suppress:
        nms_scores = g.op("Unsqueeze", [top_score, g.const([1])], "class_agnostic")
    else:  # per-class NMS: each box scores only in its own class row
        class_id = g.op("Unsqueeze", [g.op("Cast", [top_class], to=TensorProto.INT64), g.const([1])])
        mine = g.op("Equal", [class_id, g.const(np.arange(num_classes).reshape(1, -1, 1))], "own_class")
        score_row = g.op("Unsqueeze", [top_score, g.const([1])])
        nms_scores = g.op("Where", [mine, score_row, g.const(np.float32(0))], "class_scores")
    selected = _nms(g, top_boxes, nms_scores, k, params)
    kept = g.op("ReduceMax", [_kept_scores(g, nms_scores, selected)], "kept_score", axes=[1], keepdims=0)
    order = g.op("TopK", [kept, g.const([k])], "order", outputs=2, axis=1)[1]
    take = lambda x: g.op("GatherElements", [x, order], "sorted", axis=1)  # noqa: E731
    return g, _rows(g, take(top_class), take(kept), _gather_rows(g, top_boxes, order))


def caffe(loc: str, conf: str, priors: str, num_priors: int, config: CaffeDetection,
          params: DetectionParams) -> Tuple[GraphBuilder, str]:
    """Caffe DetectionOutput's stage on ``loc`` (B, N * 4) and ``conf`` (B, N * num_classes) probabilities.

    ``priors`` names the PriorBox blob (2, N * 4): corners, then each coordinate's variance.
    Output (B, K, 6) with ``K = keep_top_k`` (or every candidate when it is -1).
    """
    g = GraphBuilder(STAGE)
    n = num_priors
    blob = g.op("Reshape", [priors, g.const([2, -1, 4])], "prior_blob")
    corners = g.op("Gather", [blob, g.const(np.int64(0))], "prior_corners", axis=0)
    variances = (g.const(np.ones(4, np.float32), "variances") if config.variance_encoded_in_target
                 else g.op("Gather", [blob, g.const(np.int64(1))], "prior_variances", axis=0))
    boxes = _decode(g, loc, corners, variances, clip=config.clip)
    scores = g.op("Transpose", [g.op("Reshape", [conf, g.const([0, -1, config.num_classes])])], "scores",
                  perm=[0, 2, 1])
    foreground = [c for c in range(config.num_classes) if c != config.background_id]
    scores = g.op("Gather", [scores, g.const(foreground)], "foreground", axis=1)  # (B, C, N)
    per_class = n if config.top_k < 0 else min(config.top_k, n)
    top_score, top = g.op("TopK", [scores, g.const([per_class])], "per_class_topk", outputs=2, axis=2)
    # only each class's top_k boxes compete in its NMS; the others score -1 (never above the threshold)
    empty = g.op("Sub", [g.op("Mul", [scores, g.const(np.float32(0))]), g.const(np.float32(1))], "minus_one")
    candidates = g.op("ScatterElements", [empty, top, top_score], "candidates", axis=2)
    safe = DetectionParams(params.nms_threshold, params.nms_topk, False, max(params.threshold, 0.0))
    selected = _nms(g, boxes, candidates, per_class, safe)
    kept = g.op("Reshape", [_kept_scores(g, candidates, selected), g.const([0, -1])], "kept_flat")  # (B, C*N)
    total = len(foreground) * per_class
    k = total if config.keep_top_k < 0 else min(config.keep_top_k, total)
    best, index = g.op("TopK", [kept, g.const([k])], "keep_top_k", outputs=2, axis=1)
    classes = g.op("Cast", [g.op("Div", [index, g.const(n)], "class_index")], to=TensorProto.FLOAT)
    prior = g.op("Mod", [index, g.const(n)], "prior_index")
    return g, _rows(g, classes, best, _gather_rows(g, boxes, prior))
