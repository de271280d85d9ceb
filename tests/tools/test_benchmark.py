"""The benchmark runs end to end on the smallest network, each measurement in its own process."""
import json
import os

import pytest

from tools import benchmark

pytestmark = pytest.mark.e2e


def test_smallest_case_measures_every_variant_with_the_default_threads(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert benchmark.main(["--cases", "mobilenet0.25_300", "--runs", "3", "--batch", "2", "--no-gluoncv",
                           "--no-opencv", "--no-training", "--json", str(out), "--work", str(tmp_path)]) == 0
    [row] = json.loads(out.read_text())["cases"]
    for variant in ("ours", "ours_no_nms", "ours_int8", "ours_bf16"):
        assert row[variant]["b1_ms"] > 0 and row[variant]["throughput"] > 0
        # nothing set by hand: the child chose every core and the naive engine itself
        assert row[variant]["env"] == {"OMP_NUM_THREADS": str(os.cpu_count()),
                                       "MXNET_ENGINE_TYPE": "NaiveEngine"}
    table = capsys.readouterr().out
    assert table.startswith("| case | ours fp32 (ms)") and "| mobilenet0.25_300 |" in table


def test_gluoncv_worker_runs_at_mxnets_default_threads():
    result = benchmark.run_worker(dict(kind="gluoncv", model="ssd_300_mobilenet0.25_voc", size=300, batch=2,
                                       runs=2), "default")
    assert result["b1_ms"] > 0 and result["env"] == {"OMP_NUM_THREADS": None, "MXNET_ENGINE_TYPE": None}


def test_unknown_case_lists_the_choices(capsys):
    assert benchmark.main(["--cases", "vgg19_300"]) == 2
    assert "available: vgg16_300" in capsys.readouterr().err


@pytest.mark.skipif(not (benchmark.SHARED / "mobilenet_ssd_voc").is_dir(), reason="needs ../shared/caffe_ssd")
def test_opencv_worker_with_and_without_winograd(tmp_path):
    for winograd in (True, False):
        spec = dict(kind="opencv", folder="mobilenet_ssd_voc", size=300, batch=2, runs=2, work=str(tmp_path),
                    winograd=winograd)
        result = benchmark.run_worker(spec, "default")
        assert result["b1_ms"] > 0 and result["throughput"] > 0
