"""Load a model (training checkpoint, deploy model or converted model) for inference.

Every model is three files (``common.modelfile``). A training checkpoint
gets its deploy head rebuilt from the preset named in its metadata; a
deploy model's symbol is used as saved, with the ``MultiBoxDetection``
attributes replaced when the caller asks for other NMS settings.
"""
from __future__ import annotations

import json
import logging
from typing import List, Optional, Sequence

import mxnet as mx
import numpy as np

from common import errors, modelfile
from common.modelmeta import ModelMeta
from detect.detector import Detector
from symbol.builder import deploy_symbol, detection_head
from symbol.coding import DetectionParams
from symbol.presets import Preset, resolve_preset

log = logging.getLogger(__name__)

_DETECTION_OPS = ("_contrib_MultiBoxDetection", "MultiBoxDetection")
#: Converted Caffe models (``tools/caffe_converter``) end in box_nms instead.
_NMS_OPS = ("_contrib_box_nms", "box_nms")


def set_detection_params(symbol: mx.sym.Symbol, params: DetectionParams,
                         model_topk: Optional[int] = None) -> mx.sym.Symbol:
    """A copy of a deploy ``symbol`` whose detection stage uses ``params``.

    ``MultiBoxDetection`` takes all four settings. A converted Caffe model's
    ``box_nms`` takes the NMS threshold, the score threshold and
    force-suppress; its per-class top-k (``model_topk``, the metadata's) is
    fixed at conversion, so asking for another is warned about and ignored.
    """
    graph = json.loads(symbol.tojson(remove_amp_cast=False))  # keep a BF16 model's casts
    found = False
    for node in graph["nodes"]:
        attrs = node.setdefault("attrs", {})
        if node["op"] in _DETECTION_OPS:
            attrs.update(nms_threshold=str(params.nms_threshold), nms_topk=str(params.nms_topk),
                         force_suppress=str(params.force_suppress), threshold=str(params.threshold))
            found = True
        elif node["op"] in _NMS_OPS:
            attrs.update(overlap_thresh=str(params.nms_threshold), valid_thresh=str(params.threshold),
                         force_suppress=str(params.force_suppress))
            if model_topk is not None and params.nms_topk != model_topk and not found:
                log.warning("--nms-topk %d does not apply to a converted Caffe model: its per-class top_k "
                            "(%d) is fixed at conversion", params.nms_topk, model_topk)
            found = True
    if not found:
        raise ValueError("the deploy symbol has no MultiBoxDetection or box_nms node")
    return mx.sym.load_json(json.dumps(graph))


def forward_nodes(symbol: mx.sym.Symbol, args: dict, auxs: dict, data: np.ndarray,
                  nodes: Sequence[str]) -> List[np.ndarray]:
    """Outputs of the internal nodes ``nodes`` (MXNet names) of ``symbol`` for the input ``data``.

    Only the part of the graph the nodes need is run; ``symbol.name`` is the final output.
    """
    internals = symbol.get_internals()
    group = mx.sym.Group([internals[f"{n}_output"] for n in nodes])
    exe = group.bind(mx.cpu(), {**{k: v for k, v in args.items() if k in set(group.list_arguments())},
                                "data": mx.nd.array(data)},
                     aux_states={k: auxs[k] for k in group.list_auxiliary_states()}, grad_req="null")
    return [o.asnumpy() for o in exe.forward(is_train=False)]


#: Outputs of ``symbol.builder.body`` by name, as saved in every training symbol.
BODY_OUTPUTS = ("cls_preds", "loc_preds", "anchors")


def body_outputs(symbol: mx.sym.Symbol) -> Optional[List[mx.sym.Symbol]]:
    """The internal nodes named ``BODY_OUTPUTS`` of ``symbol``, or None when it lacks one
    (symbols of older checkpoints, converted Caffe graphs)."""
    internals = symbol.get_internals()
    names = set(internals.list_outputs())
    if not all(f"{n}_output" in names for n in BODY_OUTPUTS):
        return None
    return [internals[f"{n}_output"] for n in BODY_OUTPUTS]


def spec_of(meta: ModelMeta) -> Preset:
    """The network spec a model of this project was built from: stored whole in its metadata, or, for
    checkpoints written before it was, its preset with the overrides its metadata recorded."""
    if meta.spec:
        return Preset.from_json(meta.spec, where="metadata field spec")
    scales = meta.made_by.get("anchor_scales") or None
    top_down = meta.made_by.get("top_down")
    return resolve_preset(meta.network, meta.data_shape, anchor_scales=scales,
                          top_down=None if top_down is None else int(top_down))


def inference_symbol_of(symbol: mx.sym.Symbol, meta: ModelMeta, params: DetectionParams) -> mx.sym.Symbol:
    """The deploy symbol of a model's ``symbol`` (training or deploy graph) with detection ``params``.

    A training graph provides the body (so its anchors are the ones it was trained with, whatever
    the presets say today); the detection head is attached to it. Training graphs that lack the named
    body outputs are rebuilt from their spec (``spec_of``).
    """
    if meta.kind != "train":
        return set_detection_params(symbol, params, meta.detection.get("nms_topk"))
    outputs = body_outputs(symbol)
    if outputs:
        return detection_head(*outputs, params)
    return deploy_symbol(spec_of(meta), meta.num_classes, params)


def inference_symbol(prefix, meta: ModelMeta, params: DetectionParams) -> mx.sym.Symbol:
    """The deploy symbol of the model at ``prefix`` with detection ``params`` (``inference_symbol_of``)."""
    return inference_symbol_of(modelfile.load_symbol(prefix), meta, params)


def check_model(symbol, args: dict, auxs: dict, meta: ModelMeta, prefix, epoch: int) -> None:
    """The three files agree: the symbol takes the metadata's input size, the parameters fit the symbol
    (names and shapes), and the symbol predicts as many classes as the metadata names.

    Errors name the first disagreement and the files involved.
    """
    files = f"{modelfile.symbol_path(prefix).name}, {modelfile.params_path(prefix, epoch).name}"
    size = meta.data_shape
    preset = str(meta.spec["name"] if meta.spec else meta.made_by.get("preset", ""))
    if preset.rsplit("_", 1)[-1].isdigit() and int(preset.rsplit("_", 1)[-1]) != size:
        raise ValueError(f"{modelfile.meta_path(prefix)}: data_shape {size} disagrees with the model's "
                         f"preset {preset}")
    try:
        arg_shapes, _, aux_shapes = symbol.infer_shape(data=(1, 3, size, size))
    except mx.base.MXNetError as err:
        reason = errors.reason(err, 160)
        raise ValueError(f"{modelfile.symbol_path(prefix)}: cannot take the {size}x{size} input "
                         f"{modelfile.meta_path(prefix).name} states ({reason})") from None
    for given, names, shapes in ((args, symbol.list_arguments(), arg_shapes),
                                 (auxs, symbol.list_auxiliary_states(), aux_shapes)):
        for name, shape in zip(names, shapes):
            if name == "data":
                continue
            if name not in given:
                raise ValueError(f"{modelfile.params_path(prefix, epoch)}: no parameter {name!r}, which "
                                 f"{modelfile.symbol_path(prefix).name} needs (the files of two models?)")
            if tuple(given[name].shape) != tuple(shape):
                raise ValueError(f"{modelfile.params_path(prefix, epoch)}: parameter {name!r} has shape "
                                 f"{tuple(given[name].shape)}, {modelfile.symbol_path(prefix).name} needs "
                                 f"{tuple(shape)} (the files of two models?)")
    outputs = body_outputs(symbol)
    caffe = meta.made_by.get("caffe_detection")
    predicted = None
    if outputs is not None:
        _, out_shapes, _ = outputs[0].infer_shape(data=(1, 3, size, size))
        predicted = out_shapes[0][1] - 1
    elif caffe:
        predicted = caffe["num_classes"] - (1 if 0 <= caffe["background_id"] < caffe["num_classes"] else 0)
    if predicted is not None and predicted != meta.num_classes:
        raise ValueError(f"{modelfile.meta_path(prefix)}: names {meta.num_classes} classes, the model "
                         f"({files}) predicts {predicted}")


class MXNetDetector(Detector):
    """A model of the three MXNet files, bound for inference (``Detector``'s MXNet backend).

    Parameters
    ----------
    symbol : Symbol
        Deploy symbol, input ``data`` (normalized), output (B, N, 6).
    arg_params, aux_params : dict of NDArray
    meta : ModelMeta
    ctx : Context
    batch_size : int
    epoch : int or None
        NNNN of the params file the parameters came from, for reports.
    detection : DetectionParams, optional
        The settings of the symbol's detection stage (default: the metadata's).
    """

    def __init__(self, symbol, arg_params, aux_params, meta: ModelMeta, ctx=None, batch_size: int = 1, *,
                 epoch: Optional[int] = None, detection: Optional[DetectionParams] = None):
        super().__init__(meta, batch_size=batch_size, epoch=epoch,
                         detection=detection or DetectionParams(**meta.detection), normalizes_inside=False)
        self.ctx = ctx or mx.cpu()
        self._symbol = symbol
        self.module = self._bind(batch_size)
        self.module.set_params(arg_params, aux_params, allow_missing=False, allow_extra=True)
        #: Modules for smaller batches, sharing the parameters (and memory) of ``module``.
        self._smaller = {}

    def _bind(self, batch: int, shared=None) -> mx.mod.Module:
        module = mx.mod.Module(self._symbol, data_names=("data",), label_names=None, context=self.ctx)
        module.bind(data_shapes=[("data", (batch, 3, self.meta.data_shape, self.meta.data_shape))],
                    for_training=False, shared_module=shared)
        return module

    def _module_for(self, batch: int) -> mx.mod.Module:
        if batch == self.batch_size:
            return self.module
        if batch not in self._smaller:
            self._smaller[batch] = self._bind(batch, shared=self.module)
        return self._smaller[batch]

    @classmethod
    def from_prefix(cls, prefix, epoch: Optional[int] = None, *, ctx=None, batch_size: int = 1,
                    detection: Optional[DetectionParams] = None, meta: Optional[ModelMeta] = None):
        """Load ``PREFIX-*`` files; ``epoch`` defaults to the latest params file."""
        meta = meta or modelfile.load_meta(prefix)
        if meta.made_by.get("precision") == "bf16" and (ctx is None or ctx.device_type == "cpu"):
            from common.cpu import require_bfloat16
            require_bfloat16(f"{modelfile.meta_path(prefix)}: a bf16 model")
        epoch = modelfile.resolve_epoch(prefix, epoch)
        params = detection or DetectionParams(**meta.detection)
        symbol = inference_symbol(prefix, meta, params)
        args, auxs = modelfile.load_params(prefix, epoch)
        check_model(symbol, args, auxs, meta, prefix, epoch)
        return cls(symbol, args, auxs, meta, ctx=ctx, batch_size=batch_size, epoch=epoch, detection=params)

    def forward(self, data: np.ndarray) -> np.ndarray:
        """Raw detections (B, N, 6), normalized, for a preprocessed batch (B <= batch_size).

        A smaller batch runs on its own executor (parameters shared), not padded.
        """
        n = data.shape[0]
        if n > self.batch_size:
            raise ValueError(f"batch of {n} images for a detector bound to {self.batch_size}")
        module = self._module_for(n)
        module.forward(mx.io.DataBatch([mx.nd.array(data, ctx=self.ctx)]), is_train=False)
        return module.get_outputs()[0].asnumpy()
