"""The fitting loop: Module over a list of contexts, kvstore, SGD, checkpoints, validation.

Loss normalization follows the paper (eq. 1): the loss is summed over the
whole batch and gradients are divided by the number of matched default
boxes in the batch, ``N``. The training symbol outputs per-image sums and
match counts; before each update the optimizer's ``rescale_grad`` is set to
``1 / N``. Because the division happens after the kvstore has summed the
devices' gradients, one device and several devices compute the same update.
"""
from __future__ import annotations

import contextlib
import logging
import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import List, Optional

import mxnet as mx
import numpy as np
from tqdm import tqdm

from common import modelfile
from common.atomic import atomic_paths
from common.modelmeta import ModelMeta
from dataset.iterator import DetRecordIter
from dataset.recordio import num_records, read_images
from detect.quantize import FIXED_ANCHORS
from evaluate.runner import evaluate_batches
from evaluate.voc_ap import VOCEvaluator
from symbol.builder import deploy_symbol, train_symbol
from symbol.coding import DetectionParams
from symbol.presets import get_preset, with_anchor_scales
from train.amp import LossScaler, anchors_of, check_amp, mixed_train_symbol
from train.config import TrainConfig
from train.params import INITIALIZER, frozen_names, load_pretrained
from train.tensorboard import EXAMPLES, open_log

log = logging.getLogger(__name__)


@dataclass
class EpochStats:
    """Averages over one epoch, per matched default box (as the loss is normalized)."""

    epoch: int
    loss: float
    cls_loss: float
    loc_loss: float
    lr: float
    images_per_sec: float
    val_map: Optional[float] = None


def make_optimizer(config: TrainConfig, lr_scheduler, begin_num_update: int = 0):
    """SGD with momentum (the paper's) or Adam; ``rescale_grad`` is set per batch by the trainer."""
    common = dict(learning_rate=config.lr, wd=config.wd, rescale_grad=1.0, lr_scheduler=lr_scheduler,
                  begin_num_update=begin_num_update)
    if config.optimizer == "sgd":
        return mx.optimizer.SGD(momentum=config.momentum, **common)
    if config.optimizer == "adam":
        return mx.optimizer.Adam(**common)
    raise ValueError(f"optimizer must be 'sgd' or 'adam', got {config.optimizer!r}")


def _losses_text(loss: float, cls_loss: float, loc_loss: float, lr: float, images_per_sec: float) -> str:
    """The log text of per-matched-box losses, learning rate and speed (epoch and batch lines)."""
    return (f"loss {loss:.4f} (cross-entropy {cls_loss:.4f}, smooth-L1 {loc_loss:.4f}) lr {lr:.5g}, "
            f"{images_per_sec:.1f} img/s")


#: kvstore key of the number of matched default boxes, summed over the workers at every step.
NUM_POS_KEY = "ssd_num_pos"


def create_kvstore(kind: str):
    """``(kvstore, rank, number of workers)``: a dist kvstore object joins the job; others stay names."""
    if "dist" not in kind:
        return kind, 0, 1
    kv = mx.kv.create(kind)
    kv.init(NUM_POS_KEY, mx.nd.zeros((1,)))
    return kv, kv.rank, kv.num_workers


@contextlib.contextmanager
def _updates_on_workers():
    """Keep the optimizer on the workers (``Module`` sends it to a dist kvstore's servers by default).

    The trainer changes ``rescale_grad`` at every batch (1 / matched boxes); an optimizer pickled to
    the servers once would never see that (measured: weights moved 4x too far).
    """
    before = os.environ.get("MXNET_UPDATE_ON_KVSTORE")
    os.environ["MXNET_UPDATE_ON_KVSTORE"] = "0"
    try:
        yield
    finally:
        if before is None:
            del os.environ["MXNET_UPDATE_ON_KVSTORE"]
        else:
            os.environ["MXNET_UPDATE_ON_KVSTORE"] = before


class Trainer:
    """Fits an SSD network as described by a TrainConfig.

    Under a dist kvstore (``tools/launch.py``), every worker reads its own part of the
    ``.rec``, takes the same number of steps, normalizes the loss by the matched boxes of all
    workers, and only rank 0 validates, logs and writes checkpoints. ``batch_size`` is per
    worker: N workers of batch B make the update of one process with batch N x B.
    """

    def __init__(self, config: TrainConfig):
        self.config = config
        self.contexts = list(config.contexts) or [mx.cpu()]
        self.kvstore, self.rank, self.num_workers = create_kvstore(config.kvstore)
        #: Record indices trained on, per epoch (for checks of the data split).
        self.seen: dict = {}
        self.preset = get_preset(config.network, config.data_shape)
        if config.anchor_scales:
            self.preset = with_anchor_scales(self.preset, config.anchor_scales)
        if config.top_down is not None:
            self.preset = replace(self.preset, top_down=config.top_down)
        #: The float32 training symbol: checkpoints are saved with it, whatever the training precision.
        self.symbol = train_symbol(self.preset, len(config.class_names))
        check_amp(config.amp, self.contexts)
        self.scaler = self._loss_scaler()
        #: The graph trained: the float32 symbol, or its mixed-precision version (train.amp).
        self.graph = self._graph()
        probe = self.epoch_iterator(0)
        self.provide_data, self.provide_label = probe.provide_data, probe.provide_label

        global_batch = config.batch_size * self.num_workers
        self.batches_per_epoch = math.ceil(num_records(config.train_rec) / global_batch)
        self.begin_epoch = config.resume or 0
        self.module = self._module()
        self._val_module = None
        self.last_validation = None

    # --- set-up -------------------------------------------------------------------------
    def epoch_iterator(self, epoch: int) -> DetRecordIter:
        """The training iterator of ``epoch``, seeded by (seed, epoch).

        Each epoch's order and augmentation depend only on the seed and the
        epoch number, so a resumed run sees the same data as an uninterrupted one.
        """
        c = self.config
        return DetRecordIter(c.train_rec, batch_size=c.batch_size, data_shape=c.data_shape, mean=c.mean,
                             std=c.std, augmentation=c.augmentation, shuffle=True,
                             seed=c.seed * 100003 + epoch, threads=c.threads, num_parts=self.num_workers,
                             part_index=self.rank)

    def epoch_batches(self, epoch: int):
        """Exactly ``batches_per_epoch`` batches of ``epoch``: a worker whose part runs out starts it
        again, so that every worker of a dist_sync job takes the same number of steps."""
        taken = 0
        while taken < self.batches_per_epoch:
            for batch in self.epoch_iterator(epoch):
                yield batch
                taken += 1
                if taken == self.batches_per_epoch:
                    return

    def _loss_scaler(self) -> Optional[LossScaler]:
        """Dynamic loss scaling, which float16 needs (its gradients underflow without it)."""
        return LossScaler() if self.config.amp == "fp16" else None

    def _graph(self) -> mx.sym.Symbol:
        n = len(self.config.class_names)
        loss_output = "makeloss" if self.scaler is None else "identity"
        if self.config.amp:
            return mixed_train_symbol(self.preset, n, self.config.amp, loss_output=loss_output)
        return self.symbol if self.scaler is None else train_symbol(self.preset, n, loss_output=loss_output)

    def _module(self) -> mx.mod.Module:
        c = self.config
        mx.random.seed(c.seed)
        np.random.seed(c.seed)
        fixed = frozen_names(self.symbol, c.freeze) + ([FIXED_ANCHORS] if c.amp else [])
        mod = mx.mod.Module(self.graph, data_names=("data",), label_names=("label",), context=self.contexts,
                            fixed_param_names=fixed)
        mod.bind(self.provide_data, self.provide_label, for_training=True)
        arg_params, aux_params = self._initial_params()
        if c.amp:  # the anchors the float32 MultiBoxPrior would compute, fed as a constant
            arg_params = dict(arg_params or {}, **{FIXED_ANCHORS: mx.nd.array(anchors_of(self.preset,
                                                                                        len(c.class_names)))})
        mod.init_params(INITIALIZER, arg_params=arg_params, aux_params=aux_params,
                        allow_missing=True)
        self.optimizer = make_optimizer(c, self._lr_scheduler(),
                                        begin_num_update=self.begin_epoch * self.batches_per_epoch)
        with warnings.catch_warnings(), _updates_on_workers():
            # Module warns when rescale_grad is not 1/batch_size; ours is set per batch (see step).
            warnings.simplefilter("ignore", UserWarning)
            mod.init_optimizer(kvstore=self.kvstore, optimizer=self.optimizer)
        if self.num_workers > 1:
            self._broadcast(mod)
        if c.resume:
            states = modelfile.states_path(c.prefix, c.resume)
            if states.is_file():
                mod.load_optimizer_states(str(states))
            else:
                log.warning("%s not found: resuming with fresh momentum", states)
        return mod

    def _broadcast(self, mod) -> None:
        """Every worker starts from rank 0's parameters (the kvstore holds rank 0's initial values)."""
        args, auxs = mod.get_params()
        for name, value in args.items():
            if name != FIXED_ANCHORS:  # a constant, the same everywhere
                self.kvstore.pull(name, out=value)
        mod.set_params(args, auxs, force_init=True)

    def _all_workers(self, value: float) -> float:
        """``value`` summed over the workers of a dist kvstore (itself in a single process)."""
        if self.num_workers == 1:
            return value
        total = mx.nd.zeros((1,))
        self.kvstore.push(NUM_POS_KEY, mx.nd.array([value]))
        self.kvstore.pull(NUM_POS_KEY, out=total)
        return float(total.asscalar())

    def _initial_params(self):
        c = self.config
        if c.resume:
            log.info("resuming from %s", modelfile.params_path(c.prefix, c.resume))
            return modelfile.load_params(c.prefix, c.resume)
        if c.pretrained:
            return load_pretrained(c.pretrained, self.symbol, network=c.network, preset=self.preset,
                                   data=self.provide_data[0].shape,
                                   label=self.provide_label[0].shape)
        return None, None

    def _lr_scheduler(self):
        c = self.config
        per = self.batches_per_epoch
        # No milestone: one past the end, so the rate stays at lr after warm-up.
        steps = [int(e * per) for e in c.lr_steps] or [c.epochs * per + 1]
        if any(b <= a for a, b in zip(steps, steps[1:])) or steps[0] < 1:
            raise ValueError(f"--lr-steps must be increasing positive epochs, got {c.lr_steps}")
        return mx.lr_scheduler.MultiFactorScheduler(
            step=steps, factor=c.lr_factor, base_lr=c.lr,
            warmup_steps=int(round(c.warmup_epochs * per)),
            warmup_begin_lr=c.lr * c.warmup_factor, warmup_mode="linear")

    # --- loop ---------------------------------------------------------------------------
    def fit(self) -> List[EpochStats]:
        """Train from ``begin_epoch + 1`` to ``config.epochs``; returns per-epoch stats."""
        c = self.config
        history = []
        lead = self.rank == 0  # in a distributed job only rank 0 validates, logs and writes
        board = open_log(c.log_dir) if lead else None
        for epoch in range(self.begin_epoch + 1, c.epochs + 1):
            stats = self.train_epoch(epoch)
            if c.record_log:
                self._write_seen(epoch)
            if not lead:
                history.append(stats)
                continue
            if c.val_rec is not None and (epoch % c.val_every == 0 or epoch == c.epochs):
                stats.val_map = self.validate(keep=EXAMPLES if board else 0)
                if board:
                    board.validation(epoch, *self.last_validation)
            if epoch % c.checkpoint_every == 0 or epoch == c.epochs:
                self.save_checkpoint(epoch)
            losses = _losses_text(stats.loss, stats.cls_loss, stats.loc_loss, stats.lr, stats.images_per_sec)
            log.info("epoch %d: %s%s", epoch, losses,
                     "" if stats.val_map is None else f", val VOC07 mAP {stats.val_map:.4f}")
            if board:
                board.epoch(stats)
            history.append(stats)
        if board:
            board.close()
        return history

    def _write_seen(self, epoch: int) -> None:
        """``PREFIX-records-workerR.json``: the record indices each epoch trained on (``--record-log``)."""
        from common.atomic import write_json
        path = Path(f"{self.config.prefix}-records-worker{self.rank}.json")
        write_json(path, {str(e): sorted(v) for e, v in self.seen.items() if e <= epoch})

    def train_epoch(self, epoch: int) -> EpochStats:
        c = self.config
        sums = np.zeros(4)  # loss, cls, loc, num_pos
        images, start = 0, time.time()
        bar = tqdm(self.epoch_batches(epoch), total=self.batches_per_epoch, desc=f"epoch {epoch}",
                   unit="batch", disable=not c.progress or self.rank != 0, leave=False)
        seen = self.seen.setdefault(epoch, [])
        for i, batch in enumerate(bar):
            seen.extend(int(k) for k in np.asarray(batch.index).ravel()[:c.batch_size - (batch.pad or 0)])
            sums += self.step(batch)
            images += c.batch_size - (batch.pad or 0)
            pos = max(sums[3], 1)  # the epoch's running means, per matched box
            if c.progress:
                bar.set_postfix(loss=f"{sums[0] / pos:.3f}", ce=f"{sums[1] / pos:.3f}",
                                l1=f"{sums[2] / pos:.3f}", lr=f"{self.current_lr():.4g}", refresh=False)
            elif (i + 1) % c.log_interval == 0 and self.rank == 0:
                # Without a bar (logs to a file): a line every log_interval batches.
                log.info("epoch %d batch %d/%d: %s", epoch, i + 1, self.batches_per_epoch,
                         _losses_text(sums[0] / pos, sums[1] / pos, sums[2] / pos, self.current_lr(),
                                      images / max(time.time() - start, 1e-9)))
        elapsed = time.time() - start
        pos = max(sums[3], 1)
        return EpochStats(epoch, sums[0] / pos, sums[1] / pos, sums[2] / pos, self.current_lr(),
                          images / max(elapsed, 1e-9))

    def step(self, batch) -> np.ndarray:
        """Forward, backward and update on one batch; returns [loss, cls, loc, num_pos] sums."""
        if self.scaler is None:
            self.module.forward_backward(batch)
        else:  # float16: the loss's gradient starts at the loss scale
            self.module.forward(batch, is_train=True)
            heads = self.module.get_outputs()
            self.module.backward([mx.nd.full(heads[0].shape, self.scaler.scale, ctx=heads[0].context)]
                                 + [mx.nd.zeros(h.shape, ctx=h.context) for h in heads[1:]])
        outputs = [o.asnumpy() for o in self.module.get_outputs()]  # loss, cls, loc, num_pos
        # Paper, eq. 1: divide by the number of matched boxes N (all devices and workers together).
        matched = max(self._all_workers(float(outputs[3].sum())), 1.0)
        if self.scaler is not None:
            # Module keeps the gradients in its executor group (no public accessor in MXNet 1.9).
            grads = [g for device in self.module._exec_group.grad_arrays for g in device]
            if self.scaler.overflowed(grads):
                real = len(outputs[3]) - (batch.pad or 0)
                return np.array([o[:real].sum() for o in outputs], np.float64)
            matched *= self.scaler.scale
        self.optimizer.rescale_grad = 1.0 / matched
        self.module.update()
        real = len(outputs[3]) - (batch.pad or 0)  # a padded tail batch reports real images only
        return np.array([o[:real].sum() for o in outputs], np.float64)

    def current_lr(self) -> float:
        return float(self.optimizer.lr_scheduler(self.optimizer.num_update))

    # --- validation and checkpoints -------------------------------------------------------
    def validate(self, keep: int = 0) -> float:
        """VOC07 mAP of the current parameters on the validation set.

        ``last_validation`` then holds ``(evaluator, samples, images)`` of the first ``keep`` images.
        """
        c = self.config
        # A fresh iterator per pass: ImageDetRecordIter drops prefetched batches on reset().
        val_iter = DetRecordIter(c.val_rec, batch_size=c.batch_size, data_shape=c.data_shape,
                                 mean=c.mean, std=c.std, threads=c.threads, wrap_last_batch=False)
        # A module bound afresh at every validation: MXNet's oneDNN convolutions keep an inference
        # module's weights in their own layout, and set_params on a module that has run computes
        # with wrong weights afterwards (measured: conv1_1 off by 3.4 once new weights were set;
        # validation mAP 0.0003-0.0011 away from evaluate.py on the same checkpoint).
        self._val_module = mx.mod.Module(deploy_symbol(self.preset, len(c.class_names), DetectionParams()),
                                         data_names=("data",), label_names=None, context=self.contexts[0])
        self._val_module.bind(val_iter.provide_data, for_training=False)
        args, auxs = self.module.get_params()
        self._val_module.set_params(args, auxs, allow_missing=False, allow_extra=True)
        evaluator = VOCEvaluator(c.class_names)
        samples = evaluate_batches(self._val_forward, val_iter, evaluator, keep=keep)
        self.last_validation = (evaluator, samples, read_images(c.val_rec, len(samples)) if samples else [])
        return evaluator.mean_ap("voc07")

    def _val_forward(self, data: np.ndarray) -> np.ndarray:
        """Detections (B, N, 6) of the validation module for a normalized batch."""
        self._val_module.forward(mx.io.DataBatch([mx.nd.array(data, ctx=self.contexts[0])]), is_train=False)
        return self._val_module.get_outputs()[0].asnumpy()

    def meta(self) -> ModelMeta:
        c = self.config
        return ModelMeta(kind="train", network=c.network, data_shape=c.data_shape,
                         class_names=tuple(c.class_names), mean=tuple(c.mean), std=tuple(c.std),
                         channel_order="RGB", detection=asdict(DetectionParams()),
                         made_by={"command": c.command, "preset": self.preset.name,
                                  "workers": self.num_workers, "amp": c.amp,
                                  "anchor_scales": list(c.anchor_scales or ()),
                                  "top_down": self.preset.top_down})

    def save_checkpoint(self, epoch: int) -> None:
        """``PREFIX-symbol.json``, ``PREFIX-NNNN.params``, ``.states`` and metadata, atomically."""
        c = self.config
        args, auxs = self.module.get_params()
        # (a copy: get_params returns the module's own dictionaries)
        args = {k: v for k, v in args.items() if k != FIXED_ANCHORS}  # the float32 symbol computes them
        modelfile.save_model(c.prefix, epoch, self.symbol, args, auxs, self.meta())
        with atomic_paths(modelfile.states_path(c.prefix, epoch)) as (tmp,):
            self.module.save_optimizer_states(str(tmp))
        log.info("saved checkpoint %s", modelfile.params_path(c.prefix, epoch))
