"""Pretraining a backbone as a crop classifier for ``train.py --pretrained`` (tools/pretrain_backbone.py).

Without ImageNet here, a backbone is first trained to classify object crops
(and background crops) of the training split, which is much cheaper per
sample than detection at full resolution. ``pretrain`` returns the backbone's
parameters under the SSD symbol's own names (the classifier's output layer
is left out), so ``train.py --pretrained`` loads them by name.
"""
from __future__ import annotations

import logging
import time
from typing import Dict

import cv2
import mxnet as mx
import numpy as np

from common.boxes import box_iou
from symbol.backbones.mobilenet import PREFIX, gluon_mobilenet
from symbol.backbones.vgg import vgg16_reduced_symbol
from symbol.defaults import IMAGENET_MEAN, IMAGENET_STD

log = logging.getLogger(__name__)


def extract_crops(records, size: int, rng: np.random.Generator, background_ratio: float = 0.5):
    """Square crops around non-difficult objects (label = class) and background crops (label = C).

    Object crops are the box's longer side times 1.1-1.6, centred with jitter, so the
    object fills 40-90% of the crop; background crops overlap no object (IoU < 0.05).
    Returns uint8 RGB crops (N, size, size, 3) and int labels (N,).
    """
    num_classes = 1 + max((o.class_id for r in records for o in r.objects), default=0)
    crops, labels = [], []
    for rec in records:
        image = cv2.imread(str(rec.path))[:, :, ::-1]
        h, w = image.shape[:2]
        boxes = np.array([[o.xmin, o.ymin, o.xmax, o.ymax] for o in rec.objects]).reshape(-1, 4)
        for o in rec.objects:
            if o.difficult:
                continue
            side = max(o.xmax - o.xmin, o.ymax - o.ymin) * rng.uniform(1.1, 1.6)
            cx = (o.xmin + o.xmax) / 2 + rng.uniform(-0.1, 0.1) * side
            cy = (o.ymin + o.ymax) / 2 + rng.uniform(-0.1, 0.1) * side
            crops.append(_crop(image, cx, cy, side, size))
            labels.append(o.class_id)
        for _ in range(int(round(background_ratio * max(1, len(rec.objects))))):
            side = min(w, h) * float(np.exp(rng.uniform(np.log(0.08), np.log(0.6))))
            cx, cy = rng.uniform(side / 2, w - side / 2), rng.uniform(side / 2, h - side / 2)
            window = np.array([[cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]])
            if len(boxes) and box_iou(window, boxes).max() >= 0.05:
                continue
            crops.append(_crop(image, cx, cy, side, size))
            labels.append(num_classes)
    return np.stack(crops), np.array(labels, np.int32)


def _crop(image, cx, cy, side, size):
    """A size x size crop of the square window (cx, cy, side), padded with the mean colour."""
    scale = size / side
    m = np.array([[scale, 0, size / 2 - cx * scale], [0, scale, size / 2 - cy * scale]], np.float32)
    fill = tuple(int(v) for v in IMAGENET_MEAN)
    return cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderValue=fill)


def _mobilenet(multiplier: float):
    def build(num_classes: int):
        net = gluon_mobilenet(multiplier, classes=num_classes)
        return net, lambda name: name.startswith(PREFIX) and "dense" not in name
    return build


def _vgg16(width: float):
    def build(num_classes: int):
        data = mx.sym.Variable("data")
        features = vgg16_reduced_symbol(data, width=width)
        pooled = mx.sym.Pooling(features, global_pool=True, pool_type="avg", kernel=(1, 1))
        logits = mx.sym.FullyConnected(mx.sym.flatten(pooled), num_hidden=num_classes, name="crop_cls")
        net = mx.gluon.SymbolBlock(logits, data)
        for name, param in net.collect_params().items():
            if name.endswith("_bias"):  # a SymbolBlock's parameters carry no initializer of their own
                param.init = mx.init.Zero()
        return net, lambda name: not name.startswith("crop_cls")
    return build


#: network name -> build(num_classes) -> (classifier block, predicate: parameter belongs to the backbone)
CLASSIFIERS = {
    **{f"mobilenet{m}": _mobilenet(m) for m in (1.0, 0.5, 0.25)},
    "vgg16_reduced": _vgg16(1.0),
    "vgg16_reduced_tiny": _vgg16(1.0 / 16),
}


def pretrain(records, num_classes: int, *, network: str, size: int, epochs: int, batch_size: int, lr: float,
             seed: int) -> Dict[str, mx.nd.NDArray]:
    """Train ``network`` as a classifier of ``size``-pixel crops of ``records`` (pixel boxes) into
    ``num_classes`` + background classes with Adam; returns the backbone's parameters by name."""
    if network not in CLASSIFIERS:
        raise KeyError(f"pretraining supports {', '.join(sorted(CLASSIFIERS))}; got {network!r}")
    mx.random.seed(seed)
    rng = np.random.default_rng(seed)
    crops, labels = extract_crops(records, size, rng)
    log.info("%d crops (%d background) of %dx%d", len(crops), int((labels == num_classes).sum()), size, size)
    if len(crops) < batch_size:
        raise ValueError(f"{len(crops)} crops: fewer than one batch of {batch_size}")
    mean = np.array(IMAGENET_MEAN, np.float32).reshape(1, 3, 1, 1)
    std = np.array(IMAGENET_STD, np.float32).reshape(1, 3, 1, 1)
    net, in_backbone = CLASSIFIERS[network](num_classes + 1)
    net.initialize(mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2))
    net.hybridize(static_alloc=True, static_shape=True)
    trainer = mx.gluon.Trainer(net.collect_params(), "adam", {"learning_rate": lr, "wd": 1e-4})
    loss_fn = mx.gluon.loss.SoftmaxCrossEntropyLoss()
    n = len(crops) // batch_size * batch_size
    for epoch in range(1, epochs + 1):
        if epoch == int(epochs * 0.75) + 1:
            trainer.set_learning_rate(lr * 0.1)
        order = rng.permutation(len(crops))[:n].reshape(-1, batch_size)
        total, correct, start = 0.0, 0, time.time()
        for idx in order:
            batch = crops[idx].transpose(0, 3, 1, 2).astype(np.float32)
            flip = rng.random(len(idx)) < 0.5
            batch[flip] = batch[flip][:, :, :, ::-1]
            x = mx.nd.array((batch - mean) / std)
            y = mx.nd.array(labels[idx])
            with mx.autograd.record():
                out = net(x)
                loss = loss_fn(out, y)
            loss.backward()
            trainer.step(len(idx))
            total += float(loss.sum().asscalar())
            correct += int((out.argmax(axis=1).asnumpy() == labels[idx]).sum())
        log.info("epoch %d: loss %.4f, accuracy %.4f, %.0f crops/s", epoch, total / n, correct / n,
                 n / (time.time() - start))
    return {name: p.data() for name, p in net.collect_params().items() if in_backbone(name)}
