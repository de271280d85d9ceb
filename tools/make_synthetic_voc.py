"""Seeded generator of a Pascal-VOC-format dataset of shapes on cluttered backgrounds.

The project's embedded default dataset: no download is needed to train,
evaluate or test. Each image has a textured, noisy background with clutter,
zero to several objects of ``CLASSES`` at sizes from ~5% to ~80% of the
shorter image side, random rotation, colour and aspect, and objects that
occlude each other or leave the frame. Boxes enclose the *visible* pixels,
as in VOC; an object is ``truncated`` when cut by the border and
``difficult`` when less than ``DIFFICULT_VISIBLE`` of it is visible.

Layout written::

    <out>/VOCdevkit/<name>/JPEGImages/<id>.jpg
    <out>/VOCdevkit/<name>/Annotations/<id>.xml
    <out>/VOCdevkit/<name>/ImageSets/Main/{trainval,test}.txt
    <out>/VOCdevkit/<name>/classes.txt

Usage::

    python -m tools.make_synthetic_voc --out data --name synthetic --trainval 2000 --test 500
"""
from __future__ import annotations

import argparse
import math
import multiprocessing
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

import cv2
import numpy as np

from common import cli

CLASSES = ("circle", "square", "triangle", "star", "cross", "ring")
#: Object side range as a fraction of the image's shorter side.
MIN_SCALE, MAX_SCALE = 0.05, 0.8
#: Objects with less visible area than this fraction are marked difficult.
DIFFICULT_VISIBLE = 0.5
#: Objects with less visible area than this are dropped (not annotated, kept hidden).
MIN_VISIBLE = 0.15
EMPTY_IMAGE_PROB = 0.04
#: Shapes are rotated by up to this many degrees either way (upright-ish, like most objects).
MAX_ROTATION = 25.0


@dataclass
class SyntheticObject:
    name: str
    box: tuple  # (xmin, ymin, xmax, ymax), 1-based inclusive pixels as VOC writes them
    truncated: bool
    difficult: bool


def _shape_polygons(name: str, rng: np.random.Generator) -> List[np.ndarray]:
    """Polygons (unit square [-1, 1]) of a shape; the second of a ring is its hole."""
    def ngon(n, r=1.0, phase=0.0):
        t = phase + np.arange(n) * 2 * np.pi / n
        return np.stack([r * np.cos(t), r * np.sin(t)], axis=1)

    if name == "circle":
        return [ngon(64)]
    if name == "ring":
        return [ngon(64), ngon(64, r=rng.uniform(0.45, 0.6))]
    if name == "square":
        return [ngon(4, r=math.sqrt(2), phase=np.pi / 4) * 0.75]
    if name == "triangle":
        return [ngon(3, phase=-np.pi / 2)]
    if name == "star":
        outer, inner = ngon(5, phase=-np.pi / 2), ngon(5, r=0.42, phase=-np.pi / 2 + np.pi / 5)
        return [np.stack([outer, inner], axis=1).reshape(-1, 2)]
    if name == "cross":
        a = rng.uniform(0.25, 0.4)
        pts = [(-a, -1), (a, -1), (a, -a), (1, -a), (1, a), (a, a), (a, 1), (-a, 1), (-a, a),
               (-1, a), (-1, -a), (-a, -a)]
        return [np.array(pts, dtype=np.float64)]
    raise ValueError(f"unknown shape {name!r}")


def _background(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Gradient + blurred noise texture + clutter lines and blobs, uint8 BGR."""
    c0, c1 = rng.uniform(30, 225, 3), rng.uniform(30, 225, 3)
    t = np.linspace(0, 1, w)[None, :, None] if rng.random() < 0.5 else np.linspace(0, 1, h)[:, None, None]
    img = c0 * (1 - t) + c1 * t + np.zeros((h, w, 3))
    noise = rng.normal(0, 1, (h // 4 + 1, w // 4 + 1, 3))
    noise = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    img += noise * rng.uniform(4, 15)
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(rng.integers(2, 10)):
        color = tuple(int(v) for v in rng.uniform(0, 255, 3))
        p1 = tuple(int(v) for v in rng.uniform(0, 1, 2) * (w, h))
        p2 = tuple(int(v) for v in rng.uniform(0, 1, 2) * (w, h))
        if rng.random() < 0.6:
            cv2.line(img, p1, p2, color, int(rng.integers(1, 3)), cv2.LINE_AA)
        else:
            # Clutter blobs are elongated (>= 3:1) so that none looks like a circle.
            a = rng.uniform(8, 40)
            axes = (int(a), max(1, int(a / rng.uniform(3, 6))))
            cv2.ellipse(img, p1, axes, float(rng.uniform(0, 180)), 0, 360, color, -1, cv2.LINE_AA)
    grain = rng.normal(0, rng.uniform(2, 6), (h, w, 3))
    return np.clip(img + grain, 0, 255).astype(np.uint8)


def _render_mask(polys: List[np.ndarray], h: int, w: int, cx: float, cy: float, side: float,
                 aspect: float, angle: float) -> np.ndarray:
    """Anti-aliased uint8 mask (255 inside) of the shape placed in an h x w image."""
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    scale = np.array([side / 2 * math.sqrt(aspect), side / 2 / math.sqrt(aspect)])
    mask = np.zeros((h, w), np.uint8)
    shift = 4  # sub-pixel precision for fillPoly
    for k, poly in enumerate(polys):
        pts = ((poly * scale) @ rot.T + (cx, cy)) * (1 << shift)
        cv2.fillPoly(mask, [pts.astype(np.int32)], 0 if k else 255, cv2.LINE_AA, shift)
    return mask


def _contrasting_color(background_mean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    for _ in range(50):
        color = rng.uniform(0, 255, 3)
        if np.abs(color - background_mean).sum() > 150:
            return color
    return 255 - background_mean


def render_image(rng: np.random.Generator):
    """One image (uint8 BGR) and its list of SyntheticObject."""
    w, h = int(rng.integers(320, 481)), int(rng.integers(240, 401))
    img = _background(h, w, rng)
    count = 0 if rng.random() < EMPTY_IMAGE_PROB else int(rng.integers(1, 7))
    short = min(w, h)
    masks, names = [], []
    for _ in range(count):
        side = short * math.exp(rng.uniform(math.log(MIN_SCALE), math.log(MAX_SCALE)))
        # Centres may leave the frame by up to a third of the object: truncation.
        margin = -side / 3
        cx, cy = rng.uniform(margin, w - margin), rng.uniform(margin, h - margin)
        name = CLASSES[int(rng.integers(len(CLASSES)))]
        polys = _shape_polygons(name, rng)
        aspect, angle = rng.uniform(0.75, 1.33), np.radians(rng.uniform(-MAX_ROTATION, MAX_ROTATION))
        mask = _render_mask(polys, h, w, cx, cy, side, aspect, angle)
        if mask.max() < 128:
            continue
        # The whole shape, drawn where it fits, gives the unoccluded, untruncated area.
        canvas = int(2 * side) + 4
        whole = _render_mask(polys, canvas, canvas, canvas / 2, canvas / 2, side, aspect, angle)
        full = float((whole > 127).sum())
        region = mask > 127
        color = _contrasting_color(img[region].mean(axis=0), rng)
        shade = np.linspace(rng.uniform(0.75, 1.0), rng.uniform(1.0, 1.25), w)[None, :, None]
        fill = np.clip(color * shade + rng.normal(0, 6, (h, w, 3)), 0, 255)
        alpha = (mask.astype(np.float32) / 255)[..., None]
        img = (img * (1 - alpha) + fill * alpha).astype(np.uint8)
        masks.append(region)
        names.append((name, full))
    objects = []
    for i, (region, (name, full)) in enumerate(zip(masks, names)):
        visible = region.copy()
        for later in masks[i + 1:]:
            visible &= ~later
        ratio = visible.sum() / max(full, 1.0)
        if ratio < MIN_VISIBLE or visible.sum() < 9:
            continue
        ys, xs = np.nonzero(visible)
        box = (int(xs.min()) + 1, int(ys.min()) + 1, int(xs.max()) + 1, int(ys.max()) + 1)
        truncated = region.sum() < 0.98 * full
        objects.append(SyntheticObject(name, box, bool(truncated), bool(ratio < DIFFICULT_VISIBLE)))
    return img, objects


def annotation_xml(image_id: str, width: int, height: int, objects: Sequence[SyntheticObject],
                   folder: str) -> bytes:
    """VOC annotation XML for one image."""
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = folder
    ET.SubElement(root, "filename").text = f"{image_id}.jpg"
    size = ET.SubElement(root, "size")
    for tag, v in (("width", width), ("height", height), ("depth", 3)):
        ET.SubElement(size, tag).text = str(v)
    ET.SubElement(root, "segmented").text = "0"
    for obj in objects:
        node = ET.SubElement(root, "object")
        ET.SubElement(node, "name").text = obj.name
        ET.SubElement(node, "pose").text = "Unspecified"
        ET.SubElement(node, "truncated").text = str(int(obj.truncated))
        ET.SubElement(node, "difficult").text = str(int(obj.difficult))
        box = ET.SubElement(node, "bndbox")
        for tag, v in zip(("xmin", "ymin", "xmax", "ymax"), obj.box):
            ET.SubElement(box, tag).text = str(v)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8")


def _write_images(root: Path, name: str, seed: int, indices: Sequence[int], quality: int) -> None:
    """Render and write images ``indices`` (image ``i`` from the generator seeded ``(seed, i)``)."""
    for i in indices:
        image_id = f"{i:06d}"
        img, objects = render_image(np.random.default_rng([seed, i]))
        cv2.imwrite(str(root / "JPEGImages" / f"{image_id}.jpg"), img,
                    [cv2.IMWRITE_JPEG_QUALITY, quality])
        (root / "Annotations" / f"{image_id}.xml").write_bytes(
            annotation_xml(image_id, img.shape[1], img.shape[0], objects, name))


def generate(out: Path, *, name: str = "synthetic", trainval: int = 2000, test: int = 500,
             seed: int = 0, quality: int = 90, jobs: int = 1) -> Path:
    """Write the dataset and return its VOC folder ``<out>/VOCdevkit/<name>``.

    Image ``i`` depends only on ``(seed, i)``, so sizes can change without
    changing the images that stay, and ``jobs`` processes write the same files
    as one.
    """
    root = Path(out) / "VOCdevkit" / name
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    total = trainval + test
    ids = [f"{i:06d}" for i in range(total)]
    if jobs <= 1:
        _write_images(root, name, seed, range(total), quality)
    else:
        with multiprocessing.get_context("spawn").Pool(jobs) as pool:
            pool.starmap(_write_images, [(root, name, seed, range(k, total, jobs), quality)
                                         for k in range(jobs)])
    (root / "ImageSets/Main/trainval.txt").write_text("\n".join(ids[:trainval]) + "\n")
    (root / "ImageSets/Main/test.txt").write_text("\n".join(ids[trainval:]) + "\n")
    (root / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    return root


def build_parser() -> argparse.ArgumentParser:
    p = cli.make_parser("python -m tools.make_synthetic_voc", __doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("data"), help="folder that gets VOCdevkit/")
    p.add_argument("--name", default="synthetic", help="dataset folder name under VOCdevkit")
    p.add_argument("--trainval", type=cli.nonnegative_int, default=2000, help="images in the trainval split")
    p.add_argument("--test", type=cli.nonnegative_int, default=500, help="images in the test split")
    p.add_argument("--seed", type=int, default=0, help="seed of every image (same seed, same files)")
    p.add_argument("--jobs", type=cli.positive_int, default=1,
                   help="processes writing images (same files for any count)")
    return p


def run(args: argparse.Namespace) -> int:
    if args.trainval + args.test == 0:
        raise ValueError("--trainval and --test are both 0: nothing to generate")
    root = generate(args.out, name=args.name, trainval=args.trainval, test=args.test, seed=args.seed,
                    jobs=args.jobs)
    print(f"wrote {args.trainval} trainval + {args.test} test images to {root}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_main(build_parser, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
