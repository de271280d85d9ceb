"""INT8 ONNX models: ONNX Runtime's static quantization (QDQ), settings chosen by measurement.

The network body is quantized: QuantizeLinear/DequantizeLinear pairs around
convolutions, their ReLUs, max-pooling, sums and concatenations; int8
weights per output channel (symmetric), uint8 activations (asymmetric) with
ranges calibrated on images of the model's data (``detect.calibration``).
The input normalization and the detection stage stay fp32 (their nodes,
``pre/...`` and ``post/...``, are excluded), and so do convolutions that read
a per-channel scaling (the L2 normalization of VGG16's conv4_3 and the face
detector): ONNX Runtime's quantizer fails on them. The result is a normal
ONNX model of this project: same input, output and metadata
(``made_by.precision`` and ``made_by.calibration`` record the quantization).

Why these settings (docs/onnx.md has the table): of ONNX Runtime's
quantizer and NNCF's, with the placements each offers, this one gave the
fastest file over *both* engines on VGG16 SSD300 (AMD EPYC Zen 4, AVX512-VNNI):
ReLUs inside the quantized pattern let ONNX Runtime fuse each convolution
with its activation and OpenVINO keep int8 between layers; NNCF's file ran
12% faster in OpenVINO but 1.3x slower in ONNX Runtime. ``reduce_range``
(7-bit weights) is used only on CPUs without VNNI, as ONNX Runtime advises
for AVX2/AVX-512 CPUs without it (u8 x s8 products could saturate there).
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import List

import numpy as np
import onnx

from common.atomic import atomic_paths
from detect.onnx import model as onnx_model

log = logging.getLogger(__name__)

#: Operators quantized. Not Mul: the L2-normalization scale of VGG16's conv4_3 is a per-channel
#: multiplier, which the quantizer turns into a QLinearMul with per-channel scales ONNX Runtime refuses.
QUANTIZED_OPS = ["Conv", "Relu", "MaxPool", "Add", "Concat"]
#: CPU flags of integer dot-product instructions (u8 x s8 products accumulated in int32 without saturation).
VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


def has_vnni() -> bool:
    """True when this CPU has VNNI (or AMX) integer dot products."""
    from common.cpu import cpu_flags
    return any(flag in cpu_flags() for flag in VNNI_FLAGS)


def excluded_nodes(model: onnx.ModelProto) -> List[str]:
    """Nodes kept in fp32: normalization, detection stage, and convolutions that read a per-channel
    scaling (a Mul by a constant)."""
    constants = {t.name for t in model.graph.initializer}
    producer = {out: node for node in model.graph.node for out in node.output}

    def scaled(name: str) -> bool:
        node = producer.get(name)
        return node is not None and node.op_type == "Mul" and any(i in constants for i in node.input)
    stages = [n.name for n in model.graph.node if n.name.startswith(("pre/", "post/"))]
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    return stages + [n.name for n in convs if n is convs[0] or scaled(n.input[0])]


class ArrayReader:
    """``CalibrationDataReader`` over an array of raw-pixel inputs (N, 3, S, S), in batches."""

    def __init__(self, images: np.ndarray, batch_size: int = 8):
        self._batches = iter([images[i:i + batch_size] for i in range(0, len(images), batch_size)])

    def get_next(self):
        batch = next(self._batches, None)
        return None if batch is None else {onnx_model.INPUT: batch.astype(np.float32)}


def quantize_model(model: onnx.ModelProto, reader, mode: str = "naive") -> onnx.ModelProto:
    """The INT8 (QDQ) version of an fp32 model of this project, calibrated on ``reader``'s batches.

    ``mode``: ``naive`` (min/max ranges) or ``entropy`` (KL-optimal thresholds), as for MXNet INT8.
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    if mode not in ("naive", "entropy"):
        raise ValueError(f"calibration mode must be naive or entropy, got {mode!r}")
    excluded = excluded_nodes(model)
    method = CalibrationMethod.MinMax if mode == "naive" else CalibrationMethod.Entropy
    reduce_range = not has_vnni()
    with tempfile.TemporaryDirectory() as work:
        source, prepared, quantized = (Path(work) / n for n in ("fp32.onnx", "prepared.onnx", "int8.onnx"))
        onnx.save(model, str(source))
        # ONNX Runtime's basic optimizations first, as the quantizer recommends.
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(quantized), reader, quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                        reduce_range=reduce_range, calibrate_method=method, nodes_to_exclude=excluded,
                        op_types_to_quantize=QUANTIZED_OPS,
                        extra_options={"ActivationSymmetric": False, "WeightSymmetric": True})
        result = onnx.load(str(quantized))
    ops = [n.op_type for n in result.graph.node]
    log.info("int8 (QDQ, u8 activations, s8 weights per channel%s): %d QuantizeLinear, %d DequantizeLinear; "
             "normalization, detection stage and %d scaled convolutions fp32",
             ", reduce_range (no VNNI)" if reduce_range else "", ops.count("QuantizeLinear"),
             ops.count("DequantizeLinear"), len([n for n in excluded if not n.startswith(("pre/", "post/"))]))
    return result


def quantize_int8(source: Path, out: Path, calibration, mode: str = "naive") -> Path:
    """Write ``out`` (.onnx), the INT8 version of the ONNX model ``source``, calibrated on the images of
    ``calibration`` (a ``detect.calibration.CalibrationSource``)."""
    model = onnx.load(str(source))
    meta = onnx_model.read_meta(model, str(source))
    raw = calibration.raw_images(meta)
    result = quantize_model(model, ArrayReader(raw), mode)
    meta.made_by.update(precision="int8", calibration=dict(calibration.record(len(raw)), mode=mode,
                                                           tool="onnxruntime.quantization, QDQ",
                                                           reduce_range=not has_vnni()))
    onnx_model.set_meta(result, meta)
    with atomic_paths(out) as (tmp,):
        onnx.save(result, str(tmp))
    return out
