"""Compare an ONNX export with the MXNet model it came from, detection for detection.

Usage::

    python -m tools.onnx_compare --prefix model/ssd_mobilenet0.5_synthetic --onnx build/onnx/ssd.onnx \\
        --rec data/synthetic/val.rec

Both models run on the same images (the ``.rec``'s, or image files); rows are
matched per image (``detect.compare``). Exits 1 when a row has no partner
or a difference exceeds ``--box-tol``/``--score-tol``.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional, Sequence

from common import cli
from symbol import options


def build_parser() -> argparse.ArgumentParser:
    p = cli.make_parser("python -m tools.onnx_compare", "Compare an ONNX export with its MXNet model.")
    cli.add_model_args(p)
    p.add_argument("--onnx", type=Path, required=True, help="the .onnx file")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--rec", type=Path, help="images of a packed .rec")
    src.add_argument("--images", nargs="+", help="image files, folders or glob patterns")
    p.add_argument("--limit", type=cli.positive_int, default=None, help="at most this many images")
    p.add_argument("--box-tol", type=cli.positive_float, default=1e-4, help="largest box difference allowed")
    p.add_argument("--score-tol", type=cli.positive_float, default=1e-5,
                   help="largest score difference allowed")
    options.add_detection_args(p)
    cli.add_engine_args(p)
    return p


def run(args: argparse.Namespace) -> int:
    from common.images import read_image
    from dataset.recordio import num_records, read_images
    from detect.compare import compare
    from detect.demo import expand_inputs
    from detect.loading import load_detector, load_meta
    detection = options.detection_params(args, load_meta(args.prefix).detection)
    mxnet = load_detector(args.prefix, args.epoch, detection=detection)
    onnx = load_detector(str(args.onnx), detection=detection, engine=args.engine, precision=args.precision)
    if args.rec:
        images = read_images(args.rec, args.limit or num_records(args.rec))
    else:
        images = [read_image(p) for p in expand_inputs(args.images)[:args.limit]]
    result = compare(mxnet, onnx, images)
    print(f"{args.prefix} vs {args.onnx}: {result}")
    return 0 if result.within(args.box_tol, args.score_tol) else 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_main(build_parser, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
