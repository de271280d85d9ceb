"""Measurements, each run in a fresh process by ``tools.benchmark.driver``.

``python -m tools.benchmark.workers SPEC --threads MODE`` runs the worker
``SPEC["kind"]`` with the rest of the JSON ``SPEC`` as arguments and prints its
result as one JSON line. ``MODE`` says how threads are set before MXNet loads:
``ours`` applies the project's runtime defaults (``common.runtime``), ``default``
and ``equal`` leave MXNet's defaults (the driver sets ``OMP_NUM_THREADS`` for
``equal``). Every worker imports what it measures itself.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

from common.paths import REPO

THREAD_VARS = ("OMP_NUM_THREADS", "MXNET_ENGINE_TYPE")


def timed(fn, runs: int, warmup: int = 3) -> float:
    """Median seconds of ``fn()`` over ``runs`` calls after ``warmup``."""
    import numpy as np
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _random_params(symbol, shape):
    import mxnet as mx
    import numpy as np
    rng = np.random.default_rng(0)
    arg_shapes, _, aux_shapes = symbol.infer_shape(data=shape)
    args = {n: mx.nd.array(rng.normal(0, np.sqrt(2.0 / max(1, np.prod(s[1:]))), s))
            for n, s in zip(symbol.list_arguments(), arg_shapes) if n not in ("data", "label")}
    for n in args:
        if n.endswith("norm_scale"):
            args[n] = mx.nd.full(args[n].shape, 20.0)
    auxs = {n: mx.nd.ones(s) if n.endswith("var") else mx.nd.zeros(s)
            for n, s in zip(symbol.list_auxiliary_states(), aux_shapes)}
    return args, auxs


#: Boxes a random-weight network lets through the detection stage's score threshold (0.01), as a
#: trained detector does on an image with a few objects (untrained heads can pass every anchor of
#: every class, a load no trained model gives).
PASSING_BOXES = 30


def _background_offset(cls_preds, boxes: int = PASSING_BOXES, threshold: float = 0.01) -> float:
    """How much to raise the background logit of ``cls_preds`` (B, C + 1, N) so that about ``boxes``
    anchors keep a foreground probability of at least ``threshold``."""
    import numpy as np
    logits = np.asarray(cls_preds, np.float64)

    def passing(offset: float) -> int:
        shifted = logits.copy()
        shifted[:, 0] += offset
        shifted -= shifted.max(axis=1, keepdims=True)
        prob = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        return int((prob[:, 1:].max(axis=1) >= threshold).sum())
    low, high = 0.0, 200.0
    for _ in range(50):
        middle = (low + high) / 2
        low, high = (middle, high) if passing(middle) > boxes else (low, middle)
    return high


def realistic_network(network: str, size: int, num_classes: int = 20):
    """``(deploy symbol, args, auxs)`` of a network with seeded random weights whose class heads let
    about ``PASSING_BOXES`` boxes through on the benchmark's input, as a trained model's would."""
    import mxnet as mx

    from detect.model import forward_nodes
    from symbol.builder import deploy_symbol
    from symbol.presets import get_preset
    symbol = deploy_symbol(get_preset(network, size), num_classes)
    args, auxs = _random_params(symbol, (1, 3, size, size))
    [cls_preds] = forward_nodes(symbol, args, auxs, _noise(1, size), ["cls_preds"])
    offset = _background_offset(cls_preds)
    for name in [n for n in args if n.endswith("_cls_bias")]:
        bias = args[name].asnumpy()
        bias[0::num_classes + 1] += offset  # the background logit of every anchor (class 0 of its group)
        args[name] = mx.nd.array(bias)
    return symbol, args, auxs


def _noise(batch: int, size: int):
    """The input every network is timed on, normalized: ``_raw_pixels`` with ImageNet's mean and std
    (the normalization the ONNX files apply inside), float32 NCHW."""

    from detect.detector import normalize
    from symbol.defaults import IMAGENET_MEAN, IMAGENET_STD
    return normalize(_raw_pixels(batch, size), IMAGENET_MEAN, IMAGENET_STD)


def _latency_and_throughput(runner, batch: int, runs: int) -> dict:
    """Batch-1 latency and batch-``batch`` images/s; ``runner(b)`` returns a callable running one batch."""
    return {"b1_ms": 1000 * timed(runner(1), runs),
            "throughput": batch / timed(runner(batch), max(3, runs // 2), warmup=1)}


def _bound(symbol, args, auxs, batch, size):
    import mxnet as mx
    mod = mx.mod.Module(symbol, data_names=("data",), label_names=None)
    mod.bind([("data", (batch, 3, size, size))], for_training=False)
    mod.set_params(args, auxs, allow_missing=False, allow_extra=True)
    data = mx.io.DataBatch([mx.nd.array(_noise(batch, size))])

    def run():
        mod.forward(data, is_train=False)
        for out in mod.get_outputs():
            out.wait_to_read()
    return run


def worker_ours(network: str, size: int, batch: int, runs: int, variant: str) -> dict:
    """fp32 with NMS, fp32 without the detection stage, int8 or bf16."""
    import mxnet as mx

    from detect.model import body_outputs
    symbol, args, auxs = realistic_network(network, size)
    if variant == "no_nms":
        cls, loc, anchors = body_outputs(symbol)
        symbol = mx.sym.Group([mx.sym.softmax(cls, axis=1), loc, anchors])
    elif variant == "int8":
        import numpy as np

        from detect.quantize import quantize_int8
        noise = np.random.default_rng(2).uniform(-1, 1, (8, 3, size, size)).astype(np.float32)
        calib = mx.io.NDArrayIter(noise, batch_size=8)
        symbol, args, auxs = quantize_int8(symbol, args, auxs, calib, 8)
    elif variant == "bf16":
        from detect.quantize import to_bfloat16
        from symbol.coding import DetectionParams
        symbol, args, auxs = to_bfloat16(symbol, args, auxs, size, DetectionParams())
    return _latency_and_throughput(lambda b: _bound(symbol, args, auxs, b, size), batch, runs)


def _raw_pixels(batch: int, size: int):
    """The raw-pixel input (0-255) of models that normalize inside (ONNX files)."""
    import numpy as np
    return np.random.default_rng(1).uniform(0, 255, (batch, 3, size, size)).astype(np.float32)


def network_onnx(network: str, size: int, variant: str, work: str) -> Path:
    """Our network exported to ONNX (``detect.onnx``), fp32 or INT8, written once into ``work``."""
    path = Path(work) / f"{network}_{size}_{variant}.onnx"
    if path.is_file():
        return path
    import numpy as np
    import onnx

    from common.modelmeta import ModelMeta
    from detect.onnx.export import build_model
    from symbol.coding import DetectionParams
    from symbol.defaults import IMAGENET_MEAN, IMAGENET_STD
    symbol, args, auxs = realistic_network(network, size)
    meta = ModelMeta(kind="deploy", network=network, data_shape=size, class_names=tuple(map(str, range(20))),
                     mean=IMAGENET_MEAN, std=IMAGENET_STD, detection={})
    model = build_model(symbol, args, auxs, meta, DetectionParams())
    if variant == "int8":
        from detect.onnx.quantize import ArrayReader, quantize_model
        calib = np.random.default_rng(2).uniform(0, 255, (8, 3, size, size)).astype(np.float32)
        model = quantize_model(model, ArrayReader(calib))
    path.parent.mkdir(parents=True, exist_ok=True)
    from common.atomic import atomic_paths
    with atomic_paths(path) as (tmp,):
        onnx.save(model, str(tmp))
    return path


def _engine_runner(prefix: str, size: int, engine: str = "auto", precision: str = "fp32"):
    """``runner(b)`` of a saved model through ``detect.loading`` (any engine), on noise of its input."""
    from detect.detector import normalize
    from detect.loading import load_detector

    def runner(b):
        detector = load_detector(prefix, batch_size=b, engine=engine, precision=precision)
        x = normalize(_raw_pixels(b, size), *detector.input_normalization)  # as Detector.preprocess does
        return lambda: detector.forward(x)
    return runner


def worker_onnx(network: str, size: int, batch: int, runs: int, variant: str, work: str,
                engine: str = "onnxruntime", precision: str = "fp32") -> dict:
    """Our network as an ONNX file (fp32 or INT8) in ONNX Runtime or OpenVINO."""
    path = network_onnx(network, size, variant, work)
    return _latency_and_throughput(_engine_runner(str(path), size, engine, precision), batch, runs)


def worker_model(prefix: str, size: int, batch: int, runs: int, engine: str = "auto",
                 precision: str = "fp32") -> dict:
    """A saved model (MXNet prefix or .onnx file) through ``detect.loading``, on noise of its input size."""
    return _latency_and_throughput(_engine_runner(prefix, size, engine, precision), batch, runs)


def worker_raw(prefix: str, requests: int, engine: str = "auto", precision: str = "fp32") -> dict:
    """The model alone: ``Detector.detect`` on decoded sample images, one at a time (images/s)."""
    from common.images import read_image
    from common.paths import DEMO_IMAGES
    from detect.loading import load_detector
    detector = load_detector(prefix, engine=engine, precision=precision)
    images = [read_image(p) for p in sorted(DEMO_IMAGES.glob("*.jpg"))]
    for image in images:
        detector.detect([image])
    start = time.perf_counter()
    for i in range(requests):
        detector.detect([images[i % len(images)]])
    return {"throughput": requests / (time.perf_counter() - start)}


def worker_serving(prefix: str, requests: int, clients: int, engine: str = "auto",
                   precision: str = "fp32") -> dict:
    """``serve.py`` on loopback with its default flags, ``clients`` concurrent clients posting the
    sample images (requests/s)."""
    from common.paths import DEMO_IMAGES
    from serve.client import Server, load
    images = [p.read_bytes() for p in sorted(DEMO_IMAGES.glob("*.jpg"))]
    with Server("--prefix", prefix, "--engine", engine, "--precision", precision) as server:
        url = server.url + "/api/v1/detect"
        load(url, images, clients=clients, requests=2 * clients)  # warm-up: every batch size bound
        result = load(url, images, clients=clients, requests=requests)
    return {"throughput": result.requests_per_s, "p50_ms": result.percentile(50),
            "p99_ms": result.percentile(99), "busy": result.statuses.count(503)}


def worker_gluoncv(model: str, size: int, batch: int, runs: int) -> dict:
    import mxnet as mx
    from gluoncv import model_zoo
    net = model_zoo.get_model(model, pretrained=False, pretrained_base=False)
    net.initialize()  # default initializer: the values do not matter for speed
    net.hybridize(static_alloc=True, static_shape=True)

    def runner(b):
        x = mx.nd.array(_noise(b, size))

        def run():
            for o in net(x):
                o.wait_to_read()
        return run
    return _latency_and_throughput(runner, batch, runs)


def worker_opencv(prototxt: str, size: int, batch: int, runs: int, work: str, winograd: bool = True,
                  caffemodel: Optional[str] = None, mean: Optional[Sequence[float]] = None) -> dict:
    """OpenCV DNN as users run it, or (``winograd=False``) with direct fp32 convolutions only; with
    random weights unless a ``caffemodel`` is given, then on raw pixels minus its ``mean``."""
    import cv2
    import numpy as np
    weights = caffemodel or _caffe_weights(prototxt, work)
    net = cv2.dnn.readNetFromCaffe(prototxt, str(weights))
    net.enableWinograd(winograd)

    def runner(b):
        blob = _noise(b, size) if mean is None else _raw_pixels(b, size) - np.array(mean, np.float32).reshape(
            1, 3, 1, 1)

        def run():
            net.setInput(blob)
            return net.forward()
        return run
    first = runner(1)()  # what the timed network computes (Winograd changes float rounding only)
    return dict(_latency_and_throughput(runner, batch, runs), threads=cv2.getNumThreads(), winograd=winograd,
                detections=np.asarray(first).reshape(-1, 7)[:20].tolist())


def worker_converted(prototxt: str, size: int, batch: int, runs: int, work: str) -> dict:
    """The Caffe model of ``prototxt`` converted by ``tools.caffe_converter`` (BatchNorm folded), in MXNet."""
    from tools.caffe_converter.caffemodel import read_caffemodel, read_prototxt
    from tools.caffe_converter.convert import build, fill
    weights = _caffe_weights(prototxt, work)
    graph = build(read_prototxt(prototxt), fold_batchnorm=True)
    args, auxs = fill(graph, read_caffemodel(weights))
    return _latency_and_throughput(lambda b: _bound(graph.symbol, args, auxs, b, size), batch, runs)


def _caffe_weights(prototxt: str, work: str) -> Path:
    """Seeded random weights for ``prototxt``, written once into ``work``."""
    from tools.caffe_converter.random_weights import write_random_caffemodel
    weights = Path(work) / f"{Path(prototxt).parent.name}.caffemodel"
    if not weights.is_file():
        weights.parent.mkdir(parents=True, exist_ok=True)
        write_random_caffemodel(prototxt, weights)
    return weights


def worker_train_ours(network: str, size: int, batch: int, runs: int, amp: Optional[str] = None,
                      top_down: Optional[int] = None) -> dict:
    """Training steps of our symbol; ``amp`` ("bf16") trains the mixed-precision graph of ``--amp``,
    ``top_down`` adds the top-down path of that many channels (as ``train.py --top-down``)."""
    import mxnet as mx
    import numpy as np

    from detect.quantize import FIXED_ANCHORS
    from symbol.builder import train_symbol
    from symbol.presets import resolve_preset
    from train.amp import anchors_of, mixed_train_symbol
    from train.params import INITIALIZER
    preset = resolve_preset(network, size, top_down=top_down)
    symbol = mixed_train_symbol(preset, 20, amp) if amp else train_symbol(preset, 20)
    fixed = {FIXED_ANCHORS: mx.nd.array(anchors_of(preset, 20))} if amp else {}
    mod = mx.mod.Module(symbol, data_names=("data",), label_names=("label",), fixed_param_names=list(fixed))
    mod.bind([("data", (batch, 3, size, size))], [("label", (batch, 2, 6))])
    mod.init_params(INITIALIZER, arg_params=fixed or None, allow_missing=True)
    mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 1e-4, "momentum": 0.9})
    label = np.tile(np.array([[1, 0.1, 0.1, 0.5, 0.6, 0], [3, 0.4, 0.3, 0.9, 0.8, 0]]), (batch, 1, 1))
    data = mx.io.DataBatch([mx.nd.array(_noise(batch, size))], [mx.nd.array(label)])

    def step():
        mod.forward_backward(data)
        mod.update()
        mod.get_outputs()[0].wait_to_read()
    nodes = json.loads(symbol.tojson(remove_amp_cast=False))["nodes"]
    casts = sum(node["op"] == "amp_cast" for node in nodes)
    return {"throughput": batch / timed(step, runs, warmup=2), "amp_casts": casts}


def worker_train_gluoncv(model: str, size: int, batch: int, runs: int) -> dict:
    import mxnet as mx
    import numpy as np
    from gluoncv import model_zoo
    from gluoncv.loss import SSDMultiBoxLoss
    from gluoncv.model_zoo.ssd.target import SSDTargetGenerator
    net = model_zoo.get_model(model, pretrained=False, pretrained_base=False)
    net.initialize()  # default initializer: the values do not matter for speed
    net.hybridize(static_alloc=True, static_shape=True)
    targets, loss_fn = SSDTargetGenerator(), SSDMultiBoxLoss()
    trainer = mx.gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 1e-4, "momentum": 0.9})
    x = mx.nd.array(_noise(batch, size))
    pixel_boxes = np.array([[30, 30, 150, 180], [120, 90, 270, 240]]) * size / 300
    boxes = mx.nd.array(np.tile(pixel_boxes, (batch, 1, 1)))
    ids = mx.nd.array(np.tile(np.array([[1], [3]]), (batch, 1, 1)))

    def step():
        with mx.autograd.record():
            cls_preds, box_preds, anchors = net(x)
            cls_t, box_t, _ = targets(anchors, cls_preds, boxes, ids)
            total, _, _ = loss_fn(cls_preds, box_preds, cls_t, box_t)
        mx.autograd.backward(total)
        trainer.step(batch)
        mx.nd.waitall()
    return {"throughput": batch / timed(step, runs, warmup=2)}


def worker_iterator(size: int, batch: int, runs: int, work: str, rec: Optional[str] = None) -> dict:
    """Augmented training batches of ``rec`` (default: data/synthetic's training set, else 200 packed
    images), epoch after epoch; images/s, images read and epochs begun."""
    from dataset.augmentation import Augmentation
    from dataset.iterator import DetRecordIter
    from symbol.defaults import IMAGENET_MEAN, IMAGENET_STD
    rec = Path(rec) if rec else REPO / "data" / "synthetic" / "train.rec"
    if not rec.is_file():
        rec = _small_rec(Path(work))
    it = DetRecordIter(rec, batch_size=batch, data_shape=size, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                       augmentation=Augmentation(), shuffle=True)
    epochs = [0]
    batches = _epochs(it, epochs)
    next(batches).data[0].wait_to_read()  # start-up (threads, first prefetch) is not counted
    count, start = 0, time.perf_counter()
    for _ in range(runs * 4):
        next(batches).data[0].wait_to_read()
        count += batch
    return {"throughput": count / (time.perf_counter() - start), "images": count, "epochs": epochs[0] + 1}


def _epochs(it, resets: list):
    """The batches of ``it`` epoch after epoch (reset at the end of each, as training does);
    ``resets[0]`` counts the resets."""
    while True:
        yield from it
        it.reset()
        resets[0] += 1


def _small_rec(work: Path) -> Path:
    from dataset.recordio import pack_records
    from dataset.voc import load_voc
    from tools.make_synthetic_voc import CLASSES, generate
    rec = work / "bench_train.rec"
    if not rec.is_file():
        root = generate(work / "voc", trainval=200, test=0, seed=0)
        pack_records(load_voc(root, "trainval", CLASSES), rec, CLASSES, progress=False)
    return rec


WORKERS = {"ours": worker_ours, "onnx": worker_onnx, "model": worker_model, "raw": worker_raw,
           "serving": worker_serving, "gluoncv": worker_gluoncv,
           "opencv": worker_opencv, "converted": worker_converted,
           "train_ours": worker_train_ours, "train_gluoncv": worker_train_gluoncv,
           "iterator": worker_iterator}


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.benchmark.workers",
                                description="One benchmark measurement (run by tools.benchmark.driver).")
    p.add_argument("spec", help="JSON object: kind and the worker's arguments")
    p.add_argument("--threads", choices=("ours", "default", "equal"), default="ours")
    args = p.parse_args(argv)
    if args.threads == "ours":
        from common import runtime
        runtime.configure([])
    spec = json.loads(args.spec)
    result = WORKERS[spec.pop("kind")](**spec)
    result["env"] = {k: os.environ.get(k) for k in THREAD_VARS}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
