"""MS-COCO instances json: reading into ImageRecords, with the category id mapping.

COCO category ids are sparse (1..90 for the 80 classes); the network's
class ids are contiguous 0..K-1 in the order of increasing category id.
``CocoCategories`` maps both ways, so results are written with the
original ids. Boxes are ``[x, y, width, height]`` in continuous pixel
coordinates; records hold ``[x, y, x + width, y + height]``.

Crowd annotations (``iscrowd: 1``) mark regions where detections are
neither rewarded nor penalized (COCO's evaluation matches them last and
ignores what they match). ``crowd="ignore"`` keeps them as ``difficult``
objects, which the VOC evaluator ignores the same way and training can skip;
``crowd="skip"`` drops them. COCO AP itself is computed by pycocotools on
the original json (``evaluate.coco_eval``), crowd rules included.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Tuple

from dataset.records import BoxObject, DatasetError, ImageRecord


@dataclass(frozen=True)
class CocoCategories:
    """Contiguous class index <-> COCO category id."""

    ids: Tuple[int, ...]      # sorted category ids; position = class index
    names: Tuple[str, ...]

    def index(self, category_id: int) -> int:
        return self.ids.index(category_id)

    def category_id(self, index: int) -> int:
        return self.ids[index]


@dataclass
class CocoDataset:
    """Records of a COCO json, in the json's image order."""

    records: List[ImageRecord]
    categories: CocoCategories
    image_ids: List[int]
    annotations: Path
    json: dict  # the file as read, for evaluation with pycocotools
    skipped: List[str] = field(default_factory=list)  # one reason per skipped or changed item


def _require(entry: dict, keys, where: str) -> None:
    if not isinstance(entry, dict):
        raise DatasetError(f"{where}: expected an object, got {type(entry).__name__}")
    missing = [k for k in keys if k not in entry]
    if missing:
        raise DatasetError(f"{where}: missing {', '.join(repr(k) for k in missing)}")


def _integer(entry: dict, key: str, where: str, *, positive: bool = False) -> int:
    """``entry[key]`` as the integer the COCO format defines (not a string, a float or a bool)."""
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise DatasetError(f"{where}: {key} must be an integer, got {value!r}")
    if positive and value <= 0:
        raise DatasetError(f"{where}: {key} must be positive, got {value}")
    return value


def _box(value, where: str):
    """A COCO bbox ``[x, y, width, height]`` of finite numbers, as floats."""
    if (not isinstance(value, list) or len(value) != 4
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise DatasetError(f"{where}: bbox must be [x, y, width, height], got {value!r}")
    if not all(math.isfinite(v) for v in value):
        raise DatasetError(f"{where}: bbox {value} has a value that is not a finite number")
    return tuple(float(v) for v in value)


def read_json(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: annotation file not found")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DatasetError(f"{path}: not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: expected a JSON object with images, annotations, categories")
    _require(data, ("images", "annotations", "categories"), str(path))
    for key in ("images", "annotations", "categories"):
        if not isinstance(data[key], list):
            raise DatasetError(f"{path}: {key} must be a list, got {type(data[key]).__name__}")
    return data


def parse_categories(data: dict, path: Path) -> CocoCategories:
    cats = {}
    for k, c in enumerate(data["categories"]):
        where = f"{path}: categories[{k}]"
        _require(c, ("id", "name"), where)
        cid = _integer(c, "id", where)
        if cid in cats:
            raise DatasetError(f"{where}: category id {cid} appears twice")
        cats[cid] = str(c["name"])
    if not cats:
        raise DatasetError(f"{path}: no categories")
    ids = tuple(sorted(cats))
    return CocoCategories(ids, tuple(cats[i] for i in ids))


def load_coco(annotations: Path, image_root: Path, *, crowd: str = "ignore",
              check_files: bool = True) -> CocoDataset:
    """Read a COCO instances json; every entry is validated and errors name it.

    Parameters
    ----------
    annotations : Path
        ``instances_*.json``.
    image_root : Path
        Folder that ``file_name`` is relative to.
    crowd : {"ignore", "skip"}
        Crowd annotations as difficult objects, or dropped.
    check_files : bool
        Require every image file to exist.
    """
    if crowd not in ("ignore", "skip"):
        raise ValueError(f"crowd must be 'ignore' or 'skip', got {crowd!r}")
    path, root = Path(annotations), Path(image_root)
    data = read_json(path)
    categories = parse_categories(data, path)
    known = set(categories.ids)
    records: Dict[int, ImageRecord] = {}
    for k, im in enumerate(data["images"]):
        where = f"{path}: images[{k}]"
        _require(im, ("id", "file_name", "width", "height"), where)
        image_id = _integer(im, "id", where)
        if image_id in records:
            raise DatasetError(f"{where}: image id {image_id} appears twice")
        where = f"{where} (id {image_id})"
        width = _integer(im, "width", where, positive=True)
        height = _integer(im, "height", where, positive=True)
        if not isinstance(im["file_name"], str) or not im["file_name"]:
            raise DatasetError(f"{where}: file_name must be a non-empty string, got {im['file_name']!r}")
        image = root / im["file_name"]
        if check_files and not image.is_file():
            raise DatasetError(f"{where}: image file {image} not found")
        records[image_id] = ImageRecord(path=image, width=width, height=height,
                                        source=f"{path}#image{image_id}")
    skipped = []
    for k, ann in enumerate(data["annotations"]):
        where = f"{path}: annotations[{k}]"
        _require(ann, ("id", "image_id", "category_id", "bbox"), where)
        where = f"{where} (id {ann['id']})"
        if _integer(ann, "image_id", where) not in records:
            raise DatasetError(f"{where}: image_id {ann['image_id']} is not in images")
        if _integer(ann, "category_id", where) not in known:
            raise DatasetError(f"{where}: category_id {ann['category_id']} is not in categories")
        box = ann["bbox"]
        x, y, w, h = _box(box, where)
        if w < 0 or h < 0:
            raise DatasetError(f"{where}: bbox {box} has a negative {'width' if w < 0 else 'height'}")
        rec = records[ann["image_id"]]
        if ann.get("iscrowd", 0) not in (0, 1):
            raise DatasetError(f"{where}: iscrowd must be 0 or 1, got {ann['iscrowd']!r}")
        is_crowd = ann.get("iscrowd", 0) == 1
        if is_crowd and crowd == "skip":
            skipped.append(f"{where}: crowd annotation skipped")
            continue
        x1, y1 = max(x, 0.0), max(y, 0.0)
        x2, y2 = min(x + w, rec.width), min(y + h, rec.height)
        if x2 - x1 < 1 or y2 - y1 < 1:
            skipped.append(f"{where}: box {box} is under one pixel inside the image; skipped")
            continue
        if (x1, y1, x2, y2) != (x, y, x + w, y + h):
            skipped.append(f"{where}: box {box} clipped to the {rec.width}x{rec.height} image")
        rec.objects.append(BoxObject(categories.index(ann["category_id"]), x1, y1, x2, y2,
                                     difficult=is_crowd))
    return CocoDataset(list(records.values()), categories, list(records), path, data, skipped)
