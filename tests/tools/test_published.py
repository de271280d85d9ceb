"""The table of published Caffe models: settings resolved flag > table > generic, and what users are told."""
import logging

from common.digest import file_sha256
from tools.caffe_converter.published import KNOWN, messages, resolve

FACE_SHA = "2a56a11a57a4a295956b0660b4a3d76bbdca2206c4961cea8efe7d95c7cb2f2d"


def _file(tmp_path, data: bytes):
    path = tmp_path / "weights.caffemodel"
    path.write_bytes(data)
    return path


def test_a_known_file_gets_its_published_settings(tmp_path, monkeypatch):
    path = _file(tmp_path, b"published bytes")
    monkeypatch.setitem(KNOWN, file_sha256(path), KNOWN[FACE_SHA])
    pre = resolve(path, mean=None, scale=None, input_size=None, class_names=None, display_name=None)
    assert pre.values == {"mean": (104.0, 177.0, 123.0), "scale": 1.0, "input_size": 300,
                          "class_names": ("face",), "display_name": "OpenCV face detector (ResNet-10 SSD300)"}
    assert set(pre.sources.values()) == {"published"} and pre.given == ()
    lines = messages(pre, path)
    assert [level for level, _ in lines] == [logging.INFO]
    assert "the published OpenCV face detector" in lines[0][1] and "mean 104,177,123" in lines[0][1]
    assert pre.record()["published"] == "res10_face" and pre.record()["flags_given"] == []


def test_flags_given_win_and_are_named_a_replaced_value_with_a_warning(tmp_path, monkeypatch):
    path = _file(tmp_path, b"published bytes")
    monkeypatch.setitem(KNOWN, file_sha256(path), KNOWN[FACE_SHA])
    pre = resolve(path, mean=(104.0, 117.0, 123.0), scale=1.0, input_size=None, class_names=None,
                  display_name=None)
    assert pre.values["mean"] == (104.0, 117.0, 123.0) and pre.sources["mean"] == "flag"
    assert pre.values["class_names"] == ("face",) and pre.given == ("--mean", "--scale")
    lines = dict((text.split(" given")[0], level) for level, text in messages(pre, path)[1:])
    assert lines == {"--mean 104,117,123": logging.WARNING, "--scale 1": logging.INFO}
    assert "replaces the published model's 104,177,123" in messages(pre, path)[1][1]
    assert pre.record()["flags_given"] == ["--mean", "--scale"]


def test_an_unknown_file_without_mean_is_warned_about_in_one_line(tmp_path):
    path = _file(tmp_path, b"someone's own model")
    pre = resolve(path, mean=None, scale=None, input_size=None, class_names=None, display_name=None)
    assert pre.values["mean"] == (104.0, 117.0, 123.0) and pre.sources["mean"] == "assumed"
    assert pre.values["input_size"] is None and pre.values["class_names"] is None
    [(level, line)] = messages(pre, path)
    assert level == logging.WARNING and "\n" not in line
    assert line.startswith("weights.caffemodel: not a published model this converter knows and no "
                           "--mean given")
    given = resolve(path, mean=(127.5,) * 3, scale=0.007843, input_size=None, class_names=None,
                    display_name=None)
    assert [lvl for lvl, _ in messages(given, path)] == [logging.INFO, logging.INFO]  # named, no warning


def test_every_table_entry_is_keyed_by_a_sha256_and_describes_a_bgr_model():
    for digest, model in KNOWN.items():
        assert len(digest) == 64 and int(digest, 16) >= 0
        assert model.channel_order == "BGR" and len(model.mean) == 3 and model.class_names
