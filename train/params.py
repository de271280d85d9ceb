"""Initial parameters of a training run: fresh, pretrained (by name) or resumed."""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import List, Optional, Tuple

import mxnet as mx

from common import errors, modelfile
from symbol.backbones import get_backbone

log = logging.getLogger(__name__)

#: He/MSRA initialization (variance-preserving forward pass through ReLUs); biases zero,
#: BatchNorm gamma one. The prediction heads carry their own, smaller initializer
#: (``symbol.builder.HEAD_INIT``).
INITIALIZER = mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2)


#: Class-prediction layers, re-initialized when a checkpoint has another class count.
CLASS_LAYER = re.compile(r"head\d+_cls_(weight|bias)$")


def is_gluon_structural(arrays: dict) -> bool:
    """True for a Gluon ``save_parameters`` file (``features.0.weight``-style names)."""
    return bool(arrays) and all("." in k and ":" not in k for k in arrays)


def is_converted_caffe_ssd(arrays: dict) -> bool:
    """True for the parameters of a converted Caffe SSD (heads named ``<layer>_mbox_conf``)."""
    return any(k.split(":")[-1].endswith("_mbox_conf_weight") for k in arrays)


def _from_caffe(args: dict, path: Path, preset) -> Tuple[dict, int]:
    """A converted Caffe SSD's parameters under this project's names (``Preset.caffe``); the count renamed."""
    if preset is None or preset.caffe is None:
        where = f"preset {preset.name}" if preset is not None else "the network"
        raise ValueError(f"--pretrained {path}: a converted Caffe SSD, but {where} has no Caffe layout (the "
                         "released models' layout is that of vgg16_reduced at 300 and 512)")
    ours = {theirs: mine for mine, theirs in preset.caffe.names().items()}
    renamed = sum(1 for k in args if k in ours)
    return {ours.get(k, k): v for k, v in args.items()}, renamed


def load_pretrained(path: Path, symbol: mx.sym.Symbol, *, network: Optional[str] = None, preset=None,
                    **input_shapes) -> Tuple[dict, dict]:
    """Parameters of ``path`` whose names and shapes fit ``symbol``; reports the rest.

    ``input_shapes`` are the shapes of the symbol's inputs (``data=...,
    label=...``), from which the parameter shapes are inferred. Accepts MXNet
    checkpoints (``arg:``/``aux:`` keys), plain name->array files and the
    ImageNet weights files of the Gluon model zoo (structural names, mapped by
    the ``network``'s backbone importer) and converted Caffe SSDs (their layer
    names mapped by ``preset.caffe``; every one of their tensors must find its
    place, or the error names it). Every name of the symbol that the file does
    not provide, every name of the file that the symbol does not use and every
    shape mismatch is logged; class-prediction layers of a checkpoint with
    another class count are re-initialized (finetuning).
    """
    arg_list, _, aux_list = symbol.infer_shape(**input_shapes)
    arg_shapes = {n: s for n, s in zip(symbol.list_arguments(), arg_list) if n not in input_shapes}
    aux_shapes = dict(zip(symbol.list_auxiliary_states(), aux_list))
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--pretrained {path}: file not found")
    try:
        blob = mx.nd.load(str(path))
    except mx.base.MXNetError as err:
        raise ValueError(f"--pretrained {path}: not an MXNet params file "
                         f"({errors.reason(err)})") from None
    if not isinstance(blob, dict):
        raise ValueError(f"--pretrained {path}: holds a list of arrays, not named parameters")
    if is_gluon_structural(blob):
        blob = _import_gluon(blob, path, network)
    args, auxs = modelfile.split_params(blob, str(path))
    caffe = is_converted_caffe_ssd(args)
    renamed = 0
    if caffe:
        args, renamed = _from_caffe(args, path, preset)
    # Files saved from a Gluon block keep running stats among the args.
    for name in list(args):
        if name in aux_shapes:
            auxs[name] = args.pop(name)
    kept_args, kept_auxs, mismatched = {}, {}, []
    reinitialized = []
    for given, shapes, kept in ((args, arg_shapes, kept_args), (auxs, aux_shapes, kept_auxs)):
        for name, value in given.items():
            if name in shapes and tuple(value.shape) != tuple(shapes[name]):
                # Only the output count differing is a class-count change; anything else is a
                # mismatch (e.g. a head reading a top-down path's channels).
                other_classes = CLASS_LAYER.match(name) and value.shape[1:] == tuple(shapes[name][1:])
                (reinitialized if other_classes else mismatched).append(
                    f"{name} {tuple(value.shape)} vs {tuple(shapes[name])}")
            elif name in shapes:
                kept[name] = value
    unexpected = sorted(set(args) - set(arg_shapes) | set(auxs) - set(aux_shapes))
    missing = sorted(((set(arg_shapes) - set(kept_args)) | (set(aux_shapes) - set(kept_auxs)))
                     - {r.split()[0] for r in reinitialized})
    if caffe and (unexpected or mismatched):
        what = (f"tensor {unexpected[0]!r} has no place in the network" if unexpected
                else f"tensor {mismatched[0]}")
        raise ValueError(f"--pretrained {path}: a converted Caffe SSD whose {what} (preset {preset.name}); "
                         "convert a model of the same layout")
    log.info("pretrained %s: %d of %d parameters loaded (%d renamed from Caffe names), %d re-initialized "
             "(another class count), %d initialized fresh, %d of the file's tensors not used", path,
             len(kept_args) + len(kept_auxs), len(arg_shapes) + len(aux_shapes), renamed, len(reinitialized),
             len(missing), len(unexpected))
    if reinitialized:
        log.info("pretrained: the number of classes differs; re-initializing the class-prediction "
                 "layers: %s", "; ".join(reinitialized))
    if missing:
        log.info("pretrained: %d parameters initialized fresh: %s", len(missing), ", ".join(missing))
    if unexpected:
        log.warning("pretrained: %d names in the file are not in the network: %s",
                    len(unexpected), ", ".join(unexpected))
    if mismatched:
        log.warning("pretrained: shape mismatch, initialized fresh: %s", "; ".join(mismatched))
    return kept_args, kept_auxs


def _import_gluon(arrays: dict, path: Path, network: Optional[str]) -> dict:
    """A Gluon model-zoo weights file renamed to the backbone's parameter names."""
    if network is None:
        raise ValueError(f"--pretrained {path}: a Gluon model-zoo file (structural names such as "
                         f"{next(iter(arrays))!r}); the network must be known to map its names")
    backbone = get_backbone(network)
    if backbone.import_weights is None:
        raise ValueError(f"--pretrained {path}: backbone {network!r} cannot import Gluon model-zoo "
                         f"files (names such as {next(iter(arrays))!r})")
    renamed, unused = backbone.import_weights(arrays)
    if not renamed:
        raise ValueError(f"--pretrained {path}: no name matches the Gluon network of {network!r} "
                         f"(file names such as {next(iter(arrays))!r})")
    log.info("pretrained %s: Gluon model-zoo file, %d arrays mapped onto %s, %d unused: %s", path,
             len(renamed), network, len(unused), ", ".join(unused))
    return renamed


def frozen_names(symbol: mx.sym.Symbol, pattern: Optional[str]) -> List[str]:
    """Argument names matching the regular expression ``pattern`` (``re.match``)."""
    if not pattern:
        return []
    try:
        regex = re.compile(pattern)
    except re.error as err:
        raise ValueError(f"--freeze {pattern!r}: invalid regular expression: {err}") from None
    names = [n for n in symbol.list_arguments() if n not in ("data", "label") and regex.match(n)]
    if not names:
        raise ValueError(f"--freeze {pattern!r} matches no parameter")
    log.info("freezing %d parameters matching %r", len(names), pattern)
    return names
