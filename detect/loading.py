"""Opening any model by its ``--prefix``: the MXNet files of a prefix, or a ``.onnx`` file.

A prefix ending in ``.onnx`` is an ONNX model, run by one of two engines:
OpenVINO (``detect.onnx.openvino``; the default where it is installed: it
uses the CPU's VNNI, AVX512-BF16 and AMX units) or ONNX Runtime
(``detect.onnx.runtime``). Anything else names ``PREFIX-symbol.json``,
``PREFIX-NNNN.params`` and ``PREFIX-meta.json`` (MXNet). Opening an ONNX
model never imports MXNet.
"""
from __future__ import annotations

import logging
from typing import Optional

from common import modelmeta
from common.cli import ENGINES, PRECISIONS
from common.modelmeta import ModelMeta
from detect.detector import Detector
from symbol.coding import DetectionParams

log = logging.getLogger(__name__)


def is_onnx(prefix) -> bool:
    return str(prefix).endswith(".onnx")


def load_meta(prefix) -> ModelMeta:
    """The metadata of the model at ``prefix`` (either kind)."""
    if is_onnx(prefix):
        from detect.onnx.model import read_meta_file
        return read_meta_file(prefix)
    return modelmeta.load_meta(prefix)


def choose_engine(prefix, engine: str = "auto", precision: str = "fp32", gpus: Optional[str] = None) -> str:
    """The engine that runs ``prefix``: ``mxnet``, ``onnxruntime`` or ``openvino``.

    Raises ValueError (one line, saying why) for an engine or precision the model or this
    machine cannot take: ``--engine`` with an MXNet model, ``--precision bf16`` outside
    OpenVINO, OpenVINO when it is not installed or with ``--gpus``.
    """
    if engine not in ENGINES:
        raise ValueError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if not is_onnx(prefix):
        if engine != "auto":
            raise ValueError(f"--engine {engine} runs .onnx files; {prefix} is an MXNet model (export it "
                             "with deploy.py --format onnx)")
        if precision != "fp32":
            raise ValueError(f"--precision {precision} runs .onnx files in OpenVINO; {prefix} is an MXNet "
                             "model (deploy.py --quantize bf16 makes a bfloat16 MXNet model)")
        return "mxnet"
    from detect.onnx.openvino import version
    if engine == "auto":
        engine = "openvino" if version() and not gpus else "onnxruntime"
    if engine == "openvino":
        if version() is None:
            raise ValueError("--engine openvino: OpenVINO is not installed (pip install openvino, pinned in "
                             "requirements/base.txt)")
        if gpus:
            raise ValueError("--engine openvino runs on the CPU here; --gpus needs --engine onnxruntime with "
                             "onnxruntime-gpu")
    elif precision != "fp32":
        raise ValueError(f"--precision {precision} needs --engine openvino (ONNX Runtime runs .onnx files in "
                         "their own precision: fp32, or INT8 files)")
    return engine


def engine_name(engine: str) -> str:
    """How an engine is named to users, with its version."""
    if engine == "openvino":
        from detect.onnx.openvino import version
        return f"OpenVINO {version()}"
    if engine == "onnxruntime":
        import onnxruntime
        return f"ONNX Runtime {onnxruntime.__version__}"
    return "MXNet"


def load_detector(prefix, epoch: Optional[int] = None, *, batch_size: int = 1,
                  detection: Optional[DetectionParams] = None, gpus: Optional[str] = None,
                  cpus: int = 1, engine: str = "auto", precision: str = "fp32") -> Detector:
    """The Detector for ``prefix``; ``gpus``/``cpus`` are the device flags (the first device is used);
    ``engine`` and ``precision`` choose how a ``.onnx`` file runs (``choose_engine``; the engine chosen
    is logged)."""
    chosen = choose_engine(prefix, engine, precision, gpus)
    log.info("%s: running in %s%s", prefix, engine_name(chosen),
             "" if chosen == "mxnet" else f" ({precision})")
    if chosen != "mxnet" and epoch is not None:
        log.warning("--epoch %d does not apply to an ONNX file", epoch)
    if chosen == "openvino":
        from detect.onnx.openvino import OpenVinoDetector
        return OpenVinoDetector(prefix, batch_size=batch_size, detection=detection, precision=precision)
    if chosen == "onnxruntime":
        from detect.onnx.runtime import OnnxDetector
        gpu = int(gpus.split(",")[0]) if gpus else None
        return OnnxDetector(prefix, batch_size=batch_size, detection=detection, gpu=gpu)
    from common.devices import parse_contexts
    from detect.model import MXNetDetector
    return MXNetDetector.from_prefix(prefix, epoch, ctx=parse_contexts(gpus, cpus)[0], batch_size=batch_size,
                                     detection=detection)


def detector_from_args(args, batch_size: int = 1) -> Detector:
    """The Detector named by the model, engine, detection and device flags (``common.cli``,
    ``symbol.options``)."""
    from symbol.options import detection_params
    meta = load_meta(args.prefix)
    return load_detector(args.prefix, args.epoch, batch_size=batch_size,
                         detection=detection_params(args, meta.detection), gpus=args.gpus, cpus=args.cpus,
                         engine=args.engine, precision=args.precision)
