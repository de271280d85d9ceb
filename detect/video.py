"""Detection on videos and cameras: annotated frames written with OpenCV, detections as JSON lines.

Every ``every``-th frame is detected; the frames between show the last
detections. Each written frame carries its boxes, the detection count and the
processing rate. The output is MPEG-4 Part 2 (``mp4v``) in ``.mp4``: the pip
OpenCV build has no H.264 encoder. The video file is written under a
temporary name and renamed when complete.
"""
from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Sequence

import cv2
import numpy as np
from tqdm import tqdm

from detect.draw import detections_to_dicts, draw_detections

FOURCC = "mp4v"


@dataclass
class VideoStats:
    frames: int = 0
    detected: int = 0
    seconds: float = 0.0

    @property
    def fps(self) -> float:
        return self.detected / self.seconds if self.seconds else 0.0


def open_capture(source, where: str) -> cv2.VideoCapture:
    """An opened ``cv2.VideoCapture`` of a file path or camera index; a named error otherwise."""
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        raise ValueError(f"{where}: cannot be opened as a video" if isinstance(source, str)
                         else f"camera {source}: cannot be opened (no such device, or it is busy)")
    return capture


def frames(capture: cv2.VideoCapture, limit: Optional[int] = None) -> Iterator[np.ndarray]:
    """BGR frames until the end (or ``limit``)."""
    count = 0
    while limit is None or count < limit:
        ok, frame = capture.read()
        if not ok:
            return
        count += 1
        yield frame


def overlay(frame: np.ndarray, count: int, fps: float) -> np.ndarray:
    """The detection count and the processing rate, top right, on a dark band."""
    text = f"{count} detections  {fps:.1f} fps"
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
    x = max(frame.shape[1] - tw - 8, 0)
    cv2.rectangle(frame, (x - 4, 0), (frame.shape[1], th + base + 8), (0, 0, 0), -1)
    cv2.putText(frame, text, (x, th + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return frame


@contextlib.contextmanager
def video_writer(path: Path, fps: float, size) -> Iterator[cv2.VideoWriter]:
    """A VideoWriter on a temporary name beside ``path``; renamed to ``path`` when the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*FOURCC), fps, size)
    if not writer.isOpened():
        raise ValueError(f"{path}: OpenCV cannot write a {FOURCC} video there (use a .mp4 name)")
    try:
        yield writer
        writer.release()
        os.replace(tmp, path)
    finally:
        writer.release()
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def annotate_stream(detector, class_names: Sequence[str], source: Iterator[np.ndarray], sink, *,
                    every: int = 1, thresh: float = 0.5, jsonl=None, show=None, total: Optional[int] = None,
                    progress: bool = False) -> VideoStats:
    """Detect on every ``every``-th frame of ``source``; ``sink(frame)`` gets each annotated frame.

    ``jsonl``: an open text file that gets ``{"frame", "detections"}`` per detected frame (pixel boxes,
    ``demo.py``'s rows). ``show(frame) -> bool``: displays a frame, False to stop.
    """
    stats, last = VideoStats(), np.zeros((0, 6), np.float32)
    for index, frame in enumerate(tqdm(source, total=total, unit="frame", disable=not progress, leave=False)):
        if index % every == 0:
            start = time.perf_counter()
            last = detector.detect([frame], thresh=thresh)[0]
            stats.seconds += time.perf_counter() - start
            stats.detected += 1
            if jsonl is not None:
                jsonl.write(json.dumps({"frame": index, "detections": detections_to_dicts(last, class_names)})
                            + "\n")
        drawn = overlay(draw_detections(frame, last, class_names), len(last), stats.fps)
        sink(drawn)
        stats.frames += 1
        if show is not None and not show(drawn):
            break
    return stats


def has_display() -> bool:
    """Whether OpenCV can open a window here (a display, and a GUI in this OpenCV build)."""
    gui = any(line.strip().startswith("GUI:") and "NONE" not in line
              for line in cv2.getBuildInformation().splitlines())
    return gui and bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
