"""The SSD body and its two heads.

``body`` turns an input into per-anchor class logits, box offsets and the
anchors themselves. The training symbol adds ``MultiBoxTarget`` and the
losses; the deploy symbol adds softmax and ``MultiBoxDetection``. Both are
built from the same body, so a checkpoint of one loads into the other.

Shapes (B = batch, N = anchors, C = foreground classes):

* ``cls_preds``: (B, C + 1, N), logits, background is class 0;
* ``loc_preds``: (B, N * 4), encoded offsets (``symbol.coding.VARIANCES``);
* ``anchors``: (1, N, 4), normalized ``[xmin, ymin, xmax, ymax]``;
* training ``label``: (B, M, >=5) rows ``[class_id, xmin, ymin, xmax, ymax, ...]``
  normalized, ``class_id = -1`` for padding;
* detections: (B, N, 6) rows ``[class_id, score, xmin, ymin, xmax, ymax]``
  normalized, ``class_id = -1`` for suppressed rows.
"""
from __future__ import annotations

import mxnet as mx

from symbol.coding import VARIANCES, DetectionParams
from symbol.features import check_top_down, feature_maps, top_down
from symbol.layers import conv_act, l2_normalize
from symbol.presets import Preset

#: Matching and mining settings of the paper (section 2.2, "Hard negative mining").
OVERLAP_THRESHOLD = 0.5
NEGATIVE_MINING_RATIO = 3.0
NEGATIVE_MINING_THRESH = 0.5
#: Prediction heads start with unit-gain weights so that initial logits and offsets are O(1)
#: (a ReLU gain of 2 on 3x3xC inputs gives logits of std ~5 and a huge first loss).
HEAD_INIT = mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=1)


def _head_weight(layer: str):
    return mx.sym.Variable(layer + "_weight", init=HEAD_INIT)


def _head_conv(feat, name: str, outputs: int, preset: Preset, channels: int):
    """A 3x3 prediction convolution; in SSDLite a 3x3 depthwise (+BN, act) then a 1x1."""
    if not preset.separable:
        return mx.sym.Convolution(feat, weight=_head_weight(name), name=name, num_filter=outputs,
                                  kernel=(3, 3), pad=(1, 1))
    dw = conv_act(feat, name + "_dw", channels, kernel=3, pad=1, groups=channels, batchnorm=True,
                  act=preset.activation)
    return mx.sym.Convolution(dw, weight=_head_weight(name), name=name, num_filter=outputs,
                              kernel=(1, 1))


def _predict(feat, name: str, spec, num_classes: int, preset: Preset, channels: int):
    """One feature map's flattened class logits, box offsets and anchors."""
    a = spec.per_location
    loc = _head_conv(feat, name + "_loc", a * 4, preset, channels)
    cls = _head_conv(feat, name + "_cls", a * (num_classes + 1), preset, channels)
    # NCHW -> NHWC before flattening: anchors are ordered by row, column, anchor,
    # the order of MultiBoxPrior's output.
    flat = lambda x: mx.sym.flatten(mx.sym.transpose(x, axes=(0, 2, 3, 1)))  # noqa: E731
    prior = mx.sym.contrib.MultiBoxPrior(feat, name=name + "_anchors", **spec.prior_kwargs())
    return flat(cls), flat(loc), mx.sym.reshape(prior, shape=(1, -1, 4))


def body(data, preset: Preset, num_classes: int):
    """Class logits, box offsets and anchors of an SSD network.

    Parameters
    ----------
    data : Symbol
        Input (B, 3, preset.data_shape, preset.data_shape).
    preset : Preset
    num_classes : int
        Foreground classes (background is added internally).

    Returns
    -------
    (cls_preds, loc_preds, anchors) : tuple of Symbol
        Shapes as in the module docstring.
    """
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    norms = preset.normalization or ()
    feats = feature_maps(data, preset)
    _, shapes, _ = mx.sym.Group(feats).infer_shape(data=(1, 3, preset.data_shape, preset.data_shape))
    for i, norm in enumerate(norms):
        if norm > 0:
            feats[i] = l2_normalize(feats[i], f"head{i}_norm", shapes[i][1], norm)
    channels = [s[1] for s in shapes]
    if preset.top_down:
        check_top_down(preset, shapes)
        taps = len(preset.taps)
        feats[:taps] = top_down(feats[:taps], preset.top_down, batchnorm=preset.extra_batchnorm,
                                act=preset.activation)
        channels[:taps] = [preset.top_down] * taps
    outputs = [_predict(feat, f"head{i}", spec, num_classes, preset, c)
               for i, (feat, spec, c) in enumerate(zip(feats, preset.anchors, channels))]
    cls_list, loc_list, anchor_list = zip(*outputs)
    loc_preds = mx.sym.concat(*loc_list, dim=1, name="loc_preds")
    cls_flat = mx.sym.concat(*cls_list, dim=1)
    cls_preds = mx.sym.transpose(mx.sym.reshape(cls_flat, shape=(0, -1, num_classes + 1)),
                                 axes=(0, 2, 1), name="cls_preds")
    anchors = mx.sym.concat(*anchor_list, dim=1, name="anchors")
    return cls_preds, loc_preds, anchors


def training_head(cls_preds, loc_preds, anchors, label, *, loss_output: str = "makeloss"):
    """MultiBoxTarget with 3:1 hard negative mining, softmax CE and smooth L1.

    The loss output is the *sum* over the batch of the confidence and
    localization losses; the trainer divides gradients by the number of
    matched anchors in the whole batch (``num_pos``), which is the paper's
    ``1/N (L_conf + L_loc)`` (eq. 1) on any number of devices.

    ``loss_output``: ``makeloss`` (the gradient of ``loss`` starts at 1) or ``identity`` (a plain
    output: the caller gives its gradient to ``backward``, e.g. a loss scale for float16).

    Returns
    -------
    Symbol group with outputs
        ``loss`` (B,) per-image sum used for gradients; ``cls_loss`` (B,)
        and ``loc_loss`` (B,) for logging; ``num_pos`` (B,) matched anchors.
    """
    if loss_output not in ("makeloss", "identity"):
        raise ValueError(f"loss_output must be 'makeloss' or 'identity', got {loss_output!r}")
    box_label = mx.sym.slice_axis(label, axis=2, begin=0, end=5)
    loc_target, loc_mask, cls_target = mx.sym.contrib.MultiBoxTarget(
        anchors, box_label, cls_preds, overlap_threshold=OVERLAP_THRESHOLD, ignore_label=-1,
        negative_mining_ratio=NEGATIVE_MINING_RATIO, negative_mining_thresh=NEGATIVE_MINING_THRESH,
        minimum_negative_samples=0, variances=VARIANCES, name="multibox_target")
    loc_target = mx.sym.BlockGrad(loc_target)
    loc_mask = mx.sym.BlockGrad(loc_mask)
    cls_target = mx.sym.BlockGrad(cls_target)
    # Softmax cross-entropy over positives and mined negatives (target >= 0).
    log_prob = mx.sym.log_softmax(cls_preds, axis=1)
    valid = cls_target >= 0
    picked = mx.sym.pick(log_prob, mx.sym.relu(cls_target), axis=1)
    cls_loss = -mx.sym.sum(picked * valid, axis=1)
    # Smooth L1 (sigma 1) on positives only.
    loc_diff = loc_mask * (loc_preds - loc_target)
    loc_loss = mx.sym.sum(mx.sym.smooth_l1(loc_diff, scalar=1.0), axis=1)
    num_pos = mx.sym.sum(cls_target > 0, axis=1)
    total = (mx.sym.MakeLoss(cls_loss + loc_loss, name="loss") if loss_output == "makeloss"
             else mx.sym.identity(cls_loss + loc_loss, name="loss"))
    return mx.sym.Group([
        total,
        mx.sym.BlockGrad(cls_loss, name="cls_loss"),
        mx.sym.BlockGrad(loc_loss, name="loc_loss"),
        mx.sym.BlockGrad(num_pos, name="num_pos"),
    ])


def detection_head(cls_preds, loc_preds, anchors, params: DetectionParams = DetectionParams()):
    """Softmax + MultiBoxDetection (decode, threshold, per-class NMS)."""
    cls_prob = mx.sym.softmax(cls_preds, axis=1, name="cls_prob")
    return mx.sym.contrib.MultiBoxDetection(
        cls_prob, loc_preds, anchors, name="detection", nms_threshold=params.nms_threshold,
        force_suppress=params.force_suppress, variances=VARIANCES, nms_topk=params.nms_topk,
        threshold=params.threshold, clip=True)


def train_symbol(preset: Preset, num_classes: int, *, loss_output: str = "makeloss"):
    """Training symbol: inputs ``data`` and ``label``, outputs as ``training_head``."""
    parts = body(mx.sym.var("data"), preset, num_classes)
    return training_head(*parts, mx.sym.var("label"), loss_output=loss_output)


def deploy_symbol(preset: Preset, num_classes: int, params: DetectionParams = DetectionParams()):
    """Inference symbol: input ``data``, output detections (B, N, 6)."""
    parts = body(mx.sym.var("data"), preset, num_classes)
    return detection_head(*parts, params)
