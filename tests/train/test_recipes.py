"""The paper's recipes (configs/*.toml): each starts, runs a step on tiny data, and prints its settings."""
import logging
import re
import tomllib

import mxnet as mx
import pytest

from common.paths import REPO
from tests.tools.caffe.vgg_ssd import vgg_ssd300
from tests.tools.test_prepare_dataset import _fake_voc_year
from tools import prepare_dataset
from tools.caffe_converter.convert_backbone import main as convert_backbone
from tools.caffe_converter.random_weights import write_random_caffemodel
from train import cli as train

RECIPES = sorted((REPO / "configs").glob("*.toml"))


def test_every_recipe_uses_only_train_flags_and_names_its_expected_result():
    flags = {a.dest for a in train.build_parser()._actions}
    for recipe in RECIPES:
        settings = tomllib.loads(recipe.read_text())
        assert set(settings) <= flags, recipe.name
        assert settings["network"] == "vgg16_reduced" and settings["optimizer"] == "sgd"
        assert re.search(r"# expected \(Liu et al. 2016; not reproduced here\): .* (77.2|79.8|25.1|28.8)\n",
                         recipe.read_text()), recipe.name


@pytest.fixture(scope="module")
def tiny_voc_rec(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("recipes")
    _fake_voc_year(tmp / "VOCdevkit", 2007, 2, 0)
    rec = tmp / "tiny.rec"
    assert prepare_dataset.main(["--root", str(tmp / "VOCdevkit" / "VOC2007"), "--split", "trainval",
                                 "--class-names", "voc", "--out", str(rec), "--no-progress"]) == 0
    return rec


@pytest.fixture(scope="module")
def vgg16_start(tmp_path_factory):
    """Random 'VGG16 fc-reduced' weights through the Caffe route the recipes name."""
    tmp = tmp_path_factory.mktemp("vgg16")
    proto = tmp / "vgg16_fc_reduced.prototxt"
    proto.write_text(vgg_ssd300(classifier=True))
    write_random_caffemodel(proto, tmp / "w.caffemodel")
    out = tmp / "vgg16_reduced_caffe.params"
    assert convert_backbone([str(proto), str(tmp / "w.caffemodel"), str(out), "--network", "vgg16_reduced",
                             "--rgb"]) == 0
    return out


@pytest.mark.e2e
@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_recipe_runs_one_step(recipe, tiny_voc_rec, vgg16_start, tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        code = train.main(["--config", str(recipe), "--train-rec", str(tiny_voc_rec),
                           "--val-rec", str(tiny_voc_rec), "--class-names", "voc",
                           "--prefix", str(tmp_path / "ssd"), "--pretrained", str(vgg16_start),
                           "--batch-size", "2", "--epochs", "1", "--lr-steps", ""])
    assert code == 0
    settings = tomllib.loads(recipe.read_text())
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("settings:"))
    assert f"data_shape={settings['data_shape']}" in line and "momentum=0.9" in line and "wd=0.0005" in line
    from symbol.backbones import get_backbone
    backbone = [a for a in get_backbone("vgg16_reduced")(mx.sym.var("data")).list_arguments() if a != "data"]
    assert f"{len(backbone)} of " in caplog.text and "parameters loaded" in caplog.text  # the VGG16 backbone
    assert (tmp_path / "ssd-0001.params").is_file()


def test_config_errors_name_the_file(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("learning_rate = 0.1\n")
    assert train.main(["--config", str(bad), "--train-rec", "x.rec", "--prefix", "p"]) == 2
    assert f"{bad}: unknown key 'learning_rate'" in capsys.readouterr().err
    bad.write_text("lr = [\n")
    assert train.main(["--config", str(bad)]) == 2
    assert "not valid TOML" in capsys.readouterr().err
    assert train.main(["--config", str(tmp_path / "none.toml")]) == 2
    assert "none.toml: no such file" in capsys.readouterr().err
