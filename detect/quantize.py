"""INT8 deploy models, calibrated, through MXNet's oneDNN backend.

INT8 (``mxnet.contrib.quantization.quantize_model_mkldnn``): convolutions,
pooling and their fused BatchNorm/ReLU run in int8 with per-layer ranges
calibrated on images from a ``.rec`` (``naive``: min/max; ``entropy``: the
KL-optimal threshold). Operators without an int8 kernel (L2Normalization,
softmax, reshapes, MultiBoxPrior/Detection) stay in fp32; the log names
them. ``--exclude REGEX`` keeps more layers in fp32.

The result is saved as a normal deploy model. BF16 through ``mxnet.contrib.amp``
was tried and does not work on these graphs in MXNet 1.9.1: AMP hands
bfloat16 to MultiBoxPrior (which accepts only fp32), and excluding those
nodes leaves the graph unconverted (no casts, fp32 weights).
"""
from __future__ import annotations

import json
import logging
import re
import warnings
from collections import Counter
from typing import Optional, Tuple

import mxnet as mx

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
    return json.loads(symbol.tojson())["nodes"]


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
