"""CPU speed of our SSD networks next to GluonCV's and OpenCV DNN's, measured in the same run.

Every measurement runs in its own process (``tools.benchmark.workers``), so
that thread settings apply from the start: *ours* with the project's defaults
(``common.runtime``: every core, naive engine; nothing set by hand),
*GluonCV* at MXNet's defaults (half the cores, threaded engine) and at equal
threads (``OMP_NUM_THREADS`` = cores), *OpenCV* DNN on the Caffe model of the
same architecture (random weights written by ``tools.caffe_converter``).
Latency is the median of ``--runs`` batch-1 forwards after warm-up;
throughput is images/s at ``--batch``.

On a shared machine two measurements minutes apart drift, so the measurements
of a row are interleaved (ours, GluonCV, OpenCV, ..., then again) for
``--rounds`` rounds, and every ratio is computed within a round: the report
gives its median and its range over the rounds.

Usage::

    python -m tools.benchmark                       # every case, table + build/benchmark.json
    python -m tools.benchmark --cases mobilenet0.25_300 --runs 5 --rounds 2 --no-training
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

#: case -> (our network, input size, GluonCV model or None, Caffe prototxt folder or None)
CASES = {
    "vgg16_300": ("vgg16_reduced", 300, "ssd_300_vgg16_atrous_voc", "vgg16_ssd300_voc0712"),
    "vgg16_512": ("vgg16_reduced", 512, "ssd_512_vgg16_atrous_voc", "vgg16_ssd512_coco"),
    "mobilenet1.0_512": ("mobilenet1.0", 512, "ssd_512_mobilenet1.0_voc", None),
    "mobilenet1.0_300": ("mobilenet1.0", 300, None, "mobilenet_ssd_voc"),
    "mobilenet0.25_300": ("mobilenet0.25", 300, "ssd_300_mobilenet0.25_voc", None),
    "resnet50_512": ("resnet50", 512, "ssd_512_resnet50_v1_voc", None),
}
#: A measurement of a row: label -> (worker spec without the shared fields, thread mode).
Plan = Dict[str, Tuple[dict, str]]


def _bf16_missing() -> Optional[str]:
    """Why the bf16 variants cannot run here (``common.cpu``), or None; where they cannot, none runs."""
    from common.cpu import bfloat16_missing  # imports MXNet: not at the top, --help stays instant
    return bfloat16_missing()


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
    variants = [("", "fp32"), ("_no_nms", "no_nms"), ("_int8", "int8")]
    variants += [("_bf16", "bf16")] if _bf16_missing() is None else []
    plan: Plan = {f"ours{suffix}": (dict(kind="ours", network=network, variant=variant), "ours")
                  for suffix, variant in variants}
    if args.onnx:
        for variant in ("fp32", "int8"):
            case = dict(kind="onnx", network=network, variant=variant, work=str(args.work))
            plan[f"onnx_{variant}"] = (case, "ours")
    if gluon_model and args.gluoncv:
        plan["gluoncv_default"] = (dict(kind="gluoncv", model=gluon_model), "default")
        plan["gluoncv_equal"] = (dict(kind="gluoncv", model=gluon_model), "equal")
    prototxt = args.caffe_dir / caffe / "deploy.prototxt" if caffe else None
    if prototxt and args.opencv and prototxt.is_file():
        spec = dict(prototxt=str(prototxt), work=str(args.work))
        plan["opencv"] = (dict(kind="opencv", **spec), "default")
        plan["opencv_direct"] = (dict(kind="opencv", winograd=False, **spec), "default")
        plan["converted"] = (dict(kind="converted", **spec), "ours")
    return plan


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
    """A saved model's row: its own backend (MXNet or ONNX Runtime) at its input size."""
    from detect.loading import load_meta
    size = load_meta(prefix).data_shape
    plan: Plan = {"ours": (dict(kind="model", prefix=str(prefix)), "ours")}
    return {"case": str(prefix), "network": None, "size": size,
            "results": measure(plan, dict(size=size, batch=args.batch, runs=args.runs), args.rounds)}


def measure_training(args) -> List[dict]:
    rows = []
    runs = max(3, args.runs // 2)
    from common.modelfile import load_meta  # imports MXNet: not at the top, --help stays instant
    bundled = load_meta(BUNDLED_MODEL)
    for network, size, model, batch, top_down in (
            ("vgg16_reduced", 300, "ssd_300_vgg16_atrous_voc", 4, None),
            (bundled.network, bundled.data_shape, None, 16, bundled.made_by.get("top_down"))):
        case = dict(kind="train_ours", network=network, top_down=top_down)
        plan: Plan = {"ours": (case, "ours")}
        if _bf16_missing() is None:
            plan["ours_bf16"] = (dict(case, amp="bf16"), "ours")
        if model and args.gluoncv:
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


def build_parser() -> argparse.ArgumentParser:
    p = cli.make_parser("python -m tools.benchmark", "CPU benchmark against GluonCV and OpenCV DNN.")
    p.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of: {', '.join(CASES)}")
    p.add_argument("--runs", type=cli.positive_int, default=10, help="timed batch-1 runs (median reported)")
    p.add_argument("--rounds", type=cli.positive_int, default=3,
                   help="interleaved repetitions of every measurement of a row (ratios per round)")
    p.add_argument("--batch", type=cli.positive_int, default=8, help="batch of the throughput figure")
    p.add_argument("--gluoncv", action=argparse.BooleanOptionalAction, default=True, help="GluonCV peers")
    p.add_argument("--opencv", action=argparse.BooleanOptionalAction, default=True,
                   help="OpenCV DNN peers (needs the Caffe prototxts of --caffe-dir)")
    p.add_argument("--onnx", action=argparse.BooleanOptionalAction, default=True,
                   help="also our networks exported to ONNX, fp32 and INT8, in ONNX Runtime")
    p.add_argument("--models", nargs="*", default=[], metavar="PREFIX",
                   help="also saved models (MXNet prefixes or .onnx files), one row each")
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
    from common.atomic import write_json
    from common.cpu import cpu_name
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
    write_json(args.json, {"cases": rows, "training": training, "serving": serving,
                           "cpu_count": os.cpu_count(), "cpu": cpu_name(), "bf16_missing": bf16_missing,
                           "rounds": args.rounds, "command": args.command})
    print(markdown(rows, training, serving, bf16_missing=bf16_missing))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_main(build_parser, run, argv)
