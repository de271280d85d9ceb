"""SHA-256 of files: how the project recognizes a published file and ties a model's metadata to its symbol."""
from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of the bytes of the file at ``path``, read ``chunk`` bytes at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()
