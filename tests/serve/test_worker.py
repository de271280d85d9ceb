"""The inference worker: waiting requests run in batches of the same detection settings, and a model
that cannot load fails the start."""
import threading

import numpy as np
import pytest

from serve.worker import InferenceWorker
from symbol.coding import DetectionParams


class _Recorder:
    """A detector that answers with one row naming its settings and the image, and records its batches;
    the first call waits for ``release`` (so that later requests queue up behind it)."""

    batches = []

    def __init__(self, detection, started, release):
        self.detection, self.started, self.release = detection, started, release

    def detect(self, images):
        self.started.set()
        self.release.wait(10)
        _Recorder.batches.append((self.detection.nms_threshold, [int(im[0, 0, 0]) for im in images]))
        return [np.array([[0, self.detection.nms_threshold, im[0, 0, 0], 0, 1, 1]]) for im in images]


def test_waiting_requests_are_batched_by_their_detection_settings():
    started, release = threading.Event(), threading.Event()
    _Recorder.batches = []
    worker = InferenceWorker(lambda d: _Recorder(d, started, release), DetectionParams(), max_batch=8)
    image = lambda k: np.full((4, 4, 3), k, np.uint8)  # noqa: E731  (the image says which request it is)
    try:
        first = worker.submit(image(0))
        assert started.wait(10)  # the worker holds request 0; the others wait in the queue
        strict = DetectionParams(nms_threshold=0.1)
        futures = [worker.submit(image(k), strict if k % 2 else None) for k in range(1, 7)]
        release.set()
        answers = [f.result(10) for f in [first] + futures]
    finally:
        release.set()
        worker.close()
    # one batch per setting, in the order the settings first arrived
    assert _Recorder.batches == [(0.45, [0]), (0.1, [1, 3, 5]), (0.45, [2, 4, 6])]
    for k, rows in enumerate(answers):  # every request got its own image's rows, with its own settings
        assert rows[0][2] == k and rows[0][1] == (0.1 if k % 2 else 0.45)


def test_a_model_that_cannot_load_fails_the_start_with_its_error():
    def load(detection):
        raise FileNotFoundError("m-meta.json: model metadata not found")
    with pytest.raises(FileNotFoundError, match="m-meta.json: model metadata not found"):
        InferenceWorker(load, DetectionParams())
