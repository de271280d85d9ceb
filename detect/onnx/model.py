"""An ONNX model file of this project, without MXNet: its named tensors, metadata and detection stage.

Both ONNX engines (``detect.onnx.runtime`` for ONNX Runtime,
``detect.onnx.openvino`` for OpenVINO) and the exporter share what is here:
the file's contract (input ``data``, output ``detections``, the constants a
detection stage reads), the project's metadata in ``metadata_props``, and
rebuilding the detection stage with other settings before a session is made.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Tuple

import numpy as np
import onnx

from common import errors
from common.modelmeta import ModelMeta
from detect.onnx import postprocess
from detect.onnx.graph import GraphBuilder, float_tensor, remove_stage
from symbol.coding import DetectionParams

META_KEY = "ssd.meta"
INPUT = "data"
#: The body's input, after normalization.
NORMALIZED = "pre/normalized"
#: Constant tensors a detection stage reads (kept when the stage is rebuilt with other settings).
ANCHORS, PRIORS = "const/anchors", "const/priors"
#: The body's outputs, by semantics: (B, C + 1, N) logits and (B, N * 4) offsets; (B, N * 4) offsets
#: and (B, N * C) probabilities.
MULTIBOX_OUTPUTS = ("body/cls_logits", "body/box_offsets")
CAFFE_OUTPUTS = ("body/box_offsets", "body/class_probs")


class OnnxFileError(ValueError):
    """A file that is not a usable ONNX model of this project; the message names it."""


def load_model(path) -> onnx.ModelProto:
    """The ONNX model at ``path``; a missing, truncated or non-ONNX file is an OnnxFileError."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: ONNX model not found")
    try:
        model = onnx.load(str(path))
    except Exception as err:  # the protobuf decoder's errors have no common base  # noqa: BLE001
        raise OnnxFileError(f"{path}: not a readable ONNX file ({type(err).__name__}: "
                            f"{errors.reason(err) if str(err) else 'truncated or corrupt'})") from None
    if not model.graph.node:
        raise OnnxFileError(f"{path}: not a readable ONNX file (no graph)")
    return model


def set_meta(model: onnx.ModelProto, meta: ModelMeta) -> None:
    """Store ``meta`` (and readable summaries) in ``model.metadata_props``."""
    del model.metadata_props[:]
    entries = {META_KEY: json.dumps(meta.to_json(), sort_keys=True),
               "class_names": json.dumps(list(meta.class_names)),
               "input": f"data: float32 (batch, 3, {meta.data_shape}, {meta.data_shape}), raw "
                        f"{meta.channel_order} pixel values 0-255 (normalization is inside the graph)",
               "output": "detections: float32 (batch, K, 6), rows [class_id, score, xmin, ymin, xmax, ymax] "
                         "normalized to [0, 1], sorted by score; class_id -1 marks padding"}
    onnx.helper.set_model_props(model, entries)


def read_meta(model: onnx.ModelProto, where: str) -> ModelMeta:
    """The ``ModelMeta`` stored by ``set_meta``; a file without it is an error naming ``where``."""
    props = {p.key: p.value for p in model.metadata_props}
    if META_KEY not in props:
        raise OnnxFileError(f"{where}: an ONNX file without this project's metadata ({META_KEY}); "
                            "export it with deploy.py --format onnx")
    try:
        return ModelMeta.from_json(json.loads(props[META_KEY]), where=f"{where} ({META_KEY})")
    except json.JSONDecodeError as err:
        raise OnnxFileError(f"{where}: malformed {META_KEY}: {err}") from None


def read_meta_file(path) -> ModelMeta:
    """The metadata stored in the ONNX file at ``path``."""
    return read_meta(load_model(path), str(path))


def stage(kind: str, meta: ModelMeta, detection: DetectionParams, count: int) -> Tuple[GraphBuilder, str]:
    """The detection stage of ``kind`` (``multibox`` or ``caffe``) for a model of ``count`` anchors/priors."""
    if kind == "multibox":
        return postprocess.multibox(*MULTIBOX_OUTPUTS, ANCHORS, count, meta.num_classes, detection)
    config = postprocess.CaffeDetection(**{k: v for k, v in meta.made_by["caffe_detection"].items()
                                           if k in postprocess.CaffeDetection.__dataclass_fields__})
    return postprocess.caffe(*CAFFE_OUTPUTS, PRIORS, count, config, detection)


def with_detection(model: onnx.ModelProto, meta: ModelMeta, detection: DetectionParams) -> onnx.ModelProto:
    """``model`` with its detection stage rebuilt for ``detection`` (the model is changed in place)."""
    kind = meta.made_by.get("onnx", {}).get("postprocess")
    if kind not in ("multibox", "caffe"):
        raise OnnxFileError("the ONNX model's metadata names no detection stage (made_by.onnx.postprocess)")
    constant = ANCHORS if kind == "multibox" else PRIORS
    [value] = [t for t in model.graph.initializer if t.name == constant]
    count = value.dims[0] if kind == "multibox" else int(np.prod(value.dims)) // 8
    remove_stage(model.graph, postprocess.STAGE)
    built, output = stage(kind, meta, detection, count)
    model.graph.node.extend(built.nodes)
    model.graph.initializer.extend(built.initializers)
    del model.graph.output[:]
    model.graph.output.extend([float_tensor(output, ["batch", None, 6])])
    return model


def prepared(path, detection: DetectionParams = None) -> Tuple[onnx.ModelProto, ModelMeta, DetectionParams]:
    """``(model, meta, detection)`` of the file at ``path``, its stage rebuilt when ``detection`` differs
    from the settings stored in it (None: the stored ones)."""
    model = load_model(path)
    meta = read_meta(model, str(path))
    stored = DetectionParams(**meta.detection)
    detection = detection or stored
    if detection != stored:
        model = with_detection(model, meta, detection)
    return model, meta, detection
