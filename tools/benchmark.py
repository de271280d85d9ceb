"""CPU speed of our SSD networks next to GluonCV's and OpenCV DNN's, measured in the same run.

Every measurement runs in its own process, so that thread settings apply
from the start: *ours* with the project's defaults (``common.runtime``:
every core, naive engine; nothing set by hand), *GluonCV* at MXNet's
defaults (half the cores, threaded engine) and at equal threads
(``OMP_NUM_THREADS`` = cores), *OpenCV* DNN 4.10 on the Caffe model of the
same architecture (random weights written by ``tools.caffe_converter``).
Latency is the median of ``--runs`` batch-1 forwards after warm-up;
throughput is images/s at ``--batch``. Our INT8 model is quantized from the
same random weights (naive calibration on noise: a speed figure, accuracy is
measured with ``evaluate.py`` on a trained model, see README).

Usage::

    python -m tools.benchmark                       # every case, table + build/benchmark.json
    python -m tools.benchmark --cases mobilenet0.25_300 --runs 10 --no-training
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional, Sequence

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "caffe_ssd"

#: case -> (our network, input size, GluonCV model, Caffe prototxt folder in ../shared or None)
CASES = {
    "vgg16_300": ("vgg16_reduced", 300, "ssd_300_vgg16_atrous_voc", "vgg16_ssd300_voc0712"),
    "vgg16_512": ("vgg16_reduced", 512, "ssd_512_vgg16_atrous_voc", "vgg16_ssd512_coco"),
    "mobilenet1.0_512": ("mobilenet1.0", 512, "ssd_512_mobilenet1.0_voc", None),
    "mobilenet1.0_300": ("mobilenet1.0", 300, None, "mobilenet_ssd_voc"),
    "mobilenet0.25_300": ("mobilenet0.25", 300, "ssd_300_mobilenet0.25_voc", None),
    "resnet50_512": ("resnet50", 512, "ssd_512_resnet50_v1_voc", None),
}
THREAD_VARS = ("OMP_NUM_THREADS", "MXNET_ENGINE_TYPE")


# --- workers (run in a child process) -------------------------------------------------------

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


def _noise(batch: int, size: int):
    """The input every network is timed on: uniform noise in [-1, 1], float32 NCHW."""
    import numpy as np
    return np.random.default_rng(1).uniform(-1, 1, (batch, 3, size, size)).astype(np.float32)


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

    from symbol.builder import body, deploy_symbol
    from symbol.presets import get_preset
    preset = get_preset(network, size)
    symbol = deploy_symbol(preset, 20)
    args, auxs = _random_params(symbol, (1, 3, size, size))
    if variant == "no_nms":
        cls, loc, anchors = body(mx.sym.var("data"), preset, 20)
        symbol = mx.sym.Group([mx.sym.softmax(cls, axis=1), loc, anchors])
    elif variant == "int8":
        import numpy as np

        from detect.quantize import CalibrationData, quantize_int8
        noise = np.random.default_rng(2).uniform(-1, 1, (8, 3, size, size)).astype(np.float32)
        calib = CalibrationData(mx.io.NDArrayIter(noise, batch_size=8), 8)
        symbol, args, auxs = quantize_int8(symbol, args, auxs, calib, 8)
    elif variant == "bf16":
        from detect.quantize import to_bfloat16
        from symbol.coding import DetectionParams
        symbol, args, auxs = to_bfloat16(symbol, args, auxs, size, DetectionParams())
    return _latency_and_throughput(lambda b: _bound(symbol, args, auxs, b, size), batch, runs)


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


def worker_opencv(folder: str, size: int, batch: int, runs: int, work: str, winograd: bool = True) -> dict:
    """OpenCV DNN as users run it, or (``winograd=False``) with direct fp32 convolutions only."""
    import cv2
    weights = _caffe_weights(folder, work)
    net = cv2.dnn.readNetFromCaffe(str(SHARED / folder / "deploy.prototxt"), str(weights))
    net.enableWinograd(winograd)

    def runner(b):
        blob = _noise(b, size)

        def run():
            net.setInput(blob)
            net.forward()
        return run
    return dict(_latency_and_throughput(runner, batch, runs), threads=cv2.getNumThreads())


def worker_converted(folder: str, size: int, batch: int, runs: int, work: str) -> dict:
    """The Caffe model of ``folder`` converted by ``tools.caffe_converter`` (BatchNorm folded), in MXNet."""
    from tools.caffe_converter.caffemodel import read_caffemodel, read_prototxt
    from tools.caffe_converter.convert import build, fill
    weights = _caffe_weights(folder, work)
    graph = build(read_prototxt(SHARED / folder / "deploy.prototxt"), fold_batchnorm=True)
    args, auxs = fill(graph, read_caffemodel(weights))
    return _latency_and_throughput(lambda b: _bound(graph.symbol, args, auxs, b, size), batch, runs)


def _caffe_weights(folder: str, work: str) -> Path:
    from tools.caffe_converter.random_model import write_random_caffemodel
    weights = Path(work) / f"{folder}.caffemodel"
    if not weights.is_file():
        weights.parent.mkdir(parents=True, exist_ok=True)
        write_random_caffemodel(SHARED / folder / "deploy.prototxt", weights)
    return weights


def worker_train_ours(network: str, size: int, batch: int, runs: int) -> dict:
    import mxnet as mx
    import numpy as np

    from symbol.builder import train_symbol
    from symbol.presets import get_preset
    from train.params import INITIALIZER
    symbol = train_symbol(get_preset(network, size), 20)
    mod = mx.mod.Module(symbol, data_names=("data",), label_names=("label",))
    mod.bind([("data", (batch, 3, size, size))], [("label", (batch, 2, 6))])
    mod.init_params(INITIALIZER)
    mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 1e-4, "momentum": 0.9})
    label = np.tile(np.array([[1, 0.1, 0.1, 0.5, 0.6, 0], [3, 0.4, 0.3, 0.9, 0.8, 0]]), (batch, 1, 1))
    data = mx.io.DataBatch([mx.nd.array(_noise(batch, size))], [mx.nd.array(label)])

    def step():
        mod.forward_backward(data)
        mod.update()
        mod.get_outputs()[0].wait_to_read()
    return {"throughput": batch / timed(step, runs, warmup=2)}


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


def worker_iterator(size: int, batch: int, runs: int, work: str) -> dict:
    from common.cli import DEFAULT_MEAN, DEFAULT_STD
    from dataset.iterator import Augmentation, DetRecordIter
    rec = REPO / "data" / "synthetic" / "train.rec"
    if not rec.is_file():
        rec = _small_rec(Path(work))
    it = DetRecordIter(rec, batch_size=batch, data_shape=size, mean=DEFAULT_MEAN, std=DEFAULT_STD,
                       augmentation=Augmentation(), shuffle=True)
    batches = iter(it)
    next(batches).data[0].wait_to_read()  # start-up (threads, first prefetch) is not counted
    count, start = 0, time.perf_counter()
    for _ in range(runs * 4):
        next(batches).data[0].wait_to_read()
        count += batch
    return {"throughput": count / (time.perf_counter() - start)}


def _small_rec(work: Path) -> Path:
    from dataset.recordio import pack_records
    from dataset.voc import load_voc
    from tools.make_synthetic_voc import CLASSES, generate
    rec = work / "bench_train.rec"
    if not rec.is_file():
        root = generate(work / "voc", trainval=200, test=0, seed=0)
        pack_records(load_voc(root, "trainval", CLASSES), rec, CLASSES, progress=False)
    return rec


WORKERS = {"ours": worker_ours, "gluoncv": worker_gluoncv, "opencv": worker_opencv,
           "converted": worker_converted,
           "train_ours": worker_train_ours, "train_gluoncv": worker_train_gluoncv,
           "iterator": worker_iterator}


# --- the driver ---------------------------------------------------------------------------------

def run_worker(spec: dict, threads: str) -> Optional[dict]:
    """Run one measurement in a fresh process; ``threads``: ours | default | equal."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    if threads == "equal":
        env["OMP_NUM_THREADS"] = str(os.cpu_count() or 1)
    cmd = [sys.executable, "-m", "tools.benchmark", "--worker", json.dumps(spec), "--threads", threads]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        print(f"  {spec['kind']} failed: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return json.loads(lines[-1])


def measure_case(name: str, args) -> dict:
    network, size, gluon_model, caffe = CASES[name]
    common = dict(size=size, batch=args.batch, runs=args.runs)
    row = {"case": name, "network": network, "size": size}
    row["ours"] = run_worker(dict(kind="ours", network=network, variant="fp32", **common), "ours")
    row["ours_no_nms"] = run_worker(dict(kind="ours", network=network, variant="no_nms", **common), "ours")
    row["ours_int8"] = run_worker(dict(kind="ours", network=network, variant="int8", **common), "ours")
    row["ours_bf16"] = run_worker(dict(kind="ours", network=network, variant="bf16", **common), "ours")
    if gluon_model and args.gluoncv:
        row["gluoncv_default"] = run_worker(dict(kind="gluoncv", model=gluon_model, **common), "default")
        row["gluoncv_equal"] = run_worker(dict(kind="gluoncv", model=gluon_model, **common), "equal")
    if caffe and args.opencv and (SHARED / caffe).is_dir():
        spec = dict(folder=caffe, work=str(args.work), **common)
        row["opencv"] = run_worker(dict(kind="opencv", **spec), "default")
        row["opencv_direct"] = run_worker(dict(kind="opencv", winograd=False, **spec), "default")
        row["converted"] = run_worker(dict(kind="converted", **spec), "ours")
    return row


def measure_training(args) -> List[dict]:
    rows = []
    common = dict(runs=max(3, args.runs // 2))
    for network, size, model, batch in (("vgg16_reduced", 300, "ssd_300_vgg16_atrous_voc", 4),
                                        ("mobilenet0.5", 300, None, 16)):
        row = {"case": f"train {network}_{size} b{batch}",
               "ours": run_worker(dict(kind="train_ours", network=network, size=size, batch=batch, **common),
                                  "ours")}
        if model and args.gluoncv:
            row["gluoncv_equal"] = run_worker(dict(kind="train_gluoncv", model=model, size=size, batch=batch,
                                                   **common), "equal")
        rows.append(row)
    rows.append({"case": "augmented iterator 300x300 b32",
                 "ours": run_worker(dict(kind="iterator", size=300, batch=32, runs=args.runs,
                                         work=str(args.work)), "ours")})
    return rows


def _ms(entry, key="b1_ms"):
    return f"{entry[key]:.1f}" if entry else "–"


def _ratio(a, b, key="b1_ms"):
    return f"{a[key] / b[key]:.2f}" if a and b else "–"


INFERENCE_COLUMNS = ("case", "ours fp32 (ms)", "no NMS", "int8", "bf16", "ours b8 img/s", "GluonCV default",
                     "GluonCV equal", "Caffe model: OpenCV", "OpenCV, Winograd off",
                     "Caffe model: converted, ours", "ours / GluonCV default", "ours / GluonCV equal",
                     "ours / OpenCV", "bf16 / OpenCV", "converted / OpenCV", "int8 speed-up vs GluonCV equal")


def _inference_row(r: dict) -> List[str]:
    ours, int8, g_eq = r.get("ours"), r.get("ours_int8"), r.get("gluoncv_equal")
    if not ours:
        return [r["case"], "failed"] + [""] * (len(INFERENCE_COLUMNS) - 2)
    speedup = f"{g_eq['b1_ms'] / int8['b1_ms']:.1f}x" if g_eq and int8 else "–"
    return [r["case"], _ms(ours), _ms(r.get("ours_no_nms")), _ms(int8), _ms(r.get("ours_bf16")),
            f"{ours['throughput']:.1f}", _ms(r.get("gluoncv_default")), _ms(g_eq), _ms(r.get("opencv")),
            _ms(r.get("opencv_direct")), _ms(r.get("converted")), _ratio(ours, r.get("gluoncv_default")),
            _ratio(ours, g_eq), _ratio(ours, r.get("opencv")), _ratio(r.get("ours_bf16"), r.get("opencv")),
            _ratio(r.get("converted"), r.get("opencv")), speedup]


def _training_row(r: dict) -> List[str]:
    ours, gl = r.get("ours"), r.get("gluoncv_equal")
    fmt = lambda e: f"{e['throughput']:.2f}" if e else "–"  # noqa: E731
    ratio = f"{ours['throughput'] / gl['throughput']:.2f}" if ours and gl else "–"
    return [r["case"], fmt(ours), fmt(gl), ratio]


def _table(header, rows) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def markdown(rows: List[dict], training: List[dict]) -> str:
    lines = _table(INFERENCE_COLUMNS, [_inference_row(r) for r in rows])
    if training:
        lines += [""] + _table(("training / data", "ours img/s", "GluonCV img/s (equal threads)",
                                "ours / GluonCV"), [_training_row(r) for r in training])
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="CPU benchmark against GluonCV and OpenCV DNN.")
    p.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of: {', '.join(CASES)}")
    p.add_argument("--runs", type=int, default=10, help="timed batch-1 runs (median reported)")
    p.add_argument("--batch", type=int, default=8, help="batch of the throughput figure")
    p.add_argument("--gluoncv", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--opencv", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--training", action=argparse.BooleanOptionalAction, default=True,
                   help="also training steps and the augmented iterator")
    p.add_argument("--work", type=Path, default=REPO / "build" / "benchmark")
    p.add_argument("--json", type=Path, default=REPO / "build" / "benchmark.json")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--threads", default="ours", help=argparse.SUPPRESS)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.worker:
        if args.threads == "ours":
            from common import runtime
            runtime.configure([])
        spec = json.loads(args.worker)
        result = WORKERS[spec.pop("kind")](**spec)
        result["env"] = {k: os.environ.get(k) for k in THREAD_VARS}
        print(json.dumps(result))
        return 0
    unknown = [c for c in args.cases.split(",") if c not in CASES]
    if unknown:
        print(f"error: unknown case(s) {unknown}; available: {', '.join(CASES)}", file=sys.stderr)
        return 2
    rows = []
    for name in args.cases.split(","):
        print(f"measuring {name} ...", file=sys.stderr)
        rows.append(measure_case(name, args))
    training = measure_training(args) if args.training else []
    from common.atomic import write_json
    write_json(args.json, {"cases": rows, "training": training, "cpu_count": os.cpu_count(),
                           "command": "python -m tools.benchmark " + " ".join(sys.argv[1:] if argv is None
                                                                            else argv)})
    print(markdown(rows, training))
    return 0


if __name__ == "__main__":
    sys.exit(main())
