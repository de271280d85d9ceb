"""Check the converter on a folder of Caffe SSD deploy prototxts against OpenCV DNN.

For every ``<folder>/<name>/deploy.prototxt``: write deterministic random
weights (``random_model``), convert (timed), run both OpenCV DNN and the
converted model on the probe input, and report the largest differences of
the priors, box offsets, class scores and detections. Prints a markdown table.

Usage::

    python -m tools.caffe_converter.verify ../shared/caffe_ssd --work build/caffe_verify

OpenCV 4.10 computes a 3x3 depthwise convolution with pad 1 on a 1x1 map
wrongly (it reads outside the map); MobileNetV2-SSDLite's last head is such a
layer at 300x300. Where a model has one, its values are left out of the
comparison at the native size (``excluded`` counts them) and the model is
compared whole at 600x600, where that map is 2x2.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Sequence

from common import runtime

runtime.configure()  # thread settings must precede the first import of mxnet

import numpy as np  # noqa: E402

from symbol import detection_layout as rows  # noqa: E402
from tools.caffe_converter.caffemodel import read_prototxt  # noqa: E402
from tools.caffe_converter.compare import match_detections, mxnet_forward, opencv_forward  # noqa: E402
from tools.caffe_converter.convert import build  # noqa: E402
from tools.caffe_converter.convert_model import convert  # noqa: E402
from tools.caffe_converter.random_model import probe_input, write_random_caffemodel  # noqa: E402

BLOBS = ("mbox_loc", "mbox_conf_flatten", "mbox_priorbox")


@dataclass
class Result:
    name: str
    input_size: int
    convert_seconds: float
    blob_diffs: Dict[str, float]
    detections: int
    detection_diff: Optional[float]  # None when detections were not comparable (excluded head)
    excluded: int

    @property
    def worst(self) -> float:
        diffs = list(self.blob_diffs.values())
        return max(diffs + ([self.detection_diff] if self.detection_diff is not None else []))


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


def verify(prototxt: Path, work: Path, input_size: Optional[int] = None, seed: int = 0,
           **convert_options) -> Result:
    """Convert ``prototxt`` with random weights and compare it with OpenCV DNN."""
    name = prototxt.parent.name
    weights = work / f"{name}.caffemodel"
    if not weights.is_file():
        write_random_caffemodel(prototxt, weights, seed=seed)
    prefix = work / f"{name}_{input_size or 'native'}"
    start = time.time()
    meta = convert(prototxt, weights, prefix, input_size=input_size, **convert_options)
    seconds = time.time() - start
    blob = probe_input((1, 3, meta.data_shape, meta.data_shape), seed)
    blob_ours = blob[:, ::-1].copy() if meta.channel_order == "RGB" else blob
    layer = meta.made_by["detection_layer"]
    theirs = opencv_forward(prototxt, weights, blob, [*BLOBS, layer])
    ours = mxnet_forward(prefix, blob_ours, BLOBS)
    net = read_prototxt(prototxt)
    tail = one_by_one_depthwise_tail(net, build(net, input_hw=(meta.data_shape,) * 2))
    diffs = {}
    for b in BLOBS:
        a, o = theirs[b].reshape(-1), ours[b].reshape(-1)
        cut = tail.get(b, 0)
        diffs[b] = float(np.abs(a[:a.size - cut] - o[:o.size - cut]).max()) if a.size == o.size else np.inf
    det_diff = None if tail else match_detections(
        theirs[layer], ours["detection"], meta.made_by["caffe_detection"]["background_id"])
    count = len(rows.valid(ours["detection"][0]))
    return Result(name, meta.data_shape, seconds, diffs, count, det_diff, sum(tail.values()))


def markdown(results) -> str:
    lines = ["| model | input | convert (s) | mbox_loc | mbox_conf | priors | detections | max diff |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        det = "n/a" if r.detection_diff is None else f"{r.detection_diff:.1e}"
        note = f" ({r.excluded} values of the 1x1 head left out)" if r.excluded else ""
        lines.append(f"| {r.name}{note} | {r.input_size} | {r.convert_seconds:.1f} | "
                     f"{r.blob_diffs['mbox_loc']:.1e} | {r.blob_diffs['mbox_conf_flatten']:.1e} | "
                     f"{r.blob_diffs['mbox_priorbox']:.1e} | {r.detections} rows, {det} | {r.worst:.1e} |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Verify the converter on Caffe SSD prototxts against OpenCV.")
    p.add_argument("folder", type=Path, help="folder of <name>/deploy.prototxt")
    p.add_argument("--work", type=Path, default=Path("build/caffe_verify"))
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    for prototxt in sorted(args.folder.glob("*/deploy.prototxt")):
        r = verify(prototxt, args.work, seed=args.seed)
        results.append(r)
        if r.excluded:
            results.append(verify(prototxt, args.work, input_size=600, seed=args.seed))
    print(markdown(results))
    return 0 if all(r.worst <= 1e-4 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
