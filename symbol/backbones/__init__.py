"""Backbone registry: name -> how to build the feature extractor and import its weights.

A backbone builds, from the ``data`` symbol, a symbol whose internals contain
the layers a preset may tap (``symbol.presets``), each under a stable name
(a layer name of the original network, or a named identity marking the end
of a stage), never an auto-numbered operator name. Register one with::

    from symbol.backbones.registry import register

    @register("mynet", taps=("mynet_stage3", "mynet_stage4"))
    def mynet(data):
        ...
        return last_layer

in a module imported below, and give it a preset (``symbol.presets``); that is
all a new network needs.
"""
# Importing the backbone modules registers their backbones.
from symbol.backbones import inception, mobilenet, mobilenetv2, resnet, vgg  # noqa: F401
from symbol.backbones.registry import Backbone, WeightImporter, available, get_backbone, register, tap

__all__ = ["Backbone", "WeightImporter", "available", "get_backbone", "register", "tap"]
