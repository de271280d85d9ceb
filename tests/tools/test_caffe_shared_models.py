"""The converter on the real Caffe SSD deploy files of ../shared/caffe_ssd (skipped without them).

Each prototxt gets deterministic random weights; the converted model's
priors, box offsets, class scores and detections must equal OpenCV DNN's
within 1e-4 (``tools.caffe_converter.verify``, which explains the one
OpenCV error worked around).
"""
from __future__ import annotations

import json
import shutil

import pytest

from common.paths import CAFFE_SSD
from tests.conftest import shared_model
from tools.caffe_converter.model_writer import convert
from tools.caffe_converter.opencv_check import verify

MODELS = CAFFE_SSD
NAMES = sorted(p.parent.name for p in MODELS.glob("*/deploy.prototxt")) if MODELS.is_dir() else []

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("caffe_shared")


@pytest.mark.skipif(not NAMES, reason=f"{MODELS} is absent: the real Caffe SSD prototxts are not on this "
                                      "machine")
@pytest.mark.parametrize("name", NAMES or ["none"])
def test_converted_model_and_its_onnx_export_equal_opencv(name, work):
    result = verify(MODELS / name / "deploy.prototxt", work, onnx=True)
    assert result.detections > 0
    assert result.worst <= 1e-4, result
    if result.excluded:  # compared whole where OpenCV computes the last head correctly
        assert name == "mobilenetv2_ssdlite_voc"
        whole = verify(MODELS / name / "deploy.prototxt", work, input_size=600, onnx=True)
        assert whole.detection_diff is not None and whole.onnx_diff is not None and whole.worst <= 1e-4, whole
    else:
        assert result.detection_diff is not None and result.onnx_diff is not None


@pytest.mark.parametrize("name", [shared_model("mobilenet_ssd_voc_bn"), shared_model("res10_ssd300_face")])
def test_folded_rgb_conversion_equals_opencv(name, work, tmp_path):
    result = verify(MODELS / name / "deploy.prototxt", tmp_path, fold_batchnorm=True, rgb=True)
    assert result.worst <= 1e-4, result


@pytest.mark.parametrize("name", [shared_model("vgg16_ssd300_voc0712")])
def test_vgg16_ssd300_runs_in_demo_and_evaluate(name, work, voc_root, tmp_path):
    """The converted VGG16 SSD300 (VOC) in demo.py and evaluate.py with no extra flags."""
    from dataset.classes import VOC_CLASSES
    from detect import demo
    from evaluate import cli as evaluate
    from tools.caffe_converter.random_weights import write_random_caffemodel
    from tools.make_synthetic_voc import CLASSES
    weights = tmp_path / "vgg.caffemodel"
    write_random_caffemodel(MODELS / name / "deploy.prototxt", weights)
    prefix = tmp_path / "vgg300"
    convert(MODELS / name / "deploy.prototxt", weights, prefix, class_names="voc")
    # The synthetic set relabelled with VOC names, so that the 20-class model can be evaluated on it.
    root = tmp_path / "voc"
    shutil.copytree(voc_root, root)
    for xml in (root / "Annotations").glob("*.xml"):
        text = xml.read_text()
        for ours, voc in zip(CLASSES, VOC_CLASSES):
            text = text.replace(f"<name>{ours}</name>", f"<name>{voc}</name>")
        xml.write_text(text)
    images = sorted((root / "JPEGImages").glob("*.jpg"))[:2]
    assert demo.main([*map(str, images), "--prefix", str(prefix), "--out", str(tmp_path / "demo"),
                      "--thresh", "0.5", "--no-draw"]) == 0
    assert len(json.loads((tmp_path / "demo" / "detections.json").read_text())["images"]) == 2
    report = tmp_path / "eval.json"
    assert evaluate.main(["--prefix", str(prefix), "--voc-root", str(root), "--json", str(report),
                          "--no-progress"]) == 0
    result = json.loads(report.read_text())
    assert result["num_images"] == 12 and 0 <= result["voc07_map"] <= 1
