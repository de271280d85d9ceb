"""The in-memory form every dataset reader produces.

Boxes here are in **pixels** of the original image, ``[xmin, ymin, xmax,
ymax]``; class ids are 0-based foreground ids.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Sequence, Tuple


class DatasetError(ValueError):
    """A problem with input data; the message names the file (and entry) at fault."""


@dataclass(frozen=True)
class BoxObject:
    """One annotated object, pixel coordinates."""

    class_id: int
    xmin: float
    ymin: float
    xmax: float
    ymax: float
    difficult: bool = False


@dataclass
class ImageRecord:
    """One image and its objects."""

    path: Path
    width: int
    height: int
    objects: List[BoxObject] = field(default_factory=list)
    source: str = ""  # annotation file (or file:line) the record came from


def validate_box(obj: BoxObject, width: int, height: int, where: str) -> None:
    """Raise DatasetError unless ``obj`` lies inside a ``width`` x ``height`` image.

    VOC boxes are 1-based inclusive pixel indices, so coordinates up to
    ``width``/``height`` are accepted.
    """
    coords = (obj.xmin, obj.ymin, obj.xmax, obj.ymax)
    if not all(math.isfinite(v) for v in coords):
        raise DatasetError(f"{where}: box {coords} has a coordinate that is not a finite number")
    if obj.xmax <= obj.xmin or obj.ymax <= obj.ymin:
        raise DatasetError(f"{where}: empty box (xmin, ymin, xmax, ymax) = {coords}: "
                           "needs xmax > xmin and ymax > ymin")
    if obj.xmin < 0 or obj.ymin < 0 or obj.xmax > width or obj.ymax > height:
        raise DatasetError(f"{where}: box {coords} lies outside the {width}x{height} image")


def read_class_names(spec: str | Sequence[str]) -> Tuple[str, ...]:
    """Class names from a list, a comma-separated string, a file (one per line), ``voc`` or ``coco``."""
    from dataset.classes import KNOWN_CLASS_LISTS
    if not isinstance(spec, str):
        names = [str(n).strip() for n in spec]
    elif spec in KNOWN_CLASS_LISTS and not Path(spec).is_file():
        names = list(KNOWN_CLASS_LISTS[spec])
    elif Path(spec).is_file():
        names = [ln.strip() for ln in Path(spec).read_text().splitlines()]
        names = [n for n in names if n and not n.startswith("#")]
    else:
        names = [n.strip() for n in spec.split(",")]
    if not names or any(not n for n in names):
        raise DatasetError(f"class names {spec!r}: empty name or empty list")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DatasetError(f"class names {spec!r}: duplicated {dupes}")
    return tuple(names)
