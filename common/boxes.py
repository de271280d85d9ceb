"""Box units: the one conversion between normalized corners and pixels.

Boxes are ``[xmin, ymin, xmax, ymax]`` everywhere. Normalized boxes (inside
the network, in RecordIO labels) are fractions of the image's width and
height; pixel boxes (datasets, user-facing output) are in the original image.
"""
from __future__ import annotations

import numpy as np


def box_scale(width: float, height: float, dtype=np.float32) -> np.ndarray:
    """``[width, height, width, height]``: normalized corners times this are pixels."""
    return np.array([width, height, width, height], dtype)


def box_iou(a: np.ndarray, b: np.ndarray, offset: float = 0.0) -> np.ndarray:
    """IoU matrix (len(a), len(b)) of ``[xmin, ymin, xmax, ymax]`` boxes.

    ``offset = 1`` treats boxes as inclusive pixel ranges (VOC devkit).
    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(br - tl + offset, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2] + offset, axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2] + offset, axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-12)
