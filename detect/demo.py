"""Detect objects in images and write annotated copies plus JSON/TSV of the detections.

The command line of ``demo.py``; usage examples are in that file.
"""
import argparse
import glob
import sys
from pathlib import Path
from typing import List, Optional, Sequence

import cv2

from common import cli
from common.atomic import atomic_paths, write_json, write_text
from dataset.records import read_class_names
from detect.draw import TSV_HEADER, detections_to_dicts, draw_detections, output_image_path, tsv_lines
from detect.model import detector_from_args

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = ROOT / "model" / "ssd_mobilenet0.5_synthetic"
DEFAULT_IMAGES = ROOT / "data" / "demo"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Run a detector on images.")
    p.add_argument("images", nargs="*", default=[str(DEFAULT_IMAGES)],
                   help="image files, folders or glob patterns (default: data/demo)")
    p.add_argument("--prefix", default=str(DEFAULT_MODEL),
                   help="model prefix (default: the bundled model)")
    p.add_argument("--epoch", type=int, default=None, help="params NNNN (default: latest)")
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder")
    p.add_argument("--thresh", type=float, default=0.5, help="minimum score to report")
    p.add_argument("--class-names", default=None, help="override the model's class names")
    p.add_argument("--draw", action=argparse.BooleanOptionalAction, default=True,
                   help="write annotated images")
    cli.add_detection_args(p)
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


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    cli.setup_logging()
    try:
        detector = detector_from_args(args)
        names = read_class_names(args.class_names) if args.class_names else detector.meta.class_names
        paths = expand_inputs(args.images)
    except (ValueError, KeyError, FileNotFoundError) as err:
        return cli.print_error(err)
    args.out.mkdir(parents=True, exist_ok=True)
    results, lines, used, failed = [], [], set(), 0
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            print(f"error: {path}: not a readable image, skipped", file=sys.stderr)
            failed += 1
            continue
        dets = detector.detect([image], thresh=args.thresh)[0]
        rows = detections_to_dicts(dets, names)
        results.append({"image": str(path), "width": image.shape[1], "height": image.shape[0],
                        "detections": rows})
        lines += tsv_lines(str(path), rows)
        if args.draw:
            target = output_image_path(args.out, path, used)
            with atomic_paths(target) as (tmp,):
                ok, buf = cv2.imencode(".jpg", draw_detections(image, dets, names))
                tmp.write_bytes(buf.tobytes())
        print(f"{path}: {len(rows)} detections " + ", ".join(
            f"{r['class_name']} {r['score']:.2f}" for r in rows[:8]) + (" ..." if len(rows) > 8 else ""))
    write_json(args.out / "detections.json", {"model": str(args.prefix), "epoch": detector.epoch,
                                               "thresh": args.thresh, "images": results})
    write_text(args.out / "detections.tsv", "\n".join([TSV_HEADER] + lines) + "\n")
    print(f"wrote {len(results)} annotated images, detections.json and detections.tsv to {args.out}")
    return 1 if failed else 0

