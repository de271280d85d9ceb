"""OpenVINO backend of ``Detector``: runs a ``.onnx`` file of this project with OpenVINO's CPU plugin.

OpenVINO reads the ONNX file as it is (the detection stage included) and
compiles it for this CPU: AVX2/AVX-512 kernels, VNNI and AMX for INT8 (QDQ)
models, AVX512-BF16 and AMX for bfloat16. The precision is always set
(``INFERENCE_PRECISION_HINT``): on CPUs with bfloat16 support OpenVINO
otherwise computes in bfloat16 without being asked. The batch dimension
stays dynamic; one compiled model serves every batch size. Threads: as many
as the project's runtime defaults give every engine (``OMP_NUM_THREADS``,
else every core), one stream, latency hint.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from common import runtime
from detect.detector import Detector
from detect.onnx.model import OnnxFileError, prepared
from symbol.coding import DetectionParams

#: ``--precision`` -> OpenVINO's inference precision hint.
PRECISIONS = {"fp32": "f32", "bf16": "bf16"}


def version() -> Optional[str]:
    """OpenVINO's version, or None when it is not installed."""
    try:
        import openvino
    except ImportError:
        return None
    return openvino.__version__.split("-")[0]


def bfloat16_missing() -> Optional[str]:
    """None when OpenVINO computes bfloat16 on this CPU, else the reason (one sentence)."""
    import openvino as ov

    from common.cpu import cpu_name
    if "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        return None
    return f"OpenVINO has no bfloat16 kernels for {cpu_name()} (it needs AVX512-BF16 or AMX)"


class OpenVinoDetector(Detector):
    """A ``.onnx`` file compiled by OpenVINO for the CPU; takes raw pixels (the normalization is inside).

    Parameters
    ----------
    path : str or Path
        The ``.onnx`` file.
    batch_size : int
        Largest batch ``forward`` takes (the compiled model takes any).
    detection : DetectionParams, optional
        Detection settings (default: the file's); others rebuild its stage first.
    precision : str
        ``"fp32"`` or ``"bf16"`` (INT8 files run their quantized layers in int8 either way).
    threads : int, optional
        Inference threads (default: the project's thread count).
    """

    def __init__(self, path, *, batch_size: int = 1, detection: Optional[DetectionParams] = None,
                 precision: str = "fp32", threads: Optional[int] = None):
        import openvino as ov
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if precision == "bf16":
            missing = bfloat16_missing()
            if missing:
                raise ValueError(f"--precision bf16: {missing}")
        model, meta, detection = prepared(path, detection)
        super().__init__(meta, batch_size=batch_size, epoch=None, detection=detection, normalizes_inside=True)
        self.precision = precision
        threads = threads or runtime.threads()
        config = {"INFERENCE_PRECISION_HINT": PRECISIONS[precision], "PERFORMANCE_HINT": "LATENCY",
                  "NUM_STREAMS": 1, "INFERENCE_NUM_THREADS": threads}
        core = ov.Core()
        try:
            compiled = core.compile_model(core.read_model(model.SerializeToString()), "CPU", config)
        except RuntimeError as err:
            from common import errors
            raise OnnxFileError(f"{path}: OpenVINO cannot compile it: {errors.reason(err)}") from None
        self._request = compiled.create_infer_request()
        self._output = compiled.output(0)

    def forward(self, data: np.ndarray) -> np.ndarray:
        """Detections (B, K, 6), normalized, for raw-pixel inputs (B, 3, S, S)."""
        result = self._request.infer({0: np.ascontiguousarray(data, np.float32)})
        return np.array(result[self._output], copy=True)
