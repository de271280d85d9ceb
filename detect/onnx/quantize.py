"""INT8 ONNX models through ONNX Runtime's static quantization (QDQ format), calibrated on images of a .rec.

The network body is quantized (QuantizeLinear/DequantizeLinear pairs around
convolutions: int8 weights per output channel, uint8 activations with ranges
calibrated on ``num_images`` images); the input normalization and the
detection stage stay fp32 (their nodes, ``pre/...`` and ``post/...``, are
excluded). The result is a normal ONNX model of this project: same input,
output and metadata (``made_by.precision`` records the quantization).
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import onnx

from common.atomic import atomic_paths
from detect.onnx import export

log = logging.getLogger(__name__)

#: Operators quantized. Not Mul: the L2-normalization scale of VGG16's conv4_3 is a per-channel
#: multiplier, which the quantizer turns into a QLinearMul with per-channel scales ONNX Runtime refuses.
QUANTIZED_OPS = ["Conv", "MaxPool", "Add", "Concat"]


class _RecReader:
    """``CalibrationDataReader`` of ONNX Runtime: raw-pixel batches of a .rec in the model's order."""

    def __init__(self, rec, meta, num_images: int, batch_size: int = 8):
        from dataset.iterator import DetRecordIter
        self._it = iter(DetRecordIter(rec, batch_size=min(batch_size, num_images), data_shape=meta.data_shape,
                                      mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), wrap_last_batch=False,
                                      channel_order=meta.channel_order))
        self._left = num_images

    def get_next(self):
        if self._left <= 0:
            return None
        batch = next(self._it, None)
        if batch is None:
            return None
        data = batch.data[0].asnumpy()[:len(batch.data[0]) - (batch.pad or 0)][:self._left]
        self._left -= len(data)
        return {export.INPUT: data.astype(np.float32)}


class ArrayReader:
    """``CalibrationDataReader`` over an array of raw-pixel inputs (N, 3, S, S), in batches."""

    def __init__(self, images: np.ndarray, batch_size: int = 8):
        self._batches = iter([images[i:i + batch_size] for i in range(0, len(images), batch_size)])

    def get_next(self):
        batch = next(self._batches, None)
        return None if batch is None else {export.INPUT: batch.astype(np.float32)}


def quantize_model(model: onnx.ModelProto, reader, mode: str = "naive") -> onnx.ModelProto:
    """The INT8 (QDQ) version of an fp32 model of this project, calibrated on ``reader``'s batches.

    ``mode``: ``naive`` (min/max ranges) or ``entropy`` (KL-optimal thresholds), as for MXNet INT8.
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    if mode not in ("naive", "entropy"):
        raise ValueError(f"calibration mode must be naive or entropy, got {mode!r}")
    excluded = [n.name for n in model.graph.node if n.name.startswith(("pre/", "post/"))]
    method = CalibrationMethod.MinMax if mode == "naive" else CalibrationMethod.Entropy
    with tempfile.TemporaryDirectory() as work:
        source, prepared, quantized = (Path(work) / n for n in ("fp32.onnx", "prepared.onnx", "int8.onnx"))
        onnx.save(model, str(source))
        # ONNX Runtime's basic optimizations first, as the quantizer recommends.
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(quantized), reader, quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                        calibrate_method=method, nodes_to_exclude=excluded,
                        op_types_to_quantize=QUANTIZED_OPS,
                        extra_options={"ActivationSymmetric": False, "WeightSymmetric": True})
        result = onnx.load(str(quantized))
    ops = [n.op_type for n in result.graph.node]
    log.info("int8 (QDQ): %d QuantizeLinear, %d DequantizeLinear; normalization and detection stage fp32",
             ops.count("QuantizeLinear"), ops.count("DequantizeLinear"))
    return result


def quantize_int8(source: Path, out: Path, rec: Path, num_images: int, mode: str = "naive") -> Path:
    """Write ``out`` (.onnx), the INT8 version of the ONNX model ``source``, calibrated on ``rec``."""
    model = onnx.load(str(source))
    meta = export.read_meta(model, str(source))
    result = quantize_model(model, _RecReader(rec, meta, num_images), mode)
    meta.made_by.update(precision="int8", calibration={"rec": str(rec), "images": num_images, "mode": mode,
                                                       "tool": "onnxruntime.quantization, QDQ"})
    export.set_meta(result, meta)
    with atomic_paths(out) as (tmp,):
        onnx.save(result, str(tmp))
    return out
