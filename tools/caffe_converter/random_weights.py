"""Deterministic random weights for a Caffe SSD prototxt, written as a ``.caffemodel``.

No pretrained Caffe weights can be downloaded here, so the converter is
checked on real prototxts with weights made by this module: He-scaled
convolutions, BatchNorm statistics stored with a scale factor other than 1
(so Caffe's division is exercised), Scale gains near 1, Normalize scales near
20. The prediction convolutions (Caffe SSD names them ``*_mbox_loc`` and
``*_mbox_conf``) are then rescaled so that, on the probe input, box offsets
have a standard deviation of 0.5 and class logits of 2: detections get
spread, untied scores, as a trained model's would.

The command line is ``python -m tools.caffe_converter.random_model``.
"""
from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np

from detect.model import forward_nodes
from tools.caffe_converter.caffemodel import read_prototxt, write_caffemodel
from tools.caffe_converter.convert import Graph, build, fill

#: BatchNorm scale factor of random weights (not 1, so that the division is exercised).
BN_FACTOR = 1.5
#: Target output spread of the prediction convolutions on the probe input.
HEAD_STD = {"mbox_loc": 0.5, "mbox_conf": 2.0}


def probe_input(shape, seed: int = 0) -> np.ndarray:
    """The input the heads are calibrated on (and tests compare with): uniform in [-1, 1]."""
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


def _raw_weights(graph: Graph, rng: np.random.Generator) -> Dict[str, Dict[int, np.ndarray]]:
    blobs: Dict[str, Dict[int, np.ndarray]] = {}
    for spec in graph.specs:
        shape, kind, i = spec.caffe_shape, spec.layer_type, spec.blob
        if kind in ("Convolution", "InnerProduct") and i == 0:
            value = rng.normal(0, np.sqrt(2.0 / int(np.prod(shape[1:]))), shape)
        elif kind == "BatchNorm" and i == 0:
            value = rng.normal(0, 0.5, shape) * BN_FACTOR      # Caffe stores running sums ...
        elif kind == "BatchNorm" and i == 1:
            value = rng.uniform(0.5, 2.0, shape) * BN_FACTOR
        elif kind == "BatchNorm":
            value = np.array([BN_FACTOR])                     # ... and the factor to divide them by
        elif kind == "Scale":
            value = rng.uniform(0.5, 1.5, shape) if i == 0 else rng.normal(0, 0.1, shape)
        elif kind == "Normalize":
            value = rng.uniform(10, 30, shape)
        else:
            value = rng.normal(0, 0.1, shape)
        blobs.setdefault(spec.layer, {})[i] = np.asarray(value, np.float32)
    return blobs


def _head_kind(layer_name: str) -> Optional[str]:
    for kind in HEAD_STD:
        if layer_name.endswith(kind):
            return kind
    return None


def random_weights(graph: Graph, seed: int = 0) -> Dict[str, List[np.ndarray]]:
    """Layer name -> weight blobs (Caffe shapes) for every layer of ``graph``."""
    blobs = _raw_weights(graph, np.random.default_rng(seed))
    heads = [n for n in graph.layer_outputs if _head_kind(n) and n in blobs]
    if heads:
        weights = {layer: [b[i] for i in sorted(b)] for layer, b in blobs.items()}
        args, auxs = fill(graph, weights)
        available = set(graph.symbol.get_internals().list_outputs())
        heads = [n for n in heads if graph.layer_outputs[n].name + "_output" in available]
        outs = forward_nodes(graph.symbol, args, auxs, probe_input(graph.input_shape, seed),
                             [graph.layer_outputs[n].name for n in heads])
        for name, out in zip(heads, outs):
            gain = HEAD_STD[_head_kind(name)] / max(float(out.std()), 1e-6)
            for i in blobs[name]:
                blobs[name][i] = blobs[name][i] * np.float32(gain)
    return {layer: [b[i] for i in sorted(b)] for layer, b in blobs.items()}


def write_random_caffemodel(prototxt, out, seed: int = 0) -> None:
    """Write random weights for ``prototxt`` (a detector, or a net without DetectionOutput) to ``out``."""
    net = read_prototxt(prototxt)
    detector = any(layer.type == "DetectionOutput" for layer in net.layer)
    write_caffemodel(out, net, random_weights(build(net, detection=detector), seed))
