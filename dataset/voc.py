"""Pascal VOC folders: ``<root>/<name>/{Annotations,JPEGImages,ImageSets/Main}``.

Boxes in the XML are 1-based inclusive pixel indices; records keep them as
written (``xmin - 1`` is not applied), and normalization divides by the image
size, as the original SSD tools do.
"""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import List, Sequence

from dataset.records import BoxObject, DatasetError, ImageRecord, validate_box


def image_set_ids(root: Path, split: str) -> List[str]:
    """Image ids listed in ``ImageSets/Main/<split>.txt``."""
    path = Path(root) / "ImageSets" / "Main" / f"{split}.txt"
    if not path.is_file():
        raise DatasetError(f"{path}: image set file not found")
    ids = [ln.split()[0] for ln in path.read_text().splitlines() if ln.strip()]
    if not ids:
        raise DatasetError(f"{path}: image set is empty")
    return ids


def _text(node, tag: str, where: str) -> str:
    child = node.find(tag)
    if child is None or child.text is None or not child.text.strip():
        raise DatasetError(f"{where}: missing <{tag}>")
    return child.text.strip()


def _number(node, tag: str, where: str) -> float:
    value = _text(node, tag, where)
    try:
        number = float(value)
    except ValueError:
        raise DatasetError(f"{where}: <{tag}> is not a number: {value!r}") from None
    if not math.isfinite(number):
        raise DatasetError(f"{where}: <{tag}> is not a finite number: {value!r}")
    return number


def parse_annotation(xml_path: Path, class_names: Sequence[str]) -> ImageRecord:
    """One VOC annotation file as an ImageRecord (pixel boxes).

    Raises
    ------
    DatasetError
        Malformed XML, missing fields, an unknown class name, or a box that
        is empty or outside the image; the message names the file and object.
    """
    xml_path = Path(xml_path)
    try:
        tree = ET.parse(xml_path)
    except ET.ParseError as err:
        raise DatasetError(f"{xml_path}: malformed XML: {err}") from None
    except OSError as err:
        raise DatasetError(f"{xml_path}: cannot read annotation: {err}") from None
    root = tree.getroot()
    size = root.find("size")
    if size is None:
        raise DatasetError(f"{xml_path}: missing <size>")
    width, height = int(_number(size, "width", str(xml_path))), int(_number(size, "height", str(xml_path)))
    if width <= 0 or height <= 0:
        raise DatasetError(f"{xml_path}: image size {width}x{height} is not positive")
    filename = _text(root, "filename", str(xml_path))
    image_path = xml_path.parent.parent / "JPEGImages" / filename
    index = {name: i for i, name in enumerate(class_names)}
    objects = []
    for k, obj in enumerate(root.findall("object")):
        where = f"{xml_path}: object {k}"
        name = _text(obj, "name", where)
        if name not in index:
            raise DatasetError(f"{where}: unknown class name {name!r}; known: {', '.join(class_names)}")
        box = obj.find("bndbox")
        if box is None:
            raise DatasetError(f"{where}: missing <bndbox>")
        difficult = obj.find("difficult")
        item = BoxObject(index[name], *(_number(box, t, where) for t in ("xmin", "ymin", "xmax", "ymax")),
                         difficult=difficult is not None and (difficult.text or "0").strip() == "1")
        validate_box(item, width, height, where)
        objects.append(item)
    return ImageRecord(path=image_path, width=width, height=height, objects=objects, source=str(xml_path))


def load_voc(root: Path, split: str, class_names: Sequence[str]) -> List[ImageRecord]:
    """All records of ``split`` in the VOC folder ``root`` (e.g. ``VOCdevkit/VOC2007``)."""
    root = Path(root)
    records = [parse_annotation(root / "Annotations" / f"{i}.xml", class_names)
               for i in image_set_ids(root, split)]
    return records


def scan_class_names(root: Path, split: str) -> tuple:
    """The object names used in ``split``'s annotations, sorted: for VOC folders without a class list."""
    root = Path(root)
    names = set()
    for image_id in image_set_ids(root, split):
        xml_path = root / "Annotations" / f"{image_id}.xml"
        try:
            tree = ET.parse(xml_path)
        except (ET.ParseError, OSError) as err:
            raise DatasetError(f"{xml_path}: cannot read annotation: {err}") from None
        names.update((n.text or "").strip() for n in tree.getroot().iter("name")
                     if n.text and n.text.strip())
    if not names:
        raise DatasetError(f"{root}: no object names in the {split!r} annotations")
    return tuple(sorted(names))
