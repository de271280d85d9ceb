"""Size and cost of every network preset: parameters, multiply-adds, anchors, feature maps.

Usage::

    python -m tools.summary                       # every preset, markdown table
    python -m tools.summary --network vgg16_reduced --data-shape 300 --json out.json

Multiply-adds count convolutions and fully connected layers of the deploy
symbol at batch 1 (``weight elements x output positions``); element-wise
layers, pooling, softmax and the detection stage are not counted, as is
customary. Parameters are learnable weights (BatchNorm running statistics
are not counted).
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from common import cli
from common.atomic import write_text
from symbol.builder import deploy_symbol
from symbol.presets import Preset, all_presets, get_preset

#: PASCAL VOC's 20 classes: the class count of the paper's VOC models.
DEFAULT_CLASSES = 20


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


def summarize(preset: Preset, num_classes: int = DEFAULT_CLASSES) -> Summary:
    """Parameters, multiply-adds, anchors and feature-map shapes of ``preset``."""
    symbol = deploy_symbol(preset, num_classes)
    shape = (1, 3, preset.data_shape, preset.data_shape)
    arg_shapes, _, _ = symbol.infer_shape(data=shape)
    params = sum(int(np.prod(s)) for n, s in zip(symbol.list_arguments(), arg_shapes) if n != "data")
    return Summary(preset.name, params, count_macs(symbol, data=shape), preset.num_anchors(),
                   preset.feature_shapes())


def markdown(rows: List[Summary], num_classes: int) -> str:
    lines = ["| preset | parameters (M) | multiply-adds (G) | anchors | feature maps |",
             "|---|---:|---:|---:|---|"]
    for r in rows:
        maps = ", ".join(str(h) if h == w else f"{h}x{w}" for h, w in r.feature_shapes)
        lines.append(f"| {r.preset} | {r.params / 1e6:.2f} | {r.macs / 1e9:.2f} | {r.anchors} | {maps} |")
    lines.append(f"\n{num_classes} foreground classes, batch 1.")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Parameters, multiply-adds and anchors of SSD presets.")
    p.add_argument("--network", default=None, help="one network (default: every preset)")
    p.add_argument("--data-shape", type=int, default=None, help="one input size (with --network)")
    p.add_argument("--num-classes", type=int, default=DEFAULT_CLASSES, help="foreground classes")
    p.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    return p


def _selected(network: Optional[str], data_shape: Optional[int]) -> List[Preset]:
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


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        rows = [summarize(p, args.num_classes) for p in _selected(args.network, args.data_shape)]
    except KeyError as err:
        return cli.print_error(err)
    print(markdown(rows, args.num_classes))
    if args.json:
        write_text(args.json, json.dumps([asdict(r) for r in rows], indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
