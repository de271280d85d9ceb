"""Inference without MXNet: ONNX models run by demo, serve and evaluate never import it, and the
inference-only environment (``make inference-venv``: no MXNet installed) gives MXNet's detections."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.paths import BUNDLED_MODEL, DEMO_IMAGES, REPO
from detect.compare import match

pytestmark = pytest.mark.e2e
INFERENCE_PYTHON = REPO / ".venv-inference" / "bin" / "python"

#: Runs each command in a fresh interpreter of the main environment (where MXNet is installed) and says
#: whether it imported MXNet.
PROBE = """
import json, sys
which, argv = sys.argv[1], sys.argv[2:]
if which == "serve":
    from fastapi.testclient import TestClient
    from serve import cli
    args = cli.build_parser().parse_args(argv[1:])
    args.command = "probe"
    with TestClient(cli.build_app(args)) as client:
        status = client.post("/api/v1/detect", content=open(argv[0], "rb").read()).status_code
else:
    module = __import__({"demo": "detect.demo", "evaluate": "evaluate.cli"}[which], fromlist=["main"])
    status = module.main(argv)
print(json.dumps({"status": status, "mxnet": "mxnet" in sys.modules}))
"""


@pytest.fixture(scope="module")
def bundled_onnx(tmp_path_factory) -> Path:
    from common.modelmeta import load_meta
    from detect.onnx.export import export_onnx
    from symbol.coding import DetectionParams
    out = tmp_path_factory.mktemp("onnx") / "ssd.onnx"
    return export_onnx(BUNDLED_MODEL, None, out, DetectionParams(**load_meta(BUNDLED_MODEL).detection))


def _probe(which: str, *argv: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, which, *argv], capture_output=True, text=True,
                          cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_onnx_models_never_import_mxnet(bundled_onnx, voc_root, tmp_path):
    from tools.voc_to_coco import main as voc_to_coco
    listing = tmp_path / "one.lst"
    listing.write_text("000040.jpg 10,10,50,60,0\n")
    coco = tmp_path / "test.json"
    assert voc_to_coco(["--root", str(voc_root), "--split", "test", "--out", str(coco)]) == 0
    model = ["--prefix", str(bundled_onnx)]
    runs = {
        "demo": _probe("demo", str(DEMO_IMAGES), *model, "--out", str(tmp_path / "demo")),
        "serve": _probe("serve", str(DEMO_IMAGES / "000004.jpg"), *model),
        "evaluate VOC": _probe("evaluate", *model, "--voc-root", str(voc_root), "--no-progress"),
        "evaluate COCO": _probe("evaluate", *model, "--coco-json", str(coco), "--image-root",
                                str(voc_root / "JPEGImages"), "--no-progress"),
        "evaluate list": _probe("evaluate", *model, "--list", str(listing), "--image-root",
                                str(voc_root / "JPEGImages"), "--no-progress"),
    }
    assert {name: run["status"] for name, run in runs.items()} == {
        "demo": 0, "serve": 200, "evaluate VOC": 0, "evaluate COCO": 0, "evaluate list": 0}
    assert [name for name, run in runs.items() if run["mxnet"]] == []
    # the probe can tell: an MXNet model does import it
    assert _probe("demo", str(DEMO_IMAGES / "000004.jpg"), "--out", str(tmp_path / "mx"))["mxnet"]


@pytest.fixture(scope="module")
def inference_python() -> Path:
    if not INFERENCE_PYTHON.is_file():
        if os.environ.get("CI"):
            raise AssertionError(f"{INFERENCE_PYTHON} is missing: make test builds it (make inference-venv)")
        pytest.skip("the inference-only environment is not built here (make inference-venv)")
    return INFERENCE_PYTHON


def _rows(item: dict):
    import numpy as np
    rows = [[d["class_id"], d["score"], *d["box"]] for d in item["detections"]]
    return np.array(rows, np.float32).reshape(-1, 6)


def _same_detections(ours: dict, theirs: dict) -> None:
    """Per image: every detection scoring >= 0.5 has a partner (one within 0.01 of the cut may not),
    boxes within 1 px, scores within 1e-3 (OpenCV 5 in the inference install resizes the input,
    OpenVINO computes the network: float differences, no more)."""
    assert [i["image"].split("/")[-1] for i in ours] == [i["image"].split("/")[-1] for i in theirs]
    for a, b in zip(ours, theirs):
        unmatched, box, score = match(_rows(a), _rows(b), cut=0.5, margin=0.01)
        assert unmatched == 0 and box <= 1.0 and score <= 1e-3, (a["image"], unmatched, box, score)


def test_the_inference_install_has_no_mxnet_and_its_demo_equals_mxnets(inference_python, bundled_onnx,
                                                                        tmp_path):
    done = subprocess.run([str(inference_python), "-c", "import mxnet"], capture_output=True, text=True)
    assert done.returncode != 0 and "No module named 'mxnet'" in done.stderr
    out = tmp_path / "onnx"
    subprocess.run([str(inference_python), str(REPO / "demo.py"), str(DEMO_IMAGES), "--prefix",
                    str(bundled_onnx), "--out", str(out), "--no-draw"], check=True, capture_output=True,
                   cwd=tmp_path, timeout=600)
    from detect import demo
    assert demo.main([str(DEMO_IMAGES), "--out", str(tmp_path / "mxnet"), "--no-draw"]) == 0
    ours = json.loads((out / "detections.json").read_text())["images"]
    theirs = json.loads((tmp_path / "mxnet" / "detections.json").read_text())["images"]
    assert sum(len(i["detections"]) for i in theirs) >= 10
    _same_detections(ours, theirs)


def test_the_inference_install_serves_mxnets_detections(inference_python, bundled_onnx, tmp_path):
    from detect import demo
    from serve.client import Server, post_image
    assert demo.main([str(DEMO_IMAGES), "--out", str(tmp_path), "--no-draw"]) == 0
    theirs = json.loads((tmp_path / "detections.json").read_text())["images"]
    ours = []
    with Server("--prefix", str(bundled_onnx), python=str(inference_python)) as server:
        for item in theirs:
            status, answer, _ = post_image(server.url + "/api/v1/detect", Path(item["image"]).read_bytes())
            assert status == 200
            ours.append(dict(answer, image=item["image"]))
    _same_detections(ours, theirs)
