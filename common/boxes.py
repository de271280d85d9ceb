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
