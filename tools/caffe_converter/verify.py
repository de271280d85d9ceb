"""Check the converter on a folder of Caffe SSD deploy prototxts against OpenCV DNN.

For every ``<folder>/<name>/deploy.prototxt``: write deterministic random
weights (``random_model``), convert (timed), run both OpenCV DNN and the
converted model on the probe input, and report the largest differences of
the priors, box offsets, class scores and detections. Prints a markdown table.

Usage::

    python -m tools.caffe_converter.verify ../shared/caffe_ssd --work build/caffe_verify

See ``tools.caffe_converter.opencv_check`` for what is compared and the one OpenCV defect left out.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional, Sequence

from common import cli
from common.paths import CAFFE_SSD


def build_parser() -> argparse.ArgumentParser:
    p = cli.make_parser("python -m tools.caffe_converter.verify",
                        "Verify the converter on Caffe SSD prototxts against OpenCV.")
    p.add_argument("folder", type=Path, nargs="?", default=CAFFE_SSD,
                   help="folder of <name>/deploy.prototxt (default: ../shared/caffe_ssd)")
    p.add_argument("--work", type=Path, default=Path("build/caffe_verify"), help="scratch folder")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    p.add_argument("--tolerance", type=cli.positive_float, default=1e-4,
                   help="largest difference from OpenCV allowed (exit 1 beyond it)")
    return p


def run(args: argparse.Namespace) -> int:
    from tools.caffe_converter.opencv_check import markdown, verify
    if not args.folder.is_dir():
        raise FileNotFoundError(f"{args.folder}: no such folder (expected <name>/deploy.prototxt inside)")
    prototxts = sorted(args.folder.glob("*/deploy.prototxt"))
    if not prototxts:
        raise FileNotFoundError(f"{args.folder}: no <name>/deploy.prototxt inside")
    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    for prototxt in prototxts:
        r = verify(prototxt, args.work, seed=args.seed, onnx=True)
        results.append(r)
        if r.excluded:
            results.append(verify(prototxt, args.work, input_size=600, seed=args.seed, onnx=True))
    print(markdown(results))
    beyond = [r.name for r in results if r.worst > args.tolerance]
    if beyond:
        print(f"out of tolerance ({args.tolerance:g}): {', '.join(beyond)}")
    return 1 if beyond else 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_main(build_parser, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
