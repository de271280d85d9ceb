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
import sys
from typing import Dict, Optional, Sequence

from common import runtime

runtime.configure()  # thread settings must precede the first import of mxnet

import cv2  # noqa: E402
import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402

from common import cli, modelfile  # noqa: E402
from detect.model import forward_nodes  # noqa: E402
from symbol import detection_layout as rows  # noqa: E402
from tools.caffe_converter.random_model import probe_input  # noqa: E402

DEFAULT_BLOBS = ("mbox_loc", "mbox_conf_flatten", "mbox_priorbox")


def opencv_forward(prototxt, caffemodel, blob: np.ndarray, names: Sequence[str]) -> Dict[str, np.ndarray]:
    """OpenCV DNN outputs of the layers ``names`` for the NCHW input ``blob``."""
    net = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))
    net.enableFusion(False)  # fused layers would report activations/sums as their outputs
    net.setInput(blob.astype(np.float32))
    outs = net.forward(list(names))
    return {n: np.asarray(o) for n, o in zip(names, outs)}


def mxnet_forward(prefix, blob: np.ndarray, names: Sequence[str]) -> Dict[str, np.ndarray]:
    """Converted-model outputs: ``detection`` plus the internal outputs of Caffe layers ``names``."""
    symbol = mx.sym.load(str(modelfile.symbol_path(prefix)))
    outputs = set(symbol.get_internals().list_outputs())
    for n in names:
        if f"{n}_output" not in outputs:
            raise KeyError(f"layer {n!r} is not in {modelfile.symbol_path(prefix)}")
    args, auxs = modelfile.load_params(prefix, modelfile.resolve_epoch(prefix, None))
    outs = forward_nodes(symbol, args, auxs, blob, [symbol.name, *names])
    return dict(zip(["detection", *names], outs))


#: Columns of OpenCV's DetectionOutput rows ``[image, label, score, xmin, ymin, xmax, ymax]``.
CV_IMAGE, CV_LABEL, CV_SCORE = 0, 1, 2
CV_BOX = slice(3, 7)


def opencv_detections(opencv_rows: np.ndarray, background_id: int = 0, image: int = 0) -> np.ndarray:
    """OpenCV's detections of ``image`` as rows of ``symbol.detection_layout`` (normalized).

    OpenCV's labels count the background (label 0) when ``background_id`` is 0; its
    zero-score rows pad a batch.
    """
    theirs = np.asarray(opencv_rows).reshape(-1, 7)
    theirs = theirs[(theirs[:, CV_IMAGE] == image) & (theirs[:, CV_SCORE] > 0)]
    out = np.zeros((len(theirs), rows.ROW_WIDTH), theirs.dtype)
    out[:, rows.CLASS_ID] = theirs[:, CV_LABEL] - (1 if background_id == 0 else 0)
    out[:, rows.SCORE] = theirs[:, CV_SCORE]
    out[:, rows.BOX] = theirs[:, CV_BOX]
    return out


def match_detections(opencv_rows: np.ndarray, ours: np.ndarray, background_id: int = 0) -> float:
    """Max abs difference between OpenCV's and our detections of image 0 (inf if counts differ).

    ``opencv_rows`` (1, 1, K, 7); ``ours`` (B, N, 6) with -1 rows. Each OpenCV
    row is paired with the closest unpaired row of ours (scores that tie to
    float precision may be ordered differently by the two sorts).
    """
    theirs = opencv_detections(opencv_rows, background_id)
    mine = rows.valid(ours[0])
    if len(theirs) != len(mine):
        return float("inf")
    free = np.ones(len(mine), bool)
    worst = 0.0
    for row in rows.by_score(theirs):
        dist = np.where(free, np.abs(mine - row).max(axis=1), np.inf)
        best = int(np.argmin(dist))
        free[best] = False
        worst = max(worst, float(dist[best]))
    return worst


def input_blob(meta, image: Optional[str], seed: int = 0) -> np.ndarray:
    size = meta.data_shape
    if image is None:
        return probe_input((1, 3, size, size), seed)
    from detect.model import preprocess
    bgr = cv2.imread(image)
    if bgr is None:
        raise FileNotFoundError(f"{image}: not a readable image")
    return preprocess(bgr, meta)[None]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Compare a converted Caffe SSD model with OpenCV DNN.")
    p.add_argument("prototxt")
    p.add_argument("caffemodel")
    p.add_argument("prefix", help="converted model prefix")
    p.add_argument("--image", default=None, help="input image (default: seeded noise)")
    p.add_argument("--blobs", nargs="*", default=list(DEFAULT_BLOBS), help="Caffe layers to compare")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        meta = modelfile.load_meta(args.prefix)
        blob = input_blob(meta, args.image)
        detection_layer = meta.made_by.get("detection_layer", "detection_out")
        theirs = opencv_forward(args.prototxt, args.caffemodel, blob, [*args.blobs, detection_layer])
        ours = mxnet_forward(args.prefix, blob, args.blobs)
    except (ValueError, KeyError, FileNotFoundError, cv2.error) as err:
        return cli.print_error(err)
    background = int(meta.made_by.get("background_label_id", 0))
    for name in args.blobs:
        a, b = theirs[name], ours[name]
        diff = float(np.abs(a.reshape(-1) - b.reshape(-1)).max()) if a.size == b.size else np.inf
        print(f"{name:32s} shape {tuple(b.shape)}  max |OpenCV - MXNet| = {diff:.3g}")
    n = len(rows.valid(ours["detection"][0]))
    diff = match_detections(theirs[detection_layer], ours["detection"], background)
    print(f"{'detections':32s} {n} rows          max |OpenCV - MXNet| = {diff:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
