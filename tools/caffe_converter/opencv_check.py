"""The converter's independent check: OpenCV DNN and the converted MXNet model on the same input.

``compare_*``: named Caffe blobs and matched detections of one model;
``verify``: the whole check of one prototxt with random weights (write
weights, convert, compare). OpenCV's detection rows
``[image, label, score, xmin, ymin, xmax, ymax]`` are turned into this
project's rows (``symbol.detection_layout``) before matching.

OpenCV 4.10 computes a 3x3 depthwise convolution with pad 1 on a 1x1 map
wrongly (it reads outside the map); MobileNetV2-SSDLite's last head is such a
layer at 300x300. Where a model has one, its values are left out of the
comparison at the native size (``excluded`` counts them) and the model is
compared whole at 600x600, where that map is 2x2.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Sequence

import cv2
import numpy as np

from common import modelfile
from common.images import read_image
from detect.compare import match
from detect.model import forward_nodes
from symbol import detection_layout as rows
from symbol.defaults import CAFFE_SSD_MEAN
from tools.caffe_converter.caffemodel import read_prototxt
from tools.caffe_converter.convert import build
from tools.caffe_converter.model_writer import convert
from tools.caffe_converter.random_weights import probe_input, write_random_caffemodel

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
    symbol = modelfile.load_symbol(prefix)
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
    """Max abs difference between OpenCV's and our detections of image 0 (inf if a row has no partner).

    ``opencv_rows`` (1, 1, K, 7); ``ours`` (B, N, 6) with -1 rows. Rows are paired by
    ``detect.compare.match`` (same class, closest; scores that tie to float precision may
    be ordered differently by the two sorts).
    """
    unmatched, box, score = match(opencv_detections(opencv_rows, background_id), ours[0])
    return float("inf") if unmatched else max(box, score)


def input_blob(meta, image: Optional[str], seed: int = 0) -> np.ndarray:
    size = meta.data_shape
    if image is None:
        return probe_input((1, 3, size, size), seed)
    from detect.detector import preprocess
    return preprocess(read_image(image), meta)[None]




@dataclass
class Result:
    name: str
    input_size: int
    convert_seconds: float
    blob_diffs: Dict[str, float]
    detections: int
    detection_diff: Optional[float]  # None when detections were not comparable (excluded head)
    excluded: int
    onnx_diff: Optional[float] = None  # the ONNX export's detections vs OpenCV's (with onnx=True)

    @property
    def worst(self) -> float:
        diffs = list(self.blob_diffs.values())
        return max(diffs + [d for d in (self.detection_diff, self.onnx_diff) if d is not None])


def one_by_one_depthwise_tail(net, graph) -> Dict[str, int]:
    """Trailing values of mbox_loc / mbox_conf_flatten from a head on a 1x1 map after a depthwise conv."""
    concat = next((layer for layer in net.layer if layer.name == "mbox_loc"), None)
    if concat is None:
        return {}
    producer = next(layer.name for layer in net.layer if concat.bottom[-1] in layer.top)
    shape = graph.layer_outputs[producer].infer_shape(data=graph.input_shape)[1][0]
    depthwise = [layer for layer in net.layer if layer.type == "Convolution"
                 and layer.convolution_param.group > 1 and "mbox" in layer.name]
    def spatial(layer):
        return tuple(graph.layer_outputs[layer.name].infer_shape(data=graph.input_shape)[1][0][2:])
    if not any(spatial(d) == (1, 1) for d in depthwise):
        return {}
    return {"mbox_loc": shape[1], "mbox_conf_flatten": shape[1] // 4 * graph.detection.num_classes}


def onnx_detections(prefix, meta, blob: np.ndarray) -> np.ndarray:
    """The ONNX export of the converted model at ``prefix`` on the network input ``blob`` (B, N, 6)."""
    from detect.onnx.export import export_onnx
    from detect.onnx.runtime import OnnxDetector
    from symbol.coding import DetectionParams
    path = export_onnx(prefix, None, prefix, DetectionParams(**meta.detection))
    raw = blob * np.array(meta.std, np.float32).reshape(1, 3, 1, 1) + np.array(meta.mean, np.float32).reshape(
        1, 3, 1, 1)
    return OnnxDetector(path).forward(raw.astype(np.float32))


def verify(prototxt: Path, work: Path, input_size: Optional[int] = None, seed: int = 0, onnx: bool = False,
           **convert_options) -> Result:
    """Convert ``prototxt`` with random weights and compare it (and, with ``onnx``, its ONNX export)
    with OpenCV DNN."""
    name = prototxt.parent.name
    weights = work / f"{name}.caffemodel"
    if not weights.is_file():
        write_random_caffemodel(prototxt, weights, seed=seed)
    prefix = work / f"{name}_{input_size or 'native'}"
    start = time.time()
    # random weights: the original SSD's preprocessing, given (not assumed) so that nothing is warned about
    options = dict(dict(mean=CAFFE_SSD_MEAN, scale=1.0), **convert_options)
    meta = convert(prototxt, weights, prefix, input_size=input_size, **options)
    seconds = time.time() - start
    blob = probe_input((1, 3, meta.data_shape, meta.data_shape), seed)
    blob_ours = blob[:, ::-1].copy() if meta.channel_order == "RGB" else blob
    layer = meta.made_by["detection_layer"]
    theirs = opencv_forward(prototxt, weights, blob, [*DEFAULT_BLOBS, layer])
    ours = mxnet_forward(prefix, blob_ours, DEFAULT_BLOBS)
    net = read_prototxt(prototxt)
    tail = one_by_one_depthwise_tail(net, build(net, input_hw=(meta.data_shape,) * 2))
    diffs = {}
    for b in DEFAULT_BLOBS:
        a, o = theirs[b].reshape(-1), ours[b].reshape(-1)
        cut = tail.get(b, 0)
        diffs[b] = float(np.abs(a[:a.size - cut] - o[:o.size - cut]).max()) if a.size == o.size else np.inf
    det_diff = None if tail else match_detections(
        theirs[layer], ours["detection"], meta.made_by["caffe_detection"]["background_id"])
    count = len(rows.valid(ours["detection"][0]))
    background = meta.made_by["caffe_detection"]["background_id"]
    onnx_diff = (match_detections(theirs[layer], onnx_detections(prefix, meta, blob_ours), background)
                 if onnx and not tail else None)
    return Result(name, meta.data_shape, seconds, diffs, count, det_diff, sum(tail.values()), onnx_diff)


def markdown(results) -> str:
    lines = ["| model | input | convert (s) | mbox_loc | mbox_conf | priors | detections | ONNX detections "
             "| max diff |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        det = "n/a" if r.detection_diff is None else f"{r.detection_diff:.1e}"
        onnx = "n/a" if r.onnx_diff is None else f"{r.onnx_diff:.1e}"
        note = f" ({r.excluded} values of the 1x1 head left out)" if r.excluded else ""
        lines.append(f"| {r.name}{note} | {r.input_size} | {r.convert_seconds:.1f} | "
                     f"{r.blob_diffs['mbox_loc']:.1e} | {r.blob_diffs['mbox_conf_flatten']:.1e} | "
                     f"{r.blob_diffs['mbox_priorbox']:.1e} | {r.detections} rows, {det} | {onnx} | "
                     f"{r.worst:.1e} |")
    return "\n".join(lines)
