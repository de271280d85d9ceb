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
from dataclasses import asdict
from pathlib import Path
from typing import Optional, Sequence

from common import cli
from symbol import options

#: PASCAL VOC's 20 classes: the class count of the paper's VOC models.
DEFAULT_CLASSES = 20


def build_parser() -> argparse.ArgumentParser:
    p = cli.make_parser("python -m tools.summary", "Parameters, multiply-adds and anchors of SSD presets.")
    options.add_network_args(p, every_preset=True)
    p.add_argument("--num-classes", type=cli.positive_int, default=DEFAULT_CLASSES, help="foreground classes")
    p.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    return p


def run(args: argparse.Namespace) -> int:
    from common.atomic import write_text
    from symbol.summary import markdown, selected_presets, summarize
    rows = [summarize(p, args.num_classes) for p in selected_presets(args.network, args.data_shape)]
    print(markdown(rows, args.num_classes))
    if args.json:
        write_text(args.json, json.dumps([asdict(r) for r in rows], indent=1) + "\n")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_main(build_parser, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
