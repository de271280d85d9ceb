"""Prototxts of the released VGG16 SSD300 layout (ssd_pascal.py), at any width: the project's own,
for tests that must run without ../shared. ``vgg_ssd300(width=1/16)`` matches the preset
``vgg16_reduced_tiny_300``; ``classifier=True`` stops at fc7 and adds a classifier (VGG16 fc-reduced)."""
from __future__ import annotations

from typing import Sequence, Union

STAGES = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))
#: (source layer, boxes per location, min size, max size, step, extra aspect ratios)
HEADS = (("conv4_3_norm", 4, 30, 60, 8, (2,)), ("fc7", 6, 60, 111, 16, (2, 3)),
         ("conv6_2", 6, 111, 162, 32, (2, 3)), ("conv7_2", 6, 162, 213, 64, (2, 3)),
         ("conv8_2", 4, 213, 264, 100, (2,)), ("conv9_2", 4, 264, 315, 300, (2,)))
#: the extra layers after fc7: (name, 1x1 channels, 3x3 channels, 3x3 stride, 3x3 pad)
EXTRAS = (("conv6", 256, 512, 2, 1), ("conv7", 128, 256, 2, 1), ("conv8", 128, 256, 1, 0),
          ("conv9", 128, 256, 1, 0))


def _layer(name: str, kind: str, bottoms: Union[str, Sequence[str]], params: str = "",
           top: str = "") -> str:
    """One prototxt layer; ``params`` is the text inside it after the blobs."""
    bottoms = [bottoms] if isinstance(bottoms, str) else bottoms
    blobs = " ".join(f'bottom: "{b}"' for b in bottoms)
    return f'layer {{ name: "{name}" type: "{kind}" {blobs} top: "{top or name}" {params} }}\n'


def _conv(name, bottom, out, kernel, pad=0, stride=1, dilation=1, relu=True):
    dilated = f" dilation: {dilation}" if dilation > 1 else ""
    text = _layer(name, "Convolution", bottom, f"convolution_param {{ num_output: {out} pad: {pad} "
                  f"kernel_size: {kernel} stride: {stride}{dilated} }}")
    if relu:
        text += _layer(f"{name}_relu", "ReLU", name, top=name)
    return text


def _priorbox(source, lo, hi, step, ratios):
    ar = " ".join(f"aspect_ratio: {r}" for r in ratios)
    return _layer(f"{source}_mbox_priorbox", "PriorBox", (source, "data"),
                  f"prior_box_param {{ min_size: {lo} max_size: {hi} {ar} flip: true clip: false "
                  f"variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2 step: {step} offset: 0.5 }}")


def _detection_output(classes):
    return _layer("detection_out", "DetectionOutput", ("mbox_loc", "mbox_conf_flatten", "mbox_priorbox"),
                  "include { phase: TEST } detection_output_param { "
                  f"num_classes: {classes} share_location: true background_label_id: 0 "
                  "nms_param { nms_threshold: 0.45 top_k: 400 } code_type: CENTER_SIZE keep_top_k: 200 "
                  "confidence_threshold: 0.01 }")


def vgg_ssd300(width: float = 1.0, classes: int = 21, classifier: bool = False) -> str:
    """The prototxt text; ``classes`` counts the background."""
    c = lambda n: max(1, int(n * width))  # noqa: E731  (the presets' channel rule)
    out = ['name: "VGG_SSD300"\ninput: "data"\ninput_shape { dim: 1 dim: 3 dim: 300 dim: 300 }\n']
    bottom = "data"
    for s, (repeat, channels) in enumerate(STAGES, start=1):
        for i in range(1, repeat + 1):
            out.append(_conv(f"conv{s}_{i}", bottom, c(channels), 3, pad=1))
            bottom = f"conv{s}_{i}"
        pool, kernel, stride, pad = ("pool5", 3, 1, 1) if s == 5 else (f"pool{s}", 2, 2, 0)
        out.append(_layer(pool, "Pooling", bottom,
                          f"pooling_param {{ pool: MAX kernel_size: {kernel} stride: {stride} pad: {pad} }}"))
        bottom = pool
    out.append(_conv("fc6", bottom, c(1024), 3, pad=6, dilation=6))
    out.append(_conv("fc7", "fc6", c(1024), 1))
    if classifier:
        out.append(_layer("drop7", "Dropout", "fc7", "dropout_param { dropout_ratio: 0.5 }", top="fc7"))
        out.append(_conv("fc8", "fc7", 10, 1, relu=False))
        return "".join(out)
    out.append(_layer("conv4_3_norm", "Normalize", "conv4_3",
                      "norm_param { across_spatial: false channel_shared: false }"))
    bottom = "fc7"
    for base, mid, top, stride, pad in EXTRAS:
        out.append(_conv(f"{base}_1", bottom, c(mid), 1))
        out.append(_conv(f"{base}_2", f"{base}_1", c(top), 3, pad=pad, stride=stride))
        bottom = f"{base}_2"
    locs, confs, priors = [], [], []
    for source, boxes, lo, hi, step, ratios in HEADS:
        for kind, per in (("loc", 4), ("conf", classes)):
            name = f"{source}_mbox_{kind}"
            out.append(_conv(name, source, boxes * per, 3, pad=1, relu=False))
            out.append(_layer(f"{name}_perm", "Permute", name,
                              "permute_param { order: 0 order: 2 order: 3 order: 1 }"))
            out.append(_layer(f"{name}_flat", "Flatten", f"{name}_perm", "flatten_param { axis: 1 }"))
            (locs if kind == "loc" else confs).append(f"{name}_flat")
        out.append(_priorbox(source, lo, hi, step, ratios))
        priors.append(f"{source}_mbox_priorbox")
    for name, parts, axis in (("mbox_loc", locs, 1), ("mbox_conf", confs, 1), ("mbox_priorbox", priors, 2)):
        out.append(_layer(name, "Concat", parts, f"concat_param {{ axis: {axis} }}"))
    out.append(_layer("mbox_conf_reshape", "Reshape", "mbox_conf",
                      f"reshape_param {{ shape {{ dim: 0 dim: -1 dim: {classes} }} }}"))
    out.append(_layer("mbox_conf_softmax", "Softmax", "mbox_conf_reshape", "softmax_param { axis: 2 }"))
    out.append(_layer("mbox_conf_flatten", "Flatten", "mbox_conf_softmax", "flatten_param { axis: 1 }"))
    out.append(_detection_output(classes))
    return "".join(out)
