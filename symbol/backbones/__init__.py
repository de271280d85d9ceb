"""Backbone registry: name -> function building the feature-extractor symbol.

A backbone function takes the ``data`` symbol and returns a symbol whose
internals contain every layer a preset may tap; presets name those layers
(``symbol.presets``). Register a new backbone with::

    @register("mynet")
    def mynet(data):
        ...
        return last_layer
"""
from __future__ import annotations

from typing import Callable, Dict

import mxnet as mx

_REGISTRY: Dict[str, Callable[[mx.sym.Symbol], mx.sym.Symbol]] = {}


def register(name: str):
    """Decorator registering ``fn(data) -> Symbol`` under ``name``."""
    def wrap(fn):
        if name in _REGISTRY:
            raise ValueError(f"backbone {name!r} is registered twice")
        _REGISTRY[name] = fn
        return fn
    return wrap


def available() -> list:
    """Sorted names of the registered backbones."""
    return sorted(_REGISTRY)


def get_backbone(name: str) -> Callable[[mx.sym.Symbol], mx.sym.Symbol]:
    """The builder registered as ``name``; the error lists the choices."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown network {name!r}; available: {', '.join(available())}") from None


def tap(symbol: mx.sym.Symbol, layer: str) -> mx.sym.Symbol:
    """The output of the internal layer ``layer`` of ``symbol``."""
    internals = symbol.get_internals()
    key = layer + "_output"
    if key not in internals.list_outputs():
        relus = [n[:-len("_output")] for n in internals.list_outputs() if "relu" in n]
        raise KeyError(f"layer {layer!r} is not in the backbone; its activations are: "
                       + ", ".join(relus))
    return internals[key]


# Importing the modules registers their backbones.
from symbol.backbones import mobilenet, vgg  # noqa: E402,F401
