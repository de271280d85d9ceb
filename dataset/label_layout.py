"""The RecordIO label layout: the only module that knows it.

A record's float label is
``[HEADER_WIDTH, OBJECT_WIDTH, image_width, image_height, obj_0..., obj_1...]``
where each object is ``[class_id, xmin, ymin, xmax, ymax, difficult]`` with
coordinates normalized to [0, 1] and the image size in pixels (so that
evaluation can work in the original pixels, as the VOC devkit does). This is
the layout ``mx.io.ImageDetRecordIter`` expects (header width first, object
width second; it passes the rest of the header through its augmenters
untouched). The iterator's output row prepends four numbers of its own
(channels, height, width, label length) and pads the rest with -1. Labels
with a 2-wide header (no image size), as other tools write them, are read
too.
"""
from __future__ import annotations

import numpy as np

from common.boxes import box_scale
from dataset.records import DatasetError, ImageRecord

HEADER_WIDTH = 4
#: Where ``image_width, image_height`` sit in a record's header.
_SIZE = slice(2, 4)
OBJECT_WIDTH = 6
#: Columns of an object row ``[class_id, xmin, ymin, xmax, ymax, difficult]``.
CLASS_ID = 0
BOX = slice(1, 5)
DIFFICULT = 5
#: Numbers ImageDetRecordIter puts before the record's label in each output row.
ITER_PREFIX = 4
PAD_VALUE = -1.0


def pack(objects: np.ndarray, width: int, height: int) -> np.ndarray:
    """Flat float32 label from an (n, 6) array of normalized objects of a width x height image."""
    objects = np.asarray(objects, dtype=np.float32).reshape(-1, OBJECT_WIDTH)
    header = np.array([HEADER_WIDTH, OBJECT_WIDTH, width, height], dtype=np.float32)
    return np.concatenate([header, objects.ravel()])


def unpack(label: np.ndarray) -> np.ndarray:
    """(n, object_width) objects from a flat record label (padding rows dropped).

    Raises DatasetError for a label that is not a detection label.
    """
    label = np.asarray(label, dtype=np.float32).ravel()
    if label.size < 2:
        raise DatasetError(f"label of length {label.size} has no header")
    if not np.isfinite(label[:2]).all():
        raise DatasetError(f"label header {label[:2].tolist()} is not a detection label")
    header, width = int(label[0]), int(label[1])
    if header < 2 or width < 5 or header > label.size:
        raise DatasetError(f"label header width {header} / object width {width} is not a detection label")
    body = label[header:]
    objects = body[: body.size // width * width].reshape(-1, width)
    return valid_objects(objects)


def valid_objects(objects: np.ndarray) -> np.ndarray:
    """The rows of ``objects`` (M, >=5) that hold an object (``class_id >= 0``), as an (M', width) array.

    An empty array counts as (0, OBJECT_WIDTH).
    """
    objects = np.asarray(objects)
    objects = objects.reshape(-1, objects.shape[-1]) if objects.size else np.zeros((0, OBJECT_WIDTH),
                                                                                   objects.dtype)
    return objects[objects[:, CLASS_ID] >= 0]


def difficult(objects: np.ndarray) -> np.ndarray:
    """Bool (M,): the ``difficult`` flag of each row; rows of width 5 have none (all False)."""
    objects = np.asarray(objects)
    if objects.ndim < 2 or objects.shape[1] <= DIFFICULT:
        return np.zeros(len(objects), bool)
    return objects[:, DIFFICULT] > 0


def objects_to_pixels(objects: np.ndarray, width: float, height: float) -> np.ndarray:
    """A copy of normalized object rows (M, >=5) with boxes in pixels of a ``width`` x ``height`` image."""
    out = np.array(objects, copy=True)
    out[:, BOX] *= box_scale(width, height, out.dtype)
    return out


def image_size(label: np.ndarray):
    """``(width, height)`` in pixels from a flat record label, or None if it has no size."""
    label = np.asarray(label).ravel()
    return tuple(int(v) for v in label[_SIZE]) if int(label[0]) >= _SIZE.stop else None


def iter_image_sizes(rows: np.ndarray):
    """(B, 2) ``(width, height)`` from ImageDetRecordIter label rows, or None without a size."""
    rows = np.asarray(rows)
    if int(rows[0, ITER_PREFIX]) < _SIZE.stop:
        return None
    return rows[:, ITER_PREFIX + _SIZE.start:ITER_PREFIX + _SIZE.stop].astype(int)


def pad_width(max_objects: int) -> int:
    """``label_pad_width`` for ImageDetRecordIter holding ``max_objects`` objects."""
    return HEADER_WIDTH + OBJECT_WIDTH * max(1, max_objects)


def iter_layout(row: np.ndarray) -> tuple:
    """``(start, object_width, max_objects)`` of one ImageDetRecordIter label row.

    The record's own header (at ``ITER_PREFIX``) gives its header and object
    widths, so records written by other tools with wider headers also work.
    """
    row = np.asarray(row).ravel()
    header, width = int(row[ITER_PREFIX]), int(row[ITER_PREFIX + 1])
    if header < 2 or width < 5:
        raise ValueError(f"iterator label row has header width {header} / object width {width}; "
                         "not a detection record")
    start = ITER_PREFIX + header
    return start, width, (row.size - start) // width


def normalized_objects(record: ImageRecord) -> np.ndarray:
    """(n, OBJECT_WIDTH) array ``[cls, x1, y1, x2, y2, difficult]``, coordinates in [0, 1].

    An image without objects gets one padding row (class -1): the SSD
    augmenter of ImageDetRecordIter rejects labels with no object row, and
    drops padding rows itself.
    """
    w, h = float(record.width), float(record.height)
    rows = [[o.class_id, o.xmin / w, o.ymin / h, o.xmax / w, o.ymax / h, float(o.difficult)]
            for o in record.objects]
    if not rows:
        rows = [[PAD_VALUE] * OBJECT_WIDTH]
    return np.array(rows, dtype=np.float32)
