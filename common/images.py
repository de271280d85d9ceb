"""Decoding images wherever they enter (packing, demo, evaluation, the web service), with named errors.

OpenCV decodes a truncated JPEG without an error (libjpeg only prints
"Premature end of JPEG file" and fills the rest grey), so a decoded array is
not proof of a whole file. ``decode_image`` also checks the end of the
file's structure: a JPEG's last scan (SOS marker) must be followed by its
end-of-image marker (EOI; entropy-coded data byte-stuffs 0xFF, so 0xFFD9 only
occurs as a marker), a PNG must have its IEND chunk. Other formats are
trusted to OpenCV's decoder.
"""
from __future__ import annotations

from pathlib import Path
from typing import Union

import cv2
import numpy as np


class ImageError(ValueError):
    """An image that cannot be used; the message names it and says why."""


def image_format(data: bytes) -> str:
    """``"jpeg"``, ``"png"``, ``"bmp"``, ``"webp"``, ``"gif"`` or ``"unknown"``, from the leading bytes."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:2] == b"BM":
        return "bmp"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return "unknown"


def _truncated(data: bytes, kind: str) -> bool:
    if kind == "jpeg":
        return data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda")
    if kind == "png":
        return data.rfind(b"IEND") < 0
    return False


def decode_image(data: bytes, where: str) -> np.ndarray:
    """An 8-bit BGR image (H, W, 3) from encoded bytes; ``where`` names the source in errors.

    Raises
    ------
    ImageError
        Empty data, an unknown or undecodable format, a truncated JPEG/PNG. Any size is accepted
        (detection resizes every image to the model's input, 1x1 included); packing for training
        has its own minimum (``dataset.recordio.MIN_SIDE``).
    """
    if not data:
        raise ImageError(f"{where}: empty file, not an image")
    kind = image_format(data)
    if kind in ("unknown", "gif"):
        raise ImageError(f"{where}: not a JPEG, PNG, BMP or WebP image")
    if _truncated(data, kind):
        raise ImageError(f"{where}: truncated {kind.upper()} (the file ends before the image does)")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ImageError(f"{where}: corrupt {kind.upper()}, OpenCV cannot decode it")
    return image


def read_image(path: Union[str, Path]) -> np.ndarray:
    """``decode_image`` of a file; missing or unreadable files are an ImageError naming the path."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise ImageError(f"{path}: cannot read: {err.strerror or err}") from None
    return decode_image(data, str(path))
