"""Pack a detection dataset (VOC folder, COCO json or list file) into RecordIO.

Usage::

    python -m tools.prepare_dataset --dataset voc --root data/VOCdevkit/synthetic \\
        --split trainval --out data/synthetic/train.rec
    python -m tools.prepare_dataset --root data/VOCdevkit/VOC2007 --split trainval \\
        --root data/VOCdevkit/VOC2012 --split trainval --class-names voc --out data/voc0712/trainval.rec
    python -m tools.prepare_dataset --dataset coco --root images/ \\
        --annotations instances_train.json --out data/coco/train.rec
    python -m tools.prepare_dataset --dataset list --root images/ --annotations train.txt \\
        --class-names cat,dog --out data/pets/train.rec

Writes ``<out>`` (``.rec``), ``.idx``, a ``.json`` sidecar (class names,
image count, largest object count) and, with ``--lst``, an MXNet ``.lst``.
Records are written in a seeded random order (``--no-shuffle`` keeps the
annotations' order): the training iterator shuffles a file by parts of a few
MB, so a dataset listed by class or by source would otherwise give batches of
one kind.
Items that are skipped or changed (COCO crowd boxes with ``--crowd skip``,
boxes under a pixel, boxes clipped to the image) are reported with the reason.
"""
from __future__ import annotations

import argparse
import logging
import random
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from common import cli
from dataset.coco import load_coco
from dataset.listfile import load_list
from dataset.records import DatasetError, ImageRecord, read_class_names
from dataset.voc import load_voc, scan_class_names

log = logging.getLogger("prepare_dataset")
#: Skipped items listed one by one before the rest are only counted.
SHOW_SKIPPED = 20


def build_parser() -> argparse.ArgumentParser:
    p = cli.make_parser("python -m tools.prepare_dataset", "Pack a detection dataset into RecordIO.")
    p.add_argument("--dataset", choices=("voc", "coco", "list"), default="voc", help="input format")
    p.add_argument("--root", type=Path, action="append", required=True,
                   help="voc: the folder holding Annotations/, JPEGImages/, ImageSets/Main/ (repeat with "
                        "--split for several: VOC2007 and VOC2012 into one .rec); coco and list: the folder "
                        "image paths are relative to")
    p.add_argument("--split", action="append", default=None,
                   help="voc: image set name (ImageSets/Main/<split>.txt); repeat to concatenate (one per "
                        "--root when several roots are given)")
    p.add_argument("--annotations", type=Path, default=None,
                   help="coco: the instances json; list: the list file")
    p.add_argument("--class-names", default=None,
                   help="voc and list: comma-separated names, a file with one per line, voc or coco "
                        "(voc default: <root>/classes.txt, else the names found in the annotations)")
    p.add_argument("--crowd", choices=("ignore", "skip"), default="ignore",
                   help="coco: keep crowd boxes as difficult (ignored in evaluation) or drop them")
    p.add_argument("--out", type=Path, required=True, help="output .rec path")
    p.add_argument("--shuffle", action=argparse.BooleanOptionalAction, default=True,
                   help="write the images in a random order (seeded by --seed)")
    p.add_argument("--seed", type=int, default=0, help="seed of --shuffle")
    p.add_argument("--lst", action=argparse.BooleanOptionalAction, default=False,
                   help="also write an MXNet .lst file beside the .rec")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="progress bar")
    return p


def load(args) -> Tuple[List[ImageRecord], Tuple[str, ...], List[str]]:
    """Records, class names and skipped-item reasons of the dataset the flags describe."""
    if args.dataset == "voc":
        sets = voc_sets(args.root, args.split)
        names = _voc_names(args, sets[0])
        return [r for root, split in sets for r in load_voc(root, split, names)], names, []
    if len(args.root) > 1:
        raise DatasetError(f"--dataset {args.dataset} takes one --root")
    args.root = args.root[0]
    if args.annotations is None:
        raise DatasetError(f"--dataset {args.dataset} needs --annotations")
    if args.dataset == "coco":
        data = load_coco(args.annotations, args.root, crowd=args.crowd)
        return data.records, data.categories.names, data.skipped
    if not args.class_names:
        raise DatasetError("--dataset list needs --class-names")
    names = read_class_names(args.class_names)
    return load_list(args.annotations, args.root, names), names, []


def voc_sets(roots: Sequence[Path], splits: Optional[Sequence[str]]) -> List[Tuple[Path, str]]:
    """``(root, split)`` pairs: every split of one root, or one split per root (VOC2007 + VOC2012)."""
    if not splits:
        raise DatasetError("--dataset voc needs --split")
    if len(roots) == 1:
        return [(roots[0], split) for split in splits]
    if len(roots) != len(splits):
        raise DatasetError(f"{len(roots)} --root and {len(splits)} --split: give one --split per --root")
    return list(zip(roots, splits))


def _voc_names(args, first: Tuple[Path, str]) -> Tuple[str, ...]:
    root, split = first
    if args.class_names:
        return read_class_names(args.class_names)
    if (root / "classes.txt").is_file():
        return read_class_names(str(root / "classes.txt"))
    names = scan_class_names(root, split)
    log.info("no class list given: using the %d names found in the annotations: %s",
             len(names), ", ".join(names))
    return names


def report_skipped(skipped: Sequence[str]) -> None:
    for reason in skipped[:SHOW_SKIPPED]:
        log.warning("%s", reason)
    if len(skipped) > SHOW_SKIPPED:
        log.warning("... and %d more skipped or changed items", len(skipped) - SHOW_SKIPPED)


def run(args: argparse.Namespace) -> int:
    from dataset.recordio import pack_records, write_lst
    records, names, skipped = load(args)
    report_skipped(skipped)
    if args.shuffle:
        random.Random(args.seed).shuffle(records)
    info = pack_records(records, args.out, names, progress=args.progress)
    if args.lst:
        root = args.root if isinstance(args.root, Path) else args.root[0] if len(args.root) == 1 else None
        write_lst(records, args.out.with_suffix(".lst"), root=root)
    print(f"{args.out}: {info['num_images']} images, {len(names)} classes, "
          f"at most {info['max_objects']} objects per image"
          + (f"; {len(skipped)} items skipped or changed (listed above)" if skipped else ""))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_main(build_parser, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
