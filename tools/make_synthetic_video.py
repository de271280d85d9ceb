"""A short synthetic video for trying ``demo.py --video``: scenes of the synthetic VOC generator, panning.

Usage::

    python -m tools.make_synthetic_video --out build/clip.mp4 --seconds 3

Every ``--scene-frames`` frames a new scene (``tools.make_synthetic_voc.render_image``) is
drawn; within a scene the picture pans sideways a few pixels per frame. MPEG-4 (``mp4v``).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional, Sequence

from common import cli


def build_parser() -> argparse.ArgumentParser:
    p = cli.make_parser("python -m tools.make_synthetic_video", "Write a short synthetic video.")
    p.add_argument("--out", type=Path, required=True, help="video file to write (.mp4)")
    p.add_argument("--seconds", type=cli.positive_float, default=3.0, help="length")
    p.add_argument("--fps", type=cli.positive_int, default=10, help="frames per second")
    p.add_argument("--size", default="320x240", help="WIDTHxHEIGHT of the frames")
    p.add_argument("--scene-frames", type=cli.positive_int, default=10, help="frames per scene")
    p.add_argument("--seed", type=int, default=7, help="seed of the scenes")
    return p


def write_clip(out: Path, *, seconds: float, fps: int, size, scene_frames: int, seed: int) -> int:
    """Write the clip; returns its frame count."""
    import cv2
    import numpy as np

    from detect.video import video_writer
    from tools.make_synthetic_voc import render_image
    rng = np.random.default_rng(seed)
    count = int(round(seconds * fps))
    with video_writer(out, fps, size) as writer:
        for i in range(count):
            if i % scene_frames == 0:
                scene = cv2.resize(render_image(rng)[0], size)
            writer.write(np.roll(scene, 3 * (i % scene_frames), axis=1))
    return count


def run(args: argparse.Namespace) -> int:
    try:
        size = tuple(int(v) for v in args.size.lower().split("x"))
    except ValueError:
        size = ()
    if len(size) != 2 or min(size) < 16:
        raise ValueError(f"--size: expected WIDTHxHEIGHT of at least 16x16, got {args.size!r}")
    count = write_clip(args.out, seconds=args.seconds, fps=args.fps, size=size,
                       scene_frames=args.scene_frames, seed=args.seed)
    print(f"wrote {args.out}: {count} frames of {size[0]}x{size[1]} at {args.fps} fps")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_main(build_parser, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
