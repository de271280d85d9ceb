"""Reduced-precision deploy models for CPUs: INT8 (calibrated) and BF16, through oneDNN.

INT8 (``mxnet.contrib.quantization.quantize_model_mkldnn``): convolutions,
pooling and their fused BatchNorm/ReLU run in int8 with per-layer ranges
calibrated on images from a ``.rec`` (``naive``: min/max; ``entropy``: the
KL-optimal threshold). Operators without an int8 kernel (L2Normalization,
softmax, reshapes, MultiBoxPrior/Detection) stay in fp32; the log names
them. ``--exclude REGEX`` keeps more layers in fp32.

BF16 (``mxnet.contrib.amp``, no calibration): convolutions and fully-connected
layers run in bfloat16 (AVX512-BF16 where the CPU has it), their weights stored
as bfloat16. AMP cannot convert a whole SSD graph in MXNet 1.9.1: it hands
bfloat16 to MultiBoxPrior, which accepts only fp32, and an op of that kind
cannot be listed as fp32. So only the part that computes the class logits and
box offsets is converted; the anchors, which depend on the input size alone,
are computed once in fp32 and stored as a parameter; softmax and
MultiBoxDetection run in fp32. BF16 models run on CPUs only (MXNet 1.9 has
no bfloat16 GPU kernels).

Both results are saved as normal deploy models.
"""
from __future__ import annotations

import json
import logging
import re
import warnings
from collections import Counter
from typing import Optional, Tuple

import mxnet as mx
import numpy as np

log = logging.getLogger(__name__)

class CalibrationData(mx.io.DataIter):
    """At most ``num_images`` images of a DetRecordIter, data only (labels dropped)."""

    def __init__(self, iterator, num_images: int):
        super().__init__(iterator.batch_size)
        self._source, self._left = iter(iterator), num_images
        self.provide_data, self.provide_label = iterator.provide_data, []

    def __next__(self):
        if self._left <= 0:
            raise StopIteration
        batch = next(self._source)
        self._left -= self.batch_size
        return mx.io.DataBatch([batch.data[0]], [])

    def reset(self):
        pass  # one pass only


def _nodes(symbol):
    return json.loads(symbol.tojson(remove_amp_cast=False))["nodes"]


def quantize_int8(symbol, args, auxs, calibration: CalibrationData, num_images: int, *,
                  mode: str = "naive", exclude: Optional[str] = None) -> Tuple[mx.sym.Symbol, dict, dict]:
    """INT8 symbol and parameters; ``exclude`` is a regex of layer names kept in fp32."""
    from mxnet.contrib import quantization
    if mode not in ("naive", "entropy"):
        raise ValueError(f"calibration mode must be naive or entropy, got {mode!r}")
    excluded = [n["name"] for n in _nodes(symbol) if n["op"] != "null" and exclude
                and re.search(exclude, n["name"])]
    if exclude and not excluded:
        raise ValueError(f"--exclude {exclude!r} matches no layer")
    for name in excluded:
        log.info("kept in fp32: %s (--exclude)", name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # calibration's Module has no label: expected
        qsym, qargs, qauxs = quantization.quantize_model_mkldnn(
            symbol, args, auxs, ctx=mx.cpu(), excluded_sym_names=excluded, calib_mode=mode,
            calib_data=calibration, num_calib_examples=num_images, quantized_dtype="auto",
            logger=None)
    qsym = qsym.get_backend_symbol("MKLDNN_QUANTIZE")
    ops = [n["op"] for n in _nodes(qsym) if n["op"] != "null"]
    is_int8 = lambda op: op.startswith("_sg_mkldnn") or "quantized" in op  # noqa: E731
    int8 = Counter(op for op in ops if is_int8(op))
    fp32 = Counter(op for op in ops if not is_int8(op) and "quantize" not in op)
    log.info("int8: %s", ", ".join(f"{k} x{v}" for k, v in sorted(int8.items())))
    log.info("kept in fp32 (no int8 kernel in MXNet's oneDNN backend): %s",
             ", ".join(f"{k} x{v}" for k, v in sorted(fp32.items())))
    return qsym, qargs, qauxs


#: The parameter holding a BF16 model's precomputed anchors (1, N, 4).
FIXED_ANCHORS = "anchors_fixed"


def to_bfloat16(symbol, args, auxs, data_shape: int, detection) -> Tuple[mx.sym.Symbol, dict, dict]:
    """A BF16 deploy symbol and its parameters from a deploy ``symbol`` with body outputs.

    Parameters
    ----------
    symbol : Symbol
        Deploy symbol whose internals include ``cls_preds``, ``loc_preds`` and ``anchors``
        (``symbol.builder.body``); converted Caffe graphs do not qualify.
    args, auxs : dict of NDArray
        fp32 parameters of ``symbol``.
    data_shape : int
        Input side; the anchors are computed for it.
    detection : DetectionParams
        Settings of the fp32 MultiBoxDetection stage.
    """
    from mxnet.contrib import amp

    from detect.model import BODY_OUTPUTS, body_outputs, forward_nodes
    from symbol.builder import detection_head
    outputs = body_outputs(symbol)
    if outputs is None:
        raise ValueError("--quantize bf16 needs a model built by this project (outputs cls_preds, "
                         "loc_preds, anchors); converted Caffe graphs are not supported")
    cls_preds, loc_preds, _ = outputs
    [fixed] = forward_nodes(symbol, args, auxs, np.zeros((1, 3, data_shape, data_shape), np.float32),
                            ["anchors"])
    body = mx.sym.Group([cls_preds, loc_preds])
    # The anchors need no parameters: the body uses every one of the deploy symbol's. Copies,
    # because AMP casts the arrays of the dicts it is given in place.
    bsym, bargs, bauxs = amp.convert_model(body, dict(args), dict(auxs), target_dtype="bfloat16",
                                           cast_optional_params=True)
    outs = [mx.sym.amp_cast(bsym[i], dtype="float32", name=f"{n}_fp32")
            for i, n in enumerate(BODY_OUTPUTS[:2])]
    anchor_var = mx.sym.var(FIXED_ANCHORS, shape=fixed.shape)
    result = detection_head(outs[0], outs[1], anchor_var, detection)
    bf16 = Counter(n["op"] for n in _nodes(bsym) if n["op"] in ("Convolution", "FullyConnected"))
    log.info("bf16: %s; anchors precomputed for %dx%d; softmax and detection in fp32",
             ", ".join(f"{k} x{v}" for k, v in sorted(bf16.items())), data_shape, data_shape)
    return result, dict(bargs, **{FIXED_ANCHORS: mx.nd.array(fixed)}), bauxs

