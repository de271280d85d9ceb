"""OpenVINO behind the Detector: fp32 equal to ONNX Runtime, engine and precision chosen or refused in one
line, and the bundled model's accuracy in every precision OpenVINO runs."""
from __future__ import annotations

import json
import logging

import pytest

from common.images import read_image
from common.paths import BUNDLED_MODEL, DEMO_IMAGES
from detect import demo, loading
from detect.compare import compare
from detect.onnx import openvino

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def bundled_onnx(tmp_path_factory):
    from common.modelmeta import load_meta
    from detect.onnx.export import export_onnx
    from symbol.coding import DetectionParams
    path = tmp_path_factory.mktemp("ov") / "ssd.onnx"
    return export_onnx(BUNDLED_MODEL, None, path, DetectionParams(**load_meta(BUNDLED_MODEL).detection))


def test_openvino_fp32_equals_onnx_runtime_detection_for_detection(bundled_onnx):
    from detect.onnx.runtime import OnnxDetector
    images = [read_image(p) for p in sorted(DEMO_IMAGES.glob("*.jpg"))]
    ov = openvino.OpenVinoDetector(bundled_onnx, precision="fp32")
    result = compare(OnnxDetector(bundled_onnx), ov, images)
    assert result.rows >= 100 and result.unmatched == 0
    assert result.box_diff <= 1e-5 and result.score_diff <= 1e-5  # measured: 1.2e-7 and 3e-7


def test_auto_is_openvino_where_installed_else_onnx_runtime_and_says_which(bundled_onnx, tmp_path, caplog,
                                                                           monkeypatch):
    caplog.set_level(logging.INFO)
    assert demo.main([str(DEMO_IMAGES / "000004.jpg"), "--prefix", str(bundled_onnx), "--out",
                      str(tmp_path / "a"), "--no-draw"]) == 0
    assert f"running in OpenVINO {openvino.version()} (fp32)" in caplog.text
    caplog.clear()
    monkeypatch.setattr(openvino, "version", lambda: None)  # a machine without OpenVINO
    assert loading.choose_engine(bundled_onnx) == "onnxruntime"
    assert demo.main([str(DEMO_IMAGES / "000004.jpg"), "--prefix", str(bundled_onnx), "--out",
                      str(tmp_path / "b"), "--no-draw"]) == 0
    assert "running in ONNX Runtime" in caplog.text
    first, second = (json.loads((tmp_path / d / "detections.json").read_text())["images"][0]["detections"]
                     for d in "ab")
    assert [d["class_id"] for d in first] == [d["class_id"] for d in second] and first


@pytest.mark.parametrize("flags, message", [
    (["--engine", "openvino"], "--engine openvino runs .onnx files; model/ssd_mobilenet0.5_synthetic is an "
                               "MXNet model (export it with deploy.py --format onnx)"),
    (["--precision", "bf16"], "--precision bf16 runs .onnx files in OpenVINO; "
                              "model/ssd_mobilenet0.5_synthetic is an MXNet model"),
])
def test_engine_flags_with_an_mxnet_model_stop_in_one_line(flags, message, tmp_path, capsys):
    assert demo.main(["--prefix", "model/ssd_mobilenet0.5_synthetic", "--out", str(tmp_path), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {message}") and "\n" not in err
    assert list(tmp_path.iterdir()) == []


def test_engine_flags_the_model_or_machine_cannot_take_stop_in_one_line(bundled_onnx, tmp_path, capsys,
                                                                        monkeypatch):
    def error(*flags):
        assert demo.main(["--prefix", str(bundled_onnx), "--out", str(tmp_path / "o"), *flags]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and not (tmp_path / "o").exists()
        return lines[0]
    assert error("--engine", "onnxruntime", "--precision", "bf16") == (
        "error: --precision bf16 needs --engine openvino (ONNX Runtime runs .onnx files in their own "
        "precision: fp32, or INT8 files)")
    monkeypatch.setattr(openvino, "bfloat16_missing", lambda: "OpenVINO has no bfloat16 kernels for TestCPU")
    assert error("--precision", "bf16") == ("error: --precision bf16: OpenVINO has no bfloat16 kernels for "
                                            "TestCPU")
    monkeypatch.setattr(openvino, "version", lambda: None)
    assert error("--engine", "openvino").startswith("error: --engine openvino: OpenVINO is not installed")


def test_bfloat16_support_is_read_from_openvino_itself():
    import openvino as ov
    capable = "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    missing = openvino.bfloat16_missing()
    assert (missing is None) == capable
    if missing:
        assert "AVX512-BF16 or AMX" in missing


# Measured on the 500 test images of data/synthetic (AMD EPYC Zen 4, AVX512-BF16 and VNNI, 2026-12-06):
# MXNet fp32 0.8790; OpenVINO fp32 0.8790, bf16 0.8792, INT8 (calibrated on 64 training images) 0.8826;
# ONNX Runtime INT8 0.8797. On the data of this test, the 12 test images (37 objects) of the small
# fixture with INT8 calibrated on its 40 training images: MXNet fp32 0.9321, OpenVINO fp32 0.9321
# (the same detections), bf16 0.9487 (+0.0166), INT8 0.9508 (+0.0187). Bounds: fp32 equal; bf16 and
# INT8 within 0.03 (one object found or lost moves this mAP by up to 0.03).
@pytest.mark.parametrize("precision, int8, tolerance", [("fp32", False, 1e-9), ("bf16", False, 0.03),
                                                         ("fp32", True, 0.03)])
def test_bundled_models_map_in_openvino(precision, int8, tolerance, bundled_onnx, packed, tmp_path):
    from detect.calibration import CalibrationSource
    from detect.onnx.quantize import quantize_int8
    from evaluate import cli as evaluate
    if precision == "bf16" and openvino.bfloat16_missing():
        pytest.skip(openvino.bfloat16_missing())
    train_rec, val_rec = packed
    model = bundled_onnx
    if int8:
        model = quantize_int8(bundled_onnx, tmp_path / "int8.onnx", CalibrationSource(train_rec, 40))

    def voc07(prefix, *flags):
        out = tmp_path / f"{len(list(tmp_path.iterdir()))}.json"
        assert evaluate.main(["--prefix", str(prefix), "--rec", str(val_rec), "--json", str(out),
                              "--no-progress", "--no-coco", *flags]) == 0
        return json.loads(out.read_text())["voc07_map"]
    reference = voc07(BUNDLED_MODEL)
    assert reference > 0.2
    found = voc07(model, "--engine", "openvino", "--precision", precision)
    assert found == pytest.approx(reference, abs=tolerance)
