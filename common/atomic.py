"""Atomic file writes: write under a temporary name, rename when complete.

A reader never sees a half-written checkpoint, ``.rec`` or metadata file, and
a failure leaves whatever was there before untouched.
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Iterator, Sequence


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


@contextlib.contextmanager
def atomic_paths(*paths: os.PathLike) -> Iterator[Sequence[Path]]:
    """Yield temporary paths for ``paths``; rename them all on success.

    On an exception every temporary file is removed and the targets are left
    as they were.
    """
    targets = [Path(p) for p in paths]
    for t in targets:
        t.parent.mkdir(parents=True, exist_ok=True)
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


def write_json(path: os.PathLike, obj) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")
