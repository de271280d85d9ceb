"""Network and detection flags mean the same in every command that takes them."""

import pytest

from detect import demo, deploy
from evaluate import cli as evaluate
from symbol import options
from symbol.coding import DetectionParams
from train import cli as train

COMMON = ["--nms", "0.3", "--nms-topk", "50", "--no-force-suppress"]


@pytest.mark.parametrize("module,extra", [
    (demo, []),
    (evaluate, ["--prefix", "p", "--rec", "r.rec"]),
    (deploy, ["--prefix", "p", "--out", "o"]),
])
def test_detection_flags_parse_identically(module, extra):
    args = module.build_parser().parse_args(extra + COMMON)
    params = options.detection_params(args, {"nms_threshold": 0.45, "nms_topk": 400, "force_suppress": True})
    assert (params.nms_threshold, params.nms_topk, params.force_suppress) == (0.3, 50, False)


def test_unset_flags_fall_back_to_metadata_then_defaults():
    args = demo.build_parser().parse_args([])
    assert options.detection_params(args, {"nms_threshold": 0.6}).nms_threshold == 0.6
    assert options.detection_params(args, None) == DetectionParams()


@pytest.mark.parametrize("flags", [["--nms", "1.5"], ["--nms", "nan"], ["--nms-topk", "0"],
                                   ["--nms-topk", "-2"], ["--nms-topk", "ten"]])
def test_bad_detection_values_are_refused_by_the_parser(flags, capsys):
    with pytest.raises(SystemExit) as done:
        demo.build_parser().parse_args(flags)
    assert done.value.code == 2 and f"argument {flags[0]}" in capsys.readouterr().err


def test_network_flags_share_their_defaults():
    from symbol.defaults import DEFAULT_DATA_SHAPE, DEFAULT_NETWORK
    args = train.build_parser().parse_args(["--train-rec", "t.rec", "--prefix", "p"])
    assert (args.network, args.data_shape) == (DEFAULT_NETWORK, DEFAULT_DATA_SHAPE)
    from tools import pretrain_backbone, summary
    pretrain = pretrain_backbone.build_parser().parse_args(["--root", "r", "--out", "o"])
    assert pretrain.network == DEFAULT_NETWORK
    assert summary.build_parser().parse_args([]).network is None  # every preset


def test_detection_params_are_validated_and_stored_without_float32_noise():
    import numpy as np
    assert DetectionParams(nms_threshold=float(np.float32(0.45))).nms_threshold == 0.45
    with pytest.raises(ValueError, match="nms_threshold must be in"):
        DetectionParams(nms_threshold=2.0)
    with pytest.raises(ValueError, match="nms_topk"):
        DetectionParams(nms_topk=0)


def test_train_shares_the_preprocessing_flags():
    args = train.build_parser().parse_args(["--train-rec", "t.rec", "--prefix", "p", "--mean", "1,2,3",
                                            "--std", "2", "--data-shape", "512", "--no-augment"])
    assert args.mean == (1.0, 2.0, 3.0) and args.std == (2.0, 2.0, 2.0) and args.data_shape == 512
    assert args.augment is False


def test_the_shared_flags_load_without_mxnet():
    """The flag helpers serve --help of every command: importing them must not load MXNet."""
    import subprocess
    import sys
    probe = "import sys, symbol.options, common.cli; print('mxnet' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr[-500:]
