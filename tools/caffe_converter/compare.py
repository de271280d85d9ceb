"""Run a Caffe SSD model in OpenCV DNN and its conversion in MXNet on the same input; print differences.

Usage::

    python -m tools.caffe_converter.compare PROTOTXT CAFFEMODEL MXNET_PREFIX \\
        [--image photo.jpg] [--blobs mbox_loc mbox_conf_flatten mbox_priorbox]

The input blob is the image preprocessed as the converted model's metadata
says (or, without ``--image``, the probe input of ``random_model``: seeded
uniform noise in [-1, 1], the input random weights are calibrated on).
Detections are compared after matching rows: OpenCV's rows are
``[image, label, score, x1, y1, x2, y2]`` sorted by score (zero rows pad a
batch), the converted model's ``[class_id, score, x1, y1, x2, y2]`` with
``class_id = label - 1`` when the background is label 0.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional, Sequence

from common import cli, errors


def build_parser() -> argparse.ArgumentParser:
    p = cli.make_parser("python -m tools.caffe_converter.compare",
                        "Compare a converted Caffe SSD model with OpenCV DNN.")
    p.add_argument("prototxt", type=Path, help="Caffe deploy.prototxt")
    p.add_argument("caffemodel", type=Path, help="Caffe weights")
    p.add_argument("prefix", help="converted model prefix")
    p.add_argument("--image", default=None, help="input image (default: seeded noise)")
    p.add_argument("--blobs", nargs="*", default=None,
                   help="Caffe layers to compare (default: mbox_loc mbox_conf_flatten mbox_priorbox)")
    return p


def run(args: argparse.Namespace) -> int:
    import cv2
    import numpy as np

    from common import modelfile
    from symbol import detection_layout as rows
    from tools.caffe_converter.opencv_check import (
        DEFAULT_BLOBS,
        input_blob,
        match_detections,
        mxnet_forward,
        opencv_forward,
    )
    args.blobs = args.blobs or list(DEFAULT_BLOBS)
    meta = modelfile.load_meta(args.prefix)
    blob = input_blob(meta, args.image)
    detection_layer = meta.made_by.get("detection_layer", "detection_out")
    try:
        theirs = opencv_forward(args.prototxt, args.caffemodel, blob, [*args.blobs, detection_layer])
    except cv2.error as err:
        reason = errors.reason(err)
        raise ValueError(f"{args.prototxt}: OpenCV cannot run it: {reason}") from None
    ours = mxnet_forward(args.prefix, blob, args.blobs)
    background = int(meta.made_by.get("background_label_id", 0))
    for name in args.blobs:
        a, b = theirs[name], ours[name]
        diff = float(np.abs(a.reshape(-1) - b.reshape(-1)).max()) if a.size == b.size else np.inf
        print(f"{name:32s} shape {tuple(b.shape)}  max |OpenCV - MXNet| = {diff:.3g}")
    n = len(rows.valid(ours["detection"][0]))
    diff = match_detections(theirs[detection_layer], ours["detection"], background)
    print(f"{'detections':32s} {n} rows          max |OpenCV - MXNet| = {diff:.3g}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_main(build_parser, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
