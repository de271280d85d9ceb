"""TensorBoard logging of a training run (``train.py --log-dir``), with mxboard.

Per epoch: the losses, the learning rate and images/s as scalars. Per
validation: VOC07 mAP, every class's AP, its precision-recall curve, and a grid
of validation images with ground truth (green) and predictions. View with
``tensorboard --logdir DIR``.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np

#: Validation images drawn in the example grid.
EXAMPLES = 8


class TrainingLog:
    """Writes the event files of one run (only rank 0 of a distributed job makes one)."""

    def __init__(self, log_dir: Path):
        # Imported here: mxboard registers protobuf messages named as TensorBoard's own, so a process
        # that reads event files with tensorboard must not have loaded it without need.
        from mxboard import SummaryWriter
        self.writer = SummaryWriter(logdir=str(log_dir))

    def epoch(self, stats) -> None:
        """Scalars of an ``EpochStats``: losses, ``lr``, ``images_per_sec``, ``val_map``."""
        for key, value in asdict(stats).items():
            if key != "epoch" and value is not None:
                self.writer.add_scalar(key, value, global_step=stats.epoch)
        self.writer.flush()

    def validation(self, epoch: int, evaluator, samples: Sequence, images: Sequence[np.ndarray]) -> None:
        """Per-class AP and PR curves of a ``VOCEvaluator``, and a grid of ``samples`` drawn on ``images``."""
        for name, ap in evaluator.average_precisions("voc07").items():
            if ap is None:
                continue
            self.writer.add_scalar(f"AP/{name}", ap, global_step=epoch)
            labels, scores = evaluator.scored(evaluator.class_names.index(name))
            if len(scores):
                self.writer.add_pr_curve(f"PR/{name}", labels=labels, predictions=np.clip(scores, 0, 1),
                                         num_thresholds=101, global_step=epoch)
        if samples:
            from evaluate.plots import example_grid
            grid = example_grid(images, samples, evaluator.class_names, thresh=0.3)
            chw = cv2.cvtColor(grid, cv2.COLOR_BGR2RGB).transpose(2, 0, 1)
            self.writer.add_image("validation/examples", chw, global_step=epoch)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def open_log(log_dir: Optional[Path]) -> Optional[TrainingLog]:
    return TrainingLog(log_dir) if log_dir else None
