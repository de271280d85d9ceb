"""Pack a dataset into RecordIO for training and evaluation.

Usage::

    python -m tools.prepare_dataset --dataset voc --root data/VOCdevkit/synthetic \\
        --split trainval --out data/synthetic/train.rec

Writes ``<out>`` (``.rec``), ``.idx``, a ``.json`` sidecar (class names,
image count, largest object count) and, with ``--lst``, an MXNet ``.lst``.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Optional, Sequence

from common import cli
from dataset.recordio import pack_records, write_lst
from dataset.records import DatasetError, read_class_names
from dataset.voc import load_voc


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Pack a detection dataset into RecordIO.")
    p.add_argument("--dataset", choices=("voc",), default="voc", help="input format")
    p.add_argument("--root", type=Path, required=True,
                   help="VOC folder holding Annotations/, JPEGImages/, ImageSets/Main/")
    p.add_argument("--split", action="append", required=True,
                   help="image set name (ImageSets/Main/<split>.txt); repeat to concatenate")
    p.add_argument("--class-names", default=None,
                   help="comma-separated names or a file with one per line "
                        "(default: <root>/classes.txt)")
    p.add_argument("--out", type=Path, required=True, help="output .rec path")
    p.add_argument("--lst", action=argparse.BooleanOptionalAction, default=False,
                   help="also write an MXNet .lst file beside the .rec")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        names = read_class_names(args.class_names or str(args.root / "classes.txt"))
        records = [r for split in args.split for r in load_voc(args.root, split, names)]
        info = pack_records(records, args.out, names, progress=args.progress)
        if args.lst:
            write_lst(records, args.out.with_suffix(".lst"), root=args.root)
    except DatasetError as err:
        return cli.print_error(err)
    print(f"{args.out}: {info['num_images']} images, {len(names)} classes, "
          f"at most {info['max_objects']} objects per image")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
