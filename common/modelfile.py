"""One model = three files: ``PREFIX-symbol.json``, ``PREFIX-NNNN.params``, ``PREFIX-meta.json``.

The metadata holds what every consumer needs to run the model without
repeating flags: network and preset, input size, channel order, mean/std,
class names, whether the symbol is a training or a deploy graph (with NMS
fused), its detection parameters and how the model was made.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Optional, Tuple

import mxnet as mx

from common import errors
from common.atomic import atomic_paths, write_json

log = logging.getLogger(__name__)

META_VERSION = 1


@dataclass
class ModelMeta:
    """Metadata of a saved model.

    Attributes
    ----------
    kind : str
        ``"train"`` (symbol with loss head) or ``"deploy"`` (detection output).
    network : str or None
        Backbone name; ``None`` for models built elsewhere (e.g. converted).
    data_shape : int
        Square input side, pixels.
    class_names : tuple of str
    mean, std : (float, float, float)
        Input normalization ``(pixel - mean) / std`` in ``channel_order``.
    channel_order : str
        ``"RGB"`` or ``"BGR"``.
    detection : dict
        nms_threshold, nms_topk, force_suppress, threshold of the deploy head.
    made_by : dict
        Provenance: command line, source model, etc.
    """

    kind: str
    network: Optional[str]
    data_shape: int
    class_names: Tuple[str, ...]
    mean: Tuple[float, float, float]
    std: Tuple[float, float, float]
    channel_order: str = "RGB"
    detection: Dict[str, float] = field(default_factory=dict)
    made_by: Dict[str, object] = field(default_factory=dict)
    version: int = META_VERSION

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to_json(self) -> dict:
        d = asdict(self)
        d["class_names"] = list(self.class_names)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d

    @classmethod
    def from_json(cls, d: dict, where: str = "metadata") -> "ModelMeta":
        required = ("kind", "network", "data_shape", "class_names", "mean", "std")
        missing = [k for k in required if k not in d]
        if missing:
            raise ValueError(f"{where}: missing field(s) {', '.join(missing)}")
        if d["kind"] not in ("train", "deploy"):
            raise ValueError(f"{where}: field 'kind' must be 'train' or 'deploy', got {d['kind']!r}")
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        known["class_names"] = tuple(known["class_names"])
        known["mean"], known["std"] = tuple(known["mean"]), tuple(known["std"])
        return cls(**known)


def symbol_path(prefix) -> Path:
    return Path(f"{prefix}-symbol.json")


def params_path(prefix, epoch: int) -> Path:
    return Path(f"{prefix}-{epoch:04d}.params")


def meta_path(prefix) -> Path:
    return Path(f"{prefix}-meta.json")


def states_path(prefix, epoch: int) -> Path:
    return Path(f"{prefix}-{epoch:04d}.states")


def save_model(prefix, epoch: int, symbol: mx.sym.Symbol, arg_params: dict, aux_params: dict,
               meta: ModelMeta, *, only_epoch: bool = False) -> None:
    """Write symbol, params and metadata; each file appears only when complete.

    ``only_epoch`` (exported models) then deletes the prefix's params of other
    epochs: they belong to a previous model whose symbol and metadata were just
    replaced, and commands that default to the latest epoch would load them.
    Training checkpoints keep every epoch.
    """
    blob = {f"arg:{k}": v for k, v in arg_params.items()}
    blob.update({f"aux:{k}": v for k, v in aux_params.items()})
    with atomic_paths(symbol_path(prefix), params_path(prefix, epoch)) as (tmp_sym, tmp_params):
        symbol.save(str(tmp_sym), remove_amp_cast=False)  # MXNet drops amp_cast nodes by default
        mx.nd.save(str(tmp_params), blob)
    write_json(meta_path(prefix), meta.to_json())
    if only_epoch:
        for other in _epochs(prefix) - {epoch}:
            params_path(prefix, other).unlink()
            log.info("removed %s: a previous model's parameters", params_path(prefix, other))


def load_meta(prefix) -> ModelMeta:
    path = meta_path(prefix)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: model metadata not found (expected beside "
                                f"{symbol_path(prefix).name})")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: malformed JSON: {err}") from None
    return ModelMeta.from_json(data, where=str(path))


def load_symbol(prefix) -> mx.sym.Symbol:
    """``PREFIX-symbol.json``; a missing or malformed file is an error naming it."""
    path = symbol_path(prefix)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: model symbol not found")
    try:
        json.loads(path.read_text())
        return mx.sym.load(str(path))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: malformed symbol JSON: {err}") from None
    except mx.base.MXNetError as err:
        raise ValueError(f"{path}: not an MXNet symbol ({errors.reason(err)})") from None


def load_params(prefix, epoch: int) -> Tuple[dict, dict]:
    """``(arg_params, aux_params)`` of ``PREFIX-NNNN.params``."""
    path = params_path(prefix, epoch)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: parameters not found")
    try:
        blob = mx.nd.load(str(path))
    except mx.base.MXNetError as err:
        raise ValueError(f"{path}: not a readable MXNet params file ({errors.reason(err)})") from None
    return split_params(blob, str(path))


def split_params(blob: dict, where: str) -> Tuple[dict, dict]:
    """Split an ``{'arg:x': ..., 'aux:y': ...}`` dict; plain names count as args."""
    args, auxs = {}, {}
    for key, value in blob.items():
        kind, _, name = key.partition(":")
        if not name:
            args[key] = value
        elif kind == "arg":
            args[name] = value
        elif kind == "aux":
            auxs[name] = value
        else:
            raise ValueError(f"{where}: unexpected parameter key {key!r}")
    return args, auxs


def _epochs(prefix) -> set:
    """The NNNN of existing ``PREFIX-NNNN.params`` files."""
    prefix = Path(prefix)
    tails = (p.name[len(prefix.name) + 1:-len(".params")]
             for p in prefix.parent.glob(prefix.name + "-*.params"))
    return {int(t) for t in tails if t.isdigit()}


def latest_epoch(prefix) -> Optional[int]:
    """Highest NNNN of existing ``PREFIX-NNNN.params`` files, or None."""
    return max(_epochs(prefix), default=None)


def resolve_epoch(prefix, epoch: Optional[int]) -> int:
    """``epoch``, or the latest saved one when it is None."""
    if epoch is None:
        epoch = latest_epoch(prefix)
        if epoch is None:
            raise FileNotFoundError(f"{prefix}-NNNN.params: no parameter file found")
    return epoch
