"""The benchmark runs end to end on the smallest network, each measurement in its own process."""
import json
import os

import numpy as np
import pytest

from common.paths import CAFFE_SSD
from tools.benchmark import driver, report

pytestmark = pytest.mark.e2e


def test_smallest_case_measures_every_variant_with_the_default_threads(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert driver.main(["--cases", "mobilenet0.25_300", "--runs", "3", "--batch", "2", "--rounds", "1",
                        "--engines", "mxnet", "--no-training", "--no-serving", "--json", str(out),
                        "--work", str(tmp_path)]) == 0
    from common.cpu import bfloat16_missing, cpu_summary
    saved = json.loads(out.read_text())
    [row] = saved["cases"]
    missing = bfloat16_missing()
    assert saved["bf16_missing"] == missing and ("ours_bf16" in row["results"]) == (missing is None)
    for variant in ("ours", "ours_no_nms", "ours_int8") + (() if missing else ("ours_bf16",)):
        [result] = row["results"][variant]
        assert result["b1_ms"] > 0 and result["throughput"] > 0
        # nothing set by hand: the child chose every core and the naive engine itself
        assert result["env"] == {"OMP_NUM_THREADS": str(os.cpu_count()), "MXNET_ENGINE_TYPE": "NaiveEngine"}
    assert set(row["results"]) == {"ours", "ours_no_nms", "ours_int8"} | (set() if missing else {"ours_bf16"})
    table = capsys.readouterr().out
    assert table.startswith(saved["machine"]) and saved["machine"].startswith(cpu_summary())
    assert "| case | MXNet fp32 (ms) | detection stage | MXNet int8 |" in table
    assert "| mobilenet0.25_300 |" in table
    assert (f"bf16 not measured: {missing}." in table) == (missing is not None)


def test_rounds_interleave_the_measurements_of_a_row(monkeypatch):
    calls = []
    monkeypatch.setattr(driver, "run_worker",
                        lambda spec, threads: calls.append(spec["kind"]) or {"b1_ms": 1.0})
    plan = {"ours": ({"kind": "a"}, "ours"), "peer": ({"kind": "b"}, "default")}
    results = driver.measure(plan, {"size": 300}, rounds=3)
    assert calls == ["a", "b"] * 3 and len(results["ours"]) == 3


def test_ratios_are_taken_within_rounds_and_reported_with_their_range():
    results = {"ours": [{"b1_ms": 10.0}, {"b1_ms": 12.0}, None, {"b1_ms": 9.0}],
               "peer": [{"b1_ms": 20.0}, {"b1_ms": 20.0}, {"b1_ms": 5.0}, {"b1_ms": 10.0}]}
    assert report.ratios(results, "ours", "peer") == [0.5, 0.6, 0.9]
    assert report.spread(report.ratios(results, "ours", "peer")) == "0.60 (0.50–0.90)"
    assert report.median(results, "peer") == 15.0 and report.spread([]) == "–"


def test_gluoncv_worker_runs_at_mxnets_default_threads():
    result = driver.run_worker(dict(kind="gluoncv", model="ssd_300_mobilenet0.25_voc", size=300, batch=2,
                                    runs=2), "default")
    assert result["b1_ms"] > 0 and result["env"] == {"OMP_NUM_THREADS": None, "MXNET_ENGINE_TYPE": None}


def test_unknown_case_lists_the_choices(capsys):
    assert driver.main(["--cases", "vgg19_300"]) == 2
    assert "available: vgg16_300" in capsys.readouterr().err


@pytest.mark.skipif(not (CAFFE_SSD / "vgg16_ssd300_voc0712").is_dir(),
                    reason="needs ../shared/caffe_ssd/vgg16_ssd300_voc0712 (a real Caffe prototxt)")
def test_opencv_worker_with_and_without_winograd(tmp_path):
    """Both settings run the same network on the same weights and input: the same detections (Winograd
    changes the float rounding of VGG16's 3x3 convolutions, not the result)."""
    prototxt = str(CAFFE_SSD / "vgg16_ssd300_voc0712" / "deploy.prototxt")
    results = [driver.run_worker(dict(kind="opencv", prototxt=prototxt, size=300, batch=1, runs=1,
                                      work=str(tmp_path), winograd=winograd), "default")
               for winograd in (True, False)]
    assert [r["winograd"] for r in results] == [True, False]
    rows = [np.array(r["detections"]) for r in results]
    assert rows[0].shape == rows[1].shape and (rows[0][:, 2] > 0).sum() >= 5
    np.testing.assert_allclose(rows[0], rows[1], atol=1e-3)


@pytest.mark.bf16
def test_training_worker_trains_the_bf16_graph_of_amp():
    spec = dict(kind="train_ours", network="vgg16_reduced_tiny", size=300, batch=2, runs=2)
    casts = {amp: driver.run_worker(dict(spec, amp=amp), "ours")["amp_casts"] for amp in (None, "bf16")}
    assert casts[None] == 0 and casts["bf16"] > 0  # the float32 graph, and the mixed one of --amp bf16


def test_training_table_reports_bf16_against_float32():
    rows = [{"case": "train x", "results": {"ours": [{"throughput": 2.0}, {"throughput": 4.0}],
                                            "ours_bf16": [{"throughput": 3.0}, {"throughput": 5.0}],
                                            "gluoncv_equal": [{"throughput": 1.0}, {"throughput": 2.0}]}}]
    text = report.markdown([], rows)
    assert "| train x | 3.00 | 4.00 | 1.50 | 1.38 (1.25–1.50) | 2.00 (2.00–2.00) |" in text


def test_iterator_worker_reads_past_the_end_of_an_epoch(packed, tmp_path):
    # 40 images in batches of 8: the first batch and 12 timed ones take three epochs
    spec = dict(kind="iterator", size=300, batch=8, runs=3, work=str(tmp_path), rec=str(packed[0]))
    result = driver.run_worker(spec, "ours")
    assert result["images"] == 12 * 8 and result["epochs"] == 3
