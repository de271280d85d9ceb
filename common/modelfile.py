"""One model = three files: ``PREFIX-symbol.json``, ``PREFIX-NNNN.params``, ``PREFIX-meta.json``.

This module reads and writes the MXNet files; the metadata and the file names
are ``common.modelmeta`` (no MXNet), whose names are used here as they are.
"""
from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Optional, Tuple

import mxnet as mx

from common import errors
from common.atomic import atomic_paths, json_text
from common.digest import file_sha256
from common.modelmeta import (
    ModelMeta,
    load_meta,
    meta_path,
    params_path,
    states_path,
    symbol_path,
)

__all__ = ["ModelMeta", "load_meta", "meta_path", "params_path", "states_path", "symbol_path", "save_model",
           "load_symbol", "load_params", "split_params", "latest_epoch", "resolve_epoch"]

log = logging.getLogger(__name__)


def save_model(prefix, epoch: int, symbol: mx.sym.Symbol, arg_params: dict, aux_params: dict,
               meta: ModelMeta, *, only_epoch: bool = False) -> None:
    """Write symbol, params and metadata; each file appears only when complete.

    ``only_epoch`` (exported models) then deletes the prefix's params of other
    epochs: they belong to a previous model whose symbol and metadata were just
    replaced, and commands that default to the latest epoch would load them.
    Training checkpoints keep every epoch. The metadata records the SHA-256 of the symbol
    file written with it (``ModelMeta.symbol_sha256``).
    """
    blob = {f"arg:{k}": v for k, v in arg_params.items()}
    blob.update({f"aux:{k}": v for k, v in aux_params.items()})
    paths = symbol_path(prefix), params_path(prefix, epoch), meta_path(prefix)
    with atomic_paths(*paths) as (tmp_sym, tmp_params, tmp_meta):
        symbol.save(str(tmp_sym), remove_amp_cast=False)  # MXNet drops amp_cast nodes by default
        mx.nd.save(str(tmp_params), blob)
        meta = dataclasses.replace(meta, symbol_sha256=file_sha256(tmp_sym))
        tmp_meta.write_text(json_text(meta.to_json()))
    if only_epoch:
        for other in _epochs(prefix) - {epoch}:
            params_path(prefix, other).unlink()
            log.info("removed %s: a previous model's parameters", params_path(prefix, other))


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
