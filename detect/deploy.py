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
    p.add_argument("--out", type=Path, required=True,
                   help="output prefix of the deploy model (with --format onnx: writes OUT.onnx)")
    p.add_argument("--format", choices=("mxnet", "onnx"), default="mxnet",
                   help="mxnet: the three MXNet files; onnx: one self-contained .onnx file (detection "
                        "stage inside, runs in ONNX Runtime, TensorRT, OpenCV, ...)")
    options.add_detection_args(p)
    g = p.add_argument_group("reduced precision (CPU, oneDNN)")
    g.add_argument("--quantize", choices=("int8", "bf16"), default=None,
                   help="int8: calibrated quantization (needs --calib-rec; also takes a deploy or "
                        "converted model as --prefix); bf16: bfloat16 convolutions, no calibration "
                        "(default: fp32)")
    calib = g.add_mutually_exclusive_group()
    calib.add_argument("--calib-rec", type=Path, default=None, help="int8: images to calibrate on (.rec)")
    calib.add_argument("--calib-dir", type=Path, default=None,
                       help="int8: a folder of images to calibrate on (no labels needed), e.g. photos "
                            "like those the model will see")
    g.add_argument("--calib-images", type=cli.positive_int, default=64,
                   help="int8: how many calibration images (fewer when the source has fewer)")
    g.add_argument("--calib-mode", choices=("naive", "entropy"), default="naive",
                   help="int8: min/max ranges or KL-optimal thresholds")
    g.add_argument("--exclude", default=None, metavar="REGEX", help="int8: layers kept in fp32")
    return p


def _run_onnx(args: argparse.Namespace) -> int:
    import tempfile

    from detect.loading import is_onnx, load_meta
    from detect.onnx.export import export_onnx, onnx_path
    from detect.onnx.quantize import quantize_int8
    if args.quantize == "bf16":
        raise ValueError("--quantize bf16 is for MXNet models; ONNX files are fp32 or, with --quantize int8, "
                         "INT8")
    if args.exclude:
        raise ValueError("--exclude applies to MXNet INT8 models only")
    out = onnx_path(args.out)
    if args.quantize == "int8":
        calibration = _calibration(args)
        with tempfile.TemporaryDirectory() as work:
            source = args.prefix if is_onnx(args.prefix) else export_onnx(
                args.prefix, args.epoch, Path(work) / "fp32", options.detection_params(
                    args, load_meta(args.prefix).detection), args.command)
            quantize_int8(Path(source), out, calibration, args.calib_mode)
    else:
        if is_onnx(args.prefix):
            raise ValueError(f"--prefix {args.prefix} is already an ONNX model (--quantize int8 quantizes "
                             "it)")
        detection = options.detection_params(args, load_meta(args.prefix).detection)
        export_onnx(args.prefix, args.epoch, out, detection, args.command)
    print(f"wrote {out}")
    return 0


def _calibration(args: argparse.Namespace):
    """The calibration images of ``--calib-rec``/``--calib-dir`` (checked), for ``--quantize int8``."""
    from detect.calibration import CalibrationSource
    path = args.calib_rec or args.calib_dir
    if path is None:
        raise ValueError("--quantize int8 needs --calib-rec or --calib-dir (images to calibrate on)")
    if args.calib_dir is not None and args.calib_dir.exists() and not args.calib_dir.is_dir():
        raise ValueError(f"--calib-dir {args.calib_dir}: not a folder (a .rec goes to --calib-rec)")
    if args.calib_rec is not None and args.calib_rec.is_dir():
        raise ValueError(f"--calib-rec {args.calib_rec}: a folder (images in a folder go to --calib-dir)")
    source = CalibrationSource(path, args.calib_images)
    source.check()
    return source


def run(args: argparse.Namespace) -> int:
    from common import modelfile
    from detect.export import export
    if args.format == "onnx":
        return _run_onnx(args)
    meta = modelfile.load_meta(args.prefix)
    detection = options.detection_params(args, meta.detection)
    calibration = _calibration(args) if args.quantize == "int8" else None
    epoch = export(args.prefix, args.epoch, args.out, detection, args.command, quantize=args.quantize,
                   calibration=calibration, calib_mode=args.calib_mode, exclude=args.exclude)
    print(f"wrote {modelfile.symbol_path(args.out)}, {modelfile.params_path(args.out, epoch)}, "
          f"{modelfile.meta_path(args.out)}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_main(build_parser, run, argv)
