"""Markdown tables of a benchmark run: medians over rounds, and ratios with their spread.

A ratio is computed within each round (both measurements made minutes
apart at most) and reported as ``median (min–max)`` over the rounds.
"""
from __future__ import annotations

import statistics
from typing import Dict, List, Optional, Sequence

Results = Dict[str, List[Optional[dict]]]


def values(results: Results, label: str, key: str) -> List[float]:
    """``key`` of every successful round of ``label``."""
    return [r[key] for r in results.get(label, []) if r]


def median(results: Results, label: str, key: str = "b1_ms") -> Optional[float]:
    found = values(results, label, key)
    return statistics.median(found) if found else None


def ratios(results: Results, a: str, b: str, key: str = "b1_ms") -> List[float]:
    """``a / b`` of each round in which both succeeded."""
    return [ra[key] / rb[key] for ra, rb in zip(results.get(a, []), results.get(b, [])) if ra and rb]


def spread(found: Sequence[float], fmt: str = "{:.2f}") -> str:
    """``median (min–max)``, the median alone for one value, ``–`` for none."""
    if not found:
        return "–"
    text = fmt.format(statistics.median(found))
    if len(found) > 1:
        text += f" ({fmt.format(min(found))}–{fmt.format(max(found))})"
    return text


def _ms(results: Results, label: str) -> str:
    value = median(results, label)
    return "–" if value is None else f"{value:.1f}"


#: Our paths (MXNet, and our ONNX files in each engine): the fastest of them is compared with peers.
OURS = ("ours", "ours_int8", "ours_bf16", "ort_fp32", "ort_int8", "ov_fp32", "ov_bf16", "ov_int8")
#: (column, label) of the latency table; ``stage`` is the detection stage's own time.
INFERENCE_TIMES = (("MXNet fp32 (ms)", "ours"), ("detection stage", "stage"), ("MXNet int8", "ours_int8"),
                   ("MXNet bf16", "ours_bf16"), ("ONNX Runtime fp32", "ort_fp32"),
                   ("ONNX Runtime int8", "ort_int8"), ("OpenVINO fp32", "ov_fp32"),
                   ("OpenVINO bf16", "ov_bf16"), ("OpenVINO int8", "ov_int8"),
                   ("GluonCV default", "gluoncv_default"), ("GluonCV equal", "gluoncv_equal"),
                   ("Caffe model: OpenCV", "opencv"), ("OpenCV, Winograd off", "opencv_direct"),
                   ("Caffe model: converted, MXNet", "converted"))
#: (column, numerator, denominator) of the ratio table; ``fastest`` is the fastest of ``OURS`` per round.
INFERENCE_RATIOS = (("fastest / MXNet int8", "fastest", "ours_int8"),
                    ("fastest / MXNet fp32", "fastest", "ours"),
                    ("OpenVINO fp32 / MXNet fp32", "ov_fp32", "ours"),
                    ("ONNX Runtime fp32 / MXNet fp32", "ort_fp32", "ours"),
                    ("OpenVINO int8 / ONNX Runtime int8", "ov_int8", "ort_int8"),
                    ("MXNet fp32 / GluonCV equal", "ours", "gluoncv_equal"),
                    ("MXNet fp32 / OpenCV", "ours", "opencv"),
                    ("fastest / OpenCV", "fastest", "opencv"))


def with_derived(results: Results) -> Results:
    """``results`` plus, per round, ``stage`` (MXNet fp32 minus the same network without its detection
    stage) and ``fastest`` (the quickest of ``OURS``, with its label)."""
    rounds = max((len(v) for v in results.values()), default=0)
    out = dict(results)
    out["stage"], out["fastest"] = [], []
    for i in range(rounds):
        at = {k: results[k][i] for k in results if i < len(results[k]) and results[k][i]}
        full, bare = at.get("ours"), at.get("ours_no_nms")
        out["stage"].append({"b1_ms": full["b1_ms"] - bare["b1_ms"]} if full and bare else None)
        ours = [(at[k]["b1_ms"], k) for k in OURS if k in at]
        out["fastest"].append({"b1_ms": min(ours)[0], "label": min(ours)[1]} if ours else None)
    return out


def fastest_label(results: Results) -> str:
    """The path that was fastest in most rounds (``OURS`` labels), ``–`` for none."""
    labels = [r["label"] for r in results.get("fastest", []) if r]
    return max(set(labels), key=labels.count) if labels else "–"


def _inference_row(row: dict) -> List[str]:
    res = with_derived(row["results"])
    throughput = median(res, "ours", "throughput")
    return ([row["case"]] + [_ms(res, label) for _, label in INFERENCE_TIMES]
            + ["–" if throughput is None else f"{throughput:.1f}"])


def _ratio_row(row: dict) -> List[str]:
    res = with_derived(row["results"])
    return [row["case"], fastest_label(res)] + [spread(ratios(res, a, b)) for _, a, b in INFERENCE_RATIOS]


def _training_row(row: dict) -> List[str]:
    res = row["results"]
    ours, peer = median(res, "ours", "throughput"), median(res, "gluoncv_equal", "throughput")
    bf16 = median(res, "ours_bf16", "throughput")
    fmt = lambda v: "–" if v is None else f"{v:.2f}"  # noqa: E731
    return [row["case"], fmt(ours), fmt(bf16), fmt(peer),
            spread(ratios(res, "ours_bf16", "ours", "throughput")),
            spread(ratios(res, "ours", "gluoncv_equal", "throughput"))]


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> List[str]:
    """A markdown table; columns with no value in any row (``–``) are left out."""
    keep = [i for i in range(len(header)) if i == 0 or any(row[i] != "–" for row in rows)]
    header, rows = [header[i] for i in keep], [[row[i] for i in keep] for row in rows]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _serving_row(row: dict) -> List[str]:
    res = row["results"]
    raw, served = median(res, "raw", "throughput"), median(res, "serving", "throughput")
    fmt = lambda v: "–" if v is None else f"{v:.1f}"  # noqa: E731
    return [row["case"], fmt(raw), fmt(served), fmt(median(res, "serving", "p50_ms")),
            fmt(median(res, "serving", "p99_ms")), spread(ratios(res, "serving", "raw", "throughput"))]


def markdown(rows: List[dict], training: List[dict], serving: Sequence[dict] = (), *,
             bf16_missing: Optional[str] = None, machine: str = "") -> str:
    """The tables of a run; ``bf16_missing``: why the MXNet bf16 columns are empty (``common.cpu``);
    ``machine``: the CPU and its extensions, said first."""
    lines = [machine, ""] if machine else []
    if rows:
        header = ["case"] + [c for c, _ in INFERENCE_TIMES] + ["MXNet fp32 b8 img/s"]
        lines += table(header, [_inference_row(r) for r in rows])
        lines += [""] + table(["case", "fastest path"] + [c for c, _, _ in INFERENCE_RATIOS],
                              [_ratio_row(r) for r in rows])
    if training:
        lines += ([""] if lines else []) + table(("training / data", "ours img/s", "ours --amp bf16 img/s",
                               "GluonCV img/s (equal threads)", "bf16 / fp32", "ours / GluonCV"),
                              [_training_row(r) for r in training])
    if serving:
        lines += [""] + table(("web service", "model alone img/s", "service req/s", "p50 ms", "p99 ms",
                               "service / model"), [_serving_row(r) for r in serving])
    if bf16_missing:
        lines += ["", f"bf16 not measured: {bf16_missing}."]
    return "\n".join(lines)
