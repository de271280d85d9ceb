"""A plain list of images and boxes, one image per line.

Each line is ``relative/path.jpg x1,y1,x2,y2,cls x1,y1,x2,y2,cls ...``:
pixel corners and a 0-based class index; a line with only a path is an
image without objects; blank lines and ``#`` comments are skipped. Paths
are relative to ``root`` and contain no spaces. Errors name the file and line.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Sequence

from PIL import Image

from dataset.records import BoxObject, DatasetError, ImageRecord, validate_box


def _image_size(path: Path, where: str):
    if not path.is_file():
        raise DatasetError(f"{where}: image file {path} not found")
    try:
        with Image.open(path) as im:
            return im.size
    except OSError as err:
        raise DatasetError(f"{where}: {path} is not a readable image ({err})") from None


def parse_box(token: str, num_classes: int, where: str) -> BoxObject:
    parts = token.split(",")
    if len(parts) != 5:
        raise DatasetError(f"{where}: box {token!r} must be x1,y1,x2,y2,cls")
    try:
        x1, y1, x2, y2 = (float(v) for v in parts[:4])
        cls = int(parts[4])
    except ValueError:
        raise DatasetError(f"{where}: box {token!r} must be four numbers and an integer class") from None
    if not 0 <= cls < num_classes:
        raise DatasetError(f"{where}: class {cls} is outside 0..{num_classes - 1}")
    return BoxObject(cls, x1, y1, x2, y2)


def load_list(list_path: Path, root: Path, class_names: Sequence[str]) -> List[ImageRecord]:
    """Records of a list file; image sizes are read from the image headers."""
    list_path, root = Path(list_path), Path(root)
    if not list_path.is_file():
        raise DatasetError(f"{list_path}: list file not found")
    records = []
    for number, line in enumerate(list_path.read_text().splitlines(), start=1):
        tokens = line.split("#", 1)[0].split()
        if not tokens:
            continue
        where = f"{list_path}:{number}"
        image = root / tokens[0]
        width, height = _image_size(image, where)
        objects = []
        for k, token in enumerate(tokens[1:]):
            obj = parse_box(token, len(class_names), f"{where}: box {k}")
            validate_box(obj, width, height, f"{where}: box {k}")
            objects.append(obj)
        records.append(ImageRecord(path=image, width=width, height=height, objects=objects, source=where))
    if not records:
        raise DatasetError(f"{list_path}: no images listed")
    return records
