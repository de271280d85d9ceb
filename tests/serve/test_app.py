"""The HTTP API with the framework's test client: answers equal demo.py's, every error class is JSON."""
import json
import struct
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from common.paths import DEMO_IMAGES
from detect import demo
from serve.app import create_app
from serve.worker import InferenceWorker
from symbol.coding import DetectionParams

SAMPLES = sorted(DEMO_IMAGES.glob("*.jpg"))


@pytest.fixture(scope="module")
def demo_rows(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert demo.main([str(DEMO_IMAGES), "--out", str(out), "--no-draw"]) == 0
    images = json.loads((out / "detections.json").read_text())["images"]
    return {item["image"].split("/")[-1]: item for item in images}


def _same(ours, theirs):
    assert [d["class_id"] for d in ours] == [d["class_id"] for d in theirs]
    for a, b in zip(ours, theirs):
        assert abs(a["score"] - b["score"]) <= 1e-5 and a["class_name"] == b["class_name"]
        assert np.abs(np.array(a["box"]) - np.array(b["box"])).max() <= 0.5


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_detections_equal_demos_for_every_sample(client, demo_rows, path, model_name):
    answer = client.post("/api/v1/detect", files={"image": ("x.jpg", path.read_bytes(), "image/jpeg")})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    expected = demo_rows[path.name]
    assert body["model"] == model_name and "/" not in body["model"]
    assert (body["width"], body["height"]) == (expected["width"], expected["height"])
    _same(body["detections"], expected["detections"])
    assert body["time_ms"] > 0


def test_raw_body_threshold_nms_and_max_detections(client, demo_rows):
    data = SAMPLES[4].read_bytes()
    low = client.post("/api/v1/detect?threshold=0.05", content=data).json()["detections"]
    high = client.post("/api/v1/detect?threshold=0.9", content=data).json()["detections"]
    assert len(low) > len(high) and all(d["score"] >= 0.9 for d in high)
    assert len(client.post("/api/v1/detect?threshold=0.05&max_detections=2", content=data).json()[
        "detections"]) == 2
    form = client.post("/api/v1/detect", files={"image": ("a", data)},
                       data={"threshold": "0.05", "nms": "0.05"})
    strict = form.json()["detections"]
    assert len(strict) < len(low)  # a lower NMS threshold suppresses more


def _png_header(width, height) -> bytes:
    """A tiny PNG whose header declares width x height (a decompression bomb's header)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("send, status, message", [
    (dict(content=b"x" * (2 * 1024 * 1024)), 413, "larger than the limit of 1048576 bytes"),
    # chunked, no Content-Length
    (dict(content=iter([b"x" * 600_000, b"x" * 600_000])), 413, "larger than the limit"),
    (dict(content=_png_header(30000, 30000)), 413, "image of 900000000 pixels"),
    (dict(content=b"GIF89a" + b"\x00" * 100), 415, "not a JPEG, PNG, BMP or WebP image"),
    (dict(content=b"just some text, not an image"), 415, "not a JPEG, PNG, BMP or WebP image"),
    (dict(content=SAMPLES[0].read_bytes()[:3000]), 400, "truncated JPEG"),
    (dict(content=b""), 400, "no image"),
    (dict(files={"other": ("a", b"1")}), 400, "without a file field 'image'"),
    (dict(params={"threshold": "2"}, content=SAMPLES[0].read_bytes()), 422, "threshold must be between 0.0"),
    (dict(params={"nms": "abc"}, content=SAMPLES[0].read_bytes()), 422, "nms must be a number"),
])
def test_every_error_is_json_with_its_status(client, send, status, message):
    answer = client.post("/api/v1/detect", **send)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"] and "Traceback" not in answer.text


def test_model_card_health_samples_and_docs(client, model_name):
    card = client.get("/api/v1/model").json()
    assert card["model"] == model_name and card["input_size"] == 384 and len(card["class_names"]) == 6
    assert card["detection"] == {"nms_threshold": 0.45, "nms_topk": 400, "force_suppress": False,
                                 "threshold": 0.01}
    assert client.get("/healthz").json()["status"] == "ok"
    samples = client.get("/api/v1/samples").json()["samples"]
    assert samples == [p.name for p in SAMPLES]
    assert client.get(f"/samples/{samples[0]}").content == SAMPLES[0].read_bytes()
    for bad in ("../../README.md", "..%2F..%2FREADME.md", "nothing.jpg"):
        answer = client.get(f"/samples/{bad}")
        assert answer.status_code == 404 and "error" in answer.json()
    assert "/api/v1/detect" in client.get("/openapi.json").json()["paths"]
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and "<canvas" in page.text and "app.js" in page.text
    assert "http" not in client.get("/static/app.js").text.split("fetch(")[0]  # no outside assets


class _Slow:
    """A detector that signals when it starts and waits for a release: fills the queue deterministically."""

    def __init__(self, started, release):
        self.started, self.release = started, release

    def detect(self, images):
        self.started.set()
        self.release.wait(10)
        return [np.zeros((0, 6), np.float32) for _ in images]


def _card():
    from common.modelmeta import ModelMeta
    return ModelMeta(kind="deploy", network="x", data_shape=32, class_names=("a",), mean=(0, 0, 0),
                     std=(1, 1, 1))


def test_full_queue_answers_503_with_retry_after():
    started, release = threading.Event(), threading.Event()
    worker = InferenceWorker(lambda d: _Slow(started, release), DetectionParams(), queue_size=1, max_batch=1)
    image = np.zeros((8, 8, 3), np.uint8)
    try:
        running = worker.submit(image)  # the worker takes it and blocks in detect
        assert started.wait(10)
        waiting = worker.submit(image)  # fills the queue of one
        with TestClient(create_app(worker, _card(), model_name="slow")) as slow:
            answer = slow.post("/api/v1/detect", content=SAMPLES[0].read_bytes())
    finally:
        release.set()
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
    assert "busy" in answer.json()["error"]
    assert len(running.result(10)) == len(waiting.result(10)) == 0


def test_an_inference_failure_is_a_json_500_without_a_trace(caplog):
    class Broken:
        def detect(self, images):
            raise RuntimeError("kernel exploded")
    worker = InferenceWorker(lambda d: Broken(), DetectionParams())
    with TestClient(create_app(worker, _card(), model_name="broken"), raise_server_exceptions=False) as c:
        answer = c.post("/api/v1/detect", content=SAMPLES[0].read_bytes())
    assert answer.status_code == 500 and answer.json() == {"error": "internal error (logged by the server)"}
    assert "kernel exploded" in caplog.text


def test_detectors_of_other_settings_are_cached_least_recently_used_first():
    loads = []

    class Empty:
        def detect(self, images):
            return [np.zeros((0, 6))] * len(images)

    worker = InferenceWorker(lambda d: loads.append(d.nms_threshold) or Empty(), DetectionParams(), cache=2)
    image = np.zeros((8, 8, 3), np.uint8)
    try:
        for nms in (0.1, 0.2, 0.1, 0.3, 0.1, 0.2):  # 0.3 pushes out 0.2 (0.1 was used since)
            worker.submit(image, DetectionParams(nms_threshold=nms)).result(10)
        worker.submit(image).result(10)
    finally:
        worker.close()
    assert loads == [0.45, 0.1, 0.2, 0.3, 0.2]  # the model's own settings are loaded once and kept



def _copy_bundled(folder, name, **meta_changes):
    """The bundled model's three files under another prefix, the metadata changed as asked."""
    from common.paths import BUNDLED_MODEL
    prefix = folder / name
    for suffix in ("-symbol.json", "-0004.params"):
        (folder / f"{name}{suffix}").write_bytes(Path(f"{BUNDLED_MODEL}{suffix}").read_bytes())
    meta = json.loads(Path(f"{BUNDLED_MODEL}-meta.json").read_text())
    (folder / f"{name}-meta.json").write_text(json.dumps({**meta, **meta_changes}))
    return prefix


def _served(*flags):
    from serve import cli
    args = cli.build_parser().parse_args(list(flags))
    args.command = "test"
    return TestClient(cli.build_app(args))


def test_another_model_shows_its_file_name_or_display_name_and_samples_only_when_given(tmp_path):
    plain = _copy_bundled(tmp_path, "my_shapes")
    with _served("--prefix", str(plain)) as c:
        assert c.get("/api/v1/model").json()["model"] == "my_shapes"
        assert c.get("/api/v1/samples").json()["samples"] == []
        answer = c.post("/api/v1/detect", content=SAMPLES[0].read_bytes()).json()
        assert answer["model"] == "my_shapes" and str(tmp_path) not in json.dumps(answer)
    named = _copy_bundled(tmp_path, "other", display_name="Shapes, second edition")
    gallery = tmp_path / "gallery"
    gallery.mkdir()
    (gallery / "a.jpg").write_bytes(SAMPLES[1].read_bytes())
    (gallery / "notes.txt").write_text("not an image")
    with _served("--prefix", str(named), "--samples", str(gallery)) as c:
        assert c.get("/api/v1/model").json()["model"] == "Shapes, second edition"
        assert c.get("/api/v1/samples").json()["samples"] == ["a.jpg"]
        assert c.get("/samples/a.jpg").content == SAMPLES[1].read_bytes()


def test_samples_flag_naming_no_folder_is_one_line_error(tmp_path, capsys):
    from serve import cli
    assert cli.main(["--samples", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: --samples {tmp_path / 'missing'}: no such folder"


def test_a_one_pixel_image_is_detected_like_any_other(client):
    import cv2
    one = cv2.imencode(".png", np.full((1, 1, 3), 128, np.uint8))[1].tobytes()
    answer = client.post("/api/v1/detect", content=one)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["width"], answer.json()["height"]) == (1, 1)
