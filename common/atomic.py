"""Atomic file writes: write under a temporary name, rename when complete.

A reader never sees a half-written checkpoint, ``.rec`` or metadata file, and
a failure leaves whatever was there before untouched. The temporary files of
writes that were killed are removed by the next write of the same file.
"""
from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
from pathlib import Path
from typing import Iterator, List, Sequence

log = logging.getLogger(__name__)


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(path: Path) -> List[Path]:
    """Delete the temporary files of earlier writes of ``path`` whose process is gone; returns them.

    A process killed while writing (``kill -9``, a power cut) leaves ``.NAME.PID.tmp`` behind; the
    next write of the same file cleans it up.
    """
    removed = []
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = tmp.name[len(path.name) + 2:-len(".tmp")]
        if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
                removed.append(tmp)
    return removed


@contextlib.contextmanager
def atomic_paths(*paths: os.PathLike) -> Iterator[Sequence[Path]]:
    """Yield temporary paths for ``paths``; rename them all on success.

    On an exception every temporary file is removed and the targets are left
    as they were.
    """
    targets = [Path(p) for p in paths]
    for t in targets:
        t.parent.mkdir(parents=True, exist_ok=True)
        for stale in remove_stale(t):
            log.info("removed %s, left by an interrupted write", stale)
    tmps = [_tmp_name(t) for t in targets]
    try:
        yield tmps
        for tmp, target in zip(tmps, targets):
            os.replace(tmp, target)
    finally:
        for tmp in tmps:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def write_text(path: os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_paths(path) as (tmp,):
        tmp.write_text(text)


def json_text(obj) -> str:
    """``obj`` as the project writes JSON files: indented, keys sorted, a final newline."""
    return json.dumps(obj, indent=2, sort_keys=True) + "\n"


def write_json(path: os.PathLike, obj) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(path, json_text(obj))
