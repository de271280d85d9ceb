"""Drawing detections and writing them as JSON / TSV."""
from __future__ import annotations

import colorsys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Sequence, Tuple

import cv2
import numpy as np

from common.atomic import atomic_paths


def class_color(class_id: int) -> tuple:
    """A distinct BGR colour per class (golden-ratio hue steps)."""
    h = (class_id * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(h, 0.85, 0.95)
    return int(b * 255), int(g * 255), int(r * 255)


def _label_top(box_top: int, height: int, taken: List[Tuple[int, int, int, int]], left: int,
               width: int) -> int:
    """Top of a label ``height`` px tall: above its box, else just inside it, then lower until it
    overlaps no label already drawn (``taken``: x1, y1, x2, y2)."""
    top = box_top - height if box_top - height >= 0 else box_top
    for _ in range(len(taken) + 1):
        hit = [t for t in taken if t[0] < left + width and left < t[2] and t[1] < top + height and top < t[3]]
        if not hit:
            break
        top = max(t[3] for t in hit)
    return top


FONT = cv2.FONT_HERSHEY_SIMPLEX
#: Label text height (capital letters) as a share of the image's shorter side, and its minimum in pixels.
LABEL_SHARE, LABEL_MIN_PX = 0.015, 10
#: Box line width as a share of the shorter side (at least 1 pixel).
LINE_SHARE = 1 / 300


@dataclass(frozen=True)
class LabelStyle:
    """Sizes of what ``draw_detections`` draws on an image, in pixels (font scale for OpenCV)."""

    font_scale: float
    text_thickness: int
    line_width: int

    @classmethod
    def for_image(cls, width: int, height: int) -> "LabelStyle":
        """Text about 1.5% of the shorter side and at least 10 px tall; lines scaled alike.

        Readable on a 300-pixel thumbnail and on a 4000-pixel photo.
        """
        side = min(width, height)
        text_px = max(LABEL_MIN_PX, LABEL_SHARE * side)
        (_, cap_px), _ = cv2.getTextSize("H", FONT, 1.0, 1)
        return cls(font_scale=text_px / cap_px, text_thickness=max(1, round(text_px / 14)),
                   line_width=max(1, round(LINE_SHARE * side)))


def draw_detections(image_bgr: np.ndarray, detections: np.ndarray,
                    class_names: Sequence[str]) -> np.ndarray:
    """A copy of ``image_bgr`` with boxes and ``name score`` labels.

    ``detections`` rows are ``[class_id, score, x1, y1, x2, y2]`` in pixels. A label sits
    above its box, or inside it when the box touches the top edge, and moves down rather
    than cover another label. Sizes follow the image (``LabelStyle.for_image``).
    """
    out = image_bgr.copy()
    style = LabelStyle.for_image(out.shape[1], out.shape[0])
    pad = max(1, round(style.font_scale * 2))
    taken: List[Tuple[int, int, int, int]] = []
    for cls, score, x1, y1, x2, y2 in detections:
        cls = int(cls)
        color = class_color(cls)
        p1, p2 = (int(round(x1)), int(round(y1))), (int(round(x2)), int(round(y2)))
        cv2.rectangle(out, p1, p2, color, style.line_width)
        name = class_names[cls] if 0 <= cls < len(class_names) else str(cls)
        text = f"{name} {score:.2f}"
        (tw, th), base = cv2.getTextSize(text, FONT, style.font_scale, style.text_thickness)
        w, h = tw + 2 * pad, th + base + 2 * pad
        top = _label_top(p1[1], h, taken, p1[0], w)
        taken.append((p1[0], top, p1[0] + w, top + h))
        cv2.rectangle(out, (p1[0], top), (p1[0] + w, top + h), color, -1)
        cv2.putText(out, text, (p1[0] + pad, top + th + pad), FONT, style.font_scale, (0, 0, 0),
                    style.text_thickness, cv2.LINE_AA)
    return out


def write_annotated(path: Path, image_bgr: np.ndarray, detections: np.ndarray,
                    class_names: Sequence[str]) -> None:
    """``draw_detections`` saved as a JPEG at ``path``, atomically."""
    ok, buf = cv2.imencode(".jpg", draw_detections(image_bgr, detections, class_names))
    if not ok:
        raise ValueError(f"{path}: OpenCV could not encode the annotated image")
    with atomic_paths(path) as (tmp,):
        tmp.write_bytes(buf.tobytes())


def detections_to_dicts(detections: np.ndarray, class_names: Sequence[str]) -> List[dict]:
    """JSON-ready rows: class id and name, score, pixel box ``[x1, y1, x2, y2]``."""
    rows = []
    for cls, score, x1, y1, x2, y2 in detections:
        cls = int(cls)
        rows.append({"class_id": cls,
                     "class_name": class_names[cls] if 0 <= cls < len(class_names) else str(cls),
                     "score": round(float(score), 6),
                     "box": [round(float(v), 2) for v in (x1, y1, x2, y2)]})
    return rows


TSV_HEADER = "\t".join(["image", "class_id", "class_name", "score", "x1", "y1", "x2", "y2"])


def tsv_lines(image: str, rows: List[dict]) -> List[str]:
    """``image class_id class_name score x1 y1 x2 y2`` lines, tab-separated."""
    return ["\t".join([image, str(r["class_id"]), r["class_name"], f"{r['score']:.6f}"]
                      + [f"{v:.2f}" for v in r["box"]]) for r in rows]


def output_image_path(out_dir: Path, image_path: Path, used: set) -> Path:
    """``out_dir/<stem>.jpg``, made unique when two inputs share a stem."""
    stem, k = image_path.stem, 1
    name = f"{stem}.jpg"
    while name in used:
        k += 1
        name = f"{stem}_{k}.jpg"
    used.add(name)
    return Path(out_dir) / name
