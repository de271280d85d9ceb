"""Exporting a model as a deploy model: NMS fused in, optionally INT8 or BF16.

``export`` reads a training checkpoint (or, for reduced precision, a deploy or
converted model) and writes a deploy model's three files (``common.modelfile``).
"""
from __future__ import annotations

import logging
from dataclasses import asdict, replace
from typing import Optional

from common import modelfile
from detect.calibration import CalibrationSource
from detect.model import check_model, inference_symbol
from symbol.coding import DetectionParams

log = logging.getLogger(__name__)


def export(prefix, epoch: Optional[int], out, detection: DetectionParams, command: str = "", *,
           quantize: Optional[str] = None, calibration: Optional[CalibrationSource] = None,
           calib_mode: str = "naive", exclude: Optional[str] = None) -> int:
    """Write the deploy model; returns the epoch exported.

    ``out`` is a prefix of its own: its params of other epochs (a previous
    export) are deleted, so it may not be ``prefix``. ``quantize="int8"`` needs
    ``calibration`` (images of the model's data; no labels).
    """
    if modelfile.symbol_path(out).resolve() == modelfile.symbol_path(prefix).resolve():
        raise ValueError(f"--out {out} is the model being exported: give the deploy model its own prefix")
    meta = modelfile.load_meta(prefix)
    if meta.kind != "train" and not quantize:
        raise ValueError(f"{modelfile.meta_path(prefix)}: already a deploy model")
    if meta.made_by.get("precision") and quantize:
        raise ValueError(f"{modelfile.meta_path(prefix)}: already {meta.made_by['precision']}")
    if quantize == "int8":
        if calibration is None:
            raise ValueError("--quantize int8 needs --calib-rec or --calib-dir (images to calibrate on)")
        calibration.check()
    if quantize == "bf16":
        from common.cpu import require_bfloat16
        require_bfloat16("--quantize bf16")
    epoch = modelfile.resolve_epoch(prefix, epoch)
    symbol = inference_symbol(prefix, meta, detection)
    args, auxs = modelfile.load_params(prefix, epoch)
    check_model(symbol, args, auxs, meta, prefix, epoch)
    needed_args, needed_auxs = set(symbol.list_arguments()) - {"data"}, set(symbol.list_auxiliary_states())
    args, auxs = {k: args[k] for k in needed_args}, {k: auxs[k] for k in needed_auxs}
    made_by = dict(meta.made_by, exported_from=f"{prefix} epoch {epoch}", export_command=command)
    if quantize == "int8":
        from detect.quantize import calibration_data, quantize_int8
        raw = calibration.raw_images(meta)
        symbol, args, auxs = quantize_int8(symbol, args, auxs, calibration_data(raw, meta.mean, meta.std),
                                           len(raw), mode=calib_mode, exclude=exclude)
        made_by.update(precision="int8", calibration=dict(calibration.record(len(raw)), mode=calib_mode,
                                                          exclude=exclude))
    elif quantize == "bf16":
        from detect.quantize import to_bfloat16
        symbol, args, auxs = to_bfloat16(symbol, args, auxs, meta.data_shape, detection, made_by=meta.made_by)
        made_by.update(precision="bf16")
    out_meta = replace(meta, kind="deploy", detection=asdict(detection), made_by=made_by)
    modelfile.save_model(out, epoch, symbol, args, auxs, out_meta, only_epoch=True)
    return epoch
