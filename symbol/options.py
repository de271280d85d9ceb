"""Command-line options that describe a network and its detection stage, with their shared defaults.

``add_network_args`` (``--network``, ``--data-shape``) and ``add_preprocess_args``
(``--mean``, ``--std``) are for commands that build a network (training,
summaries, benchmarks); commands that load a model read these from its
metadata. ``add_detection_args`` (``--nms``, ``--nms-topk``,
``--force-suppress``) is for every command that runs a model:
flags left unset resolve to the model's metadata, then to
``symbol.coding.DetectionParams``'s defaults (``detection_params``). Importing
this module does not load MXNet.
"""
from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from typing import Optional

from common.cli import positive_int, triple, unit_float
from symbol.coding import DetectionParams
from symbol.defaults import DEFAULT_DATA_SHAPE, DEFAULT_NETWORK

log = logging.getLogger(__name__)


def add_network_arg(p, *, every_preset: bool = False, help_suffix: str = "") -> None:
    """``--network`` with the shared default (``every_preset``: no default, meaning all)."""
    g = p.add_argument_group("network") if isinstance(p, argparse.ArgumentParser) else p
    g.add_argument("--network", default=None if every_preset else DEFAULT_NETWORK,
                   help="backbone name, e.g. vgg16_reduced, resnet50, mobilenet1.0 (python -m tools.summary "
                        "lists every preset)" + help_suffix
                        + (" (default: every preset)" if every_preset else ""))


def add_network_args(p: argparse.ArgumentParser, *, every_preset: bool = False) -> None:
    """``--network`` and ``--data-shape`` with the shared defaults (``every_preset``: unset means all)."""
    g = p.add_argument_group("network")
    add_network_arg(g, every_preset=every_preset)
    everything = " (default: every preset)" if every_preset else ""
    g.add_argument("--data-shape", type=positive_int, default=None if every_preset else DEFAULT_DATA_SHAPE,
                   help="square input side in pixels" + everything)


def add_preprocess_args(p: argparse.ArgumentParser) -> None:
    """``--mean`` and ``--std`` (RGB, pixel units)."""
    g = p.add_argument_group("input normalization")
    g.add_argument("--mean", type=triple, default=None,
                   help="per-channel mean 'r,g,b' in pixels (default: ImageNet's)")
    g.add_argument("--std", type=triple, default=None,
                   help="per-channel std 'r,g,b' in pixels (default: ImageNet's)")


def _nms_topk(text: str) -> int:
    value = int(text) if text.lstrip("-").isdigit() else None
    if value is None or not (value == -1 or value > 0):
        raise argparse.ArgumentTypeError(f"expected -1 (all) or a positive integer, got {text!r}")
    return value


def add_detection_args(p: argparse.ArgumentParser) -> None:
    """``--nms``, ``--nms-topk`` and ``--force-suppress``; unset flags come from the model."""
    d = DetectionParams()
    g = p.add_argument_group("detection output")
    g.add_argument("--nms", type=unit_float, default=None,
                   help=f"NMS IoU threshold (default: the model's, else {d.nms_threshold})")
    g.add_argument("--nms-topk", type=_nms_topk, default=None,
                   help="boxes kept per image before NMS, -1 for all "
                        f"(default: the model's, else {d.nms_topk})")
    g.add_argument("--force-suppress", action=argparse.BooleanOptionalAction, default=None,
                   help="suppress overlapping boxes across classes "
                        f"(default: the model's, else {d.force_suppress})")


def detection_params(args: argparse.Namespace, meta_detection: Optional[dict] = None) -> DetectionParams:
    """DetectionParams: explicit ``add_detection_args`` flags > the model's metadata > defaults.

    A flag that changes a value the metadata states is logged as an override.
    """
    meta = meta_detection or {}
    flags = {"nms": ("nms_threshold", args.nms), "nms-topk": ("nms_topk", args.nms_topk),
             "force-suppress": ("force_suppress", args.force_suppress)}
    overrides = {}
    for flag, (field, value) in flags.items():
        if value is None:
            continue
        if field in meta and meta[field] != value:
            log.warning("--%s %s overrides the model's %s", flag, value, meta[field])
        overrides[field] = value
    return replace(DetectionParams(**meta), **overrides)
