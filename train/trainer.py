"""The fitting loop: Module over a list of contexts, kvstore, optimizer; everything else in hooks.

``build_trainer(config)`` builds what a run needs (kvstore, network spec, symbols, the
mixed-precision graph, module, parameters, optimizer) and hands it to ``Trainer``, whose ``fit``
runs the epochs and calls the hooks (``train.hooks``: validation, checkpoints, progress,
TensorBoard).

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
from dataclasses import asdict, dataclass
from typing import List, Optional, Sequence

import mxnet as mx
import numpy as np

from common import modelfile
from common.atomic import atomic_paths
from common.modelmeta import ModelMeta
from dataset.iterator import DetRecordIter
from dataset.recordio import num_records, read_images
from detect.model import MXNetDetector, inference_symbol_of
from detect.quantize import FIXED_ANCHORS
from evaluate.runner import evaluate_rec
from evaluate.voc_ap import VOCEvaluator
from symbol.builder import train_symbol
from symbol.coding import DetectionParams
from symbol.presets import Preset, resolve_preset
from train.amp import LossScaler, anchors_of, check_amp, mixed_train_symbol
from train.config import TrainConfig
from train.hooks import Hook, default_hooks
from train.params import INITIALIZER, frozen_names, load_pretrained

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


def make_optimizer(solver, lr_scheduler, begin_num_update: int = 0):
    """SGD with momentum (the paper's) or Adam; ``rescale_grad`` is set per batch by the trainer."""
    common = dict(learning_rate=solver.lr, wd=solver.wd, rescale_grad=1.0, lr_scheduler=lr_scheduler,
                  begin_num_update=begin_num_update)
    if solver.optimizer == "sgd":
        return mx.optimizer.SGD(momentum=solver.momentum, **common)
    if solver.optimizer == "adam":
        return mx.optimizer.Adam(**common)
    raise ValueError(f"optimizer must be 'sgd' or 'adam', got {solver.optimizer!r}")


def lr_scheduler(solver, batches_per_epoch: int):
    """Multi-step decay at ``solver.lr_steps`` (epochs) by ``lr_factor``, after a linear warm-up over
    ``warmup_epochs`` from ``lr * warmup_factor``; steps count batches from the start of training."""
    per = batches_per_epoch
    # No milestone: one past the end, so the rate stays at lr after warm-up.
    steps = [int(e * per) for e in solver.lr_steps] or [solver.epochs * per + 1]
    if any(b <= a for a, b in zip(steps, steps[1:])) or steps[0] < 1:
        raise ValueError(f"--lr-steps must be increasing positive epochs, got {solver.lr_steps}")
    return mx.lr_scheduler.MultiFactorScheduler(
        step=steps, factor=solver.lr_factor, base_lr=solver.lr,
        warmup_steps=int(round(solver.warmup_epochs * per)),
        warmup_begin_lr=solver.lr * solver.warmup_factor, warmup_mode="linear")


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


@dataclass
class Fitting:
    """What a Trainer runs on, built by ``build_trainer``.

    Attributes
    ----------
    preset : Preset
        The resolved network spec (``symbol.presets.resolve_preset``).
    symbol : Symbol
        The float32 training symbol: checkpoints are saved with it, whatever the training precision.
    module : Module
        Bound for training on ``contexts`` with its parameters and ``optimizer``.
    optimizer : Optimizer
    scaler : LossScaler or None
        Dynamic loss scaling (float16 only).
    kvstore, rank, num_workers
        The kvstore (an object under dist kvstores, else its name), this worker's rank and the count.
    batches_per_epoch, begin_epoch : int
    contexts : list of Context
    """

    preset: Preset
    symbol: mx.sym.Symbol
    module: mx.mod.Module
    optimizer: object
    scaler: Optional[LossScaler]
    kvstore: object
    rank: int
    num_workers: int
    batches_per_epoch: int
    begin_epoch: int
    contexts: list


class Trainer:
    """Fits an SSD network: epochs of steps over a ``Fitting``, with ``hooks`` at fixed points.

    Under a dist kvstore (``tools/launch.py``), every worker reads its own part of the
    ``.rec``, takes the same number of steps, normalizes the loss by the matched boxes of all
    workers, and only rank 0 validates, logs and writes checkpoints (``default_hooks``).
    ``batch_size`` is per worker: N workers of batch B make the update of one process with batch N x B.
    """

    def __init__(self, config: TrainConfig, fitting: Fitting, hooks: Sequence[Hook] = ()):
        self.config = config
        self.fitting = fitting
        self.hooks = list(hooks)
        #: Record indices trained on, per epoch (for checks of the data split).
        self.seen: dict = {}
        #: ``(evaluator, samples, images)`` of the last validation's first kept images.
        self.last_validation = None

    # The fitting's parts, by the names the loop and the hooks use.
    preset = property(lambda self: self.fitting.preset)
    symbol = property(lambda self: self.fitting.symbol)
    module = property(lambda self: self.fitting.module)
    optimizer = property(lambda self: self.fitting.optimizer)
    scaler = property(lambda self: self.fitting.scaler)
    rank = property(lambda self: self.fitting.rank)
    num_workers = property(lambda self: self.fitting.num_workers)
    batches_per_epoch = property(lambda self: self.fitting.batches_per_epoch)
    begin_epoch = property(lambda self: self.fitting.begin_epoch)
    contexts = property(lambda self: self.fitting.contexts)

    # --- data ---------------------------------------------------------------------------
    def epoch_iterator(self, epoch: int) -> DetRecordIter:
        """The training iterator of ``epoch`` (``training_iterator``)."""
        return training_iterator(self.config, epoch, self.num_workers, self.rank)

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

    # --- loop ---------------------------------------------------------------------------
    def _call(self, point: str, *args) -> None:
        for hook in self.hooks:
            getattr(hook, point)(self, *args)

    def fit(self) -> List[EpochStats]:
        """Train from ``begin_epoch + 1`` to ``solver.epochs``; returns per-epoch stats."""
        history = []
        self._call("before_train")
        for epoch in range(self.begin_epoch + 1, self.config.solver.epochs + 1):
            stats = self.train_epoch(epoch)
            self._call("after_epoch", stats)
            history.append(stats)
        self._call("after_train")
        return history

    def train_epoch(self, epoch: int) -> EpochStats:
        """One epoch of steps; hooks see each step's running sums."""
        batch_size = self.config.solver.batch_size
        sums = np.zeros(4)  # loss, cls, loc, num_pos
        images, start = 0, time.time()
        seen = self.seen.setdefault(epoch, [])
        self._call("before_epoch", epoch)
        for i, batch in enumerate(self.epoch_batches(epoch)):
            seen.extend(int(k) for k in np.asarray(batch.index).ravel()[:batch_size - (batch.pad or 0)])
            sums += self.step(batch)
            images += batch_size - (batch.pad or 0)
            self._call("after_step", epoch, i, sums)
        elapsed = time.time() - start
        pos = max(sums[3], 1)
        return EpochStats(epoch, sums[0] / pos, sums[1] / pos, sums[2] / pos, self.current_lr(),
                          images / max(elapsed, 1e-9))

    def _all_workers(self, value: float) -> float:
        """``value`` summed over the workers of a dist kvstore (itself in a single process)."""
        if self.num_workers == 1:
            return value
        total = mx.nd.zeros((1,))
        self.fitting.kvstore.push(NUM_POS_KEY, mx.nd.array([value]))
        self.fitting.kvstore.pull(NUM_POS_KEY, out=total)
        return float(total.asscalar())

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
    def current_params(self):
        """``(args, auxs)`` of the module now, without the mixed-precision graph's constant anchors."""
        args, auxs = self.module.get_params()
        # (a copy: get_params returns the module's own dictionaries)
        return {k: v for k, v in args.items() if k != FIXED_ANCHORS}, dict(auxs)

    def validate(self, keep: int = 0) -> float:
        """VOC07 mAP of the current parameters on the validation set, by the code of ``evaluate.py``:
        a ``MXNetDetector`` of the deploy graph and ``evaluate.runner.evaluate_rec``.

        ``last_validation`` then holds ``(evaluator, samples, images)`` of the first ``keep`` images.
        """
        c = self.config
        # A detector bound afresh at every validation: MXNet's oneDNN convolutions keep an inference
        # module's weights in their own layout, and set_params on a module that has run computes
        # with wrong weights afterwards (measured: conv1_1 off by 3.4 once new weights were set;
        # validation mAP 0.0003-0.0011 away from evaluate.py on the same checkpoint).
        args, auxs = self.current_params()
        meta = self.meta()
        detector = MXNetDetector(inference_symbol_of(self.symbol, meta, DetectionParams()), args, auxs, meta,
                                 ctx=self.contexts[0], batch_size=c.solver.batch_size)
        evaluator = VOCEvaluator(c.model.class_names)
        samples = evaluate_rec(detector, c.data.val_rec, [evaluator], batch_size=c.solver.batch_size,
                               keep=keep)
        images = read_images(c.data.val_rec, len(samples)) if samples else []
        self.last_validation = (evaluator, samples, images)
        return evaluator.mean_ap("voc07")

    def meta(self) -> ModelMeta:
        m = self.config.model
        return ModelMeta(kind="train", network=m.network, data_shape=m.data_shape,
                         class_names=tuple(m.class_names), mean=tuple(m.mean), std=tuple(m.std),
                         channel_order="RGB", detection=asdict(DetectionParams()),
                         spec=self.preset.to_json(),
                         made_by={"command": self.config.run.command, "preset": self.preset.name,
                                  "workers": self.num_workers, "amp": self.config.run.amp,
                                  "anchor_scales": list(m.anchor_scales or ()),
                                  "top_down": self.preset.top_down})

    def save_checkpoint(self, epoch: int) -> None:
        """``PREFIX-symbol.json``, ``PREFIX-NNNN.params``, ``.states`` and metadata, atomically."""
        prefix = self.config.run.prefix
        args, auxs = self.current_params()
        modelfile.save_model(prefix, epoch, self.symbol, args, auxs, self.meta())
        with atomic_paths(modelfile.states_path(prefix, epoch)) as (tmp,):
            self.module.save_optimizer_states(str(tmp))
        log.info("saved checkpoint %s", modelfile.params_path(prefix, epoch))


# --- building a run -----------------------------------------------------------------------------

def training_iterator(config: TrainConfig, epoch: int, num_parts: int = 1,
                      part_index: int = 0) -> DetRecordIter:
    """The training iterator of ``epoch``, seeded by (seed, epoch).

    Each epoch's order and augmentation depend only on the seed and the epoch number, so a
    resumed run sees the same data as an uninterrupted one. A dist job's worker reads part
    ``part_index`` of ``num_parts``.
    """
    m, d, s = config.model, config.data, config.solver
    return DetRecordIter(d.train_rec, batch_size=s.batch_size, data_shape=m.data_shape, mean=m.mean,
                         std=m.std, augmentation=d.augmentation, shuffle=True, seed=s.seed * 100003 + epoch,
                         threads=d.threads, num_parts=num_parts, part_index=part_index)


def build_trainer(config: TrainConfig, hooks: Optional[Sequence[Hook]] = None, *,
                  scaler: Optional[LossScaler] = None) -> Trainer:
    """A Trainer for ``config``: kvstore, resolved spec, symbols, module with its initial parameters and
    optimizer; ``hooks`` default to ``train.hooks.default_hooks``; ``scaler`` scales the loss (default:
    dynamic loss scaling with ``--amp fp16``, which float16 needs, none otherwise)."""
    m, run = config.model, config.run
    contexts = list(run.contexts) or [mx.cpu()]
    kvstore, rank, num_workers = create_kvstore(run.kvstore)
    preset = resolve_preset(m.network, m.data_shape, anchor_scales=m.anchor_scales, top_down=m.top_down)
    symbol = train_symbol(preset, len(m.class_names))
    check_amp(run.amp, contexts)
    if scaler is None and run.amp == "fp16":
        scaler = LossScaler()  # float16 gradients underflow without it
    graph = _graph(config, preset, symbol, scaler)
    probe = training_iterator(config, 0, num_workers, rank)
    batches = math.ceil(num_records(config.data.train_rec) / (config.solver.batch_size * num_workers))
    begin = run.resume or 0
    module, optimizer = _module(config, preset, symbol, graph, contexts, kvstore, probe, batches, begin)
    if num_workers > 1:
        _broadcast(module, kvstore)
    fitting = Fitting(preset, symbol, module, optimizer, scaler, kvstore, rank, num_workers, batches,
                      begin, contexts)
    return Trainer(config, fitting, default_hooks(config, rank) if hooks is None else hooks)


def _graph(config: TrainConfig, preset: Preset, symbol, scaler) -> mx.sym.Symbol:
    """The graph trained: the float32 symbol, or its mixed-precision version (train.amp)."""
    n = len(config.model.class_names)
    loss_output = "makeloss" if scaler is None else "identity"
    if config.run.amp:
        return mixed_train_symbol(preset, n, config.run.amp, loss_output=loss_output)
    return symbol if scaler is None else train_symbol(preset, n, loss_output=loss_output)


def _module(config: TrainConfig, preset: Preset, symbol, graph, contexts, kvstore, probe, batches: int,
            begin: int):
    """The bound module with its initial parameters (resumed, pretrained or initialized) and optimizer."""
    run, seed = config.run, config.solver.seed
    mx.random.seed(seed)
    np.random.seed(seed)
    fixed = frozen_names(symbol, run.freeze) + ([FIXED_ANCHORS] if run.amp else [])
    mod = mx.mod.Module(graph, data_names=("data",), label_names=("label",), context=contexts,
                        fixed_param_names=fixed)
    mod.bind(probe.provide_data, probe.provide_label, for_training=True)
    arg_params, aux_params = _initial_params(config, preset, symbol, probe)
    if run.amp:  # the anchors the float32 MultiBoxPrior would compute, fed as a constant
        anchors = anchors_of(preset, len(config.model.class_names))
        arg_params = dict(arg_params or {}, **{FIXED_ANCHORS: mx.nd.array(anchors)})
    mod.init_params(INITIALIZER, arg_params=arg_params, aux_params=aux_params, allow_missing=True)
    optimizer = make_optimizer(config.solver, lr_scheduler(config.solver, batches),
                               begin_num_update=begin * batches)
    with warnings.catch_warnings(), _updates_on_workers():
        # Module warns when rescale_grad is not 1/batch_size; ours is set per batch (Trainer.step).
        warnings.simplefilter("ignore", UserWarning)
        mod.init_optimizer(kvstore=kvstore, optimizer=optimizer)
    if run.resume:
        states = modelfile.states_path(run.prefix, run.resume)
        if states.is_file():
            mod.load_optimizer_states(str(states))
        else:
            log.warning("%s not found: resuming with fresh momentum", states)
    return mod, optimizer


def _broadcast(mod, kvstore) -> None:
    """Every worker starts from rank 0's parameters (the kvstore holds rank 0's initial values)."""
    args, auxs = mod.get_params()
    for name, value in args.items():
        if name != FIXED_ANCHORS:  # a constant, the same everywhere
            kvstore.pull(name, out=value)
    mod.set_params(args, auxs, force_init=True)


def _initial_params(config: TrainConfig, preset: Preset, symbol, probe):
    run = config.run
    if run.resume:
        log.info("resuming from %s", modelfile.params_path(run.prefix, run.resume))
        return modelfile.load_params(run.prefix, run.resume)
    if run.pretrained:
        return load_pretrained(run.pretrained, symbol, network=config.model.network, preset=preset,
                               data=probe.provide_data[0].shape, label=probe.provide_label[0].shape)
    return None, None
