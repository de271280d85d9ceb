"""Writing any model of this project as one self-contained ONNX file.

The file's graph (opset ``graph.OPSET``):

* input ``data`` float32 (B, 3, S, S): raw pixel values in the model's channel
  order; ``pre/...`` nodes apply ``(data - mean) / std``;
* the network body, exported by MXNet's ONNX exporter with the anchors (or
  Caffe priors) computed once in MXNet and stored as the constant ``anchors``
  (``priors``), since the exporter has no converter for MultiBoxPrior;
* the detection stage (``postprocess``), ``post/...`` nodes;
* output ``detections`` float32 (B, K, 6), the rows of ``symbol.detection_layout``,
  normalized, sorted by score, ``class_id = -1`` for padding.

The batch dimension is dynamic. The model's metadata (``ModelMeta`` as JSON
under ``ssd.meta``, plus readable ``class_names``, ``input`` and ``output``
entries) travels in ``metadata_props``, so the file alone is a complete model.
"""
from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import asdict, replace
from pathlib import Path
from typing import List, Optional

import mxnet as mx
import numpy as np
import onnx
from onnx import helper, numpy_helper

from common import errors, modelfile
from common.atomic import atomic_paths
from common.modelmeta import ModelMeta
from detect.model import body_outputs, check_model, forward_nodes, inference_symbol
from detect.onnx.graph import OPSET, GraphBuilder, float_tensor
from detect.onnx.model import (
    ANCHORS,
    CAFFE_OUTPUTS,
    INPUT,
    MULTIBOX_OUTPUTS,
    NORMALIZED,
    PRIORS,
    set_meta,
    stage,
)
from detect.onnx.optimize import (
    exact_ceil_average_pool,
    explicit_large_pads,
    fold_batchnorm,
    l2_normalization_as_reductions,
)
from symbol.coding import DetectionParams

log = logging.getLogger(__name__)

class ExportError(ValueError):
    """A model that cannot be exported; the message names the model and the reason."""


def onnx_path(out) -> Path:
    """``OUT.onnx`` for an output prefix (``OUT`` itself when it already ends in .onnx)."""
    out = Path(out)
    return out if out.suffix == ".onnx" else out.with_name(out.name + ".onnx")


def _body(symbol: mx.sym.Symbol, meta: ModelMeta, where: str):
    """The symbols to export, the MXNet node whose value becomes the stage's constant, and the stage.

    Returns ``(outputs, constant_node, kind)``: the body's two outputs, the node of the anchors
    (or Caffe priors), ``multibox`` or ``caffe``.
    """
    outputs = body_outputs(symbol)
    if outputs is not None:
        return outputs[:2], "anchors", "multibox"
    names = meta.made_by.get("detection_inputs")
    if meta.made_by.get("caffe_detection") and names:
        internals = symbol.get_internals()
        loc, conf, _ = (internals[f"{n}_output"] for n in names)
        return [loc, conf], names[2], "caffe"
    if meta.made_by.get("caffe_detection"):
        raise ExportError(f"{where}: converted before the converter recorded its DetectionOutput inputs; "
                          "convert the Caffe model again")
    raise ExportError(f"{where}: neither a model built here (cls_preds, loc_preds, anchors) nor a converted "
                      "Caffe SSD")


def _export_body(outputs, args: dict, auxs: dict, size: int, work: Path) -> onnx.ModelProto:
    """MXNet's exporter on the body, batch dynamic, the weights as raw-bytes initializers.

    The exporter writes weights as lists of floats, which the pure-Python protobuf of
    this environment encodes and decodes number by number (a minute for VGG16). So the
    weights are declared as extra inputs of known shapes instead, and added back here
    as initializers holding their bytes.
    """
    group = mx.sym.Group(outputs)
    weights = {**args, **auxs}
    nulls = [n["name"] for n in json.loads(group.tojson())["nodes"] if n["op"] == "null"]
    missing = sorted(n for n in nulls if n != "data" and n not in weights)
    if missing:
        raise ExportError(f"parameters missing for the body: {missing[:5]}")
    shapes = [(None, 3, size, size) if n == "data" else tuple(weights[n].shape) for n in nulls]
    path = work / "body.onnx"
    try:
        mx.onnx.export_model(group, {}, in_shapes=[(1, 3, size, size) if s[0] is None else s for s in shapes],
                             in_types=[np.float32] * len(nulls), onnx_file_path=str(path), dynamic=True,
                             dynamic_input_shapes=shapes)
    except (AttributeError, NotImplementedError, KeyError, ValueError) as err:
        raise ExportError(f"MXNet's ONNX exporter cannot convert the body: {err}") from None
    model = onnx.load(str(path))
    for node in model.graph.node:  # the exporter leaves names empty: name nodes after their output
        node.name = node.name or node.output[0]
    names = set(nulls) - {"data"}
    model.graph.initializer.extend(numpy_helper.from_array(weights[n].asnumpy(), n) for n in sorted(names))
    initialized = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initialized]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    return model


def _rename(graph: onnx.GraphProto, old: str, new: str) -> None:
    for node in graph.node:
        node.input[:] = [new if n == old else n for n in node.input]
        node.output[:] = [new if n == old else n for n in node.output]


def _preprocess(meta: ModelMeta) -> GraphBuilder:
    g = GraphBuilder("pre")
    mean = g.const(np.array(meta.mean, np.float32).reshape(1, 3, 1, 1), "mean")
    std = g.const(np.array(meta.std, np.float32).reshape(1, 3, 1, 1), "std")
    g.named("Div", [g.op("Sub", [INPUT, mean], "centred"), std], NORMALIZED)
    return g


def assemble(body: onnx.ModelProto, body_names: List[str], kind: str, constant: np.ndarray, meta: ModelMeta,
             detection: DetectionParams) -> onnx.ModelProto:
    """The whole model: normalization, ``body`` (outputs renamed to the stage's inputs), detection stage."""
    graph = body.graph
    counts = (fold_batchnorm(graph), explicit_large_pads(graph), exact_ceil_average_pool(body),
              l2_normalization_as_reductions(graph))
    log.debug("folded %d BatchNorm layers into their convolutions; padded %d poolings explicitly; rewrote "
              "%d partial-window average poolings and %d L2 normalizations", *counts)
    _rename(graph, graph.input[0].name, NORMALIZED)
    canonical = MULTIBOX_OUTPUTS if kind == "multibox" else CAFFE_OUTPUTS
    for old, new in zip(body_names, canonical):
        _rename(graph, old, new)
    name = ANCHORS if kind == "multibox" else PRIORS
    count = constant.shape[0] if kind == "multibox" else constant.size // 8
    pre = _preprocess(meta)
    post, output = stage(kind, meta, detection, count)
    nodes = list(pre.nodes) + list(graph.node) + list(post.nodes)
    inits = list(graph.initializer) + pre.initializers + post.initializers + [
        numpy_helper.from_array(constant.astype(np.float32), name)]
    size = meta.data_shape
    new_graph = helper.make_graph(nodes, "ssd", [float_tensor(INPUT, ["batch", 3, size, size])],
                                  [float_tensor(output, ["batch", None, 6])], inits)
    model = helper.make_model(new_graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="ssd-mxnet")
    model.ir_version = 8  # readable by every runtime that reads opset 13
    set_meta(model, meta)
    return model


def _smoke_test(model: onnx.ModelProto, size: int, where: str) -> None:
    """Run the model at batch 1 and 2: an export whose graph cannot take the input fails here."""
    import onnxruntime as ort
    try:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        for batch in (1, 2):
            [out] = session.run(None, {INPUT: np.zeros((batch, 3, size, size), np.float32)})
            if out.shape[0] != batch or out.shape[2] != 6:
                raise ExportError(f"{where}: the exported graph gives {out.shape} for a batch of {batch}")
    except (ort.capi.onnxruntime_pybind11_state.Fail, ort.capi.onnxruntime_pybind11_state.InvalidArgument,
            ort.capi.onnxruntime_pybind11_state.RuntimeException) as err:
        raise ExportError(f"{where}: the exported graph cannot take a {size}x{size} input: "
                          f"{errors.reason(err)}") from None


def build_model(symbol: mx.sym.Symbol, args: dict, auxs: dict, meta: ModelMeta, detection: DetectionParams,
                where: str = "model") -> onnx.ModelProto:
    """The ONNX model of an inference ``symbol`` (deploy or converted) with its parameters, checked.

    ``meta`` is stored as given, except ``detection`` and ``made_by.onnx``.
    """
    outputs, constant_node, kind = _body(symbol, meta, where)
    size = meta.data_shape
    [constant] = forward_nodes(symbol, args, auxs, np.zeros((1, 3, size, size), np.float32), [constant_node])
    constant = constant.reshape(-1, 4) if kind == "multibox" else constant.reshape(2, -1)
    with tempfile.TemporaryDirectory() as work:
        body = _export_body(outputs, args, auxs, size, Path(work))
    made_by = dict(meta.made_by, onnx={"postprocess": kind, "opset": OPSET})
    out_meta = replace(meta, kind="deploy", detection=asdict(detection), made_by=made_by)
    model = assemble(body, [o.name for o in outputs], kind, constant, out_meta, detection)
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as err:
        reason = errors.reason(err)
        raise ExportError(f"{where}: the assembled graph is not valid ONNX: {reason}") from None
    _smoke_test(model, size, where)
    return model


def export_onnx(prefix, epoch: Optional[int], out, detection: DetectionParams, command: str = "") -> Path:
    """Write ``OUT.onnx`` for the model at ``prefix``; returns its path.

    Training checkpoints, fp32 deploy models and converted Caffe models are accepted; an
    INT8/BF16 MXNet model is refused (export the fp32 model; ``--quantize int8`` with
    ``--format onnx`` makes an ONNX INT8 file).
    """
    meta = modelfile.load_meta(prefix)
    if meta.made_by.get("precision"):
        raise ExportError(f"{modelfile.meta_path(prefix)}: a {meta.made_by['precision']} MXNet model; export "
                          "its fp32 model (deploy.py --format onnx --quantize int8 quantizes for ONNX "
                          "Runtime)")
    epoch = modelfile.resolve_epoch(prefix, epoch)
    args, auxs = modelfile.load_params(prefix, epoch)
    symbol = inference_symbol(prefix, meta, detection)
    check_model(symbol, args, auxs, meta, prefix, epoch)
    path = onnx_path(out)
    meta = replace(meta, made_by=dict(meta.made_by, exported_from=f"{prefix} epoch {epoch}",
                                      export_command=command))
    model = build_model(symbol, args, auxs, meta, detection, where=str(path))
    with atomic_paths(path) as (tmp,):
        onnx.save(model, str(tmp))
    log.info("wrote %s (%d nodes, opset %d)", path, len(model.graph.node), OPSET)
    return path
