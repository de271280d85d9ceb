"""Export a training checkpoint as a deploy model with NMS fused in.

The command line of ``deploy.py``; usage examples are in that file.
"""
import argparse
import shlex
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Optional, Sequence

from common import cli, modelfile
from symbol.builder import deploy_symbol
from symbol.presets import get_preset


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Export a deploy model (NMS fused) from a checkpoint.")
    cli.add_model_args(p)
    p.add_argument("--out", type=Path, required=True, help="output prefix of the deploy model")
    cli.add_detection_args(p)
    return p


def export(prefix, epoch: Optional[int], out, detection, command: str = "") -> int:
    """Write the deploy model; returns the epoch exported."""
    meta = modelfile.load_meta(prefix)
    if meta.kind != "train":
        raise ValueError(f"{modelfile.meta_path(prefix)}: already a deploy model")
    epoch = modelfile.resolve_epoch(prefix, epoch)
    symbol = deploy_symbol(get_preset(meta.network, meta.data_shape), meta.num_classes, detection)
    args, auxs = modelfile.load_params(prefix, epoch)
    needed_args, needed_auxs = set(symbol.list_arguments()) - {"data"}, set(symbol.list_auxiliary_states())
    missing = sorted((needed_args - set(args)) | (needed_auxs - set(auxs)))
    if missing:
        raise ValueError(f"{modelfile.params_path(prefix, epoch)}: missing parameters {missing}")
    made_by = dict(meta.made_by, exported_from=f"{prefix} epoch {epoch}", export_command=command)
    out_meta = replace(meta, kind="deploy", detection=asdict(detection), made_by=made_by)
    modelfile.save_model(out, epoch, symbol, {k: args[k] for k in needed_args},
                         {k: auxs[k] for k in needed_auxs}, out_meta)
    return epoch


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    cli.setup_logging()
    try:
        meta = modelfile.load_meta(args.prefix)
        detection = cli.detection_params(args, meta.detection)
        epoch = export(args.prefix, args.epoch, args.out, detection,
                       "python deploy.py " + " ".join(shlex.quote(a) for a in argv))
    except (ValueError, KeyError, FileNotFoundError) as err:
        return cli.print_error(err)
    print(f"wrote {modelfile.symbol_path(args.out)}, {modelfile.params_path(args.out, epoch)}, "
          f"{modelfile.meta_path(args.out)}")
    return 0

