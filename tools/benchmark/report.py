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


#: (column, numerator, denominator) of the inference table's ratios.
INFERENCE_RATIOS = (("ONNX fp32 / ours fp32", "onnx_fp32", "ours"),
                    ("ONNX int8 / ours int8", "onnx_int8", "ours_int8"),
                    ("ours / GluonCV default", "ours", "gluoncv_default"),
                    ("ours / GluonCV equal", "ours", "gluoncv_equal"),
                    ("ours / OpenCV", "ours", "opencv"),
                    ("bf16 / OpenCV", "ours_bf16", "opencv"),
                    ("converted / OpenCV", "converted", "opencv"),
                    ("GluonCV equal / int8", "gluoncv_equal", "ours_int8"))
#: (column, label) of the inference table's latencies.
INFERENCE_TIMES = (("ours fp32 (ms)", "ours"), ("no NMS", "ours_no_nms"), ("int8", "ours_int8"),
                   ("bf16", "ours_bf16"), ("ONNX Runtime fp32", "onnx_fp32"),
                   ("ONNX Runtime int8", "onnx_int8"), ("GluonCV default", "gluoncv_default"),
                   ("GluonCV equal", "gluoncv_equal"), ("Caffe model: OpenCV", "opencv"),
                   ("OpenCV, Winograd off", "opencv_direct"), ("Caffe model: converted, ours", "converted"))


def _inference_row(row: dict) -> List[str]:
    res = row["results"]
    throughput = median(res, "ours", "throughput")
    return ([row["case"]] + [_ms(res, label) for _, label in INFERENCE_TIMES]
            + ["–" if throughput is None else f"{throughput:.1f}"]
            + [spread(ratios(res, a, b)) for _, a, b in INFERENCE_RATIOS])


def _training_row(row: dict) -> List[str]:
    res = row["results"]
    ours, peer = median(res, "ours", "throughput"), median(res, "gluoncv_equal", "throughput")
    bf16 = median(res, "ours_bf16", "throughput")
    fmt = lambda v: "–" if v is None else f"{v:.2f}"  # noqa: E731
    return [row["case"], fmt(ours), fmt(bf16), fmt(peer),
            spread(ratios(res, "ours_bf16", "ours", "throughput")),
            spread(ratios(res, "ours", "gluoncv_equal", "throughput"))]


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _serving_row(row: dict) -> List[str]:
    res = row["results"]
    raw, served = median(res, "raw", "throughput"), median(res, "serving", "throughput")
    fmt = lambda v: "–" if v is None else f"{v:.1f}"  # noqa: E731
    return [row["case"], fmt(raw), fmt(served), fmt(median(res, "serving", "p50_ms")),
            fmt(median(res, "serving", "p99_ms")), spread(ratios(res, "serving", "raw", "throughput"))]


def markdown(rows: List[dict], training: List[dict], serving: Sequence[dict] = (), *,
             bf16_missing: Optional[str] = None) -> str:
    """The tables of a run; ``bf16_missing``: why the bf16 columns are empty (``common.cpu``)."""
    header = (["case"] + [c for c, _ in INFERENCE_TIMES] + ["ours b8 img/s"]
              + [c for c, _, _ in INFERENCE_RATIOS])
    lines = table(header, [_inference_row(r) for r in rows])
    if training:
        lines += [""] + table(("training / data", "ours img/s", "ours --amp bf16 img/s",
                               "GluonCV img/s (equal threads)", "bf16 / fp32", "ours / GluonCV"),
                              [_training_row(r) for r in training])
    if serving:
        lines += [""] + table(("web service", "model alone img/s", "service req/s", "p50 ms", "p99 ms",
                               "service / model"), [_serving_row(r) for r in serving])
    if bf16_missing:
        lines += ["", f"bf16 not measured: {bf16_missing}."]
    return "\n".join(lines)
