"""TrainConfig: flat setting names into their groups and back."""
from pathlib import Path

import pytest

from train.config import GROUP_OF, TrainConfig, defaults


def _config(**kw) -> TrainConfig:
    return TrainConfig.build(train_rec=Path("t.rec"), prefix=Path("out/ssd"), network="mobilenet0.25",
                             data_shape=300, class_names=("a", "b"), **kw)


def test_build_puts_each_flat_name_in_its_group_and_flat_gives_them_back():
    config = _config(lr=0.01, top_down=64, threads=2, amp="bf16")
    assert config.solver.lr == 0.01 and config.model.top_down == 64 and config.data.threads == 2
    assert config.run.amp == "bf16" and config.run.prefix == Path("out/ssd")
    flat = config.flat()
    assert set(flat) == set(GROUP_OF) and (flat["lr"], flat["top_down"], flat["amp"]) == (0.01, 64, "bf16")
    assert config.solver.epochs == defaults()["epochs"]  # unnamed settings keep their defaults


def test_replace_changes_only_the_named_settings():
    config = _config(lr=0.01)
    changed = config.replace(lr=0.02, val_rec=Path("v.rec"))
    assert changed.solver.lr == 0.02 and changed.data.val_rec == Path("v.rec")
    assert changed.model == config.model and changed.run == config.run
    assert changed.replace(lr=0.01, val_rec=None) == config
    assert config.replace() == config


def test_an_unknown_setting_is_named():
    with pytest.raises(TypeError, match="unknown training setting.*: learning_rate"):
        _config(learning_rate=0.1)
    with pytest.raises(TypeError, match="unknown training setting.*: bogus, epoch$"):
        _config().replace(epoch=3, bogus=1)
