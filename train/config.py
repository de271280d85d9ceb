"""Everything one training run needs, in one frozen dataclass.

Light (no MXNet): its field defaults are the defaults ``train.py --help`` shows.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

from dataset.augmentation import Augmentation
from symbol.defaults import IMAGENET_MEAN, IMAGENET_STD


@dataclass(frozen=True)
class TrainConfig:
    """A training run.

    Learning-rate milestones are in epochs; ``warmup_epochs`` ramps the
    rate linearly from ``lr * warmup_factor`` (may be fractional).
    """

    train_rec: Path
    prefix: Path
    network: str
    data_shape: int
    class_names: Tuple[str, ...]
    val_rec: Optional[Path] = None
    #: MXNet contexts; empty means one CPU.
    contexts: Tuple = ()
    kvstore: str = "local"
    batch_size: int = 32
    epochs: int = 120
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    wd: float = 5e-4
    lr_steps: Tuple[int, ...] = (80, 100)
    lr_factor: float = 0.1
    warmup_epochs: float = 1.0
    warmup_factor: float = 0.1
    mean: Tuple[float, float, float] = IMAGENET_MEAN
    std: Tuple[float, float, float] = IMAGENET_STD
    augmentation: Augmentation = Augmentation()
    anchor_scales: Optional[Tuple[float, ...]] = None  # symbol.presets.with_anchor_scales
    top_down: Optional[int] = None  # Preset.top_down channels; None keeps the preset's
    resume: Optional[int] = None
    pretrained: Optional[Path] = None
    freeze: Optional[str] = None
    checkpoint_every: int = 1
    val_every: int = 1
    seed: int = 0
    threads: Optional[int] = None
    progress: bool = True
    log_dir: Optional[Path] = None  # TensorBoard event files (mxboard), per-epoch scalars
    log_interval: int = 20
    amp: Optional[str] = None  # "bf16" (CPU) or "fp16" (GPU): the body in reduced precision (train.amp)
    record_log: bool = False  # write the record indices each worker trained on (PREFIX-records-workerR.json)
    command: str = ""
