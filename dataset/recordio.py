"""Packing ImageRecords into MXNet RecordIO (``.rec`` + ``.idx``) and ``.lst`` files.

Images are stored as their original encoded bytes after a decode check;
labels use ``dataset.label_layout``. A sidecar ``<name>.json`` records the
class names, image count and the largest object count, from which readers
derive ``label_pad_width``. All three files are written atomically.
"""
from __future__ import annotations

import functools
import json
import struct
from pathlib import Path
from typing import Iterable, Sequence

import mxnet as mx
import numpy as np
from tqdm import tqdm

from common.atomic import atomic_paths, write_json, write_text
from common.images import ImageError, decode_image
from dataset import label_layout
from dataset.label_layout import normalized_objects
from dataset.records import DatasetError, ImageRecord


def _read_image_bytes(record: ImageRecord) -> bytes:
    where = f"{record.path} (from {record.source})" if record.source else str(record.path)
    try:
        data = Path(record.path).read_bytes()
    except OSError as err:
        raise DatasetError(f"{where}: cannot read image: {err.strerror or err}") from None
    try:
        image = decode_image(data, where)
    except ImageError as err:
        raise DatasetError(str(err)) from None
    if min(image.shape[:2]) < MIN_SIDE:
        raise DatasetError(f"{where}: image is {image.shape[1]}x{image.shape[0]}; packed images need "
                           f"sides of at least {MIN_SIDE} px (MXNet's ImageDetRecordIter cannot decode and "
                           "crop smaller ones; detection takes any size)")
    if image.shape[:2] != (record.height, record.width):
        raise DatasetError(f"{where}: image is {image.shape[1]}x{image.shape[0]} but the annotation "
                           f"says {record.width}x{record.height}")
    return data


def pack_records(records: Sequence[ImageRecord], rec_path: Path, class_names: Sequence[str],
                 *, progress: bool = True) -> dict:
    """Write ``records`` to ``rec_path`` (+ ``.idx``, ``.json``) atomically.

    Returns
    -------
    dict
        The sidecar contents: ``class_names``, ``num_images``, ``max_objects``.

    Raises
    ------
    DatasetError
        Empty dataset, or an unreadable image (named); nothing is written.
    """
    if not records:
        raise DatasetError(f"{rec_path}: the dataset to pack is empty")
    rec_path = Path(rec_path)
    idx_path = rec_path.with_suffix(".idx")
    max_objects = 0
    with atomic_paths(rec_path, idx_path) as (tmp_rec, tmp_idx):
        writer = mx.recordio.MXIndexedRecordIO(str(tmp_idx), str(tmp_rec), "w")
        try:
            for i, record in enumerate(tqdm(records, desc=f"packing {rec_path.name}",
                                            disable=not progress, unit="img")):
                label = label_layout.pack(normalized_objects(record), record.width, record.height)
                header = mx.recordio.IRHeader(0, label, i, 0)
                writer.write_idx(i, mx.recordio.pack(header, _read_image_bytes(record)))
                max_objects = max(max_objects, len(record.objects))
        finally:
            writer.close()
    info = {"class_names": list(class_names), "num_images": len(records),
            "max_objects": max_objects}
    write_json(sidecar_path(rec_path), info)
    return info


#: The magic number that starts every record of an MXNet RecordIO file (dmlc-core recordio).
RECORD_MAGIC = 0xCED7230A
#: Smallest image side, in pixels, packing accepts: SSD's crops and resizes of smaller images break
#: (ImageDetRecordIter fails inside OpenCV on a 1x1 image).
MIN_SIDE = 16


def check_recordio(rec_path: Path) -> int:
    """Check a ``.rec`` (and its ``.idx``) before MXNet reads it; returns the number of records.

    Every record must start with RecordIO's magic number and fit in the file; every ``.idx``
    line must be ``index<TAB>offset`` with the offset of a record; the file must hold at least
    one record. Errors name the file and the record (or ``.idx`` line). Results are cached by
    file size and modification time.
    """
    rec_path = Path(rec_path)
    if not rec_path.is_file():
        raise DatasetError(f"{rec_path}: record file not found")
    idx_path = rec_path.with_suffix(".idx")
    stamp = tuple((p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else None
                  for p in (rec_path, idx_path))
    return _checked(str(rec_path), stamp)


@functools.lru_cache(maxsize=64)
def _checked(rec: str, stamp) -> int:
    rec_path = Path(rec)
    size = rec_path.stat().st_size
    if size == 0:
        raise DatasetError(f"{rec_path}: empty file, no records")
    starts = []
    with open(rec_path, "rb") as f:
        offset = 0
        while offset < size:
            where = f"{rec_path}: record {len(starts)} at byte {offset}"
            head = f.read(8)
            if len(head) < 8:
                raise DatasetError(f"{where}: the file ends inside its header (truncated)")
            magic, lrec = struct.unpack("<II", head)
            if magic != RECORD_MAGIC:
                raise DatasetError(f"{where}: not a RecordIO record (magic {magic:#010x}, expected "
                                   f"{RECORD_MAGIC:#010x}); not a .rec file, or a damaged one")
            length = lrec & ((1 << 29) - 1)
            end = offset + 8 + length + (-length % 4)
            if end > size:
                raise DatasetError(f"{where}: {length} bytes announced, {size - offset - 8} left "
                                   "(truncated)")
            if (lrec >> 29) in (0, 1):  # a whole record, or the first part of a split one
                starts.append(offset)
            f.seek(end)
            offset = end
    _check_index(rec_path, set(starts))
    return len(starts)


def _check_index(rec_path: Path, starts: set) -> None:
    idx_path = rec_path.with_suffix(".idx")
    if not idx_path.is_file():
        return
    with open(idx_path) as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2 or not all(p.isdigit() for p in parts):
                raise DatasetError(f"{idx_path}:{number}: expected 'index<TAB>offset', got {line.strip()!r}")
            if int(parts[1]) not in starts:
                raise DatasetError(f"{idx_path}:{number}: offset {parts[1]} is not the start of a record of "
                                   f"{rec_path} (the index belongs to another file, or the .rec was changed)")


def sidecar_path(rec_path: Path) -> Path:
    return Path(rec_path).with_suffix(".json")


def read_sidecar(rec_path: Path) -> dict:
    """The packer's sidecar for ``rec_path``; derives ``max_objects`` when it is missing."""
    path = sidecar_path(rec_path)
    if path.is_file():
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise DatasetError(f"{path}: malformed JSON: {err}") from None
    return {"class_names": None, "max_objects": scan_max_objects(rec_path)}


def num_records(rec_path: Path) -> int:
    """Images in ``rec_path`` (checked with ``check_recordio``; the sidecar must agree)."""
    count = check_recordio(rec_path)
    info = read_sidecar(rec_path) if sidecar_path(rec_path).is_file() else {}
    if info.get("num_images") and int(info["num_images"]) != count:
        raise DatasetError(f"{sidecar_path(rec_path)}: says {info['num_images']} images, "
                           f"{rec_path} holds {count}")
    return count


def read_images(rec_path: Path, count: int) -> list:
    """The first ``count`` images of ``rec_path``, decoded to BGR arrays."""
    check_recordio(rec_path)
    reader = mx.recordio.MXRecordIO(str(rec_path), "r")
    images = []
    try:
        while len(images) < count:
            item = reader.read()
            if item is None:
                break
            header, data = mx.recordio.unpack(item)
            try:
                images.append(decode_image(data, f"{rec_path}: record {len(images)}"))
            except ImageError as err:
                raise DatasetError(str(err)) from None
    finally:
        reader.close()
    return images


def scan_max_objects(rec_path: Path) -> int:
    """Largest object count of any record in ``rec_path`` (reads every header)."""
    return max((len(objects) for objects in read_labels(rec_path)), default=0)


def read_labels(rec_path: Path) -> Iterable[np.ndarray]:
    """Yield each record's (n, width) objects, in file order."""
    rec_path = Path(rec_path)
    check_recordio(rec_path)
    reader = mx.recordio.MXRecordIO(str(rec_path), "r")
    try:
        number = 0
        while True:
            item = reader.read()
            if item is None:
                return
            try:
                yield label_layout.unpack(mx.recordio.unpack(item)[0].label)
            except ValueError as err:
                raise DatasetError(f"{rec_path}: record {number}: {err}") from None
            number += 1
    finally:
        reader.close()


def write_lst(records: Sequence[ImageRecord], lst_path: Path, root: Path | None = None) -> None:
    """MXNet ``.lst`` file (``index<TAB>label...<TAB>path``) for ``im2rec``-style tools."""
    lines = []
    for i, record in enumerate(records):
        label = label_layout.pack(normalized_objects(record), record.width, record.height)
        path = Path(record.path)
        if root is not None:
            path = path.relative_to(root)
        lines.append("\t".join([str(i)] + [f"{v:.6g}" for v in label] + [str(path)]))
    write_text(lst_path, "\n".join(lines) + "\n")
