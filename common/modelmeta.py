"""A model's metadata (``PREFIX-meta.json``, or ``ssd.meta`` inside a ``.onnx`` file) and file names.

The metadata holds what every consumer needs to run the model without
repeating flags: network and preset, input size, channel order, mean/std,
class names, whether the symbol is a training or a deploy graph (with NMS
fused), its detection parameters, how the model was made, and the SHA-256 of
the symbol file it was written with (so that files of two models are never
run together).

No MXNet here: reading a model's description must not load the runtime that
an ONNX model does not need.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Optional, Tuple

META_VERSION = 1

#: Operators that only a training graph has (the loss head), and those that end a deploy graph.
TRAINING_OPS = ("_contrib_MultiBoxTarget", "MultiBoxTarget")
DEPLOY_OPS = ("_contrib_MultiBoxDetection", "MultiBoxDetection", "_contrib_box_nms", "box_nms")


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
    spec : dict or None
        The network spec the symbol was built from, whole (``symbol.presets.Preset.to_json``): the
        preset with every override (anchor scales, top-down channels). None for models built
        elsewhere (converted) and for checkpoints written before it was recorded.
    display_name : str or None
        The name users see (web service, model card); None: the model file's name.
    symbol_sha256 : str or None
        SHA-256 of the ``PREFIX-symbol.json`` written with this metadata (None: written before it
        was recorded, or an ONNX model).
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
    spec: Optional[Dict[str, object]] = None
    display_name: Optional[str] = None
    symbol_sha256: Optional[str] = None
    version: int = META_VERSION

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def name_for(self, prefix) -> str:
        """The display name, else the model file's name without its suffix (never a path)."""
        if self.display_name:
            return self.display_name
        name = Path(str(prefix)).name
        return name[:-len(".onnx")] if name.endswith(".onnx") else name

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


def load_meta(prefix) -> ModelMeta:
    """The metadata of the MXNet model at ``prefix``, checked against the symbol file beside it."""
    path = meta_path(prefix)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: model metadata not found (expected beside "
                                f"{symbol_path(prefix).name})")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: malformed JSON: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    meta = ModelMeta.from_json(data, where=str(path))
    check_symbol_file(meta, prefix)
    return meta


def _graph_kind(symbol_json: bytes) -> Optional[str]:
    """``"train"`` or ``"deploy"`` from the operators of a symbol file's bytes, None when it is neither."""
    try:
        nodes = json.loads(symbol_json)["nodes"]
        ops = {node["op"] for node in nodes}
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None  # load_symbol names the malformed file
    if ops & set(TRAINING_OPS):
        return "train"
    return "deploy" if ops & set(DEPLOY_OPS) else None


def check_symbol_file(meta: ModelMeta, prefix) -> None:
    """The metadata describes the symbol file beside it: its kind, and (models written since it is
    recorded) the symbol's SHA-256. Errors name both files and the field that disagrees."""
    sym, path = symbol_path(prefix), meta_path(prefix)
    if not sym.is_file():
        return  # loading the symbol names it
    data = sym.read_bytes()
    kind = _graph_kind(data)
    if kind is not None and kind != meta.kind:
        graph = "a training graph" if kind == "train" else "a deploy graph"
        raise ValueError(f"{path}: field kind {meta.kind!r} disagrees with {sym.name}, {graph} "
                         "(the files of two models?)")
    if meta.symbol_sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != meta.symbol_sha256:
            raise ValueError(f"{path}: field symbol_sha256 ({meta.symbol_sha256[:12]}…) disagrees with "
                             f"{sym.name} (SHA-256 {actual[:12]}…): written for another symbol (the files of "
                             "two models?)")
