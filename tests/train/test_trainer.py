"""Training on the tiny VGG16-reduced (no BatchNorm) so that device splits are exact."""
from __future__ import annotations

import logging

import mxnet as mx
import numpy as np
import pytest

from common import modelfile
from dataset.augmentation import NO_AUGMENTATION
from tools.make_synthetic_voc import CLASSES
from train.config import TrainConfig
from train.trainer import build_trainer


def _config(packed, tmp_path, **kw):
    base = TrainConfig.build(train_rec=packed[0], val_rec=packed[1], prefix=tmp_path / "ssd",
                       network="vgg16_reduced_tiny", data_shape=300, class_names=CLASSES,
                       batch_size=4, epochs=1, lr=0.002, lr_steps=(), warmup_epochs=0,
                       augmentation=NO_AUGMENTATION, progress=False, threads=1)
    return base.replace(**kw)


def _batch_losses(trainer, epoch=1, limit=None):
    out = []
    for i, batch in enumerate(trainer.epoch_iterator(epoch)):
        if limit is not None and i >= limit:
            break
        loss, _, _, pos = trainer.step(batch)
        out.append(loss / max(pos, 1))
    return np.array(out)


def test_two_cpu_contexts_follow_the_one_context_loss_curve(packed, tmp_path):
    one = build_trainer(_config(packed, tmp_path / "a", contexts=[mx.cpu(0)]))
    two = build_trainer(_config(packed, tmp_path / "b", contexts=[mx.cpu(0), mx.cpu(1)]))
    start = {k: v.asnumpy() for k, v in one.module.get_params()[0].items()}
    curve1, curve2 = _batch_losses(one, limit=6), _batch_losses(two, limit=6)
    assert len(curve1) == 6 and curve1[0] != curve1[-1]
    np.testing.assert_allclose(curve2, curve1, rtol=2e-4)
    # The total update of all weights agrees up to summation order and ReLU ties
    # (per-device normalization of the loss would be off by ~10%).
    p1, p2 = one.module.get_params()[0], two.module.get_params()[0]
    d1 = np.concatenate([(p1[k].asnumpy() - start[k]).ravel() for k in sorted(start)])
    d2 = np.concatenate([(p2[k].asnumpy() - start[k]).ravel() for k in sorted(start)])
    ratio = np.linalg.norm(d2 - d1) / np.linalg.norm(d1)
    assert ratio <= 5e-3


def test_loss_goes_down_when_fitting_a_few_images(packed, tmp_path):
    trainer = build_trainer(_config(packed, tmp_path, optimizer="adam", lr=0.002, batch_size=8))
    batch = next(iter(trainer.epoch_iterator(1)))
    losses = []
    for _ in range(15):
        loss, _, _, pos = trainer.step(batch)
        losses.append(loss / pos)
    assert losses[-1] < 0.6 * losses[0]


def test_resume_reproduces_an_uninterrupted_run(packed, tmp_path):
    straight = build_trainer(_config(packed, tmp_path / "straight", epochs=2, momentum=0.9))
    straight.fit()
    first = build_trainer(_config(packed, tmp_path / "resumed", epochs=1, momentum=0.9))
    first.fit()
    assert modelfile.states_path(tmp_path / "resumed" / "ssd", 1).is_file()
    resumed = build_trainer(_config(packed, tmp_path / "resumed", epochs=2, momentum=0.9, resume=1))
    assert resumed.optimizer.num_update == resumed.batches_per_epoch
    resumed.fit()
    a = modelfile.load_params(tmp_path / "straight" / "ssd", 2)[0]
    b = modelfile.load_params(tmp_path / "resumed" / "ssd", 2)[0]
    for name in a:
        np.testing.assert_allclose(b[name].asnumpy(), a[name].asnumpy(), rtol=1e-4, atol=1e-6)


def test_learning_rate_schedule_warms_up_linearly_then_steps_by_the_factor():
    """lr 0.1, warm-up over 1.5 epochs from 0.1 x 0.1, then x0.5 at epochs 2 and 4; 10 batches an epoch."""
    from train.config import SolverConfig
    from train.trainer import lr_scheduler
    solver = SolverConfig(lr=0.1, lr_steps=(2, 4), lr_factor=0.5, warmup_epochs=1.5, warmup_factor=0.1,
                          epochs=6)
    schedule = lr_scheduler(solver, batches_per_epoch=10)
    rate = {n: schedule(n) for n in (0, 5, 10, 15, 19, 20, 21, 40, 41, 59)}
    assert rate[0] == pytest.approx(0.01) and rate[5] == pytest.approx(0.01 + 0.09 * 5 / 15)
    assert rate[10] == pytest.approx(0.01 + 0.09 * 10 / 15) and rate[15] == pytest.approx(0.1)
    assert rate[19] == rate[20] == pytest.approx(0.1)  # MXNet steps after update number 20
    assert rate[21] == rate[40] == pytest.approx(0.05) and rate[41] == rate[59] == pytest.approx(0.025)
    flat = lr_scheduler(SolverConfig(lr=0.1, lr_steps=(), warmup_epochs=0, epochs=6), batches_per_epoch=10)
    assert {flat(n) for n in (0, 30, 60)} == {0.1}  # no milestone: the rate stays
    for steps in ((4, 2), (0, 2), (2, 2)):
        with pytest.raises(ValueError, match="--lr-steps must be increasing positive epochs"):
            lr_scheduler(SolverConfig(lr_steps=steps), batches_per_epoch=10)


def test_resuming_in_the_middle_of_a_schedule_continues_it(packed, tmp_path):
    """A step at epoch 2 and a warm-up: resumed at epoch 2, the rate and the weights of epoch 3 are those of
    the uninterrupted run."""
    settings = dict(epochs=3, momentum=0.9, lr_steps=(2,), lr_factor=0.1, warmup_epochs=1.5)
    straight = build_trainer(_config(packed, tmp_path / "straight", **settings))
    rates = [stats.lr for stats in straight.fit()]
    assert rates[0] < rates[1] and rates[2] == pytest.approx(rates[1] * 0.1)
    build_trainer(_config(packed, tmp_path / "resumed", **dict(settings, epochs=2))).fit()
    resumed = build_trainer(_config(packed, tmp_path / "resumed", resume=2, **settings))
    assert resumed.optimizer.num_update == 2 * resumed.batches_per_epoch
    [last] = resumed.fit()
    assert last.lr == pytest.approx(rates[2])
    a = modelfile.load_params(tmp_path / "straight" / "ssd", 3)[0]
    b = modelfile.load_params(tmp_path / "resumed" / "ssd", 3)[0]
    for name in a:
        np.testing.assert_allclose(b[name].asnumpy(), a[name].asnumpy(), rtol=1e-4, atol=1e-6)


def test_checkpoint_files_and_metadata(packed, tmp_path):
    trainer = build_trainer(_config(packed, tmp_path, epochs=2, checkpoint_every=2))
    history = trainer.fit()
    prefix = tmp_path / "ssd"
    assert [h.epoch for h in history] == [1, 2]
    # the recorded mAP is that of the final parameters, validated again from scratch
    assert history[-1].val_map == pytest.approx(trainer.validate(), abs=1e-12)
    assert not modelfile.params_path(prefix, 1).exists() and modelfile.params_path(prefix, 2).exists()
    meta = modelfile.load_meta(prefix)
    assert meta.kind == "train" and meta.network == "vgg16_reduced_tiny" and meta.class_names == CLASSES
    assert modelfile.latest_epoch(prefix) == 2
    assert not list(tmp_path.glob(".*tmp"))


def test_failed_checkpoint_leaves_the_previous_one(packed, tmp_path, monkeypatch):
    trainer = build_trainer(_config(packed, tmp_path))
    trainer.save_checkpoint(1)
    before = modelfile.params_path(tmp_path / "ssd", 1).read_bytes()
    trainer.step(next(iter(trainer.epoch_iterator(1))))

    def broken_save(path, data):
        with open(path, "wb") as f:
            f.write(b"half")
        raise OSError("disk full")
    monkeypatch.setattr(mx.nd, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        trainer.save_checkpoint(1)
    assert modelfile.params_path(tmp_path / "ssd", 1).read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_freeze_keeps_matching_parameters_fixed(packed, tmp_path):
    trainer = build_trainer(_config(packed, tmp_path, freeze=r"conv[12]_"))
    before = {k: v.asnumpy() for k, v in trainer.module.get_params()[0].items()}
    trainer.step(next(iter(trainer.epoch_iterator(1))))
    after = trainer.module.get_params()[0]
    assert np.array_equal(after["conv1_1_weight"].asnumpy(), before["conv1_1_weight"])
    assert np.array_equal(after["conv2_2_bias"].asnumpy(), before["conv2_2_bias"])
    assert not np.array_equal(after["conv3_1_weight"].asnumpy(), before["conv3_1_weight"])
    with pytest.raises(ValueError, match="matches no parameter"):
        build_trainer(_config(packed, tmp_path, freeze="nothing_like_this"))


def test_pretrained_loads_by_name_and_reports_the_rest(packed, tmp_path, caplog):
    source = build_trainer(_config(packed, tmp_path / "src"))
    args, _ = source.module.get_params()
    blob = {f"arg:{k}": v for k, v in args.items() if k.startswith("conv")}
    blob["arg:not_in_network"] = mx.nd.zeros((2,))
    blob["arg:fc7_weight"] = mx.nd.zeros((3, 3, 1, 1))  # wrong shape
    path = tmp_path / "backbone.params"
    mx.nd.save(str(path), blob)
    with caplog.at_level(logging.INFO):
        target = build_trainer(_config(packed, tmp_path / "dst", pretrained=path, seed=5))
    got = target.module.get_params()[0]
    for k in blob:
        name = k[4:]
        if name.startswith("conv"):
            np.testing.assert_array_equal(got[name].asnumpy(), args[name].asnumpy())
    assert not np.array_equal(got["head0_cls_weight"].asnumpy(), args["head0_cls_weight"].asnumpy())
    text = caplog.text
    assert "not_in_network" in text and "fc7_weight (3, 3, 1, 1)" in text
    assert "initialized fresh" in text


def test_validation_is_repeatable_and_equals_evaluate(packed, tmp_path):
    """On the bundled (trained) model, so that the mAP compared is far from 0."""
    import json

    from common.paths import BUNDLED_MODEL as bundled
    from evaluate import cli as evaluate
    meta = modelfile.load_meta(bundled)
    made = meta.made_by
    trainer = build_trainer(_config(packed, tmp_path, network=meta.network, data_shape=meta.data_shape,
                              anchor_scales=tuple(made.get("anchor_scales") or ()) or None,
                              top_down=made.get("top_down"),
                              pretrained=modelfile.params_path(bundled, modelfile.latest_epoch(bundled))))
    first = trainer.validate()
    assert first > 0.3
    assert trainer.validate() == first  # every pass reads a fresh iterator: nothing carried over
    out = tmp_path / "eval.json"
    assert evaluate.main(["--prefix", str(bundled), "--rec", str(packed[1]), "--batch-size", "4",
                          "--json", str(out), "--no-progress", "--no-coco"]) == 0
    result = json.loads(out.read_text())
    assert result["num_images"] == 12  # each test image once, the padded tail batch included
    assert result["voc07_map"] == pytest.approx(first, abs=1e-9)


def test_anchor_scales_override_reaches_the_symbol_and_metadata(packed, tmp_path):
    trainer = build_trainer(_config(packed, tmp_path, anchor_scales=(0.1, 0.9, 0.05, 0.1), epochs=1))
    assert trainer.preset.anchors[0].sizes[0] == 0.05
    prior = next(n for n in trainer.symbol.get_internals() if n.name == "head0_anchors")
    assert prior.attr("sizes").startswith("(0.05,")
    assert trainer.meta().made_by["anchor_scales"] == [0.1, 0.9, 0.05, 0.1]


def test_top_down_flag_reaches_the_symbol_and_metadata(packed, tmp_path):
    trainer = build_trainer(_config(packed, tmp_path, top_down=16, epochs=1))
    assert trainer.preset.top_down == 16
    assert "td0_smooth_weight" in trainer.symbol.list_arguments()
    assert trainer.meta().made_by["top_down"] == 16
    from symbol.presets import Preset
    assert Preset.from_json(trainer.meta().spec) == trainer.preset  # the whole spec, as trained
    plain = build_trainer(_config(packed, tmp_path / "plain"))
    assert "td0_smooth_weight" not in plain.symbol.list_arguments()


def test_checkpoint_grows_a_top_down_path_heads_on_taps_start_fresh(packed, checkpoint, tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        trainer = build_trainer(_config(packed, tmp_path, top_down=16,
                                  pretrained=modelfile.params_path(checkpoint, 2)))
    assert "number of classes differs" not in caplog.text  # same classes, other input channels
    assert "shape mismatch, initialized fresh: head0_cls_weight" in caplog.text
    src, _ = modelfile.load_params(checkpoint, 2)
    args, _ = trainer.module.get_params()
    for name, value in args.items():
        if name in src and src[name].shape == value.shape:
            assert np.array_equal(value.asnumpy(), src[name].asnumpy()), name
        else:
            assert name.startswith(("td", "head0_", "head1_")), name
    assert not any(n.startswith("td") for n in src) and "td0_lateral_weight" in args


def test_without_a_progress_bar_the_epoch_logs_a_line_every_log_interval_batches(packed, tmp_path, caplog):
    trainer = build_trainer(_config(packed, tmp_path, log_interval=2))
    with caplog.at_level(logging.INFO, logger="train.trainer"):
        trainer.train_epoch(1)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch 1 batch")]
    assert len(lines) == trainer.batches_per_epoch // 2 > 0
    assert lines[0].startswith(f"epoch 1 batch 2/{trainer.batches_per_epoch}: loss ")


def test_validation_sees_the_weights_of_its_epoch(packed, tmp_path):
    """After training, validation computes what a trainer starting from the saved checkpoint computes
    (an inference module reused across weight changes computed with stale oneDNN weights)."""
    trainer = build_trainer(_config(packed, tmp_path, optimizer="adam", batch_size=8, epochs=2, val_every=1))
    trainer.fit()
    trainer.validate(keep=4)
    resumed = build_trainer(_config(packed, tmp_path, optimizer="adam", batch_size=8, epochs=3, resume=2))
    resumed.validate(keep=4)
    ran, fresh = trainer.last_validation[1], resumed.last_validation[1]
    assert len(ran) == len(fresh) == 4 and len(ran[0].detections) > 0
    for a, b in zip(ran, fresh):
        np.testing.assert_array_equal(a.detections, b.detections)
