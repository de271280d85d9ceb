"""Convert a Caffe SSD model into an MXNet deploy model (three files, like every model here).

Usage::

    python -m tools.caffe_converter.convert_model deploy.prototxt weights.caffemodel build/caffe/ssd300 \\
        --class-names voc --mean 104,117,123 --scale 1

writes ``build/caffe/ssd300-symbol.json``, ``-0000.params`` and ``-meta.json``.
The output is the project's detection tensor (B, K, 6) ``[class_id, score,
xmin, ymin, xmax, ymax]``, normalized, with Caffe's DetectionOutput
semantics (``tools/caffe_converter/detection.py``). The metadata holds the
input size, mean, scale (as ``std = 1 / scale``), channel order (Caffe
models take BGR; ``--rgb`` makes the model take RGB) and class names, so
``demo.py`` and ``evaluate.py`` run the model with no extra flags.

Caffe deploy files carry no preprocessing; the defaults are the original
SSD's (BGR mean 104, 117, 123, scale 1). MobileNet-SSD and SSDLite use
``--mean 127.5,127.5,127.5 --scale 0.007843``; OpenCV's face detector
``--mean 104,177,123``.
"""
from __future__ import annotations

import argparse
import logging
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Optional, Sequence

from common import cli, modelfile
from common.modelfile import ModelMeta
from dataset.records import DatasetError, read_class_names
from symbol.coding import DetectionParams
from tools.caffe_converter.caffemodel import read_caffemodel, read_prototxt
from tools.caffe_converter.convert import ConversionError, build, fill

log = logging.getLogger("caffe_converter")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Convert a Caffe SSD deploy model to MXNet.")
    p.add_argument("prototxt", type=Path)
    p.add_argument("caffemodel", type=Path)
    p.add_argument("out", type=Path, help="output prefix of the MXNet model")
    p.add_argument("--class-names", default=None,
                   help="voc, coco, comma-separated names or a file (default: class1, class2, ...)")
    p.add_argument("--mean", type=cli.triple, default=(104.0, 117.0, 123.0),
                   help="per-channel mean in the Caffe model's B,G,R order (default: 104,117,123)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiplier after mean subtraction (Caffe's transform_param scale)")
    p.add_argument("--rgb", action=argparse.BooleanOptionalAction, default=False,
                   help="make the model take RGB input (reverses the first layers' channels)")
    p.add_argument("--fold-batchnorm", action=argparse.BooleanOptionalAction, default=False,
                   help="fold BatchNorm/Scale after convolutions into their weights (exact)")
    p.add_argument("--input-size", type=int, default=None,
                   help="square input side overriding the prototxt's (priors follow)")
    return p


def convert(prototxt: Path, caffemodel: Path, out: Path, *, class_names=None, mean=(104.0, 117.0, 123.0),
            scale: float = 1.0, rgb: bool = False, fold_batchnorm: bool = False,
            input_size: Optional[int] = None, command: str = "") -> ModelMeta:
    """Convert and write the model; returns its metadata."""
    net = read_prototxt(prototxt)
    hw = (input_size, input_size) if input_size else None
    graph = build(net, input_hw=hw, fold_batchnorm=fold_batchnorm, rgb_input=rgb)
    _, _, height, width = graph.input_shape
    if height != width:
        raise ConversionError(f"{prototxt}: input {height}x{width} is not square; pass --input-size")
    args, auxs = fill(graph, read_caffemodel(caffemodel), where=str(caffemodel))
    det = graph.detection
    foreground = det.num_classes - (1 if 0 <= det.background_id < det.num_classes else 0)
    names = (read_class_names(class_names) if class_names
             else tuple(f"class{i + 1}" for i in range(foreground)))
    if len(names) != foreground:
        raise ConversionError(f"--class-names gives {len(names)} names; the model has {foreground} "
                              f"foreground classes (num_classes {det.num_classes}, background "
                              f"{det.background_id})")
    order = "RGB" if rgb else "BGR"
    mean = tuple(mean[::-1]) if rgb else tuple(mean)
    detection = DetectionParams(nms_threshold=det.nms_threshold, nms_topk=det.top_k,
                                force_suppress=False, threshold=max(det.confidence_threshold, 0.0))
    meta = ModelMeta(kind="deploy", network=f"caffe:{net.name or prototxt.stem}", data_shape=height,
                     class_names=names, mean=mean, std=(1.0 / scale,) * 3, channel_order=order,
                     detection=asdict(detection),
                     made_by={"converted_from": [str(prototxt), str(caffemodel)], "command": command,
                              "caffe_detection": asdict(det), "fold_batchnorm": fold_batchnorm,
                              "detection_layer": _detection_layer(net)})
    modelfile.save_model(out, 0, graph.symbol, args, auxs, meta, only_epoch=True)
    return meta


def _detection_layer(net) -> str:
    return next(layer.name for layer in net.layer if layer.type == "DetectionOutput")


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    cli.setup_logging()
    start = time.time()
    try:
        meta = convert(args.prototxt, args.caffemodel, args.out, class_names=args.class_names,
                       mean=args.mean, scale=args.scale, rgb=args.rgb, fold_batchnorm=args.fold_batchnorm,
                       input_size=args.input_size,
                       command="python -m tools.caffe_converter.convert_model "
                               + " ".join(shlex.quote(a) for a in argv))
    except (ConversionError, DatasetError, FileNotFoundError) as err:
        return cli.print_error(err)
    print(f"wrote {modelfile.symbol_path(args.out)}, {modelfile.params_path(args.out, 0)}, "
          f"{modelfile.meta_path(args.out)}: {meta.data_shape}x{meta.data_shape} {meta.channel_order}, "
          f"{meta.num_classes} classes, {time.time() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
