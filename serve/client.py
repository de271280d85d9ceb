"""A small load client for the service: concurrent raw-body POSTs, latencies and answers.

Used by the load test and the benchmark; only the standard library (the service
is called as any other program would).
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence

from common.ports import free_port


@dataclass
class LoadResult:
    seconds: float
    latencies_ms: List[float] = field(default_factory=list)
    statuses: List[int] = field(default_factory=list)
    answers: List[Optional[dict]] = field(default_factory=list)

    @property
    def requests_per_s(self) -> float:
        return len(self.statuses) / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]

    def summary(self) -> str:
        ok = self.statuses.count(200)
        return (f"{len(self.statuses)} requests, {ok} answered, {self.statuses.count(503)} busy (503): "
                f"{self.requests_per_s:.1f} req/s, p50 {statistics.median(self.latencies_ms):.1f} ms, "
                f"p99 {self.percentile(99):.1f} ms")


class _Connections(threading.local):
    """One HTTP/1.1 connection per thread, kept alive between its requests (as real clients do)."""

    connection = None


def post_image(url: str, data: bytes, timeout: float = 60.0, *, kept: Optional[_Connections] = None):
    """``(status, json answer, milliseconds)`` of one raw-body POST, over the calling thread's
    connection of ``kept`` (kept alive; opened again once when the server has closed it) or, without
    ``kept``, over a connection of its own."""
    import http.client
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    holder = _Connections() if kept is None else kept
    start = time.perf_counter()
    while True:
        reused = holder.connection is not None
        if not reused:
            holder.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        try:
            holder.connection.request("POST", target, body=data, headers={"Content-Type": "image/jpeg"})
            answer = holder.connection.getresponse()
            status, body = answer.status, answer.read()
            break
        except (http.client.HTTPException, ConnectionError):
            holder.connection.close()
            holder.connection = None
            if not reused:
                raise
    if kept is None:
        holder.connection.close()
    return status, json.loads(body), 1000 * (time.perf_counter() - start)


def load(url: str, images: Sequence[bytes], *, clients: int, requests: int,
         timeout: float = 60.0) -> LoadResult:
    """``requests`` POSTs of ``images`` (in turn) from ``clients`` concurrent threads, each keeping its
    connection alive."""
    lock, out, kept = threading.Lock(), LoadResult(0.0), _Connections()
    out.answers = [None] * requests

    def one(i):
        status, answer, ms = post_image(url, images[i % len(images)], timeout, kept=kept)
        with lock:
            out.statuses.append(status)
            out.latencies_ms.append(ms)
            out.answers[i] = answer if status == 200 else {"status": status, **answer}
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(requests)))
    out.seconds = time.perf_counter() - start
    return out


class Server:
    """``serve.py`` in a child process on a free loopback port (run by ``python`` in ``cwd``); stopped
    on exit."""

    def __init__(self, *args: str, startup_s: float = 120.0, python: str = sys.executable,
                 cwd: Optional[Path] = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        repo = Path(__file__).resolve().parent.parent
        command = [python, str(repo / "serve.py"), "--port", str(self.port), *args]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
        deadline = time.time() + startup_s
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve.py exited with {self.process.returncode}: "
                                   f"{self.process.stderr.read().decode()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"serve.py did not answer on {self.url} within {startup_s} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
