"""ONNX Runtime backend of ``Detector``: runs a ``.onnx`` file written by ``detect.onnx.export``.

The detection stage inside the file can be replaced with other settings
(``--nms``, ``--nms-topk``, ``--force-suppress``, a score threshold): its
``post/...`` nodes are removed and the stage is built again from the
constants it reads, before the session is created.

Session options (measured, docs/onnx.md): every graph optimization
(``ORT_ENABLE_ALL``: BatchNorm folded into convolutions, fusions), the
sequential executor, and as many intra-op threads as the project's runtime
defaults give MXNet (``OMP_NUM_THREADS``, else every core).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from common import errors, runtime
from detect.detector import Detector
from detect.onnx.model import OnnxFileError, prepared
from symbol.coding import DetectionParams


def session_options(threads: Optional[int] = None):
    """ONNX Runtime options: all graph optimizations, sequential execution, the project's thread count."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads or runtime.threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    return options


def providers(gpu: Optional[int]) -> list:
    """CPU, or CUDA device ``gpu`` (needs the onnxruntime-gpu package instead of onnxruntime)."""
    import onnxruntime as ort
    if gpu is None:
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        raise ValueError("--gpus with an ONNX model needs onnxruntime-gpu (pip install onnxruntime-gpu "
                         "in place of onnxruntime); this installation runs ONNX models on the CPU only")
    return [("CUDAExecutionProvider", {"device_id": gpu}), "CPUExecutionProvider"]


class OnnxDetector(Detector):
    """A ``.onnx`` file run by ONNX Runtime; takes raw pixels (the normalization is inside the graph)."""

    def __init__(self, path, *, batch_size: int = 1, detection: Optional[DetectionParams] = None,
                 gpu: Optional[int] = None, threads: Optional[int] = None):
        import onnxruntime as ort
        model, meta, detection = prepared(path, detection)
        super().__init__(meta, batch_size=batch_size, epoch=None, detection=detection, normalizes_inside=True)
        self.path = Path(path)
        try:
            self.session = ort.InferenceSession(model.SerializeToString(), session_options(threads),
                                                providers=providers(gpu))
        except (ort.capi.onnxruntime_pybind11_state.Fail,
                ort.capi.onnxruntime_pybind11_state.InvalidGraph) as err:
            raise OnnxFileError(f"{path}: ONNX Runtime cannot load it: {errors.reason(err)}") from None
        self.input_name = self.session.get_inputs()[0].name

    def forward(self, data: np.ndarray) -> np.ndarray:
        """Detections (B, K, 6), normalized, for raw-pixel inputs (B, 3, S, S)."""
        [out] = self.session.run(None, {self.input_name: np.ascontiguousarray(data, np.float32)})
        return out
