"""Detect objects in images and write annotated copies plus JSON/TSV of the detections.

The command line of ``demo.py``; usage examples are in that file.
"""
from __future__ import annotations

import argparse
import glob
import json
import logging
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from common import cli
from common.paths import BUNDLED_MODEL, DEMO_IMAGES, IMAGE_SUFFIXES
from symbol import options

log = logging.getLogger("demo")


def build_parser() -> argparse.ArgumentParser:
    p = cli.make_parser("python demo.py", "Run a detector on images.")
    p.add_argument("images", nargs="*", default=[str(DEMO_IMAGES)],
                   help="image files, folders or glob patterns (default: data/demo)")
    cli.add_model_args(p, default=str(BUNDLED_MODEL))
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder")
    p.add_argument("--thresh", type=cli.unit_float, default=0.5, help="minimum score to report")
    p.add_argument("--class-names", default=None,
                   help="override the model's class names (as many as the model has)")
    p.add_argument("--draw", action=argparse.BooleanOptionalAction, default=True,
                   help="write annotated images")
    options.add_detection_args(p)
    cli.add_device_args(p)
    return p


def expand_inputs(items: Sequence[str]) -> List[Path]:
    """Files, folders (their images, sorted) and glob patterns, in order, without repeats."""
    paths: List[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
        elif p.is_file():
            found = [p]
        else:
            found = [Path(q) for q in sorted(glob.glob(item))]
            if not found:
                raise FileNotFoundError(f"{item}: no such file, folder or matching image")
        paths.extend(q for q in found if q not in paths)
    if not paths:
        raise FileNotFoundError(f"no images in {', '.join(items)}")
    return paths


def _previous_images(out: Path) -> List[Path]:
    """Annotated images a previous demo run listed in ``out/detections.json``."""
    try:
        previous = json.loads((out / "detections.json").read_text())
        return [out / Path(item["annotated"]).name for item in previous.get("images", [])
                if item.get("annotated")]
    except (OSError, ValueError, TypeError, AttributeError):
        return []


def run(args: argparse.Namespace) -> int:
    from common.atomic import write_json, write_text
    from common.images import read_image
    from dataset.records import read_class_names
    from detect.draw import TSV_HEADER, detections_to_dicts, output_image_path, tsv_lines, write_annotated
    from detect.loading import detector_from_args

    detector = detector_from_args(args)
    names = detector.meta.class_names
    if args.class_names:
        names = read_class_names(args.class_names)
        if len(names) != detector.meta.num_classes:
            raise ValueError(f"--class-names gives {len(names)} names; the model has "
                             f"{detector.meta.num_classes} classes")
    paths = expand_inputs(args.images)
    stale = _previous_images(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    results, lines, used, failed = [], [], set(), 0
    for path in paths:
        try:
            image = read_image(path)
        except ValueError as err:
            print(f"error: {err}; skipped", file=sys.stderr)
            failed += 1
            continue
        dets = detector.detect([image], thresh=args.thresh)[0]
        rows = detections_to_dicts(dets, names)
        item = {"image": str(path), "width": image.shape[1], "height": image.shape[0], "detections": rows}
        if args.draw:
            target = output_image_path(args.out, path, used)
            write_annotated(target, image, dets, names)
            item["annotated"] = target.name
        results.append(item)
        lines += tsv_lines(str(path), rows)
        print(f"{path}: {len(rows)} detections " + ", ".join(
            f"{r['class_name']} {r['score']:.2f}" for r in rows[:8]) + (" ..." if len(rows) > 8 else ""))
    write_json(args.out / "detections.json", {"model": str(args.prefix), "epoch": detector.epoch,
                                               "thresh": args.thresh, "images": results})
    write_text(args.out / "detections.tsv", "\n".join([TSV_HEADER] + lines) + "\n")
    for old in set(stale) - {args.out / item["annotated"] for item in results if "annotated" in item}:
        old.unlink(missing_ok=True)  # the previous run's picture of an image not in this run
    print(f"wrote {len(results)} annotated images, detections.json and detections.tsv to {args.out}")
    return 1 if failed else 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_main(build_parser, run, argv)
