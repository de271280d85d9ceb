"""Reduced-precision deploy models for CPUs: INT8 (calibrated) and BF16, through oneDNN.

INT8 (``mxnet.contrib.quantization.quantize_model_mkldnn``): convolutions,
pooling and their fused BatchNorm/ReLU run in int8 with per-layer ranges
calibrated on images from a ``.rec`` (``naive``: min/max; ``entropy``: the
KL-optimal threshold). Operators without an int8 kernel (L2Normalization,
softmax, reshapes, MultiBoxPrior/Detection) stay in fp32; the log names
them. ``--exclude REGEX`` keeps more layers in fp32.

BF16 (``mxnet.contrib.amp``, no calibration): convolutions and fully-connected
layers run in bfloat16 (AVX512-BF16 where the CPU has it), their weights stored
as bfloat16. AMP cannot convert a whole SSD graph in MXNet 1.9.1: it hands
bfloat16 to MultiBoxPrior, which accepts only fp32, and an op of that kind
cannot be listed as fp32. So only the part that computes the class logits and
box offsets is converted; the anchors, which depend on the input size alone,
are computed once in fp32 and stored as a parameter; softmax and
MultiBoxDetection run in fp32. BF16 models run on CPUs only (MXNet 1.9 has
no bfloat16 GPU kernels).

Both results are saved as normal deploy models.
"""
from __future__ import annotations

import json
import logging
import re
import warnings
from collections import Counter
from typing import List, Optional, Tuple

import mxnet as mx
import numpy as np

from detect.detector import normalize

log = logging.getLogger(__name__)


def calibration_data(raw: np.ndarray, mean, std, batch_size: int = 8) -> mx.io.DataIter:
    """Normalized inputs ``(raw - mean) / std`` of raw-pixel images (N, 3, S, S), as oneDNN's calibration
    reads them (the last batch padded with the first images)."""
    data = normalize(raw, mean, std)
    return mx.io.NDArrayIter(data, batch_size=min(batch_size, len(data)), last_batch_handle="pad")


def _nodes(symbol):
    return json.loads(symbol.tojson(remove_amp_cast=False))["nodes"]


def quantize_int8(symbol, args, auxs, calibration: mx.io.DataIter, num_images: int, *,
                  mode: str = "naive", exclude: Optional[str] = None) -> Tuple[mx.sym.Symbol, dict, dict]:
    """INT8 symbol and parameters; ``exclude`` is a regex of layer names kept in fp32.

    ``calibration`` yields the symbol's (normalized) inputs (``calibration_data``).
    """
    from mxnet.contrib import quantization
    if mode not in ("naive", "entropy"):
        raise ValueError(f"calibration mode must be naive or entropy, got {mode!r}")
    excluded = [n["name"] for n in _nodes(symbol) if n["op"] != "null" and exclude
                and re.search(exclude, n["name"])]
    if exclude and not excluded:
        raise ValueError(f"--exclude {exclude!r} matches no layer")
    for name in excluded:
        log.info("kept in fp32: %s (--exclude)", name)
    for name in unsigned_residual_sums(symbol):
        if name not in excluded:
            excluded.append(name)
            log.info("kept in fp32: %s (its output is summed with a non-negative residual, which MXNet 1.9's "
                     "fused int8 convolution + sum computes wrongly)", name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # calibration's Module has no label: expected
        qsym, qargs, qauxs = quantization.quantize_model_mkldnn(
            symbol, args, auxs, ctx=mx.cpu(), excluded_sym_names=excluded, calib_mode=mode,
            calib_data=calibration, num_calib_examples=num_images, quantized_dtype="auto",
            logger=None)
        qsym = qsym.get_backend_symbol("MKLDNN_QUANTIZE")
    nodes = [n for n in _nodes(qsym) if n["op"] != "null"]
    int8 = Counter(n["op"] for n in nodes if is_int8(n))
    fp32 = Counter(n["op"] for n in nodes if not is_int8(n) and n["op"] not in ("_contrib_quantize_v2",
                                                                               "_contrib_dequantize"))
    log.info("int8: %s", ", ".join(f"{k} x{v}" for k, v in sorted(int8.items())))
    log.info("fp32 (excluded, or no int8 kernel in MXNet's oneDNN backend): %s",
             ", ".join(f"{k} x{v}" for k, v in sorted(fp32.items())))
    return qsym, qargs, qauxs


def is_int8(node: dict) -> bool:
    """Whether a node of a quantized symbol computes in int8: a quantized operator, or a fused oneDNN
    subgraph marked quantized (the fused convolutions left in fp32 are ``_sg_mkldnn_conv`` too)."""
    if node["op"].startswith("_sg_mkldnn"):
        return node.get("attrs", {}).get("quantized") == "true"
    return node["op"].startswith("_contrib_quantized")


def fused_layers(node: dict) -> list:
    """Names of the layers a fused oneDNN node computes (its subgraph's operators)."""
    return [m["name"] for graph in node.get("subgraphs", ()) for m in graph["nodes"] if m["op"] != "null"]


def _is_relu(node: dict) -> bool:
    activation = node["op"] == "Activation" and node.get("attrs", {}).get("act_type") == "relu"
    return node["op"] == "relu" or activation


def _non_negative(node: dict, nodes: list) -> bool:
    """True for a ReLU's output, and pooling or copies of one."""
    if _is_relu(node):
        return True
    passes = node["op"] in ("Pooling", "_copy", "identity")
    return passes and _non_negative(nodes[node["inputs"][0][0]], nodes)


def unsigned_residual_sums(symbol) -> List[str]:
    """Names of the convolutions whose output an ``elemwise_add`` sums with a non-negative tensor (a
    ReLU's output) without a ReLU after the sum: pre-activation ResNet blocks, e.g. OpenCV's
    ResNet-10 face detector.

    oneDNN fuses such a sum into the int8 convolution, and MXNet 1.9's fused kernel then gets the
    result wrong (measured: the face detector's INT8 model lost 3 of the 5 faces of a photo; with
    those convolutions in fp32, or the fusion disabled, it finds them all).
    """
    nodes = _nodes(symbol)
    into_relu = {i[0] for n in nodes if _is_relu(n) for i in n["inputs"]}
    found = []
    for index, node in enumerate(nodes):
        if node["op"] not in ("elemwise_add", "_plus", "_Plus") or index in into_relu:
            continue
        producers = [nodes[i[0]] for i in node["inputs"]]
        if any(_non_negative(p, nodes) for p in producers):
            found += [p["name"] for p in producers if p["op"] == "Convolution"]
    return found


#: The parameter holding a BF16 model's precomputed anchors (1, N, 4).
FIXED_ANCHORS = "anchors_fixed"


def to_bfloat16(symbol, args, auxs, data_shape: int, detection, *,
                made_by: Optional[dict] = None) -> Tuple[mx.sym.Symbol, dict, dict]:
    """A BF16 deploy symbol and its parameters from an fp32 deploy ``symbol``.

    Parameters
    ----------
    symbol : Symbol
        Deploy symbol whose internals include ``cls_preds``, ``loc_preds`` and ``anchors``
        (``symbol.builder.body``), or a converted Caffe graph (then ``made_by`` is needed).
    args, auxs : dict of NDArray
        fp32 parameters of ``symbol``.
    data_shape : int
        Input side; the anchors (or Caffe priors) are computed for it.
    detection : DetectionParams
        Settings of the fp32 detection stage.
    made_by : dict, optional
        A converted model's ``ModelMeta.made_by`` (its DetectionOutput settings and the names of
        its inputs).
    """
    from mxnet.contrib import amp

    from detect.model import BODY_OUTPUTS, forward_nodes
    heads, constant, rebuild = _bf16_parts(symbol, detection, made_by or {})
    [fixed] = forward_nodes(symbol, args, auxs, np.zeros((1, 3, data_shape, data_shape), np.float32),
                            [constant])
    body = mx.sym.Group(heads)
    # The anchors need no parameters: the body uses every one of the deploy symbol's. Copies,
    # because AMP casts the arrays of the dicts it is given in place.
    bsym, bargs, bauxs = amp.convert_model(body, dict(args), dict(auxs), target_dtype="bfloat16",
                                           cast_optional_params=True)
    outs = [mx.sym.amp_cast(bsym[i], dtype="float32", name=f"{n}_fp32")
            for i, n in enumerate(BODY_OUTPUTS[:2])]
    anchor_var = mx.sym.var(FIXED_ANCHORS, shape=fixed.shape)
    result = rebuild(outs, anchor_var, fixed.shape)
    bf16 = Counter(n["op"] for n in _nodes(bsym) if n["op"] in ("Convolution", "FullyConnected"))
    log.info("bf16: %s; anchors precomputed for %dx%d; softmax and detection in fp32",
             ", ".join(f"{k} x{v}" for k, v in sorted(bf16.items())), data_shape, data_shape)
    return result, dict(bargs, **{FIXED_ANCHORS: mx.nd.array(fixed)}), bauxs


def _bf16_parts(symbol, detection, made_by: dict):
    """``(heads, constant node, rebuild)`` of a deploy symbol: the two head outputs that go to
    bfloat16, the node computed once in fp32 (anchors or Caffe priors), and
    ``rebuild(fp32 heads, constant variable, its shape)`` giving the fp32 detection stage."""
    from detect.model import body_outputs, set_detection_params
    from symbol.builder import detection_head
    outputs = body_outputs(symbol)
    if outputs is not None:
        return outputs[:2], "anchors", lambda outs, const, shape: detection_head(outs[0], outs[1], const,
                                                                                 detection)
    names, caffe = made_by.get("detection_inputs"), made_by.get("caffe_detection")
    if not (names and caffe):
        raise ValueError("--quantize bf16 needs a model built by this project (outputs cls_preds, "
                         "loc_preds, anchors) or a converted Caffe SSD")
    from symbol.caffe_detection import DetectionConfig, detection_output
    internals = symbol.get_internals()
    heads = [internals[f"{n}_output"] for n in names[:2]]
    config = DetectionConfig(**caffe)

    def rebuild(outs, const, shape):
        stage = detection_output(outs[0], outs[1], const, config, made_by.get("detection_layer", "detection"),
                                 num_priors=shape[2] // 4)
        return set_detection_params(stage, detection, config.top_k)
    return heads, names[2], rebuild

