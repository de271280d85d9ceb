"""Write a VOC folder's split as a COCO instances json (for COCO-format training and evaluation).

VOC boxes are 1-based inclusive pixel indices, so ``xmin..xmax`` covers the
continuous range ``[xmin - 1, xmax]``: the COCO box is ``[xmin - 1, ymin - 1,
xmax - xmin + 1, ymax - ymin + 1]``. Difficult objects become crowd regions
(``iscrowd: 1``), which COCO's evaluation ignores as VOC's ignores difficult ones.

Usage::

    python -m tools.voc_to_coco --root data/VOCdevkit/synthetic --split test \\
        --out data/VOCdevkit/synthetic/annotations/instances_test.json
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Optional, Sequence

from common import cli
from common.atomic import write_json
from dataset.records import read_class_names
from dataset.voc import load_voc


def voc_to_coco(records, class_names, image_root: Path, first_id: int = 1) -> dict:
    """A COCO instances dict of ``records``; category ids ``first_id, first_id + 1, ...``."""
    images, annotations = [], []
    for image_id, rec in enumerate(records, start=1):
        images.append({"id": image_id, "file_name": os.path.relpath(rec.path, image_root),
                       "width": rec.width, "height": rec.height})
        for o in rec.objects:
            w, h = o.xmax - o.xmin + 1, o.ymax - o.ymin + 1
            annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                "category_id": first_id + o.class_id, "bbox": [o.xmin - 1, o.ymin - 1, w, h],
                                "area": w * h, "iscrowd": int(o.difficult)})
    categories = [{"id": first_id + i, "name": n} for i, n in enumerate(class_names)]
    return {"images": images, "annotations": annotations, "categories": categories}


def build_parser() -> argparse.ArgumentParser:
    p = cli.make_parser("python -m tools.voc_to_coco", "Convert a VOC split to a COCO instances json.")
    p.add_argument("--root", type=Path, required=True, help="VOC folder")
    p.add_argument("--split", required=True, help="image set (ImageSets/Main/<split>.txt)")
    p.add_argument("--class-names", default=None,
                   help="names, a file, voc or coco (default: <root>/classes.txt)")
    p.add_argument("--out", type=Path, required=True, help="json to write")
    p.add_argument("--image-root", type=Path, default=None,
                   help="folder file_name is relative to (default: <root>/JPEGImages)")
    p.add_argument("--first-id", type=cli.nonnegative_int, default=1, help="category id of the first class")
    return p


def run(args: argparse.Namespace) -> int:
    names = read_class_names(args.class_names or str(args.root / "classes.txt"))
    records = load_voc(args.root, args.split, names)
    data = voc_to_coco(records, names, args.image_root or args.root / "JPEGImages", args.first_id)
    write_json(args.out, data)
    print(f"wrote {args.out}: {len(data['images'])} images, {len(data['annotations'])} boxes")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_main(build_parser, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
