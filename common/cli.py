"""Command-line flags shared by every entry point, so they mean the same everywhere.

Defaults that two commands share live here or in the model's metadata,
never as two literals. Detection flags left unset resolve, in order, to the
model's metadata and then to the defaults; an explicit flag that disagrees
with the metadata wins, with a warning. The input flags (``--network``,
``--data-shape``, ``--mean``, ``--std``) are for training; inference reads
them from the model's metadata.
"""
from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from typing import Optional, Tuple

log = logging.getLogger(__name__)

#: ImageNet RGB statistics in pixel units, the normalization of Gluon model-zoo backbones.
DEFAULT_MEAN = (123.68, 116.78, 103.94)
DEFAULT_STD = (58.395, 57.12, 57.375)
DEFAULT_DATA_SHAPE = 300
DEFAULT_NETWORK = "mobilenet0.25"


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to a flag's help unless the help states its default or there is none."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default:" in text or action.default in (None, argparse.SUPPRESS) or action.required:
            return text
        return text + " (default: %(default)s)"


def triple(text: str) -> Tuple[float, float, float]:
    """Parse ``"r,g,b"`` (or one number for all three channels)."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 3 comma-separated numbers, got {text!r}") from None
    if len(values) == 1:
        values = values * 3
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"expected 3 comma-separated numbers, got {text!r}")
    return values


def add_preprocess_args(p: argparse.ArgumentParser, *, with_network: bool = False) -> None:
    g = p.add_argument_group("input")
    if with_network:
        g.add_argument("--network", default=None,
                       help=f"backbone name (default: {DEFAULT_NETWORK})")
    g.add_argument("--data-shape", type=int, default=None,
                   help=f"square input side in pixels (default: {DEFAULT_DATA_SHAPE})")
    g.add_argument("--mean", type=triple, default=None,
                   help="per-channel mean 'r,g,b' in pixels (default: ImageNet's)")
    g.add_argument("--std", type=triple, default=None,
                   help="per-channel std 'r,g,b' in pixels (default: ImageNet's)")


def add_detection_args(p: argparse.ArgumentParser) -> None:
    from symbol.coding import DetectionParams
    d = DetectionParams()
    g = p.add_argument_group("detection output")
    g.add_argument("--nms", type=float, default=None,
                   help=f"NMS IoU threshold (default: from the model, else {d.nms_threshold})")
    g.add_argument("--nms-topk", type=int, default=None,
                   help=f"boxes kept before NMS (default: from the model, else {d.nms_topk})")
    g.add_argument("--force-suppress", action=argparse.BooleanOptionalAction, default=None,
                   help="suppress overlapping boxes across classes "
                        f"(default: from the model, else {d.force_suppress})")


def add_device_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("devices")
    g.add_argument("--gpus", default=None, help="comma-separated GPU ids, e.g. 0,1 (default: CPU)")
    g.add_argument("--cpus", type=int, default=1,
                   help="number of CPU contexts when no GPU is given (default: 1)")


def add_model_args(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--prefix", required=required,
                   help="model prefix: PREFIX-symbol.json, PREFIX-NNNN.params, PREFIX-meta.json")
    g.add_argument("--epoch", type=int, default=None, help="NNNN of the params file (default: latest)")


def detection_params(args: argparse.Namespace, meta_detection: Optional[dict] = None):
    """DetectionParams: explicit ``add_detection_args`` flags > the model's metadata > defaults.

    A flag that changes a value the metadata states is logged as an override.
    """
    from symbol.coding import DetectionParams
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


def print_error(err: BaseException) -> int:
    """Print ``error: <message>`` to stderr (a KeyError without its quotes); returns exit code 2."""
    message = err.args[0] if isinstance(err, KeyError) and err.args else err
    print(f"error: {message}", file=sys.stderr)
    return 2


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")


