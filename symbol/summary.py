"""Size and cost of a network preset: parameters, multiply-adds, anchors, feature maps.

Multiply-adds count convolutions and fully connected layers of the deploy
symbol at batch 1 (``weight elements x output positions``); element-wise
layers, pooling, softmax and the detection stage are not counted, as is
customary. Parameters are learnable weights (BatchNorm running statistics
are not counted).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from symbol.builder import deploy_symbol
from symbol.features import feature_shapes, num_anchors
from symbol.presets import Preset, all_presets, get_preset


@dataclass(frozen=True)
class Summary:
    """Cost figures of one preset at batch 1."""

    preset: str
    params: int
    macs: int
    anchors: int
    feature_shapes: Tuple[Tuple[int, int], ...]


def count_macs(symbol, **input_shapes) -> int:
    """Multiply-adds of the Convolution and FullyConnected layers of ``symbol``."""
    internals = symbol.get_internals()
    arg_shapes, out_shapes, _ = internals.infer_shape(**input_shapes)
    args = dict(zip(internals.list_arguments(), arg_shapes))
    outs = dict(zip(internals.list_outputs(), out_shapes))
    graph = json.loads(symbol.tojson())
    nodes = graph["nodes"]
    total = 0
    for node in nodes:
        if node["op"] not in ("Convolution", "FullyConnected"):
            continue
        weight = nodes[node["inputs"][1][0]]["name"]
        out = outs[node["name"] + "_output"]
        positions = int(np.prod(out[2:])) if node["op"] == "Convolution" else 1
        total += int(np.prod(args[weight])) * positions * out[0]
    return total


def summarize(preset: Preset, num_classes: int = 20) -> Summary:
    """Parameters, multiply-adds, anchors and feature-map shapes of ``preset``."""
    symbol = deploy_symbol(preset, num_classes)
    shape = (1, 3, preset.data_shape, preset.data_shape)
    arg_shapes, _, _ = symbol.infer_shape(data=shape)
    params = sum(int(np.prod(s)) for n, s in zip(symbol.list_arguments(), arg_shapes) if n != "data")
    return Summary(preset.name, params, count_macs(symbol, data=shape), num_anchors(preset),
                   feature_shapes(preset))


def markdown(rows: List[Summary], num_classes: int) -> str:
    lines = ["| preset | parameters (M) | multiply-adds (G) | anchors | feature maps |",
             "|---|---:|---:|---:|---|"]
    for r in rows:
        maps = ", ".join(str(h) if h == w else f"{h}x{w}" for h, w in r.feature_shapes)
        lines.append(f"| {r.preset} | {r.params / 1e6:.2f} | {r.macs / 1e9:.2f} | {r.anchors} | {maps} |")
    lines.append(f"\n{num_classes} foreground classes, batch 1.")
    return "\n".join(lines)


def selected_presets(network: Optional[str], data_shape: Optional[int]) -> List[Preset]:
    if network and data_shape:
        return [get_preset(network, data_shape)]
    presets = all_presets()
    if network:
        presets = [p for p in presets if p.network == network]
        if not presets:
            get_preset(network, 300)  # raises with the available networks
    if data_shape:
        presets = [p for p in presets if p.data_shape == data_shape]
    return presets
