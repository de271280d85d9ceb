"""A converted Caffe SSD model written as this project's three model files (``common.modelfile``).

The output is the project's detection tensor (B, K, 6) ``[class_id, score,
xmin, ymin, xmax, ymax]``, normalized, with Caffe's DetectionOutput
semantics (``symbol/caffe_detection.py``). The metadata holds the
input size, mean, scale (as ``std = 1 / scale``), channel order and class
names, so ``demo.py`` and ``evaluate.py`` run the model with no extra flags.
"""
from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

from common import modelfile
from common.modelmeta import ModelMeta
from dataset.records import read_class_names
from symbol.coding import DetectionParams
from tools.caffe_converter import published
from tools.caffe_converter.caffemodel import read_caffemodel, read_prototxt
from tools.caffe_converter.convert import ConversionError, build, fill

log = logging.getLogger(__name__)


def convert(prototxt: Path, caffemodel: Path, out: Path, *,
            class_names: Union[str, Sequence[str], None] = None,
            mean: Optional[Tuple[float, float, float]] = None, scale: Optional[float] = None,
            rgb: bool = False, fold_batchnorm: bool = False, input_size: Optional[int] = None,
            display_name: Optional[str] = None, command: str = "") -> ModelMeta:
    """Convert and write the model; returns its metadata.

    Settings left as None come from the table of published models when it knows the
    caffemodel (``tools.caffe_converter.published``), else from generic defaults (the
    original SSD's BGR mean, scale 1, the prototxt's input size, ``class1``...), which are
    announced as assumed. Settings given win and are recorded in ``made_by``.
    ``mean`` is in the Caffe model's BGR order, pixels.
    """
    caffemodel = Path(caffemodel)
    pre = published.resolve(caffemodel, mean=mean, scale=scale, input_size=input_size,
                            class_names=class_names, display_name=display_name)
    for level, line in published.messages(pre, caffemodel):
        log.log(level, line)
    mean, scale, input_size = pre.values["mean"], pre.values["scale"], pre.values["input_size"]
    class_names = pre.values["class_names"]
    net = read_prototxt(prototxt)
    hw = (input_size, input_size) if input_size else None
    graph = build(net, input_hw=hw, fold_batchnorm=fold_batchnorm, rgb_input=rgb)
    _, _, height, width = graph.input_shape
    if height != width:
        raise ConversionError(f"{prototxt}: input {height}x{width} is not square; pass --input-size")
    args, auxs = fill(graph, read_caffemodel(caffemodel), where=str(caffemodel))
    det = graph.detection
    foreground = det.num_classes - (1 if 0 <= det.background_id < det.num_classes else 0)
    if class_names is None:
        names = tuple(f"class{i + 1}" for i in range(foreground))
    else:
        names = read_class_names(class_names) if isinstance(class_names, str) else tuple(class_names)
    if len(names) != foreground:
        raise ConversionError(f"--class-names gives {len(names)} names; the model has {foreground} "
                              f"foreground classes (num_classes {det.num_classes}, background "
                              f"{det.background_id})")
    order = "RGB" if rgb else "BGR"
    mean = tuple(mean[::-1]) if rgb else tuple(mean)
    detection = DetectionParams(nms_threshold=det.nms_threshold, nms_topk=det.top_k,
                                force_suppress=False, threshold=max(det.confidence_threshold, 0.0))
    name = net.name or (pre.published.key if pre.published else prototxt.stem)
    meta = ModelMeta(kind="deploy", network=f"caffe:{name}", data_shape=height,
                     class_names=names, mean=mean, std=(1.0 / scale,) * 3, channel_order=order,
                     detection=asdict(detection), display_name=pre.values["display_name"],
                     made_by={"converted_from": [str(prototxt), str(caffemodel)], "command": command,
                              **pre.record(),
                              "caffe_detection": asdict(det), "fold_batchnorm": fold_batchnorm,
                              "detection_layer": _detection_layer(net),
                              "detection_inputs": list(graph.detection_inputs)})
    modelfile.save_model(out, 0, graph.symbol, args, auxs, meta, only_epoch=True)
    return meta


def _detection_layer(net) -> str:
    return next(layer.name for layer in net.layer if layer.type == "DetectionOutput")
