"""Command-line flags shared by every entry point, so they mean the same everywhere.

Defaults that two commands share live here or in the model's metadata,
never as two literals. Flags left unset resolve, in order, to the model's
metadata and then to these defaults; an explicit flag that disagrees with
the metadata wins, with a warning.
"""
from __future__ import annotations

import argparse
import logging
from typing import Optional, Tuple

log = logging.getLogger(__name__)

#: ImageNet RGB statistics in pixel units, the normalization of Gluon model-zoo backbones.
DEFAULT_MEAN = (123.68, 116.78, 103.94)
DEFAULT_STD = (58.395, 57.12, 57.375)
DEFAULT_DATA_SHAPE = 300
DEFAULT_NETWORK = "mobilenet0.25"


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
                       help=f"backbone name (default: from the model, else {DEFAULT_NETWORK})")
    g.add_argument("--data-shape", type=int, default=None,
                   help=f"square input side in pixels (default: from the model, else {DEFAULT_DATA_SHAPE})")
    g.add_argument("--mean", type=triple, default=None,
                   help="per-channel mean 'r,g,b' in pixels (default: from the model, else ImageNet's)")
    g.add_argument("--std", type=triple, default=None,
                   help="per-channel std 'r,g,b' in pixels (default: from the model, else ImageNet's)")


def add_detection_args(p: argparse.ArgumentParser) -> None:
    from symbol.builder import DetectionParams
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


def resolve(flag_name: str, flag_value, meta_value, default):
    """Explicit flag > metadata > default; warn when a flag overrides the metadata."""
    if flag_value is not None:
        if meta_value is not None and _differs(flag_value, meta_value):
            log.warning("--%s %s overrides the model's %s", flag_name, flag_value, meta_value)
        return flag_value
    return meta_value if meta_value is not None else default


def _differs(a, b) -> bool:
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) != len(b) or any(abs(float(x) - float(y)) > 1e-6 for x, y in zip(a, b))
    return a != b


def detection_params(args: argparse.Namespace, meta_detection: Optional[dict] = None):
    """DetectionParams from ``add_detection_args`` flags over the model's metadata."""
    from symbol.builder import DetectionParams
    base = DetectionParams(**(meta_detection or {}))
    meta = meta_detection or {}
    return DetectionParams(
        nms_threshold=resolve("nms", args.nms, meta.get("nms_threshold"), base.nms_threshold),
        nms_topk=resolve("nms-topk", args.nms_topk, meta.get("nms_topk"), base.nms_topk),
        force_suppress=resolve("force-suppress", args.force_suppress, meta.get("force_suppress"),
                               base.force_suppress),
        threshold=base.threshold)


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")


