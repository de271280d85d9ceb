"""Precision-recall plots and a grid of ground truth vs predictions.

``plot_pr_curves`` writes ``pr_<class>.png`` per class (VOC matching at the
evaluator's IoU, difficult objects ignored) and ``pr_summary.png`` (every
class's curve and a bar chart of per-class AP). ``save_examples`` writes
one JPEG tiling evaluation images with ground truth in green and
predictions in their class colours.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import List, Sequence

import cv2
import numpy as np
from matplotlib.figure import Figure

from common.atomic import atomic_paths
from dataset import label_layout as objs
from detect.draw import draw_detections
from evaluate.voc_ap import VOCEvaluator, area_ap, voc07_ap
from symbol import detection_layout as rows

GT_COLOR = (0, 200, 0)


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name)


def _save(fig: Figure, path: Path) -> None:
    """Write ``fig`` as PNG atomically (a plain Figure: no pyplot state, no GUI backend)."""
    with atomic_paths(path) as (tmp,):
        fig.savefig(tmp, format="png", dpi=100)


def plot_pr_curves(evaluator: VOCEvaluator, out_dir: Path) -> List[Path]:
    """Per-class PR curves and a summary figure; returns the files written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written, curves = [], {}
    for c, name in enumerate(evaluator.class_names):
        curve = evaluator.pr_curve(c)
        if curve is None:
            continue
        curves[name] = curve
        fig = Figure(figsize=(4, 4))
        ax = fig.subplots()
        ax.plot(*curve, color="tab:blue")
        ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision",
               title=f"{name}: VOC07 AP {voc07_ap(*curve):.3f}, area {area_ap(*curve):.3f}")
        ax.grid(alpha=0.3)
        path = out_dir / f"pr_{_safe(name)}.png"
        _save(fig, path)
        written.append(path)
    fig = Figure(figsize=(11, 4.5))
    left, right = fig.subplots(1, 2)
    for name, (recall, precision) in curves.items():
        left.plot(recall, precision, label=name)
    left.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision",
             title=f"IoU {evaluator.iou_thresh}")
    left.legend(fontsize=7)
    aps = evaluator.average_precisions("voc07")
    names = [n for n in evaluator.class_names if aps[n] is not None]
    right.barh(names, [aps[n] for n in names], color="tab:blue")
    right.axvline(evaluator.mean_ap("voc07"), color="tab:red", label="mAP")
    right.set(xlim=(0, 1), xlabel="VOC07 AP")
    right.legend()
    fig.tight_layout()
    path = out_dir / "pr_summary.png"
    _save(fig, path)
    return written + [path]


def annotate(image_bgr: np.ndarray, ground_truth: np.ndarray, detections: np.ndarray,
             class_names: Sequence[str], thresh: float) -> np.ndarray:
    """``image_bgr`` with ground-truth boxes (green, dashed for difficult) and detections >= thresh.

    Boxes are normalized: ``ground_truth`` rows ``[cls, x1, y1, x2, y2(, difficult)]``,
    ``detections`` rows ``[cls, score, x1, y1, x2, y2]``.
    """
    h, w = image_bgr.shape[:2]
    out = image_bgr.copy()
    gts = objs.objects_to_pixels(objs.valid_objects(ground_truth), w, h)
    for row, hard in zip(gts, objs.difficult(gts)):
        x1, y1, x2, y2 = row[objs.BOX].round().astype(int)
        cv2.rectangle(out, (x1, y1), (x2, y2), GT_COLOR, 1 if hard else 2)
    dets = rows.valid(detections)
    dets = rows.to_pixels(dets[dets[:, rows.SCORE] >= thresh], w, h)
    return draw_detections(out, dets, class_names)


def example_grid(images: Sequence[np.ndarray], samples, class_names: Sequence[str], *, thresh: float = 0.3,
                 tile: int = 320, columns: int = 4) -> np.ndarray:
    """A BGR grid of ``images`` annotated with their ``samples``' boxes (ground truth and predictions)."""
    tiles = []
    for image, sample in zip(images, samples):
        drawn = annotate(image, sample.ground_truth, sample.detections, class_names, thresh)
        scale = tile / max(drawn.shape[:2])
        drawn = cv2.resize(drawn, (round(drawn.shape[1] * scale), round(drawn.shape[0] * scale)))
        canvas = np.full((tile, tile, 3), 255, np.uint8)
        canvas[:drawn.shape[0], :drawn.shape[1]] = drawn
        tiles.append(canvas)
    if not tiles:
        raise ValueError("no images to draw")
    rows = -(-len(tiles) // columns)
    tiles += [np.full_like(tiles[0], 255)] * (rows * columns - len(tiles))
    return np.vstack([np.hstack(tiles[r * columns:(r + 1) * columns]) for r in range(rows)])


def save_examples(images: Sequence[np.ndarray], samples, class_names: Sequence[str], path: Path,
                  *, thresh: float = 0.3, tile: int = 320, columns: int = 4) -> Path:
    """A grid JPEG of ``images`` (BGR) annotated with their ``samples``' boxes (``example_grid``)."""
    grid = example_grid(images, samples, class_names, thresh=thresh, tile=tile, columns=columns)
    with atomic_paths(path) as (tmp,):
        ok, data = cv2.imencode(".jpg", grid)
        Path(tmp).write_bytes(data.tobytes())
    return Path(path)
