"""The metadata belongs to the symbol beside it: checked by kind and by the symbol's SHA-256."""
import json

import mxnet as mx
import pytest

from common import modelfile, modelmeta
from common.modelmeta import ModelMeta

META = ModelMeta(kind="deploy", network="mobilenet0.25", data_shape=300, class_names=("a", "b"),
                 mean=(1.0, 2.0, 3.0), std=(4.0, 5.0, 6.0))


def _deploy_symbol(hidden: int) -> mx.sym.Symbol:
    x = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=hidden, name="fc")
    return mx.sym.contrib.box_nms(mx.sym.reshape(x, shape=(0, -1, 6)), name="nms")


def _save(prefix, hidden: int, meta: ModelMeta = META) -> None:
    sym = _deploy_symbol(hidden)
    args = {"fc_weight": mx.nd.ones((hidden, 3)), "fc_bias": mx.nd.ones(hidden)}
    modelfile.save_model(prefix, 0, sym, args, {}, meta)


def test_meta_beside_another_models_symbol_names_both_files_and_the_field(tmp_path):
    _save(tmp_path / "a", 12)
    _save(tmp_path / "b", 18, META.__class__(**{**META.__dict__, "data_shape": 512}))
    (tmp_path / "b-meta.json").replace(tmp_path / "a-meta.json")  # a's symbol, b's metadata
    with pytest.raises(ValueError) as err:
        modelmeta.load_meta(tmp_path / "a")
    message = str(err.value)
    assert "a-meta.json" in message and "a-symbol.json" in message and "field symbol_sha256" in message
    assert "\n" not in message


def test_deploy_meta_beside_a_training_graph_names_the_kind_even_without_a_recorded_hash(tmp_path):
    label = mx.sym.var("label")
    anchors = mx.sym.var("anchors")
    cls = mx.sym.var("cls")
    train = mx.sym.contrib.MultiBoxTarget(anchors, label, cls, name="target")[0]
    train.save(str(modelmeta.symbol_path(tmp_path / "m")))
    # no symbol_sha256: a model written before it was recorded
    modelmeta.meta_path(tmp_path / "m").write_text(json.dumps(META.to_json()))
    with pytest.raises(ValueError, match=r"m-meta.json: field kind 'deploy' disagrees with m-symbol.json, "
                                         r"a training graph"):
        modelmeta.load_meta(tmp_path / "m")


def test_models_written_before_the_hash_was_recorded_load_as_before(tmp_path):
    _save(tmp_path / "m", 12)
    old = json.loads(modelmeta.meta_path(tmp_path / "m").read_text())
    del old["symbol_sha256"]
    modelmeta.meta_path(tmp_path / "m").write_text(json.dumps(old))
    assert modelmeta.load_meta(tmp_path / "m").symbol_sha256 is None


def test_display_name_or_the_files_name_never_a_path():
    assert META.name_for("/srv/models/ssd_faces") == "ssd_faces"
    assert META.name_for("build/onnx/ssd.onnx") == "ssd"
    named = ModelMeta(**{**META.__dict__, "display_name": "Faces"})
    assert named.name_for("/srv/models/x") == "Faces"
    assert ModelMeta.from_json(named.to_json()) == named
