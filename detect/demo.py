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
    p = cli.make_parser("python demo.py", "Run a detector on images, a video or a camera.")
    p.add_argument("images", nargs="*", default=[str(DEMO_IMAGES)],
                   help="image files, folders or glob patterns (default: data/demo)")
    source = p.add_argument_group("video and camera")
    one = source.add_mutually_exclusive_group()
    one.add_argument("--video", type=Path, default=None,
                     help="a video file: writes OUT/<name>.mp4 (or --out FILE.mp4) with the detections drawn")
    one.add_argument("--camera", type=cli.nonnegative_int, default=None, metavar="N",
                     help="camera N: a window when a display exists, else OUT/camera.mp4 (Ctrl-C or q stops)")
    source.add_argument("--every", type=cli.positive_int, default=1, metavar="K",
                        help="detect on every K-th frame (the frames between show the last detections)")
    source.add_argument("--jsonl", action=argparse.BooleanOptionalAction, default=False,
                        help="also write each detected frame's detections as JSON lines beside the video")
    source.add_argument("--max-frames", type=cli.positive_int, default=None,
                        help="stop after this many frames")
    cli.add_model_args(p, default=str(BUNDLED_MODEL))
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder")
    p.add_argument("--thresh", type=cli.unit_float, default=0.5, help="minimum score to report")
    p.add_argument("--class-names", default=None,
                   help="override the model's class names (as many as the model has)")
    p.add_argument("--draw", action=argparse.BooleanOptionalAction, default=True,
                   help="write annotated images")
    options.add_detection_args(p)
    cli.add_engine_args(p)
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


def _video_path(args, name: str) -> Path:
    return args.out if args.out.suffix.lower() == ".mp4" else args.out / f"{name}.mp4"


def run_video(args: argparse.Namespace, detector, names) -> int:
    """``--video`` or ``--camera``: annotated frames to a .mp4 (or a window), JSON lines optionally."""
    import contextlib

    import cv2

    from common.atomic import atomic_paths
    from detect import video
    camera = args.camera is not None
    capture = video.open_capture(args.camera if camera else str(args.video),
                                 "camera" if camera else str(args.video))
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    total = None if camera else int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    window = camera and video.has_display() and args.out.suffix.lower() != ".mp4"
    target = _video_path(args, "camera" if camera else args.video.stem)
    with contextlib.ExitStack() as stack:
        jsonl = None
        if args.jsonl:
            (tmp,) = stack.enter_context(atomic_paths(target.with_suffix(".jsonl")))
            jsonl = stack.enter_context(open(tmp, "w"))
        if window:
            def show(frame):
                cv2.imshow("SSD (q to quit)", frame)
                return cv2.waitKey(1) & 0xFF != ord("q")
            sink = lambda frame: None  # noqa: E731
        else:
            writer = stack.enter_context(video.video_writer(target, fps, size))
            sink, show = writer.write, None
        try:
            stats = video.annotate_stream(detector, names, video.frames(capture, args.max_frames), sink,
                                          every=args.every, thresh=args.thresh, jsonl=jsonl, show=show,
                                          total=total, progress=not camera)
        except KeyboardInterrupt:
            if not camera:
                raise
            stats = None  # a camera run ends with Ctrl-C: keep what was written
        finally:
            if jsonl is not None:
                jsonl.flush()
    capture.release()
    if window:
        cv2.destroyAllWindows()
    done = f"{stats.frames} frames, {stats.detected} detected at {stats.fps:.1f} fps" if stats else "stopped"
    print(f"{'camera ' + str(args.camera) if camera else args.video}: {done}"
          + ("" if window else f"; wrote {target}" + (f" and {target.with_suffix('.jsonl')}" if args.jsonl
                                                          else "")))
    return 0


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
    if args.video is not None or args.camera is not None:
        return run_video(args, detector, names)
    paths = expand_inputs(args.images)
    stale = _previous_images(args.out)
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
    if not results:
        raise ValueError(f"none of the {len(paths)} input(s) is a readable image; nothing written")
    write_json(args.out / "detections.json", {"model": str(args.prefix), "epoch": detector.epoch,
                                               "thresh": args.thresh, "images": results})
    write_text(args.out / "detections.tsv", "\n".join([TSV_HEADER] + lines) + "\n")
    for old in set(stale) - {args.out / item["annotated"] for item in results if "annotated" in item}:
        old.unlink(missing_ok=True)  # the previous run's picture of an image not in this run
    print(f"wrote {len(results)} annotated images, detections.json and detections.tsv to {args.out}")
    return 1 if failed else 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_main(build_parser, run, argv)
