"""Convert a Caffe classification network into backbone weights for ``train.py --pretrained``.

The paper initializes SSD from VGG16 fc-reduced (``VGG_ILSVRC_16_layers_fc_reduced``: the
convolutions, pool5 3x3/1, fc6 as a 3x3 convolution dilated by 6, fc7 as a 1x1 one). Usage::

    python -m tools.caffe_converter.convert_backbone VGG_ILSVRC_16_layers_fc_reduced_deploy.prototxt \\
        VGG_ILSVRC_16_layers_fc_reduced.caffemodel build/vgg16_reduced_caffe.params \\
        --network vgg16_reduced --rgb

The weights keep their Caffe layer names, which are this project's VGG16 names
(``conv1_1_weight`` ... ``fc7_bias``); with ``--network`` only the tensors the
backbone has are written and every other one is listed (the classifier). Caffe
models take BGR input: ``--rgb`` reverses the first convolution's input
channels, for this project's RGB training (then train with ``--mean
123,117,104 --std 1``, Caffe's mean in RGB order and no scaling).
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Optional, Sequence

from common import cli

log = logging.getLogger("convert_backbone")


def build_parser() -> argparse.ArgumentParser:
    p = cli.make_parser("python -m tools.caffe_converter.convert_backbone",
                        "Convert a Caffe classifier into backbone weights for train.py --pretrained.")
    p.add_argument("prototxt", type=Path, help="the classifier's deploy.prototxt")
    p.add_argument("caffemodel", type=Path, help="its weights (.caffemodel)")
    p.add_argument("out", type=Path, help="params file to write")
    p.add_argument("--network", default=None,
                   help="keep only the tensors of this backbone (e.g. vgg16_reduced); default: every tensor")
    p.add_argument("--rgb", action=argparse.BooleanOptionalAction, default=False,
                   help="make the weights take RGB input (Caffe models take BGR)")
    return p


def backbone_names(network: str) -> set:
    """The parameter names of ``network``'s backbone symbol."""
    import mxnet as mx

    from symbol.backbones import get_backbone
    return set(get_backbone(network)(mx.sym.var("data")).list_arguments()) - {"data"}


def convert_backbone(prototxt: Path, caffemodel: Path, *, network: Optional[str] = None, rgb: bool = False):
    """``(arrays by name, names left out)`` of a Caffe classifier's weights."""
    from tools.caffe_converter.caffemodel import read_caffemodel, read_prototxt
    from tools.caffe_converter.convert import build, fill
    graph = build(read_prototxt(prototxt), detection=False, rgb_input=rgb)
    args, auxs = fill(graph, read_caffemodel(caffemodel), where=str(caffemodel))
    arrays = {**args, **auxs}
    if network is None:
        return arrays, []
    wanted = backbone_names(network)
    missing = sorted(wanted - set(arrays))
    if missing:
        raise ValueError(f"{prototxt}: no {missing[0]!r} for backbone {network!r} ({len(missing)} of its "
                         f"{len(wanted)} tensors missing: not the same network?)")
    return {k: v for k, v in arrays.items() if k in wanted}, sorted(set(arrays) - wanted)


def run(args: argparse.Namespace) -> int:
    import mxnet as mx

    from common.atomic import atomic_paths
    arrays, left_out = convert_backbone(args.prototxt, args.caffemodel, network=args.network, rgb=args.rgb)
    with atomic_paths(args.out) as (tmp,):
        mx.nd.save(str(tmp), {f"arg:{k}": v for k, v in arrays.items()})
    print(f"wrote {args.out}: {len(arrays)} tensors" + (f"; left out (not in {args.network}): "
                                                       f"{', '.join(left_out)}" if left_out else ""))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_main(build_parser, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
