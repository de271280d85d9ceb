"""One thread that owns the detector; requests wait in a bounded queue.

MXNet executors are not thread-safe, and one model on a few cores gains
nothing from running two requests at once, so a single worker thread runs
every inference. Callers get a ``concurrent.futures.Future``; when the queue
is full, ``submit`` raises ``Busy`` at once (the service answers 503 with
``Retry-After``). Requests that wait together are run as one batch (up to
``max_batch``), which is where a busy service gains throughput.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import numpy as np

from symbol.coding import DetectionParams

log = logging.getLogger(__name__)


class Busy(RuntimeError):
    """The queue is full; try again later."""


@dataclass
class Job:
    image: np.ndarray             # BGR, 8-bit
    detection: DetectionParams
    future: Future
    queued: float


class InferenceWorker:
    """Runs ``detector.detect`` for queued images in one thread.

    Parameters
    ----------
    load : callable
        ``load(detection) -> Detector`` for a DetectionParams (called in the worker thread; the
        detector of the model's own settings is loaded at start).
    default : DetectionParams
        The model's own detection settings.
    queue_size : int
        Requests that may wait; one more is refused (``Busy``).
    max_batch : int
        Largest batch of waiting requests run together.
    cache : int
        Detectors kept for other detection settings (``nms`` per request), least recently used dropped.
    """

    def __init__(self, load: Callable[[DetectionParams], object], default: DetectionParams, *,
                 queue_size: int = 32, max_batch: int = 8, cache: int = 3):
        self._load, self.default = load, default
        self._queue: "queue.Queue[Optional[Job]]" = queue.Queue(maxsize=queue_size)
        self.max_batch, self._cache_size = max_batch, cache
        self._detectors: Dict[DetectionParams, object] = {}
        self._ready = threading.Event()
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, name="inference", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def submit(self, image: np.ndarray, detection: Optional[DetectionParams] = None) -> Future:
        """Queue one image; the future's result is (K, 6) pixel rows (``Detector.detect``, threshold 0)."""
        job = Job(image, detection or self.default, Future(), time.perf_counter())
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise Busy(f"{self._queue.maxsize} requests are waiting") from None
        return job.future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _detector(self, detection: DetectionParams):
        """The detector of ``detection``: the model's own, or one of ``cache`` others (least recently
        used dropped first; the dictionary keeps them in order of use)."""
        if detection in self._detectors:
            self._detectors[detection] = self._detectors.pop(detection)
        else:
            others = [k for k in self._detectors if k != self.default]
            if len(others) >= self._cache_size:
                del self._detectors[others[0]]
            self._detectors[detection] = self._load(detection)
        return self._detectors[detection]

    def _run(self) -> None:
        try:
            self._detector(self.default)
        except BaseException as err:  # reported to the constructor's caller
            self._error = err
        self._ready.set()
        if self._error is not None:
            return
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs = [first]
            while len(jobs) < self.max_batch:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self._queue.put(None)
                    break
                jobs.append(job)
            for group in _by_settings(jobs):
                self._detect(group)

    def _detect(self, jobs: List[Job]) -> None:
        try:
            results = self._detector(jobs[0].detection).detect([j.image for j in jobs])
        except Exception as err:  # noqa: BLE001  (handed to every waiting request)
            for job in jobs:
                job.future.set_exception(err)
            return
        for job, rows in zip(jobs, results):
            job.future.set_result(rows)


def _by_settings(jobs: List[Job]) -> List[List[Job]]:
    groups: Dict[DetectionParams, List[Job]] = {}
    for job in jobs:
        groups.setdefault(job.detection, []).append(job)
    return list(groups.values())
