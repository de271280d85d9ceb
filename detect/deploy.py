"""Export a training checkpoint as a deploy model with NMS fused in, optionally INT8 or BF16.

The command line of ``deploy.py``; usage examples are in that file.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional, Sequence

from common import cli
from symbol import options


def build_parser() -> argparse.ArgumentParser:
    p = cli.make_parser("python deploy.py", "Export a deploy model (NMS fused) from a checkpoint.")
    cli.add_model_args(p)
    p.add_argument("--out", type=Path, required=True, help="output prefix of the deploy model")
    options.add_detection_args(p)
    g = p.add_argument_group("reduced precision (CPU, oneDNN)")
    g.add_argument("--quantize", choices=("int8", "bf16"), default=None,
                   help="int8: calibrated quantization (needs --calib-rec; also takes a deploy or "
                        "converted model as --prefix); bf16: bfloat16 convolutions, no calibration "
                        "(default: fp32)")
    g.add_argument("--calib-rec", type=Path, default=None, help="int8: images to calibrate on (.rec)")
    g.add_argument("--calib-images", type=cli.positive_int, default=64, help="int8: calibration images")
    g.add_argument("--calib-mode", choices=("naive", "entropy"), default="naive",
                   help="int8: min/max ranges or KL-optimal thresholds")
    g.add_argument("--exclude", default=None, metavar="REGEX", help="int8: layers kept in fp32")
    return p


def run(args: argparse.Namespace) -> int:
    from common import modelfile
    from detect.export import export
    meta = modelfile.load_meta(args.prefix)
    detection = options.detection_params(args, meta.detection)
    epoch = export(args.prefix, args.epoch, args.out, detection, args.command,
                   quantize=args.quantize, calib_rec=args.calib_rec, calib_images=args.calib_images,
                   calib_mode=args.calib_mode, exclude=args.exclude)
    print(f"wrote {modelfile.symbol_path(args.out)}, {modelfile.params_path(args.out, epoch)}, "
          f"{modelfile.meta_path(args.out)}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_main(build_parser, run, argv)
