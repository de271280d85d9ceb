import json

import pytest

from evaluate import cli as evaluate


def test_rec_and_voc_folder_give_the_same_map(checkpoint, packed, voc_root, tmp_path, capsys):
    out_rec, out_voc = tmp_path / "rec.json", tmp_path / "voc.json"
    assert evaluate.main(["--prefix", str(checkpoint), "--rec", str(packed[1]), "--json", str(out_rec),
                          "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "VOC07" in text and "mAP" in text and "circle" in text
    assert evaluate.main(["--prefix", str(checkpoint), "--voc-root", str(voc_root), "--split", "test",
                          "--json", str(out_voc), "--no-progress"]) == 0
    a, b = json.loads(out_rec.read_text()), json.loads(out_voc.read_text())
    assert a["num_images"] == b["num_images"] == 12
    assert 0 <= a["voc07_map"] <= 1
    assert a["voc07_map"] == pytest.approx(b["voc07_map"], abs=0.03)
    assert set(a["per_class"]) == set(b["per_class"])


def test_evaluate_errors(checkpoint, tmp_path, capsys):
    assert evaluate.main(["--prefix", str(checkpoint), "--rec", str(tmp_path / "none.rec")]) == 2
    assert "none.rec: not found" in capsys.readouterr().err
