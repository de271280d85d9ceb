"""Opening any model by its ``--prefix``: the MXNet files of a prefix, or a ``.onnx`` file.

A prefix ending in ``.onnx`` is an ONNX model (ONNX Runtime backend);
anything else names ``PREFIX-symbol.json``, ``PREFIX-NNNN.params`` and
``PREFIX-meta.json`` (MXNet backend).
"""
from __future__ import annotations

import logging
from typing import Optional

from common import modelfile
from common.modelfile import ModelMeta
from detect.detector import Detector
from symbol.coding import DetectionParams

log = logging.getLogger(__name__)


def is_onnx(prefix) -> bool:
    return str(prefix).endswith(".onnx")


def load_meta(prefix) -> ModelMeta:
    """The metadata of the model at ``prefix`` (either kind)."""
    if is_onnx(prefix):
        from detect.onnx.runtime import read_meta
        return read_meta(prefix)
    return modelfile.load_meta(prefix)


def load_detector(prefix, epoch: Optional[int] = None, *, batch_size: int = 1,
                  detection: Optional[DetectionParams] = None, gpus: Optional[str] = None,
                  cpus: int = 1) -> Detector:
    """The Detector for ``prefix``; ``gpus``/``cpus`` are the device flags (the first device is used)."""
    if is_onnx(prefix):
        from detect.onnx.runtime import OnnxDetector
        if epoch is not None:
            log.warning("--epoch %d does not apply to an ONNX file", epoch)
        gpu = int(gpus.split(",")[0]) if gpus else None
        return OnnxDetector(prefix, batch_size=batch_size, detection=detection, gpu=gpu)
    from common.devices import parse_contexts
    from detect.model import MXNetDetector
    return MXNetDetector.from_prefix(prefix, epoch, ctx=parse_contexts(gpus, cpus)[0], batch_size=batch_size,
                                     detection=detection)


def detector_from_args(args, batch_size: int = 1) -> Detector:
    """The Detector named by the model, detection and device flags (``common.cli``, ``symbol.options``)."""
    from symbol.options import detection_params
    meta = load_meta(args.prefix)
    return load_detector(args.prefix, args.epoch, batch_size=batch_size,
                         detection=detection_params(args, meta.detection), gpus=args.gpus, cpus=args.cpus)
