"""Write deterministic random weights for a Caffe SSD prototxt (``random_weights``).

Usage::

    python -m tools.caffe_converter.random_model deploy.prototxt out.caffemodel --seed 0
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional, Sequence

from common import cli


def build_parser() -> argparse.ArgumentParser:
    p = cli.make_parser("python -m tools.caffe_converter.random_model",
                        "Write deterministic random weights for a Caffe SSD prototxt.")
    p.add_argument("prototxt", type=Path, help="Caffe deploy.prototxt")
    p.add_argument("out", type=Path, help="caffemodel to write")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights")
    return p


def run(args: argparse.Namespace) -> int:
    from tools.caffe_converter.random_weights import write_random_caffemodel
    write_random_caffemodel(args.prototxt, args.out, args.seed)
    print(f"wrote {args.out}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_main(build_parser, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
