"""Train an SSD detector on a packed dataset.

The command line of ``train.py``; usage examples are in that file. Flag
defaults are the defaults of ``TrainConfig``.
"""
import argparse
import dataclasses
import logging
import shlex
import sys
from pathlib import Path
from typing import Optional, Sequence

from common import cli
from common.devices import parse_contexts
from dataset.iterator import NO_AUGMENTATION, Augmentation
from dataset.recordio import read_sidecar
from dataset.records import DatasetError, read_class_names
from train.config import TrainConfig
from train.trainer import Trainer

log = logging.getLogger("train")
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainConfig)}


def build_parser() -> argparse.ArgumentParser:
    d = _DEFAULTS
    p = argparse.ArgumentParser(description="Train an SSD detector.",
                                formatter_class=cli.DefaultsHelpFormatter)
    g = p.add_argument_group("data")
    g.add_argument("--train-rec", type=Path, required=True, help="packed training set (.rec)")
    g.add_argument("--val-rec", type=Path, default=None, help="packed validation set for per-epoch mAP")
    g.add_argument("--class-names", default=None,
                   help="comma-separated names or a file (default: the .rec's sidecar)")
    g.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True,
                   help="SSD data augmentation")
    g.add_argument("--crop-prob", type=float, default=Augmentation().crop_prob,
                   help="probability of an SSD random crop (zoom in)")
    g.add_argument("--expand-prob", type=float, default=Augmentation().expand_prob,
                   help="probability of a zoom-out onto a larger canvas")
    g.add_argument("--max-expand", type=float, default=Augmentation().max_expand,
                   help="largest zoom-out canvas, as a multiple of the image side")
    g.add_argument("--threads", type=int, default=None, help="decoding threads (default: all cores)")
    cli.add_preprocess_args(p, with_network=True)
    p.add_argument("--anchor-scales", default=None, metavar="S_MIN,S_MAX[,FIRST_MIN,FIRST_MAX]",
                   help="anchor sizes by the paper's linear rule at other scales (fractions of the "
                        "input side; default: the preset's); the checkpoint keeps them")
    p.add_argument("--top-down", type=int, default=None, metavar="CHANNELS",
                   help="feature-pyramid top-down path of CHANNELS over the tapped layers "
                        "(0: none, the paper's SSD; default: the preset's)")
    g = p.add_argument_group("optimization")
    g.add_argument("--batch-size", type=int, default=d["batch_size"], help="images per update, all devices")
    g.add_argument("--epochs", type=int, default=d["epochs"])
    g.add_argument("--optimizer", choices=("sgd", "adam"), default=d["optimizer"],
                   help="SGD with momentum (the paper's) or Adam (converges faster from scratch)")
    g.add_argument("--lr", type=float, default=d["lr"], help="base learning rate")
    g.add_argument("--momentum", type=float, default=d["momentum"], help="SGD momentum")
    g.add_argument("--wd", type=float, default=d["wd"], help="weight decay")
    g.add_argument("--lr-steps", default=",".join(map(str, d["lr_steps"])),
                   help="epochs at which the rate is multiplied by --lr-factor ('' for none)")
    g.add_argument("--lr-factor", type=float, default=d["lr_factor"])
    g.add_argument("--warmup-epochs", type=float, default=d["warmup_epochs"],
                   help="linear warm-up from lr * warmup factor over this many epochs")
    g.add_argument("--seed", type=int, default=d["seed"])
    g = p.add_argument_group("checkpoints")
    g.add_argument("--prefix", type=Path, required=True, help="checkpoint prefix")
    g.add_argument("--resume", type=int, default=None, metavar="EPOCH", help="continue from PREFIX-EPOCH")
    g.add_argument("--pretrained", type=Path, default=None, help="params file to initialize from by name")
    g.add_argument("--freeze", default=None, metavar="REGEX", help="keep parameters matching REGEX fixed")
    g.add_argument("--checkpoint-every", type=int, default=d["checkpoint_every"],
                   help="epochs between checkpoints")
    g.add_argument("--val-every", type=int, default=d["val_every"], help="epochs between validations")
    cli.add_device_args(p)
    p.add_argument("--kvstore", default=d["kvstore"], help="kvstore type (local, device, dist_sync, ...)")
    p.add_argument("--log-interval", type=int, default=d["log_interval"], metavar="BATCHES",
                   help="batches between progress-bar updates, or log lines with --no-progress")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="show a progress bar")
    p.add_argument("--log-dir", type=Path, default=None,
                   help="write TensorBoard scalars (loss, lr, img/s, val mAP) here with mxboard")
    return p


def _class_names(args) -> tuple:
    if args.class_names:
        return read_class_names(args.class_names)
    names = read_sidecar(args.train_rec).get("class_names")
    if not names:
        raise ValueError(f"{args.train_rec}: no class names in its sidecar; pass --class-names")
    return tuple(names)


def config_from_args(args: argparse.Namespace, argv: Sequence[str]) -> TrainConfig:
    try:
        steps = tuple(int(s) for s in args.lr_steps.split(",") if s.strip())
    except ValueError:
        raise ValueError(f"--lr-steps: expected comma-separated epochs, got {args.lr_steps!r}") from None
    try:
        scales = tuple(float(v) for v in args.anchor_scales.split(",")) if args.anchor_scales else None
    except ValueError:
        raise ValueError(f"--anchor-scales: expected comma-separated numbers, got {args.anchor_scales!r}") \
            from None
    return TrainConfig(
        anchor_scales=scales, top_down=args.top_down, train_rec=args.train_rec, val_rec=args.val_rec,
        prefix=args.prefix,
        network=args.network or cli.DEFAULT_NETWORK,
        data_shape=args.data_shape or cli.DEFAULT_DATA_SHAPE, class_names=_class_names(args),
        contexts=parse_contexts(args.gpus, args.cpus), kvstore=args.kvstore,
        batch_size=args.batch_size, epochs=args.epochs, optimizer=args.optimizer, lr=args.lr,
        momentum=args.momentum, wd=args.wd, lr_steps=steps, lr_factor=args.lr_factor,
        warmup_epochs=args.warmup_epochs, mean=args.mean or cli.DEFAULT_MEAN,
        std=args.std or cli.DEFAULT_STD,
        augmentation=(Augmentation(crop_prob=args.crop_prob, expand_prob=args.expand_prob,
                                   max_expand=args.max_expand) if args.augment else NO_AUGMENTATION),
        resume=args.resume, pretrained=args.pretrained, freeze=args.freeze,
        checkpoint_every=args.checkpoint_every, val_every=args.val_every, seed=args.seed,
        log_interval=args.log_interval,
        threads=args.threads, progress=args.progress, log_dir=args.log_dir,
        command="python train.py " + " ".join(shlex.quote(a) for a in argv))


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    cli.setup_logging()
    try:
        config = config_from_args(args, argv)
        trainer = Trainer(config)
        log.info("training %s on %s: %d classes, %d batches/epoch, contexts %s",
                 trainer.preset.name, config.train_rec, len(config.class_names),
                 trainer.batches_per_epoch, config.contexts)
        trainer.fit()
    except (DatasetError, ValueError, KeyError, FileNotFoundError) as err:
        return cli.print_error(err)
    return 0
