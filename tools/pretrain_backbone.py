"""Pretrain a backbone as a crop classifier on a VOC dataset, for ``train.py --pretrained``.

The paper initializes SSD from an ImageNet-trained network. Without
ImageNet here, the bundled model's backbone is first trained to classify
object crops (and background crops) of the training split (``train.pretrain``).
The result is a params file with the backbone's own parameter names, which
``train.py --pretrained`` loads by name.

Usage::

    python -m tools.pretrain_backbone --root data/VOCdevkit/synthetic --split trainval \\
        --network mobilenet0.5 --out build/pretrain/mobilenet0.5_shapes.params

Networks: the MobileNet v1 widths and VGG16-reduced (``vgg16_reduced``,
``vgg16_reduced_tiny``; the whole backbone up to fc7, which is convolutional
and so sized by the crop, ending in global average pooling).
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Optional, Sequence

from common import cli
from symbol import options

log = logging.getLogger("pretrain_backbone")


def build_parser() -> argparse.ArgumentParser:
    p = cli.make_parser("python -m tools.pretrain_backbone", "Pretrain a backbone as a crop classifier.")
    p.add_argument("--root", type=Path, required=True, help="VOC folder")
    p.add_argument("--split", default="trainval", help="image set to take crops from")
    p.add_argument("--class-names", default=None,
                   help="names, a file, voc or coco (default: <root>/classes.txt)")
    options.add_network_arg(p, help_suffix="; a MobileNet v1 width or vgg16_reduced(_tiny)")
    p.add_argument("--size", type=cli.positive_int, default=96, help="crop side in pixels")
    p.add_argument("--epochs", type=cli.positive_int, default=8, help="passes over the crops")
    p.add_argument("--batch-size", type=cli.positive_int, default=128, help="crops per update")
    p.add_argument("--lr", type=cli.positive_float, default=0.002, help="Adam learning rate")
    p.add_argument("--seed", type=int, default=0, help="seed of crops, order and initialization")
    p.add_argument("--out", type=Path, required=True, help="params file to write")
    return p


def run(args: argparse.Namespace) -> int:
    import mxnet as mx

    from common.atomic import atomic_paths
    from dataset.records import read_class_names
    from dataset.voc import load_voc
    from train.pretrain import pretrain
    names = read_class_names(args.class_names or str(args.root / "classes.txt"))
    params = pretrain(load_voc(args.root, args.split, names), len(names), network=args.network,
                      size=args.size, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                      seed=args.seed)
    with atomic_paths(args.out) as (tmp,):
        mx.nd.save(str(tmp), params)
    log.info("wrote %s (%d backbone parameters)", args.out, len(params))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_main(build_parser, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
