"""demo.py --video: as many frames out as in; each detected frame's rows equal demo.py's on that
frame saved as an image."""
import json

import cv2
import pytest

from detect import demo
from tools import make_synthetic_video

FPS, SECONDS, SIZE = 10, 3, (320, 240)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 3-second synthetic video (shapes on textured backgrounds, a new scene every 10 frames)."""
    path = tmp_path_factory.mktemp("video") / "shapes.mp4"
    assert make_synthetic_video.main(["--out", str(path), "--seconds", str(SECONDS), "--fps", str(FPS),
                                      "--size", f"{SIZE[0]}x{SIZE[1]}"]) == 0
    return path


def _decoded_frames(path):
    capture = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, frame = capture.read()
        if not ok:
            return out
        out.append(frame)


def test_video_frames_and_detections_match_still_images(clip, tmp_path):
    out = tmp_path / "out"
    assert demo.main(["--video", str(clip), "--out", str(out), "--jsonl", "--thresh", "0.3"]) == 0
    written = _decoded_frames(out / "shapes.mp4")
    source = _decoded_frames(clip)
    assert len(written) == len(source) == FPS * SECONDS
    assert written[0].shape == source[0].shape == (SIZE[1], SIZE[0], 3)
    lines = [json.loads(line) for line in (out / "shapes.jsonl").read_text().splitlines()]
    assert [line["frame"] for line in lines] == list(range(FPS * SECONDS))
    for i in (0, 13, 29):
        still = tmp_path / f"frame{i}.png"
        cv2.imwrite(str(still), source[i])  # lossless: the decoded frame itself
        out = tmp_path / f"still{i}"
        assert demo.main([str(still), "--out", str(out), "--thresh", "0.3", "--no-draw"]) == 0
        rows = json.loads((tmp_path / f"still{i}" / "detections.json").read_text())["images"][0]["detections"]
        assert lines[i]["detections"] == rows
    assert sum(len(line["detections"]) for line in lines) > 0


def test_every_kth_frame_and_no_leftovers(clip, tmp_path):
    target = tmp_path / "every3.mp4"
    assert demo.main(["--video", str(clip), "--out", str(target), "--every", "3", "--jsonl"]) == 0
    frames = [json.loads(line)["frame"] for line in target.with_suffix(".jsonl").read_text().splitlines()]
    assert frames == list(range(0, FPS * SECONDS, 3)) and len(_decoded_frames(target)) == FPS * SECONDS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["every3.jsonl", "every3.mp4"]


def test_bad_video_sources_are_named_errors(tmp_path, capsys):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    assert demo.main(["--video", str(text), "--out", str(tmp_path / "o")]) == 2
    assert f"{text}: cannot be opened as a video" in capsys.readouterr().err
    assert demo.main(["--video", str(tmp_path / "absent.mp4")]) == 2
    assert "absent.mp4: cannot be opened as a video" in capsys.readouterr().err
    assert demo.main(["--camera", "57", "--out", str(tmp_path / "cam.mp4")]) == 2
    assert "camera 57: cannot be opened" in capsys.readouterr().err
    assert not (tmp_path / "o").exists() and not (tmp_path / "cam.mp4").exists()
