"""Train an SSD detector on a packed dataset.

Example (the bundled model; see model/README.md for the exact command)::

    python train.py --train-rec data/synthetic/train.rec --val-rec data/synthetic/val.rec \\
        --network mobilenet0.25 --data-shape 300 --prefix model/ssd_mobilenet0.25_synthetic
"""
from common import runtime

runtime.configure()

import argparse  # noqa: E402
import logging  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Optional, Sequence  # noqa: E402

from common import cli  # noqa: E402
from dataset.iterator import Augmentation  # noqa: E402

log = logging.getLogger("train")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Train an SSD detector.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = p.add_argument_group("data")
    g.add_argument("--train-rec", type=Path, required=True, help="packed training set (.rec)")
    g.add_argument("--val-rec", type=Path, default=None, help="packed validation set for per-epoch mAP")
    g.add_argument("--class-names", default=None,
                   help="comma-separated names or a file (default: the .rec's sidecar)")
    g.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True,
                   help="SSD data augmentation")
    g.add_argument("--max-expand", type=float, default=Augmentation().max_expand,
                   help="largest zoom-out canvas, as a multiple of the image side")
    g.add_argument("--threads", type=int, default=None, help="decoding threads (default: all cores)")
    cli.add_preprocess_args(p, with_network=True)
    g = p.add_argument_group("optimization")
    g.add_argument("--batch-size", type=int, default=32, help="images per update, over all devices")
    g.add_argument("--epochs", type=int, default=120)
    g.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd",
                   help="SGD with momentum (the paper's) or Adam (converges faster from scratch)")
    g.add_argument("--lr", type=float, default=0.01, help="base learning rate")
    g.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    g.add_argument("--wd", type=float, default=5e-4, help="weight decay")
    g.add_argument("--lr-steps", default="80,100",
                   help="epochs at which the rate is multiplied by --lr-factor ('' for none)")
    g.add_argument("--lr-factor", type=float, default=0.1)
    g.add_argument("--warmup-epochs", type=float, default=1.0,
                   help="linear warm-up from lr/10 over this many epochs")
    g.add_argument("--seed", type=int, default=0)
    g = p.add_argument_group("checkpoints")
    g.add_argument("--prefix", type=Path, required=True, help="checkpoint prefix")
    g.add_argument("--resume", type=int, default=None, metavar="EPOCH", help="continue from PREFIX-EPOCH")
    g.add_argument("--pretrained", type=Path, default=None, help="params file to initialize from by name")
    g.add_argument("--freeze", default=None, metavar="REGEX", help="keep parameters matching REGEX fixed")
    g.add_argument("--checkpoint-every", type=int, default=1, help="epochs between checkpoints")
    g.add_argument("--val-every", type=int, default=1, help="epochs between validations")
    cli.add_device_args(p)
    p.add_argument("--kvstore", default="local", help="kvstore type (local, device, dist_sync, ...)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="show a progress bar")
    return p


def config_from_args(args: argparse.Namespace, argv: Sequence[str]):
    from common.devices import parse_contexts
    from dataset.recordio import read_sidecar
    from dataset.records import read_class_names
    from train.config import TrainConfig

    if args.class_names:
        names = read_class_names(args.class_names)
    else:
        names = read_sidecar(args.train_rec).get("class_names")
        if not names:
            raise ValueError(f"{args.train_rec}: no class names in its sidecar; pass --class-names")
        names = tuple(names)
    aug = Augmentation(max_expand=args.max_expand) if args.augment else None
    from dataset.iterator import NO_AUGMENTATION
    steps = tuple(int(s) for s in args.lr_steps.split(",") if s.strip())
    return TrainConfig(
        train_rec=args.train_rec, val_rec=args.val_rec, prefix=args.prefix,
        network=args.network or cli.DEFAULT_NETWORK,
        data_shape=args.data_shape or cli.DEFAULT_DATA_SHAPE, class_names=names,
        contexts=parse_contexts(args.gpus, args.cpus), kvstore=args.kvstore,
        batch_size=args.batch_size, epochs=args.epochs, optimizer=args.optimizer, lr=args.lr, momentum=args.momentum,
        wd=args.wd, lr_steps=steps, lr_factor=args.lr_factor, warmup_epochs=args.warmup_epochs,
        mean=args.mean or cli.DEFAULT_MEAN, std=args.std or cli.DEFAULT_STD,
        augmentation=aug or NO_AUGMENTATION, resume=args.resume, pretrained=args.pretrained,
        freeze=args.freeze, checkpoint_every=args.checkpoint_every, val_every=args.val_every,
        seed=args.seed, threads=args.threads, progress=args.progress,
        command="python train.py " + " ".join(shlex.quote(a) for a in argv))


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    cli.setup_logging()
    from dataset.records import DatasetError
    from train.trainer import Trainer
    try:
        config = config_from_args(args, argv)
        trainer = Trainer(config)
        log.info("training %s on %s: %d classes, %d batches/epoch, contexts %s",
                 trainer.preset.name, config.train_rec, len(config.class_names),
                 trainer.batches_per_epoch, config.contexts)
        trainer.fit()
    except (DatasetError, ValueError, KeyError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
