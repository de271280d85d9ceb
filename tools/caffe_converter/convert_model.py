"""Convert a Caffe SSD model into an MXNet deploy model (three files, like every model here).

Usage::

    python -m tools.caffe_converter.convert_model deploy.prototxt weights.caffemodel build/caffe/ssd300 \\
        --class-names voc --mean 104,117,123 --scale 1

writes ``build/caffe/ssd300-symbol.json``, ``-0000.params`` and ``-meta.json``.
The output is the project's detection tensor (B, K, 6) ``[class_id, score,
xmin, ymin, xmax, ymax]``, normalized, with Caffe's DetectionOutput
semantics (``symbol/caffe_detection.py``). The metadata holds the
input size, mean, scale (as ``std = 1 / scale``), channel order (Caffe
models take BGR; ``--rgb`` makes the model take RGB) and class names, so
``demo.py`` and ``evaluate.py`` run the model with no extra flags.

Caffe deploy files carry no preprocessing. A published caffemodel the
converter knows by its SHA-256 (``tools.caffe_converter.published``; OpenCV's
face detector) gets its authors' preprocessing, class names and display name
with no flags. For any other model, the settings not given are the original
SSD's (BGR mean 104, 117, 123, scale 1), and a missing ``--mean`` is warned
about. MobileNet-SSD and SSDLite use ``--mean 127.5,127.5,127.5 --scale
0.007843``. Flags given always win; they are named on stderr and recorded in
the metadata (``made_by.flags_given``).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Optional, Sequence

from common import cli


def build_parser() -> argparse.ArgumentParser:
    p = cli.make_parser("python -m tools.caffe_converter.convert_model",
                        "Convert a Caffe SSD deploy model to MXNet.")
    p.add_argument("prototxt", type=Path, help="the Caffe model's deploy.prototxt (network definition)")
    p.add_argument("caffemodel", type=Path, help="the Caffe model's weights (.caffemodel)")
    p.add_argument("out", type=Path, help="output prefix of the MXNet model")
    p.add_argument("--class-names", default=None,
                   help="voc, coco, comma-separated names or a file (default: a published model's, else "
                        "class1, class2, ...)")
    p.add_argument("--mean", type=cli.triple, default=None,
                   help="per-channel mean in the Caffe model's B,G,R order (default: a published model's, "
                        "else 104,117,123 with a warning)")
    p.add_argument("--scale", type=cli.positive_float, default=None,
                   help="multiplier after mean subtraction, Caffe's transform_param scale (default: a "
                        "published model's, else 1)")
    p.add_argument("--display-name", default=None,
                   help="the name users see, e.g. in the web service (default: a published model's, else the "
                        "output's file name)")
    p.add_argument("--rgb", action=argparse.BooleanOptionalAction, default=False,
                   help="make the model take RGB input (reverses the first layers' channels)")
    p.add_argument("--fold-batchnorm", action=argparse.BooleanOptionalAction, default=False,
                   help="fold BatchNorm/Scale after convolutions into their weights (exact)")
    p.add_argument("--input-size", type=cli.positive_int, default=None,
                   help="square input side (priors follow; default: a published model's, else the "
                        "prototxt's)")
    p.add_argument("--onnx", action=argparse.BooleanOptionalAction, default=False,
                   help="also write OUT.onnx, the same model for ONNX Runtime (DetectionOutput's semantics "
                        "as ONNX operators)")
    return p


def run(args: argparse.Namespace) -> int:
    from common import modelfile
    from tools.caffe_converter.model_writer import convert
    start = time.time()
    meta = convert(args.prototxt, args.caffemodel, args.out, class_names=args.class_names, mean=args.mean,
                   scale=args.scale, rgb=args.rgb, fold_batchnorm=args.fold_batchnorm,
                   input_size=args.input_size, display_name=args.display_name, command=args.command)
    print(f"wrote {modelfile.symbol_path(args.out)}, {modelfile.params_path(args.out, 0)}, "
          f"{modelfile.meta_path(args.out)}: {meta.name_for(args.out)}, {meta.data_shape}x{meta.data_shape} "
          f"{meta.channel_order}, {meta.num_classes} classes, {time.time() - start:.1f} s")
    if args.onnx:
        from detect.onnx.export import export_onnx
        from symbol.coding import DetectionParams
        print(f"wrote {export_onnx(args.out, 0, args.out, DetectionParams(**meta.detection), args.command)}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_main(build_parser, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
