"""Graph clean-ups applied to an exported body: BatchNorm folded into the convolution before it.

``y = gamma * (conv(x) + b - mean) / sqrt(var + eps) + beta`` is the convolution with
weights ``W * f`` and bias ``(b - mean) * f + beta``, ``f = gamma / sqrt(var + eps)``
per output channel: exact up to float32 rounding. Runtimes fuse this themselves, but
quantizers need it done in the file (they would otherwise quantize around the
BatchNorm), and the file gets smaller and simpler.
"""
from __future__ import annotations

from collections import Counter
from typing import Dict

import numpy as np
import onnx
from onnx import numpy_helper


def _initializers(graph: onnx.GraphProto) -> Dict[str, onnx.TensorProto]:
    return {t.name: t for t in graph.initializer}


def fold_batchnorm(graph: onnx.GraphProto) -> int:
    """Fold every BatchNormalization whose input is a Conv used by nothing else; returns the count."""
    inits = _initializers(graph)
    producer = {out: node for node in graph.node for out in node.output}
    uses = Counter(name for node in graph.node for name in node.input)
    uses.update(o.name for o in graph.output)
    folded, drop = 0, []
    for bn in graph.node:
        if bn.op_type != "BatchNormalization" or len(bn.output) != 1:
            continue
        conv = producer.get(bn.input[0])
        if conv is None or conv.op_type != "Conv" or uses[bn.input[0]] != 1:
            continue
        if not all(name in inits for name in list(bn.input[1:5]) + list(conv.input[1:])):
            continue
        eps = next((a.f for a in bn.attribute if a.name == "epsilon"), 1e-5)
        gamma, beta, mean, var = (numpy_helper.to_array(inits[n]).astype(np.float64) for n in bn.input[1:5])
        weight = numpy_helper.to_array(inits[conv.input[1]]).astype(np.float64)
        bias = (numpy_helper.to_array(inits[conv.input[2]]).astype(np.float64) if len(conv.input) > 2
                else np.zeros(weight.shape[0]))
        factor = gamma / np.sqrt(var + eps)
        new_w = (weight * factor.reshape(-1, *([1] * (weight.ndim - 1)))).astype(np.float32)
        new_b = ((bias - mean) * factor + beta).astype(np.float32)
        w_name, b_name = f"{bn.output[0]}/folded_weight", f"{bn.output[0]}/folded_bias"
        graph.initializer.extend([numpy_helper.from_array(new_w, w_name),
                                  numpy_helper.from_array(new_b, b_name)])
        del conv.input[1:]
        conv.input.extend([w_name, b_name])
        conv.output[0] = bn.output[0]
        drop.append(bn)
        folded += 1
    for bn in drop:
        graph.node.remove(bn)
    used = {name for node in graph.node for name in node.input}
    unused = [t for t in graph.initializer if t.name not in used]
    for t in unused:
        graph.initializer.remove(t)
    return folded


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _window_counts(size: int, kernel: int, stride: int, pad_begin: int, pad_end: int, out: int) -> np.ndarray:
    """Caffe's divisor per output position: the window clipped to the padded input (padding counts)."""
    starts = np.arange(out) * stride - pad_begin
    return np.minimum(starts + kernel, size + pad_end) - starts


def exact_ceil_average_pool(model: onnx.ModelProto) -> int:
    """Rewrite ``AveragePool(count_include_pad=1)`` whose windows leave the padded input; returns the count.

    Caffe (and MXNet's ``pooling_convention='full'``) divide a last, partial window by the
    number of its positions inside the padded input; ONNX Runtime divides by the whole
    kernel, and refuses padding as large as the kernel. The rewrite sums each window with a
    depthwise convolution of ones, zero-padded so that every window is whole, and divides
    each output position by Caffe's count: explicit arithmetic every runtime computes alike.
    """
    graph = model.graph
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in onnx.shape_inference.infer_shapes(model).graph.value_info}
    rewritten = 0
    for node in list(graph.node):
        attrs = _attrs(node)
        if node.op_type != "AveragePool" or not attrs.get("count_include_pad"):
            continue
        dims = shapes.get(node.input[0])
        if not dims or len(dims) != 4 or 0 in dims[1:]:
            continue
        (kh, kw), (sh, sw) = attrs["kernel_shape"], attrs.get("strides", [1, 1])
        pt, pl, pb, pr = attrs.get("pads", [0, 0, 0, 0])
        channels, h, w = dims[1:]
        rounding = (lambda x: -(-x // 1)) if attrs.get("ceil_mode") else (lambda x: x)
        oh = int(rounding((h + pt + pb - kh) / sh)) + 1
        ow = int(rounding((w + pl + pr - kw) / sw)) + 1
        extra_b, extra_r = (oh - 1) * sh + kh - (h + pt), (ow - 1) * sw + kw - (w + pl)
        if extra_b <= pb and extra_r <= pr and max(pt, pl, pb, pr) < min(kh, kw):
            continue  # whole windows and ordinary padding: every runtime agrees
        count = np.outer(_window_counts(h, kh, sh, pt, pb, oh), _window_counts(w, kw, sw, pl, pr, ow))
        base = node.output[0]
        ones, factor, summed = f"{base}/ones", f"{base}/inverse_count", f"{base}/window_sum"
        graph.initializer.extend([
            numpy_helper.from_array(np.ones((channels, 1, kh, kw), np.float32), ones),
            numpy_helper.from_array((1.0 / count).astype(np.float32).reshape(1, 1, oh, ow), factor)])
        new = [onnx.helper.make_node("Conv", [node.input[0], ones], [summed], name=summed, group=channels,
                                     kernel_shape=[kh, kw], strides=[sh, sw],
                                     pads=[pt, pl, max(extra_b, 0), max(extra_r, 0)]),
               onnx.helper.make_node("Mul", [summed, factor], [base], name=f"{base}/averaged")]
        position = list(graph.node).index(node)
        graph.node.remove(node)
        for offset, item in enumerate(new):
            graph.node.insert(position + offset, item)
        rewritten += 1
    return rewritten


def explicit_large_pads(graph: onnx.GraphProto) -> int:
    """Move the padding of max poolings padded by a kernel or more into a Pad node; returns the count.

    Caffe accepts such padding (ONNX Runtime refuses it); the Pad fills with the lowest float,
    so padding never wins, as in Caffe. (Average poolings: ``exact_ceil_average_pool``.)
    """
    rewritten = 0
    for node in list(graph.node):
        attrs = _attrs(node)
        if node.op_type != "MaxPool" or "pads" not in attrs:
            continue
        kernel, pads = attrs["kernel_shape"], attrs["pads"]
        half = len(kernel)
        if all(p < k for p, k in zip(pads[:half] + pads[half:], kernel + kernel)):
            continue
        base = node.output[0]
        pads_name, value_name, padded = f"{base}/pads", f"{base}/pad_value", f"{base}/padded"
        fill = np.finfo(np.float32).min
        graph.initializer.extend([
            numpy_helper.from_array(np.array([0, 0] + pads[:half] + [0, 0] + pads[half:], np.int64),
                                    pads_name),
            numpy_helper.from_array(np.array(fill, np.float32), value_name)])
        position = list(graph.node).index(node)
        pad = onnx.helper.make_node("Pad", [node.input[0], pads_name, value_name], [padded], name=padded)
        graph.node.insert(position, pad)
        node.input[0] = padded
        for attribute in node.attribute:
            if attribute.name == "pads":
                attribute.ints[:] = [0] * len(pads)
        rewritten += 1
    return rewritten


def l2_normalization_as_reductions(graph: onnx.GraphProto) -> int:
    """Rewrite ``LpNormalization(p=2)`` over channels as ``x / sqrt(sum(x^2) + eps)``; returns the count.

    The exporter maps MXNet's ``L2Normalization(mode='channel')`` (VGG16's conv4_3) to
    LpNormalization, which ONNX Runtime computes with a slow strided loop (30 ms of 457 for VGG16
    SSD512 at batch 1, measured); the same arithmetic as a reduction and two element-wise operators
    runs vectorized. ``eps`` is MXNet's (1e-10).
    """
    rewritten = 0
    for node in list(graph.node):
        attrs = _attrs(node)
        if node.op_type != "LpNormalization" or attrs.get("p", 2) != 2 or attrs.get("axis", -1) != 1:
            continue
        base = node.output[0]
        squares, eps, root = f"{base}/sum_of_squares", f"{base}/eps", f"{base}/norm"
        graph.initializer.append(numpy_helper.from_array(np.array(1e-10, np.float32), eps))
        new = [onnx.helper.make_node("ReduceSumSquare", [node.input[0]], [squares], name=squares, axes=[1],
                                     keepdims=1),
               onnx.helper.make_node("Sqrt", [f"{squares}/plus_eps"], [root], name=root),
               onnx.helper.make_node("Div", [node.input[0], root], [base], name=f"{base}/normalized")]
        new.insert(1, onnx.helper.make_node("Add", [squares, eps], [f"{squares}/plus_eps"],
                                            name=f"{squares}/plus_eps"))
        position = list(graph.node).index(node)
        graph.node.remove(node)
        for offset, item in enumerate(new):
            graph.node.insert(position + offset, item)
        rewritten += 1
    return rewritten
