"""Mixed precision: the bfloat16 graph against the float32 one, loss scaling against plain training."""
from __future__ import annotations

import json
import re

import mxnet as mx
import numpy as np
import pytest

from common import modelfile
from symbol.anchors import numpy_prior
from symbol.features import feature_shapes
from symbol.presets import get_preset
from tests.train.test_trainer import _config
from tools.make_synthetic_voc import CLASSES
from train.amp import LossScaler, anchors_of, check_amp, mixed_train_symbol
from train.trainer import build_trainer


def _params(trainer):
    args, auxs = trainer.module.get_params()
    return {k: v.asnumpy() for k, v in {**args, **auxs}.items()}


def _same_start(source, target):
    """Give ``target`` the parameters of ``source`` (the fixed anchors stay ``target``'s)."""
    args, auxs = source.module.get_params()
    target.module.set_params(args, auxs, allow_missing=True, allow_extra=True)


@pytest.mark.parametrize("network", ["vgg16_reduced_tiny", "mobilenet0.25"])  # without and with BatchNorm
def test_fixed_anchors_are_the_paper_grid(network):
    preset = get_preset(network, 300)
    got = anchors_of(preset, len(CLASSES))[0]
    want = np.concatenate([numpy_prior(spec, h, w)
                           for spec, (h, w) in zip(preset.anchors, feature_shapes(preset))])
    np.testing.assert_allclose(got, want, atol=1e-6)


def _bfloat16(dtype) -> bool:
    return np.dtype(dtype).names == ("bfloat16",)  # how MXNet's infer_type spells bfloat16


def test_the_bf16_graph_computes_the_body_in_bfloat16():
    preset = get_preset("vgg16_reduced_tiny", 300)
    graph = mixed_train_symbol(preset, len(CLASSES), "bf16")
    internals = graph.get_internals()
    _, types, _ = internals.infer_type(data="float32", label="float32")
    by_name = dict(zip(internals.list_outputs(), types))
    layers = [n for n in by_name if re.fullmatch(r"(conv\d_\d|fc[67]|extra\d_\d|head\d_(cls|loc))_output", n)]
    assert len(layers) > 20 and all(_bfloat16(by_name[n]) for n in layers)
    for name in ("data", "anchors_fixed", "cls_preds_output", "loc_preds_output", "loss_output"):
        assert np.dtype(by_name[name]) == np.float32, name


def test_the_fp16_graph_computes_the_body_in_float16_and_returns_a_plain_loss():
    """The GPU path of --amp fp16, checked on the CPU by type inference (no float16 kernel runs): body in
    float16, anchors, head outputs and losses in float32, the loss a plain output for loss scaling."""
    preset = get_preset("vgg16_reduced_tiny", 300)
    graph = mixed_train_symbol(preset, len(CLASSES), "fp16", loss_output="identity")
    internals = graph.get_internals()
    _, types, _ = internals.infer_type(data="float32", label="float32")
    by_name = dict(zip(internals.list_outputs(), types))
    layers = [n for n in by_name if re.fullmatch(r"(conv\d_\d|fc[67]|extra\d_\d|head\d_(cls|loc))_output", n)]
    assert len(layers) > 20 and all(np.dtype(by_name[n]) == np.float16 for n in layers)
    for name in ("data", "anchors_fixed", "cls_preds_output", "loc_preds_output", "loss_output"):
        assert np.dtype(by_name[name]) == np.float32, name
    def ops(symbol):
        return {node["op"] for node in json.loads(symbol.tojson())["nodes"]}
    # the caller gives the loss its scaled gradient: no MakeLoss (whose gradient is always 1)
    plain = mixed_train_symbol(preset, len(CLASSES), "fp16")
    assert "MakeLoss" not in ops(graph) and "MakeLoss" in ops(plain)
    with pytest.raises(ValueError, match="--amp must be one of"):
        mixed_train_symbol(preset, len(CLASSES), "fp8")


@pytest.mark.bf16
@pytest.mark.parametrize("network", ["vgg16_reduced_tiny", "mobilenet0.25"])
def test_bf16_losses_follow_float32_from_the_same_weights(packed, tmp_path, network):
    fp32 = build_trainer(_config(packed, tmp_path / "a", network=network))
    bf16 = build_trainer(_config(packed, tmp_path / "b", amp="bf16", network=network))
    _same_start(fp32, bf16)
    batch = next(iter(fp32.epoch_iterator(1)))
    outputs = []
    for trainer in (fp32, bf16):
        trainer.module.forward(batch, is_train=False)
        outputs.append([o.asnumpy() for o in trainer.module.get_outputs()])
    (loss32, _, _, pos32), (loss16, _, _, pos16) = outputs
    np.testing.assert_array_equal(pos16, pos32)  # matching uses the float32 anchors and labels only
    # bfloat16 keeps 8 significant bits: about 0.4 % per operation
    np.testing.assert_allclose(loss16.sum(), loss32.sum(), rtol=0.03)
    assert not np.array_equal(loss16, loss32)


@pytest.mark.bf16
def test_bf16_training_fits_and_checkpoints_stay_float32(packed, tmp_path):
    trainer = build_trainer(_config(packed, tmp_path, amp="bf16", optimizer="adam", batch_size=8, epochs=2,
                              checkpoint_every=1))
    batch = next(iter(trainer.epoch_iterator(1)))
    losses = []
    for _ in range(12):
        loss, _, _, pos = trainer.step(batch)
        losses.append(loss / pos)
    assert losses[-1] < 0.6 * losses[0]
    trainer.fit()  # two epochs, a checkpoint after each
    args, auxs = modelfile.load_params(tmp_path / "ssd", 2)
    assert "anchors_fixed" not in args
    assert {v.dtype for v in {**args, **auxs}.values()} == {np.float32}
    symbol = modelfile.load_symbol(tmp_path / "ssd")
    assert "anchors_fixed" not in symbol.list_arguments()
    assert not any("amp_cast" in n for n in symbol.get_internals().list_outputs())


def _scaled(config, scale=2.0 ** 10):
    return build_trainer(config, scaler=LossScaler(scale=scale))


def test_a_scaled_loss_gives_the_plain_update(packed, tmp_path):
    plain = build_trainer(_config(packed, tmp_path / "a", optimizer="sgd"))
    scaled = _scaled(_config(packed, tmp_path / "b", optimizer="sgd"))
    _same_start(plain, scaled)
    for i, batch in enumerate(plain.epoch_iterator(1)):
        if i == 3:
            break
        plain.step(batch)
        scaled.step(batch)
    want, got = _params(plain), _params(scaled)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-7, err_msg=name)
    assert scaled.scaler.scale == 2.0 ** 10


def test_an_overflowing_step_is_skipped_and_halves_the_scale(packed, tmp_path):
    # float32 tops out at 2 ** 128: the scaled gradients overflow
    trainer = _scaled(_config(packed, tmp_path, optimizer="sgd"), scale=2.0 ** 127)
    before = _params(trainer)
    trainer.step(next(iter(trainer.epoch_iterator(1))))
    after = _params(trainer)
    assert all(np.array_equal(after[k], before[k]) for k in before)
    assert trainer.scaler.scale == 2.0 ** 126


def test_loss_scaler_grows_after_a_window_and_halves_down_to_its_minimum():
    good, bad = [mx.nd.array([1.0, 2.0])], [mx.nd.array([1.0, np.inf])]
    scaler = LossScaler(scale=8, window=2, minimum=2)
    assert [scaler.overflowed(good), scaler.scale] == [False, 8]
    assert [scaler.overflowed(good), scaler.scale] == [False, 16]
    assert [scaler.overflowed([mx.nd.array([np.nan])]), scaler.scale] == [True, 8]
    assert [scaler.overflowed(good), scaler.scale] == [False, 8]  # the window restarts after a bad step
    for want in (4, 2, 2):
        assert [scaler.overflowed(bad), scaler.scale] == [True, want]


@pytest.mark.parametrize("amp, contexts, message", [
    ("fp16", [mx.cpu()], "--amp fp16 needs --gpus"),
    ("bf16", [mx.gpu(0)], "--amp bf16 runs on CPUs only"),
    ("int8", [mx.cpu()], "--amp must be one of bf16, fp16, got 'int8'"),
])
def test_precisions_the_devices_cannot_run_are_refused(amp, contexts, message):
    with pytest.raises(ValueError, match=message):
        check_amp(amp, contexts)


def test_train_cli_refuses_fp16_on_the_cpu_in_one_line(packed, tmp_path, capsys):
    from train.cli import main
    code = main(["--train-rec", str(packed[0]), "--prefix", str(tmp_path / "ssd"),
                       "--network", "vgg16_reduced_tiny", "--amp", "fp16", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error:") and "--amp fp16 needs --gpus" in err
    assert "\n" not in err and not (tmp_path / "ssd-0001.params").exists()


def test_train_cli_refuses_bf16_where_the_cpu_has_no_bfloat16_kernels(packed, tmp_path, capsys, monkeypatch):
    from common import cpu
    from train.cli import main
    monkeypatch.setattr(cpu, "bfloat16_missing", lambda: "MXNet has no bfloat16 convolutions on this CPU")
    code = main(["--train-rec", str(packed[0]), "--prefix", str(tmp_path / "ssd"),
                 "--network", "vgg16_reduced_tiny", "--amp", "bf16", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == "error: --amp bf16: MXNet has no bfloat16 convolutions on this CPU"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.bf16
def test_bf16_on_two_cpu_contexts_follows_one_context(packed, tmp_path):
    from tests.train.test_trainer import _batch_losses
    one = build_trainer(_config(packed, tmp_path / "a", amp="bf16", contexts=[mx.cpu(0)]))
    two = build_trainer(_config(packed, tmp_path / "b", amp="bf16", contexts=[mx.cpu(0), mx.cpu(1)]))
    curve1, curve2 = _batch_losses(one, limit=4), _batch_losses(two, limit=4)
    assert curve1[0] != curve1[-1]
    np.testing.assert_allclose(curve2, curve1, rtol=2e-2)
