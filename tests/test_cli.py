"""Shared flags mean the same in every command."""
import argparse

import pytest

from common import cli
from detect import demo, deploy
from evaluate import cli as evaluate
from train import cli as train

COMMON = ["--nms", "0.3", "--nms-topk", "50", "--no-force-suppress"]


@pytest.mark.parametrize("module,extra", [
    (demo, []),
    (evaluate, ["--prefix", "p", "--rec", "r.rec"]),
    (deploy, ["--prefix", "p", "--out", "o"]),
])
def test_detection_flags_parse_identically(module, extra):
    args = module.build_parser().parse_args(extra + COMMON)
    params = cli.detection_params(args, {"nms_threshold": 0.45, "nms_topk": 400, "force_suppress": True})
    assert (params.nms_threshold, params.nms_topk, params.force_suppress) == (0.3, 50, False)


def test_unset_flags_fall_back_to_metadata_then_defaults():
    args = demo.build_parser().parse_args([])
    assert cli.detection_params(args, {"nms_threshold": 0.6}).nms_threshold == 0.6
    from symbol.coding import DetectionParams
    assert cli.detection_params(args, None) == DetectionParams()


def test_train_shares_the_preprocessing_flags():
    args = train.build_parser().parse_args(["--train-rec", "t.rec", "--prefix", "p", "--mean", "1,2,3",
                                            "--std", "2", "--data-shape", "512", "--no-augment"])
    assert args.mean == (1.0, 2.0, 3.0) and args.std == (2.0, 2.0, 2.0) and args.data_shape == 512
    assert args.augment is False
    with pytest.raises(argparse.ArgumentTypeError):
        cli.triple("1,2")


def test_contexts_from_flags():
    import mxnet as mx

    from common.devices import parse_contexts
    assert parse_contexts(None, 2) == [mx.cpu(0), mx.cpu(1)]
    assert parse_contexts("0,1", 1) == [mx.gpu(0), mx.gpu(1)]
    with pytest.raises(ValueError, match="--gpus"):
        parse_contexts("a,b", 1)


@pytest.mark.parametrize("network, size, message", [
    ("resnet9", 300, "error: unknown network 'resnet9'; available: inceptionv3, mobilenet0.25"),
    ("resnet50", 416, "error: network 'resnet50' has no preset for input size 416; "
                      "available sizes: [300, 512]"),
])
def test_train_names_the_available_networks_and_sizes(packed, tmp_path, capsys, network, size, message):
    code = train.main(["--train-rec", str(packed[0]), "--prefix", str(tmp_path / "m"), "--network", network,
                 "--data-shape", str(size)])
    assert code == 2 and message in capsys.readouterr().err


def test_help_states_each_default_once():
    p = argparse.ArgumentParser(formatter_class=cli.DefaultsHelpFormatter)
    p.add_argument("--lr", type=float, default=0.01, help="learning rate")
    p.add_argument("--names", default=None, help="class names (default: the .rec's sidecar)")
    p.add_argument("--log-dir", default=None, help="TensorBoard folder")
    text = " ".join(p.format_help().split())
    assert "learning rate (default: 0.01)" in text
    assert "class names (default: the .rec's sidecar) --log-dir" in text
    assert "TensorBoard folder" in text and "None" not in text
    assert " ".join(train.build_parser().format_help().split()).count("(default: None)") == 0
