"""The backbone registry: name -> how to build the feature extractor and import its weights.

Backbone modules register themselves here (``register``); ``symbol.backbones``
imports every one of them, so ``get_backbone`` sees them all.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import mxnet as mx

#: ``fn(file_arrays) -> (arrays under the symbol's names, file names not used)``.
WeightImporter = Callable[[Dict[str, mx.nd.NDArray]], Tuple[Dict[str, mx.nd.NDArray], List[str]]]


@dataclass(frozen=True)
class Backbone:
    """A registered feature extractor.

    Parameters
    ----------
    name : str
        Registry key (``--network``).
    build : callable
        ``build(data) -> Symbol``; the returned symbol's internals hold ``taps``.
    taps : tuple of str
        The stable layer names presets are meant to tap, finest first.
    import_weights : callable, optional
        Translates an ImageNet weights file of the Gluon model zoo (structural
        names such as ``features.4.0.body.0.weight``) into the symbol's
        parameter names; ``None`` when no such file format exists.
    """

    name: str
    build: Callable[[mx.sym.Symbol], mx.sym.Symbol]
    taps: Tuple[str, ...]
    import_weights: Optional[WeightImporter] = None

    def __call__(self, data: mx.sym.Symbol) -> mx.sym.Symbol:
        return self.build(data)


_REGISTRY: Dict[str, Backbone] = {}


def register(name: str, *, taps: Tuple[str, ...], import_weights: Optional[WeightImporter] = None):
    """Decorator registering ``fn(data) -> Symbol`` as backbone ``name``."""
    def wrap(fn):
        if name in _REGISTRY:
            raise ValueError(f"backbone {name!r} is registered twice")
        _REGISTRY[name] = Backbone(name, fn, tuple(taps), import_weights)
        return fn
    return wrap


def available() -> list:
    """Sorted names of the registered backbones."""
    return sorted(_REGISTRY)


def get_backbone(name: str) -> Backbone:
    """The backbone registered as ``name``; the error lists the choices."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown network {name!r}; available: {', '.join(available())}") from None


def tap(symbol: mx.sym.Symbol, layer: str, backbone: Optional[Backbone] = None) -> mx.sym.Symbol:
    """The output of the internal layer ``layer`` of ``symbol``."""
    internals = symbol.get_internals()
    key = layer + "_output"
    if key not in internals.list_outputs():
        where = f"backbone {backbone.name!r}" if backbone else "the backbone"
        hint = f"; its tap points are: {', '.join(backbone.taps)}" if backbone else ""
        raise KeyError(f"layer {layer!r} is not in {where}{hint}")
    return internals[key]
