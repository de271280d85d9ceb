import dataclasses
import hashlib
import json

import mxnet as mx
import numpy as np
import pytest

from common import modelfile
from common.atomic import atomic_paths, write_json
from common.modelmeta import ModelMeta

META = ModelMeta(kind="train", network="vgg16_reduced", data_shape=300, class_names=("a", "b"),
                 mean=(1.0, 2.0, 3.0), std=(4.0, 5.0, 6.0))


def test_save_and_load_round_trip(tmp_path):
    prefix = tmp_path / "m"
    sym = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=2, name="fc")
    args = {"fc_weight": mx.nd.array(np.arange(6).reshape(2, 3)), "fc_bias": mx.nd.ones(2)}
    auxs = {"bn_moving_mean": mx.nd.zeros(3)}
    modelfile.save_model(prefix, 7, sym, args, auxs, META)
    written = hashlib.sha256(modelfile.symbol_path(prefix).read_bytes()).hexdigest()
    assert modelfile.load_meta(prefix) == dataclasses.replace(META, symbol_sha256=written)
    got_args, got_auxs = modelfile.load_params(prefix, 7)
    assert set(got_args) == set(args) and set(got_auxs) == set(auxs)
    np.testing.assert_array_equal(got_args["fc_weight"].asnumpy(), args["fc_weight"].asnumpy())
    assert modelfile.latest_epoch(prefix) == 7 == modelfile.resolve_epoch(prefix, None)
    assert mx.sym.load(str(modelfile.symbol_path(prefix))).list_arguments() == sym.list_arguments()


def test_an_exported_model_replaces_the_previous_ones_params(tmp_path):
    prefix = tmp_path / "m"
    sym = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=2, name="fc")
    args = {"fc_weight": mx.nd.ones((2, 3)), "fc_bias": mx.nd.ones(2)}
    modelfile.save_model(prefix, 9, sym, args, {}, META)
    modelfile.save_model(prefix, 7, sym, args, {}, META)  # training checkpoints: every epoch kept
    assert modelfile.latest_epoch(prefix) == 9
    (tmp_path / "m-0001.states").write_bytes(b"")
    (tmp_path / "m2-0003.params").write_bytes(b"")  # another prefix
    modelfile.save_model(prefix, 4, sym, args, {}, META, only_epoch=True)
    assert modelfile.latest_epoch(prefix) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "m-0001.states", "m-0004.params", "m-meta.json", "m-symbol.json", "m2-0003.params"]


def test_metadata_errors_name_the_file_and_field(tmp_path):
    prefix = tmp_path / "m"
    with pytest.raises(FileNotFoundError, match="m-meta.json: model metadata not found"):
        modelfile.load_meta(prefix)
    bad = META.to_json()
    del bad["class_names"]
    write_json(modelfile.meta_path(prefix), bad)
    with pytest.raises(ValueError, match="m-meta.json: missing field.*class_names"):
        modelfile.load_meta(prefix)
    write_json(modelfile.meta_path(prefix), dict(META.to_json(), kind="weird"))
    with pytest.raises(ValueError, match="field 'kind'"):
        modelfile.load_meta(prefix)
    modelfile.meta_path(prefix).write_text("{not json")
    with pytest.raises(ValueError, match="malformed JSON"):
        modelfile.load_meta(prefix)
    modelfile.params_path(prefix, 1).write_bytes(b"truncated")
    with pytest.raises(ValueError, match="0001.params: not a readable MXNet params file"):
        modelfile.load_params(prefix, 1)
    with pytest.raises(FileNotFoundError, match="no parameter file"):
        modelfile.resolve_epoch(tmp_path / "other", None)


def test_atomic_paths_keep_old_files_on_failure(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_paths(a, b) as (ta, tb):
            ta.write_text("new")
            tb.write_text("new")
            raise RuntimeError("interrupted")
    assert a.read_text() == "old" and not b.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    with atomic_paths(a, b) as (ta, tb):
        ta.write_text("new")
        tb.write_text("new")
    assert a.read_text() == b.read_text() == "new"
    write_json(tmp_path / "x.json", {"k": 1})
    assert json.loads((tmp_path / "x.json").read_text()) == {"k": 1}
