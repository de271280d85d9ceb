"""Everything one training run needs, grouped: the model, the data, the solver and the run itself.

Light (no MXNet): the field defaults are the defaults ``train.py --help`` shows. ``TrainConfig.build``
takes the flat names of ``train.py``'s flags (and of the TOML recipes' keys) and puts each in its
group; ``TrainConfig.replace`` changes fields by those names.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional, Tuple

from dataset.augmentation import Augmentation
from symbol.defaults import IMAGENET_MEAN, IMAGENET_STD


@dataclass(frozen=True)
class ModelConfig:
    """The network trained: backbone and input size with their overrides, classes, input normalization.

    ``anchor_scales`` and ``top_down`` override the preset (``symbol.presets.resolve_preset``);
    ``mean``/``std`` are RGB pixel values.
    """

    network: str
    data_shape: int
    class_names: Tuple[str, ...]
    mean: Tuple[float, float, float] = IMAGENET_MEAN
    std: Tuple[float, float, float] = IMAGENET_STD
    anchor_scales: Optional[Tuple[float, ...]] = None
    top_down: Optional[int] = None


@dataclass(frozen=True)
class DataConfig:
    """Where the images come from and how they are augmented."""

    train_rec: Path
    val_rec: Optional[Path] = None
    augmentation: Augmentation = Augmentation()
    #: Decoding threads (None: every core).
    threads: Optional[int] = None


@dataclass(frozen=True)
class SolverConfig:
    """Optimizer and schedule. Learning-rate milestones are in epochs; ``warmup_epochs`` ramps the
    rate linearly from ``lr * warmup_factor`` (may be fractional). ``seed`` fixes initialization,
    data order and augmentation."""

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
    seed: int = 0


@dataclass(frozen=True)
class RunConfig:
    """Where the run writes, what it starts from, the devices and the reporting."""

    prefix: Path
    #: MXNet contexts; empty means one CPU.
    contexts: Tuple = ()
    kvstore: str = "local"
    #: "bf16" (CPU) or "fp16" (GPU): the body in reduced precision (train.amp).
    amp: Optional[str] = None
    resume: Optional[int] = None
    pretrained: Optional[Path] = None
    freeze: Optional[str] = None
    checkpoint_every: int = 1
    val_every: int = 1
    progress: bool = True
    #: TensorBoard event files (mxboard), per-epoch scalars.
    log_dir: Optional[Path] = None
    log_interval: int = 20
    #: Write the record indices each worker trained on (PREFIX-records-workerR.json).
    record_log: bool = False
    command: str = ""


GROUPS = {"model": ModelConfig, "data": DataConfig, "run": RunConfig, "solver": SolverConfig}
#: Flat name (a train.py flag's dest) -> its group.
GROUP_OF: Dict[str, str] = {f.name: group for group, cls in GROUPS.items() for f in dataclasses.fields(cls)}


@dataclass(frozen=True)
class TrainConfig:
    """A training run: ``model``, ``data``, ``run`` and ``solver`` settings."""

    model: ModelConfig
    data: DataConfig
    run: RunConfig
    solver: SolverConfig = field(default_factory=SolverConfig)

    @classmethod
    def build(cls, **flat) -> "TrainConfig":
        """A TrainConfig from flat names (``lr=...``, ``prefix=...``); unknown names are an error."""
        parts = _by_group(flat)
        return cls(**{group: GROUPS[group](**parts.get(group, {})) for group in GROUPS})

    def replace(self, **flat) -> "TrainConfig":
        """A copy with fields changed by their flat names."""
        changed = {group: dataclasses.replace(getattr(self, group), **values)
                   for group, values in _by_group(flat).items()}
        return dataclasses.replace(self, **changed)

    def flat(self) -> dict:
        """Every setting by its flat name (for the log line of a run)."""
        return {k: v for group in GROUPS for k, v in dataclasses.asdict(getattr(self, group)).items()}


def _by_group(flat: dict) -> Dict[str, dict]:
    """``flat`` settings split by group (only the groups named); unknown names are a TypeError."""
    unknown = sorted(set(flat) - set(GROUP_OF))
    if unknown:
        raise TypeError(f"unknown training setting(s): {', '.join(unknown)}")
    parts: Dict[str, dict] = {}
    for name, value in flat.items():
        parts.setdefault(GROUP_OF[name], {})[name] = value
    return parts


def defaults() -> dict:
    """Flat name -> default, of the settings that have one (the defaults ``train.py --help`` shows)."""
    return {f.name: f.default for cls in GROUPS.values() for f in dataclasses.fields(cls)
            if f.default is not dataclasses.MISSING}
