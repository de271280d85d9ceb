"""Train an SSD detector on a packed dataset.

The command line of ``train.py``; usage examples are in that file. Flag
defaults are the defaults of ``TrainConfig``'s groups (``train.config.defaults``).
"""
import argparse
import logging
import sys
import tomllib
from pathlib import Path
from typing import List, Optional, Sequence

from common import cli
from dataset.augmentation import NO_AUGMENTATION, Augmentation
from symbol import options
from train import config as train_config
from train.config import TrainConfig

log = logging.getLogger("train")
#: Flag defaults are TrainConfig's field defaults.
_DEFAULTS = train_config.defaults()


def build_parser() -> argparse.ArgumentParser:
    d, aug = _DEFAULTS, Augmentation()
    p = cli.make_parser("python train.py", "Train an SSD detector.")
    p.add_argument("--config", type=Path, default=None, metavar="RECIPE",
                   help="a TOML file of flags (keys: flag names with underscores), e.g. a paper recipe of "
                        "configs/; flags given on the command line win")
    g = p.add_argument_group("data")
    g.add_argument("--train-rec", type=Path, required=True, help="packed training set (.rec)")
    g.add_argument("--val-rec", type=Path, default=None, help="packed validation set for per-epoch mAP")
    g.add_argument("--class-names", default=None,
                   help="comma-separated names or a file; must match the .rec's classes "
                        "(default: the .rec's sidecar)")
    g.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True,
                   help="SSD data augmentation")
    g.add_argument("--crop-prob", type=cli.unit_float, default=aug.crop_prob,
                   help="probability of an SSD random crop (zoom in)")
    g.add_argument("--expand-prob", type=cli.unit_float, default=aug.expand_prob,
                   help="probability of a zoom-out onto a larger canvas")
    g.add_argument("--max-expand", type=cli.positive_float, default=aug.max_expand,
                   help="largest zoom-out canvas, as a multiple of the image side (>= 1)")
    g.add_argument("--threads", type=cli.positive_int, default=None,
                   help="decoding threads (default: all cores)")
    options.add_network_args(p)
    options.add_preprocess_args(p)
    p.add_argument("--anchor-scales", default=None, metavar="S_MIN,S_MAX[,FIRST_MIN,FIRST_MAX]",
                   help="anchor sizes by the paper's linear rule at other scales (fractions of the "
                        "input side; default: the preset's); the checkpoint keeps them")
    p.add_argument("--top-down", type=cli.nonnegative_int, default=None, metavar="CHANNELS",
                   help="feature-pyramid top-down path of CHANNELS over the tapped layers "
                        "(0: none, the paper's SSD; default: the preset's)")
    g = p.add_argument_group("optimization")
    g.add_argument("--batch-size", type=cli.positive_int, default=d["batch_size"],
                   help="images per step and worker, all its devices together (a dist job of N workers "
                        "updates with N x this)")
    g.add_argument("--epochs", type=cli.positive_int, default=d["epochs"], help="last epoch to train")
    g.add_argument("--optimizer", choices=("sgd", "adam"), default=d["optimizer"],
                   help="SGD with momentum (the paper's) or Adam (converges faster from scratch)")
    g.add_argument("--lr", type=cli.positive_float, default=d["lr"], help="base learning rate")
    g.add_argument("--momentum", type=cli.unit_float, default=d["momentum"], help="SGD momentum")
    g.add_argument("--wd", type=cli.nonnegative_float, default=d["wd"], help="weight decay")
    g.add_argument("--lr-steps", default=",".join(map(str, d["lr_steps"])),
                   help="epochs at which the rate is multiplied by --lr-factor ('' for none)")
    g.add_argument("--lr-factor", type=cli.positive_float, default=d["lr_factor"],
                   help="multiplier of the rate at each of --lr-steps")
    g.add_argument("--warmup-epochs", type=cli.nonnegative_float, default=d["warmup_epochs"],
                   help="linear warm-up from lr * warmup factor over this many epochs")
    g.add_argument("--seed", type=int, default=d["seed"],
                   help="seed of initialization, data order and augmentation")
    g = p.add_argument_group("checkpoints")
    g.add_argument("--prefix", type=Path, required=True,
                   help="checkpoint prefix: writes PREFIX-symbol.json, PREFIX-NNNN.params, PREFIX-meta.json")
    g.add_argument("--resume", type=cli.positive_int, default=None, metavar="EPOCH",
                   help="continue from PREFIX-EPOCH")
    g.add_argument("--pretrained", type=Path, default=None, help="params file to initialize from by name")
    g.add_argument("--freeze", default=None, metavar="REGEX", help="keep parameters matching REGEX fixed")
    g.add_argument("--checkpoint-every", type=cli.positive_int, default=d["checkpoint_every"],
                   help="epochs between checkpoints")
    g.add_argument("--val-every", type=cli.positive_int, default=d["val_every"],
                   help="epochs between validations")
    cli.add_device_args(p)
    p.add_argument("--amp", choices=("bf16", "fp16"), default=None,
                   help="mixed precision: the network body in bfloat16 (CPU, AVX512-BF16) or float16 (GPU, "
                        "dynamic loss scaling); anchors, losses and the optimizer's weights stay float32 "
                        "(default: float32 throughout)")
    p.add_argument("--kvstore", default=d["kvstore"],
                   choices=("local", "device", "dist_sync", "dist_device_sync", "dist_async"),
                   help="how gradients are summed: local/device (one process, several devices), dist_sync/"
                        "dist_device_sync (several processes or machines, started by python -m tools.launch)")
    p.add_argument("--log-interval", type=cli.positive_int, default=d["log_interval"], metavar="BATCHES",
                   help="batches between log lines with --no-progress")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="show a progress bar")
    p.add_argument("--record-log", action=argparse.BooleanOptionalAction, default=False,
                   help="write the record indices each worker trains on, per epoch, to "
                        "PREFIX-records-workerN.json (checks the data split of a distributed job)")
    p.add_argument("--log-dir", type=Path, default=None,
                   help="write TensorBoard event files here: losses, lr, img/s, val mAP, per-class AP and "
                        "PR curves, example images (tensorboard --logdir DIR shows them)")
    return p


def _class_names(args) -> tuple:
    from dataset.recordio import read_sidecar
    from dataset.records import read_class_names
    stored = read_sidecar(args.train_rec).get("class_names")
    if args.class_names:
        names = read_class_names(args.class_names)
        if stored and tuple(stored) != names:
            raise ValueError(f"--class-names gives {len(names)} classes {list(names)}, but {args.train_rec} "
                             f"holds {len(stored)}: {stored}")
        return names
    if not stored:
        raise ValueError(f"{args.train_rec}: no class names in its sidecar; pass --class-names")
    return tuple(stored)


def _numbers(text: Optional[str], kind, flag: str) -> tuple:
    try:
        return tuple(kind(s) for s in (text or "").split(",") if s.strip())
    except ValueError:
        raise ValueError(f"{flag}: expected comma-separated numbers, got {text!r}") from None


def config_from_args(args: argparse.Namespace):
    """The TrainConfig the parsed flags describe."""
    from common.devices import parse_contexts
    if args.max_expand < 1:
        raise ValueError(f"--max-expand must be >= 1, got {args.max_expand}")
    return TrainConfig.build(
        anchor_scales=_numbers(args.anchor_scales, float, "--anchor-scales") or None, top_down=args.top_down,
        train_rec=args.train_rec, val_rec=args.val_rec, prefix=args.prefix, network=args.network,
        data_shape=args.data_shape, class_names=_class_names(args),
        contexts=parse_contexts(args.gpus, args.cpus), kvstore=args.kvstore,
        batch_size=args.batch_size, epochs=args.epochs, optimizer=args.optimizer, lr=args.lr,
        momentum=args.momentum, wd=args.wd, lr_steps=_numbers(args.lr_steps, int, "--lr-steps"),
        lr_factor=args.lr_factor, warmup_epochs=args.warmup_epochs, mean=args.mean or _DEFAULTS["mean"],
        std=args.std or _DEFAULTS["std"],
        augmentation=(Augmentation(crop_prob=args.crop_prob, expand_prob=args.expand_prob,
                                   max_expand=args.max_expand) if args.augment else NO_AUGMENTATION),
        resume=args.resume, pretrained=args.pretrained, freeze=args.freeze,
        checkpoint_every=args.checkpoint_every, val_every=args.val_every, seed=args.seed,
        log_interval=args.log_interval, threads=args.threads, progress=args.progress, log_dir=args.log_dir,
        record_log=args.record_log, amp=args.amp,
        command=args.command)


def run(args: argparse.Namespace) -> int:
    from train.trainer import build_trainer
    config = config_from_args(args)
    resume, epochs = config.run.resume, config.solver.epochs
    if resume is not None and resume >= epochs:
        raise ValueError(f"--resume {resume}: nothing to train, --epochs is {epochs}")
    trainer = build_trainer(config)
    shown = {k: v for k, v in config.flat().items() if k not in ("command", "class_names")}
    log.info("settings: %s", ", ".join(f"{k}={v}" for k, v in shown.items()))
    log.info("training %s on %s: %d classes, %d batches/epoch, contexts %s",
             trainer.preset.name, config.data.train_rec, len(config.model.class_names),
             trainer.batches_per_epoch, config.run.contexts)
    trainer.fit()
    return 0


def expand_config(argv: Sequence[str]) -> List[str]:
    """``argv`` with ``--config FILE`` replaced by the flags the file sets, placed first so that the
    command line's own flags win. Unknown keys and unreadable files are errors naming the file."""
    argv = list(argv)
    if "--config" not in argv and not any(a.startswith("--config=") for a in argv):
        return argv
    at = next(i for i, a in enumerate(argv) if a == "--config" or a.startswith("--config="))
    inline = "=" in argv[at]
    path = Path(argv[at].split("=", 1)[1] if inline else (argv[at + 1] if at + 1 < len(argv) else ""))
    rest = argv[:at] + argv[at + (1 if inline else 2):]
    if not path.is_file():
        raise FileNotFoundError(f"--config {path}: no such file")
    try:
        settings = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path}: not valid TOML: {err}") from None
    flags = {a.dest: a for a in build_parser()._actions if a.option_strings}
    expanded = []
    for key, value in settings.items():
        action = flags.get(key)
        if action is None or key == "config":
            raise ValueError(f"{path}: unknown key {key!r} (the keys are train.py's flags with underscores)")
        option = action.option_strings[0]
        if isinstance(action, argparse.BooleanOptionalAction):
            expanded.append(option if value else f"--no-{option[2:]}")
        else:
            expanded += [option, str(value)]
    return expanded + rest


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        argv = expand_config(sys.argv[1:] if argv is None else argv)
    except cli.EXPECTED_ERRORS as err:
        return cli.print_error(err)
    return cli.run_main(build_parser, run, argv)
