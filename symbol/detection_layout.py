"""The layout of a detection row: the only module that knows it.

Every detector output here (MultiBoxDetection, a converted Caffe model's
DetectionOutput, the ONNX graphs) is an array of rows
``[class_id, score, xmin, ymin, xmax, ymax]``: ``class_id`` is the 0-based
foreground class, ``-1`` marks padding and suppressed rows; boxes are
normalized to [0, 1] inside the network and in pixels of the original image
in user-facing output. Functions state which.
"""
from __future__ import annotations

import numpy as np

from common.boxes import box_scale

CLASS_ID = 0
SCORE = 1
#: Columns of ``[xmin, ymin, xmax, ymax]``.
BOX = slice(2, 6)
ROW_WIDTH = 6
#: ``class_id`` of padding and suppressed rows.
PADDING = -1


def valid(rows: np.ndarray) -> np.ndarray:
    """The rows of ``rows`` (K, 6) that hold a detection (``class_id >= 0``)."""
    rows = np.asarray(rows).reshape(-1, ROW_WIDTH)
    return rows[rows[:, CLASS_ID] >= 0]


def by_score(rows: np.ndarray) -> np.ndarray:
    """``rows`` sorted by decreasing score; ties keep their order."""
    return rows[np.argsort(-rows[:, SCORE], kind="stable")]


def to_pixels(rows: np.ndarray, width: float, height: float) -> np.ndarray:
    """A copy of normalized ``rows`` (K, 6) with boxes in pixels of a ``width`` x ``height`` image."""
    out = np.array(rows, copy=True)
    out[:, BOX] *= box_scale(width, height, out.dtype)
    return out


def to_normalized(rows: np.ndarray, width: float, height: float) -> np.ndarray:
    """A copy of pixel ``rows`` (K, 6) with boxes normalized by the image size."""
    out = np.array(rows, copy=True)
    out[:, BOX] /= box_scale(width, height, out.dtype)
    return out


def inside_image(rows: np.ndarray, width: float = 1.0, height: float = 1.0) -> np.ndarray:
    """``rows`` (K, 6) with boxes clipped to the image ``[0, width] x [0, height]``; rows left with
    no area (box entirely outside, or degenerate) dropped.

    Boxes are in the units of ``width`` and ``height``: pixels, or normalized with the defaults.
    Caffe models whose DetectionOutput does not ``clip`` emit boxes outside the image; users see
    only the part of a box that lies in the image.
    """
    out = np.array(rows, copy=True).reshape(-1, ROW_WIDTH)
    x = slice(BOX.start, BOX.stop, 2)
    y = slice(BOX.start + 1, BOX.stop, 2)
    out[:, x] = np.clip(out[:, x], 0, width)
    out[:, y] = np.clip(out[:, y], 0, height)
    xmin, ymin, xmax, ymax = (out[:, BOX.start + k] for k in range(4))
    return out[(xmax > xmin) & (ymax > ymin)]
