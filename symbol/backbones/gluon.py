"""Turning ``mx.gluon.model_zoo`` networks into symbols with stable tap names.

A Gluon network traced on a symbolic input under a fixed prefix gives the
same parameter names in every process. Operators inside blocks, however,
get auto-numbered names (``..._plus12``), so the ends of the stages a preset
taps are marked with named identity nodes instead.

Gluon's ImageNet ``.params`` files name parameters by their place in the
network (``features.4.0.body.0.weight``); ``renaming_importer`` maps those
onto the traced symbol's names.
"""
from __future__ import annotations

from typing import Callable, Dict, Iterable, Mapping

import mxnet as mx


def trace(blocks: Iterable, data: mx.sym.Symbol, marks: Mapping[int, str]) -> mx.sym.Symbol:
    """Apply ``blocks`` in order; after block ``i`` in ``marks`` insert ``identity(name=marks[i])``.

    Tracing stops after the last marked block (classifier pooling and
    dropout are left out), and the last mark is the returned symbol.
    """
    last = max(marks)
    x = data
    for i, block in enumerate(blocks):
        if i > last:
            break
        x = block(x)
        if i in marks:
            x = mx.sym.identity(x, name=marks[i])
    return x


def structural_names(net: mx.gluon.Block) -> Dict[str, str]:
    """Structural name (as in ``save_parameters`` files) -> parameter name of ``net``."""
    return {key: param.name for key, param in net._collect_params_with_prefix().items()}


def renaming_importer(factory: Callable[[], mx.gluon.Block]):
    """An importer renaming a Gluon weights file of ``factory()``'s network to symbol names.

    Only the ``features`` part is imported; the classifier (``output.*``) is
    returned among the unused names.
    """
    def import_weights(arrays):
        names = {k: v for k, v in structural_names(factory()).items() if k.startswith("features.")}
        renamed = {names[k]: v for k, v in arrays.items() if k in names}
        return renamed, sorted(set(arrays) - set(names))
    return import_weights
