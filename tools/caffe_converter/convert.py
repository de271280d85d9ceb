"""Caffe SSD deploy model (prototxt + caffemodel) -> MXNet symbol and parameters.

``build(net)`` walks the layers in order, keeping a map from Caffe blob
names to MXNet symbols, and records which Caffe weight blob fills which
MXNet parameter; ``fill(...)`` then copies the caffemodel's blobs in,
checking every shape. Unsupported layers and parameters raise
``ConversionError`` naming the layer, its type and the field.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import mxnet as mx
import numpy as np

from symbol.caffe_detection import DetectionConfig, detection_output
from tools.caffe_converter.priors import (
    PriorBoxConfig,
    caffe_priors,
    expand_ratios,
    multibox_prior_kwargs,
    multibox_prior_matches,
)


class ConversionError(ValueError):
    """A layer or parameter the converter cannot reproduce exactly."""


@dataclass
class ParamSpec:
    """One MXNet parameter filled from a Caffe layer's weight blob."""

    layer: str                  # Caffe layer name
    layer_type: str
    blob: int                   # index in the layer's blobs
    name: str                   # MXNet parameter name
    shape: Tuple[int, ...]      # MXNet shape
    caffe_shape: Tuple[int, ...]
    aux: bool = False
    #: Computes the value from all weights (layer name -> blobs); default: the blob as is.
    transform: Optional[Callable[[Dict[str, List[np.ndarray]]], np.ndarray]] = None


@dataclass
class Graph:
    """A converted network: output symbol, parameter specs, constants, per-layer outputs."""

    symbol: mx.sym.Symbol
    input_shape: Tuple[int, int, int, int]
    specs: List[ParamSpec]
    constants: Dict[str, np.ndarray]          # computed parameters (priors, BN defaults)
    layer_outputs: Dict[str, mx.sym.Symbol]   # Caffe layer name -> its (first) top
    detection: Optional[DetectionConfig]
    input_name: str
    #: MXNet node names of DetectionOutput's inputs: box offsets, class probabilities, priors.
    detection_inputs: Optional[Tuple[str, str, str]] = None


@dataclass
class _State:
    input_shape: Tuple[int, ...]
    input_name: str
    blobs: Dict[str, mx.sym.Symbol] = field(default_factory=dict)
    specs: List[ParamSpec] = field(default_factory=list)
    constants: Dict[str, np.ndarray] = field(default_factory=dict)
    names: Dict[str, int] = field(default_factory=dict)
    detection: Optional[DetectionConfig] = None
    detection_inputs: Optional[Tuple[str, str, str]] = None
    folds: Dict[str, Tuple[str, Optional[str], float]] = field(default_factory=dict)  # conv -> bn, scale, eps
    folded: Dict[str, str] = field(default_factory=dict)   # BatchNorm/Scale layer -> its conv
    reversed: set = field(default_factory=set)             # names of channel-reversed symbols

    def shape(self, sym) -> Tuple[int, ...]:
        _, out, _ = sym.infer_shape(data=self.input_shape)
        return tuple(out[0])

    def unique(self, layer_name: str) -> str:
        """An MXNet node name for the layer (Caffe allows duplicates, e.g. several 'slice')."""
        base = re.sub(r"[^\w./-]", "_", layer_name) or "layer"
        n = self.names.get(base, 0)
        self.names[base] = n + 1
        return base if n == 0 else f"{base}_{n + 1}"


_BUILDERS: Dict[str, Callable] = {}


def _layer(*types: str):
    def wrap(fn):
        for t in types:
            _BUILDERS[t] = fn
        return fn
    return wrap


def _fail(layer, what: str) -> ConversionError:
    return ConversionError(f"layer {layer.name!r} (type {layer.type}): {what}")


def _pair(layer, repeated, h, w, default, what):
    """Caffe's (h, w) from ``x_h``/``x_w`` or a repeated field with 0, 1 or 2 values."""
    if h or w:
        return int(h), int(w)
    values = list(repeated)
    if len(values) > 2:
        raise _fail(layer, f"{what} with {len(values)} values (only 2-D is supported)")
    if not values:
        return default, default
    return (int(values[0]), int(values[-1]))


def _param(st: _State, layer, blob: int, name: str, shape, caffe_shape, aux=False, transform=None):
    st.specs.append(ParamSpec(layer.name, layer.type, blob, name, tuple(shape), tuple(caffe_shape),
                              aux, transform))
    return mx.sym.Variable(name, shape=tuple(shape))


# --- channel order: RGB input for a BGR model -------------------------------------------

def _reverse(st, layer, bottoms):
    """A function reversing per-channel parameters when the layer's input is channel-reversed."""
    if bottoms and bottoms[0].name in st.reversed:
        return lambda a: a[::-1]
    return lambda a: a


def _keep_reversed(st, bottoms, tops):
    """Per-channel layers keep the input's reversed channel order."""
    if bottoms and bottoms[0].name in st.reversed:
        st.reversed.update(t.name for t in tops)
    return tops


#: Layers that may read channel-reversed data: per-channel ones (parameters reversed), the
#: convolution (weights reversed along their input axis) and PriorBox (reads only the size).
_CHANNEL_SAFE = ("BatchNorm", "Scale", "ReLU", "ReLU6", "Dropout", "Split", "Pooling", "Convolution",
                 "PriorBox")


# --- layers -----------------------------------------------------------------------------

@_layer("Convolution")
def _convolution(st, layer, name, bottoms):
    p = layer.convolution_param
    if p.axis != 1:
        raise _fail(layer, f"convolution_param.axis {p.axis} (only 1)")
    kernel = _pair(layer, p.kernel_size, p.kernel_h, p.kernel_w, 0, "convolution_param.kernel_size")
    stride = _pair(layer, p.stride, p.stride_h, p.stride_w, 1, "convolution_param.stride")
    pad = _pair(layer, p.pad, p.pad_h, p.pad_w, 0, "convolution_param.pad")
    dilate = _pair(layer, p.dilation, 0, 0, 1, "convolution_param.dilation")
    channels = st.shape(bottoms[0])[1]
    if channels % p.group or p.num_output % p.group:
        raise _fail(layer, f"convolution_param.group {p.group} does not divide {channels} inputs "
                           f"and {p.num_output} outputs")
    wshape = (p.num_output, channels // p.group) + kernel
    reverse_input = bottoms[0].name in st.reversed
    if reverse_input and p.group != 1:
        raise _fail(layer, "a grouped convolution on the input cannot take RGB input (--rgb)")
    in_flip = (lambda a: a[:, ::-1]) if reverse_input else (lambda a: a)
    fold = st.folds.get(layer.name)
    if fold is None:
        weight = _param(st, layer, 0, name + "_weight", wshape, wshape,
                        transform=lambda w: in_flip(w[layer.name][0].reshape(wshape)))
        bias = _param(st, layer, 1, name + "_bias", (p.num_output,), (p.num_output,)) \
            if p.bias_term else None
    else:
        gain, shift = _folded_affine(layer.name, fold, p.bias_term, p.num_output)
        weight = _param(st, layer, 0, name + "_weight", wshape, wshape,
                        transform=lambda w: in_flip(w[layer.name][0].reshape(wshape))
                        * gain(w)[:, None, None, None])
        if p.bias_term:  # the bias blob is still checked
            st.specs.append(ParamSpec(layer.name, layer.type, 1, "", (p.num_output,), (p.num_output,)))
        bias = mx.sym.Variable(name + "_bias", shape=(p.num_output,))
        # A new bias computed from conv, BatchNorm and Scale blobs (the size check is on blob 0).
        st.specs.append(ParamSpec(layer.name, layer.type, 0, name + "_bias", (p.num_output,), wshape,
                                  transform=shift))
    return [mx.sym.Convolution(bottoms[0], weight=weight, bias=bias, name=name, kernel=kernel,
                               stride=stride, pad=pad, dilate=dilate, num_filter=p.num_output,
                               num_group=p.group, no_bias=bias is None)]


def _folded_affine(conv: str, fold, has_bias: bool, channels: int):
    """Per-output-channel gain and new bias of a convolution with BatchNorm (+ Scale) folded in.

    ``BN(conv(x)) = conv(x) * g + (b - mean) * g`` with ``g = 1 / sqrt(var + eps)``, and a Scale
    ``gamma * y + beta`` multiplies ``g`` by ``gamma`` and adds ``beta``: exact algebra, so the
    folded network equals the unfolded one up to float rounding.
    """
    bn, scale, eps = fold

    def gain(w):
        _, var = bn_statistics(w[bn])
        g = 1.0 / np.sqrt(var + eps)
        return g * w[scale][0].reshape(-1) if scale else g

    def shift(w):
        mean, _ = bn_statistics(w[bn])
        bias = w[conv][1].reshape(-1) if has_bias else np.zeros(channels, np.float32)
        out = (bias - mean) * gain(w)
        if scale and len(w[scale]) > 1:
            out = out + w[scale][1].reshape(-1)
        return out
    return gain, shift


@_layer("InnerProduct")
def _inner_product(st, layer, name, bottoms):
    p = layer.inner_product_param
    if p.axis != 1 or p.transpose:
        raise _fail(layer, "inner_product_param.axis/transpose other than 1/false")
    inputs = int(np.prod(st.shape(bottoms[0])[1:]))
    weight = _param(st, layer, 0, name + "_weight", (p.num_output, inputs), (p.num_output, inputs))
    bias = _param(st, layer, 1, name + "_bias", (p.num_output,), (p.num_output,)) if p.bias_term else None
    return [mx.sym.FullyConnected(bottoms[0], weight=weight, bias=bias, name=name,
                                  num_hidden=p.num_output, no_bias=not p.bias_term, flatten=True)]


@_layer("ReLU")
def _relu(st, layer, name, bottoms):
    slope = layer.relu_param.negative_slope
    if slope:
        return _keep_reversed(st, bottoms, [mx.sym.LeakyReLU(bottoms[0], act_type="leaky", slope=slope,
                                                              name=name)])
    return _keep_reversed(st, bottoms, [mx.sym.Activation(bottoms[0], act_type="relu", name=name)])


@_layer("ReLU6")
def _relu6(st, layer, name, bottoms):
    return _keep_reversed(st, bottoms, [mx.sym.clip(bottoms[0], 0.0, 6.0, name=name)])


@_layer("Sigmoid")
def _sigmoid(st, layer, name, bottoms):
    return [mx.sym.sigmoid(bottoms[0], name=name)]


@_layer("Softmax")
def _softmax(st, layer, name, bottoms):
    return [mx.sym.softmax(bottoms[0], axis=layer.softmax_param.axis, name=name)]


@_layer("Pooling")
def _pooling(st, layer, name, bottoms):
    p = layer.pooling_param
    pool_types = {0: "max", 1: "avg"}
    if p.pool not in pool_types:
        raise _fail(layer, "pooling_param.pool STOCHASTIC is not supported")
    if p.global_pooling:
        return _keep_reversed(st, bottoms, [mx.sym.Pooling(
            bottoms[0], global_pool=True, kernel=(1, 1), pool_type=pool_types[p.pool], name=name)])
    kernel = _pair(layer, [p.kernel_size] if p.HasField("kernel_size") else [], p.kernel_h, p.kernel_w,
                   0, "pooling_param.kernel_size")
    stride = _pair(layer, [p.stride], p.stride_h, p.stride_w, 1, "pooling_param.stride")
    pad = _pair(layer, [p.pad], p.pad_h, p.pad_w, 0, "pooling_param.pad")
    _, _, h, w = st.shape(bottoms[0])
    # Caffe rounds up ("full"), then drops a last window that starts inside the padding.
    want = []
    for size, k, s, q in ((h, kernel[0], stride[0], pad[0]), (w, kernel[1], stride[1], pad[1])):
        n = int(math.ceil((size + 2 * q - k) / s)) + 1
        if q and (n - 1) * s >= size + q:
            n -= 1
        want.append(n)
    out = mx.sym.Pooling(bottoms[0], kernel=kernel, stride=stride, pad=pad, pool_type=pool_types[p.pool],
                         pooling_convention="full", count_include_pad=True, name=name)
    got = st.shape(out)[2:]
    if tuple(got) != tuple(want):
        out = mx.sym.slice(out, begin=(None, None, 0, 0), end=(None, None, want[0], want[1]),
                           name=name + "_caffe_size")
    return _keep_reversed(st, bottoms, [out])


def bn_statistics(blobs: List[np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
    """Mean and variance of a Caffe BatchNorm layer: running sums divided by the factor blob."""
    factor = float(blobs[2].reshape(-1)[0]) if len(blobs) > 2 else 1.0
    inv = 0.0 if factor == 0 else 1.0 / factor
    return blobs[0].reshape(-1) * inv, blobs[1].reshape(-1) * inv


@_layer("BatchNorm")
def _batch_norm(st, layer, name, bottoms):
    channels = st.shape(bottoms[0])[1]
    eps = layer.batch_norm_param.eps
    flip = _reverse(st, layer, bottoms)

    def stat(i):
        return lambda w: flip(bn_statistics(w[layer.name])[i])
    mean = _param(st, layer, 0, name + "_moving_mean", (channels,), (channels,), aux=True,
                  transform=stat(0))
    var = _param(st, layer, 1, name + "_moving_var", (channels,), (channels,), aux=True, transform=stat(1))
    # The factor is folded into the statistics; its blob is only checked (no parameter name).
    st.specs.append(ParamSpec(layer.name, layer.type, 2, "", (1,), (1,)))
    gamma, beta = name + "_gamma", name + "_beta"
    st.constants[gamma] = np.ones(channels, np.float32)
    st.constants[beta] = np.zeros(channels, np.float32)
    return _keep_reversed(st, bottoms, [mx.sym.BatchNorm(
        bottoms[0], gamma=mx.sym.Variable(gamma, shape=(channels,)),
        beta=mx.sym.Variable(beta, shape=(channels,)), moving_mean=mean, moving_var=var, eps=eps,
        use_global_stats=True, fix_gamma=False, name=name)])


@_layer("Scale")
def _scale(st, layer, name, bottoms):
    p = layer.scale_param
    if len(bottoms) != 1 or p.axis != 1 or p.num_axes != 1:
        raise _fail(layer, "scale_param with two bottoms or axis/num_axes other than 1/1")
    channels = st.shape(bottoms[0])[1]
    flip = _reverse(st, layer, bottoms)
    gamma = _param(st, layer, 0, name + "_gamma", (1, channels, 1, 1), (channels,),
                   transform=lambda w: flip(w[layer.name][0].reshape(-1)))
    out = mx.sym.broadcast_mul(bottoms[0], gamma)
    if p.bias_term:
        beta = _param(st, layer, 1, name + "_beta", (1, channels, 1, 1), (channels,),
                      transform=lambda w: flip(w[layer.name][1].reshape(-1)))
        out = mx.sym.broadcast_add(out, beta)
    return _keep_reversed(st, bottoms, [mx.sym.identity(out, name=name)])


@_layer("Normalize")
def _normalize(st, layer, name, bottoms):
    p = layer.norm_param
    channels = st.shape(bottoms[0])[1]
    mode = "instance" if p.across_spatial else "channel"
    normed = mx.sym.L2Normalization(bottoms[0], mode=mode, eps=p.eps, name=name + "_l2")
    n = 1 if p.channel_shared else channels
    scale = _param(st, layer, 0, name + "_scale", (1, n, 1, 1), (n,))
    return [mx.sym.broadcast_mul(normed, scale, name=name)]


@_layer("Eltwise")
def _eltwise(st, layer, name, bottoms):
    p = layer.eltwise_param
    if p.coeff and (p.operation != 1 or len(p.coeff) != len(bottoms)):
        raise _fail(layer, "eltwise_param.coeff needs operation SUM and one value per bottom")
    if p.operation == 1:
        terms = [b * c if c != 1 else b for b, c in zip(bottoms, list(p.coeff) or [1] * len(bottoms))]
        out = terms[0]
        for t in terms[1:]:
            out = out + t
    elif p.operation == 0:
        out = bottoms[0]
        for b in bottoms[1:]:
            out = out * b
    else:
        out = bottoms[0]
        for b in bottoms[1:]:
            out = mx.sym.maximum(out, b)
    return [mx.sym.identity(out, name=name)]


@_layer("Concat")
def _concat(st, layer, name, bottoms):
    p = layer.concat_param
    axis = p.axis if p.HasField("axis") or not p.HasField("concat_dim") else p.concat_dim
    if len(bottoms) == 1:
        return [mx.sym.identity(bottoms[0], name=name)]
    return [mx.sym.concat(*bottoms, dim=axis, name=name)]


@_layer("Flatten")
def _flatten(st, layer, name, bottoms):
    p = layer.flatten_param
    if p.end_axis != -1:
        raise _fail(layer, f"flatten_param.end_axis {p.end_axis} (only -1)")
    return [mx.sym.reshape(bottoms[0], shape=(0,) * p.axis + (-1,), name=name)]


@_layer("Permute")
def _permute(st, layer, name, bottoms):
    order = list(layer.permute_param.order)
    ndim = len(st.shape(bottoms[0]))
    order += [a for a in range(ndim) if a not in order]
    if sorted(order) != list(range(ndim)):
        raise _fail(layer, f"permute_param.order {list(layer.permute_param.order)} for {ndim} axes")
    return [mx.sym.transpose(bottoms[0], axes=tuple(order), name=name)]


@_layer("Reshape")
def _reshape(st, layer, name, bottoms):
    p = layer.reshape_param
    if p.axis != 0 or p.num_axes != -1:
        raise _fail(layer, "reshape_param.axis/num_axes other than 0/-1")
    return [mx.sym.reshape(bottoms[0], shape=tuple(int(d) for d in p.shape.dim), name=name)]


@_layer("Slice")
def _slice(st, layer, name, bottoms):
    p = layer.slice_param
    axis = p.axis if p.HasField("axis") or not p.HasField("slice_dim") else p.slice_dim
    size = st.shape(bottoms[0])[axis]
    tops = len(layer.top)
    points = list(p.slice_point)
    if not points:
        if size % tops:
            raise _fail(layer, f"axis {axis} of size {size} does not split into {tops} tops")
        points = [size // tops * i for i in range(1, tops)]
    if len(points) != tops - 1:
        raise _fail(layer, f"{len(points)} slice_point values for {tops} tops")
    bounds = [0] + points + [size]
    return [mx.sym.slice_axis(bottoms[0], axis=axis, begin=a, end=b, name=f"{name}_{i}")
            for i, (a, b) in enumerate(zip(bounds, bounds[1:]))]


@_layer("Split")
def _split(st, layer, name, bottoms):
    return [bottoms[0]] * len(layer.top)


@_layer("Dropout")
def _dropout(st, layer, name, bottoms):
    return [bottoms[0]]  # identity at inference (Caffe scales during training)


@_layer("Silence")
def _silence(st, layer, name, bottoms):
    return []


@_layer("PriorBox")
def _prior_box(st, layer, name, bottoms):
    p = layer.prior_box_param
    if not p.min_size:
        raise _fail(layer, "prior_box_param.min_size is required")
    if p.max_size and len(p.max_size) != len(p.min_size):
        raise _fail(layer, "prior_box_param.max_size needs one value per min_size")
    variance = list(p.variance) or [0.1]
    if len(variance) not in (1, 4):
        raise _fail(layer, f"prior_box_param.variance with {len(variance)} values (1 or 4)")
    img = None
    if p.img_size or p.img_h or p.img_w:
        img = (float(p.img_size or p.img_h), float(p.img_size or p.img_w))
    step = None
    if p.step or p.step_h or p.step_w:
        step = (float(p.step or p.step_h), float(p.step or p.step_w))
    cfg = PriorBoxConfig(tuple(p.min_size), tuple(p.max_size), expand_ratios(p.aspect_ratio, p.flip),
                         p.clip, tuple(variance * 4 if len(variance) == 1 else variance), img, step,
                         p.offset)
    feature_hw = st.shape(bottoms[0])[2:]
    image_hw = st.shape(bottoms[1])[2:] if len(bottoms) > 1 else st.input_shape[2:]
    expected = caffe_priors(cfg, feature_hw, image_hw)
    kwargs = multibox_prior_kwargs(cfg, feature_hw, image_hw)
    if kwargs and multibox_prior_matches(kwargs, feature_hw, expected):
        boxes = mx.sym.contrib.MultiBoxPrior(bottoms[0], name=name + "_boxes", **kwargs)
        boxes = mx.sym.reshape(boxes, shape=(1, 1, -1))
        var = mx.sym.concat(*[mx.sym.full(shape=(1, 1, 1), val=v) for v in cfg.variances], dim=2)
        var = mx.sym.reshape(mx.sym.broadcast_like(var, mx.sym.reshape(boxes, shape=(1, -1, 4))),
                             shape=(1, 1, -1))
        return [mx.sym.concat(boxes, var, dim=1, name=name)]
    # Not expressible (several min_sizes, non-square maps...): the priors become a constant.
    st.constants[name + "_priors"] = expected
    return [mx.sym.identity(mx.sym.Variable(name + "_priors", shape=expected.shape), name=name)]


@_layer("DetectionOutput")
def _detection_output(st, layer, name, bottoms):
    p = layer.detection_output_param
    if not p.share_location:
        raise _fail(layer, "detection_output_param.share_location false is not supported")
    if p.code_type != 2:
        raise _fail(layer, "detection_output_param.code_type other than CENTER_SIZE")
    if p.nms_param.eta != 1.0:
        raise _fail(layer, "detection_output_param.nms_param.eta other than 1 (adaptive NMS)")
    if len(bottoms) != 3:
        raise _fail(layer, f"{len(bottoms)} bottoms (loc, conf, priors expected)")
    cfg = DetectionConfig(
        num_classes=p.num_classes, background_id=p.background_label_id,
        nms_threshold=p.nms_param.nms_threshold,
        top_k=p.nms_param.top_k if p.nms_param.HasField("top_k") else -1,
        keep_top_k=p.keep_top_k,
        confidence_threshold=p.confidence_threshold if p.HasField("confidence_threshold") else -1.0,
        variance_encoded_in_target=p.variance_encoded_in_target, clip=p.clip)
    num_priors = st.shape(bottoms[2])[2] // 4
    if st.shape(bottoms[1])[1] != num_priors * cfg.num_classes:
        raise _fail(layer, f"confidences hold {st.shape(bottoms[1])[1]} values for {num_priors} priors "
                           f"and num_classes {cfg.num_classes}")
    st.detection = cfg
    st.detection_inputs = tuple(b.name for b in bottoms)
    return [detection_output(bottoms[0], bottoms[1], bottoms[2], cfg, name, num_priors)]


# --- the walk ---------------------------------------------------------------------------

def _input_shape(net) -> Tuple[str, Tuple[int, ...]]:
    if net.input:
        if net.input_shape:
            dims = tuple(int(d) for d in net.input_shape[0].dim)
        elif net.input_dim:
            dims = tuple(int(d) for d in net.input_dim[:4])
        else:
            raise ConversionError(f"input {net.input[0]!r} has no input_shape or input_dim")
        return net.input[0], dims
    for layer in net.layer:
        if layer.type == "Input":
            return layer.top[0], tuple(int(d) for d in layer.input_param.shape[0].dim)
    raise ConversionError("the prototxt declares no input (input/input_shape or an Input layer)")


def _in_test_phase(layer) -> bool:
    if any(rule.HasField("phase") and rule.phase == 0 for rule in layer.include):
        return False
    return not any(rule.HasField("phase") and rule.phase == 1 for rule in layer.exclude)


def _first_consumer(layers, start: int, blob: str):
    """Index of the first layer after ``start`` reading ``blob``, and whether any other reads it."""
    readers = [i for i in range(start + 1, len(layers)) if blob in layers[i].bottom]
    return (readers[0] if readers else None), readers[1:]


def find_folds(net) -> Dict[str, Tuple[str, Optional[str], float]]:
    """Convolution -> (BatchNorm, Scale or None, eps) chains that fold exactly into the convolution.

    A chain folds when the BatchNorm (and the Scale after it) is the only reader of the
    convolution's (and the BatchNorm's) output, in place or not.
    """
    layers = [layer for layer in net.layer if _in_test_phase(layer)]
    folds = {}
    for i, conv in enumerate(layers):
        if conv.type != "Convolution" or len(conv.top) != 1:
            continue
        j, others = _first_consumer(layers, i, conv.top[0])
        if j is None or layers[j].type != "BatchNorm" or (others and layers[j].top[0] != conv.top[0]):
            continue
        bn = layers[j]
        k, more = _first_consumer(layers, j, bn.top[0])
        scale = None
        if k is not None and layers[k].type == "Scale" and len(layers[k].bottom) == 1 and \
                (not more or layers[k].top[0] == bn.top[0]):
            scale = layers[k].name
        folds[conv.name] = (bn.name, scale, bn.batch_norm_param.eps)
    return folds


def build(net, batch_size: int = 1, input_hw: Optional[Tuple[int, int]] = None, *,
          fold_batchnorm: bool = False, rgb_input: bool = False, detection: bool = True) -> Graph:
    """Convert a parsed NetParameter (deploy prototxt) into a Graph.

    Parameters
    ----------
    net : NetParameter
    batch_size : int
        Batch of the shape inference (the symbol itself takes any batch).
    input_hw : (int, int), optional
        Overrides the prototxt's input height and width (priors and reshapes
        follow, as when Caffe or OpenCV reshape the net).
    fold_batchnorm : bool
        Fold BatchNorm (+ Scale) layers that follow a convolution into its
        weights and bias (exact algebra; fewer operators at inference).
    rgb_input : bool
        The converted model takes RGB input: the layers reading the input
        get their per-channel parameters reversed (Caffe models take BGR).
    detection : bool
        Require a DetectionOutput layer and output its detections; ``False``
        outputs the last layer's top instead (parts of networks, tests).
    """
    input_name, shape = _input_shape(net)
    if len(shape) != 4 or shape[1] != 3:
        raise ConversionError(f"input {input_name!r} has shape {shape}; a (N, 3, H, W) image is expected")
    st = _State(input_shape=(batch_size, 3) + tuple(input_hw or shape[2:]), input_name=input_name)
    st.blobs[input_name] = mx.sym.var("data")
    if rgb_input:
        st.reversed.add("data")
    if fold_batchnorm:
        for conv, (bn, scale, eps) in find_folds(net).items():
            st.folds[conv] = (bn, scale, eps)
            st.folded[bn] = conv
            if scale:
                st.folded[scale] = conv
    outputs: Dict[str, mx.sym.Symbol] = {}
    result = None
    for layer in net.layer:
        if layer.type == "Input" or not _in_test_phase(layer):
            continue
        builder = _BUILDERS.get(layer.type)
        if builder is None:
            raise _fail(layer, f"layer type {layer.type!r} is not supported "
                               f"(supported: {', '.join(sorted(_BUILDERS))})")
        missing = [b for b in layer.bottom if b not in st.blobs]
        if missing:
            raise _fail(layer, f"bottom blob(s) {missing} are produced by no earlier layer")
        bottoms = [st.blobs[b] for b in layer.bottom]
        if layer.name in st.folded:  # its parameters went into the convolution before it
            _check_folded_blobs(st, layer, bottoms)
            st.blobs[layer.top[0]] = bottoms[0]
            continue
        reversed_in = [b for b, s in zip(layer.bottom, bottoms) if s.name in st.reversed]
        if reversed_in and layer.type not in _CHANNEL_SAFE:
            raise _fail(layer, f"reads the input's channels ({reversed_in[0]}) in a way RGB input "
                               f"cannot be folded into (--rgb works through {', '.join(_CHANNEL_SAFE)})")
        name = st.unique(layer.name)
        tops = builder(st, layer, name, bottoms)
        if layer.type != "Silence" and len(tops) != len(layer.top):
            raise _fail(layer, f"{len(layer.top)} tops, {len(tops)} expected")
        for top, sym in zip(layer.top, tops):
            st.blobs[top] = sym
        if tops:
            outputs[layer.name] = tops[0]
        if layer.type == "DetectionOutput" or (not detection and tops):
            result = tops[0]
    if result is None:
        raise ConversionError("the prototxt has no DetectionOutput layer" if detection else
                              "the prototxt has no layers")
    return Graph(result, st.input_shape, st.specs, st.constants, outputs, st.detection, input_name,
                 st.detection_inputs)


def _check_folded_blobs(st, layer, bottoms):
    """Shape checks for the blobs of a folded BatchNorm or Scale layer."""
    channels = st.shape(bottoms[0])[1]
    shapes = [(channels,), (channels,), (1,)] if layer.type == "BatchNorm" else \
        [(channels,)] * (2 if layer.scale_param.bias_term else 1)
    for i, shape in enumerate(shapes):
        st.specs.append(ParamSpec(layer.name, layer.type, i, "", shape, shape))


def fill(graph: Graph, weights: Dict[str, List[np.ndarray]], where: str = "caffemodel"):
    """``(arg_params, aux_params)`` of NDArrays from Caffe weight blobs, every shape checked."""
    args, auxs = {}, {}
    for spec in graph.specs:
        blobs = weights.get(spec.layer)
        if blobs is None:
            raise ConversionError(f"{where}: no weights for layer {spec.layer!r} (type {spec.layer_type})")
        if spec.blob >= len(blobs):
            raise ConversionError(f"{where}: layer {spec.layer!r} (type {spec.layer_type}) has "
                                  f"{len(blobs)} blobs, blob {spec.blob} is needed")
        blob = blobs[spec.blob]
        if blob.size != int(np.prod(spec.caffe_shape)):
            raise ConversionError(f"{where}: layer {spec.layer!r} (type {spec.layer_type}) blob "
                                  f"{spec.blob} has shape {tuple(blob.shape)}; the prototxt implies "
                                  f"{spec.caffe_shape}")
        if not spec.name:
            continue
        value = spec.transform(weights) if spec.transform else blob
        (auxs if spec.aux else args)[spec.name] = mx.nd.array(
            np.asarray(value, np.float32).reshape(spec.shape))
    for name, value in graph.constants.items():
        args[name] = mx.nd.array(value)
    return args, auxs
