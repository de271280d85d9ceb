"""Finding the processes a test started, by a marker in their environment.

A job's processes (launcher, scheduler, servers, workers) inherit the environment of the command
that started them, so a variable set only for that command marks every one of them, orphans
included, and another job's processes never match. Processes whose environment this user may not
read (other users', the machine's own services) are passed over: the test's children are always
readable, which ``tests/tools/test_launch.py`` checks with a marked process of its own before
relying on the search.
"""
from __future__ import annotations

import os
import uuid
from typing import Dict, List


def job_marker() -> Dict[str, str]:
    """An environment entry unique to one job: ``{"SSD_TEST_JOB": <uuid>}``."""
    return {"SSD_TEST_JOB": uuid.uuid4().hex}


def marked(marker: Dict[str, str], *, also: bytes = b"") -> List[int]:
    """PIDs of this user's processes whose environment holds ``marker`` (and ``also``, e.g. a role)."""
    [(key, value)] = marker.items()
    needle = f"{key}={value}".encode()
    found, mine = [], 0
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                entries = f.read().split(b"\0")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue  # ended while we looked, or not ours to read (hence not started by the test)
        mine += 1
        if needle in entries and (not also or also in entries) and int(pid) != os.getpid():
            found.append(int(pid))
    assert mine > 0, "no process environment could be read in /proc"
    return found
