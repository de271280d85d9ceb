"""What a training run does besides fitting: validation, checkpoints, progress, TensorBoard, record logs.

``Trainer.fit`` calls every hook at fixed points (detectron2's ``HookBase`` is the model):
``before_train``, ``before_epoch``, ``after_step`` (with the epoch's running sums), ``after_epoch``
(with the epoch's ``EpochStats``; a hook may fill ``val_map``) and ``after_train``. Hooks run in
list order, so validation comes before the hooks that report it. ``default_hooks`` gives the
hooks ``train.py`` runs; a caller may pass its own list.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import List, Optional

import numpy as np
from tqdm import tqdm

log = logging.getLogger("train.trainer")


class Hook:
    """A no-op at every point of the loop; subclasses override what they need."""

    def before_train(self, trainer) -> None:
        pass

    def before_epoch(self, trainer, epoch: int) -> None:
        pass

    def after_step(self, trainer, epoch: int, step: int, sums: np.ndarray) -> None:
        """After batch ``step`` (0-based) of ``epoch``; ``sums``: the epoch's [loss, cls, loc, num_pos]."""

    def after_epoch(self, trainer, stats) -> None:
        pass

    def after_train(self, trainer) -> None:
        pass


def losses_text(loss: float, cls_loss: float, loc_loss: float, lr: float, images_per_sec: float) -> str:
    """The log text of per-matched-box losses, learning rate and speed (epoch and batch lines)."""
    return (f"loss {loss:.4f} (cross-entropy {cls_loss:.4f}, smooth-L1 {loc_loss:.4f}) lr {lr:.5g}, "
            f"{images_per_sec:.1f} img/s")


def _due(epoch: int, every: int, last: int) -> bool:
    return epoch % every == 0 or epoch == last


class ValidationHook(Hook):
    """VOC07 mAP on the validation set every ``every`` epochs and after the last, into ``stats.val_map``;
    the first ``keep`` images' samples stay in ``trainer.last_validation`` for reporting hooks."""

    def __init__(self, every: int, keep: int = 0):
        self.every, self.keep = every, keep

    def after_epoch(self, trainer, stats) -> None:
        if _due(stats.epoch, self.every, trainer.config.solver.epochs):
            stats.val_map = trainer.validate(keep=self.keep)


class CheckpointHook(Hook):
    """A checkpoint (symbol, params, states, metadata) every ``every`` epochs and after the last."""

    def __init__(self, every: int):
        self.every = every

    def after_epoch(self, trainer, stats) -> None:
        if _due(stats.epoch, self.every, trainer.config.solver.epochs):
            trainer.save_checkpoint(stats.epoch)


class ProgressHook(Hook):
    """A progress bar with the running losses, or (``bar=False``, logs to a file) a line every
    ``interval`` batches; a line per epoch either way."""

    def __init__(self, bar: bool, interval: int):
        self.bar, self.interval = bar, interval
        self._bar: Optional[tqdm] = None
        self._start = 0.0

    def before_epoch(self, trainer, epoch: int) -> None:
        self._start = time.time()
        if self.bar:
            self._bar = tqdm(total=trainer.batches_per_epoch, desc=f"epoch {epoch}", unit="batch",
                             leave=False)

    def after_step(self, trainer, epoch: int, step: int, sums: np.ndarray) -> None:
        pos = max(sums[3], 1)  # the epoch's running means, per matched box
        if self._bar is not None:
            self._bar.set_postfix(loss=f"{sums[0] / pos:.3f}", ce=f"{sums[1] / pos:.3f}",
                                  l1=f"{sums[2] / pos:.3f}", lr=f"{trainer.current_lr():.4g}", refresh=False)
            self._bar.update()
        elif (step + 1) % self.interval == 0:
            images = (step + 1) * trainer.config.solver.batch_size
            log.info("epoch %d batch %d/%d: %s", epoch, step + 1, trainer.batches_per_epoch,
                     losses_text(sums[0] / pos, sums[1] / pos, sums[2] / pos, trainer.current_lr(),
                                 images / max(time.time() - self._start, 1e-9)))

    def after_epoch(self, trainer, stats) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        log.info("epoch %d: %s%s", stats.epoch,
                 losses_text(stats.loss, stats.cls_loss, stats.loc_loss, stats.lr, stats.images_per_sec),
                 "" if stats.val_map is None else f", val VOC07 mAP {stats.val_map:.4f}")


class TensorBoardHook(Hook):
    """Event files in ``log_dir`` (``train.tensorboard``): scalars every epoch, and each validation's
    per-class AP, precision-recall curves and example images."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.board = None

    def before_train(self, trainer) -> None:
        from train.tensorboard import TrainingLog
        self.board = TrainingLog(self.log_dir)

    def after_epoch(self, trainer, stats) -> None:
        if stats.val_map is not None and trainer.last_validation is not None:
            self.board.validation(stats.epoch, *trainer.last_validation)
        self.board.epoch(stats)

    def after_train(self, trainer) -> None:
        self.board.close()


class RecordLogHook(Hook):
    """``PREFIX-records-workerR.json``: the record indices each epoch trained on (``--record-log``)."""

    def after_epoch(self, trainer, stats) -> None:
        from common.atomic import write_json
        path = Path(f"{trainer.config.run.prefix}-records-worker{trainer.rank}.json")
        write_json(path, {str(e): sorted(v) for e, v in trainer.seen.items() if e <= stats.epoch})


def default_hooks(config, rank: int) -> List[Hook]:
    """The hooks of ``train.py``: every worker logs its records when asked; only rank 0 (the only
    process of a single-process run) validates, writes checkpoints, reports progress and TensorBoard."""
    from train.tensorboard import EXAMPLES
    run = config.run
    hooks: List[Hook] = [RecordLogHook()] if run.record_log else []
    if rank != 0:
        return hooks
    if config.data.val_rec is not None:
        hooks.append(ValidationHook(run.val_every, keep=EXAMPLES if run.log_dir else 0))
    hooks.append(CheckpointHook(run.checkpoint_every))
    hooks.append(ProgressHook(bar=run.progress, interval=run.log_interval))
    if run.log_dir:
        hooks.append(TensorBoardHook(run.log_dir))
    return hooks
