"""INT8 deploy models of the bundled (trained) model: accuracy kept, usable everywhere."""
import json

import pytest

from common import modelfile
from detect import deploy
from evaluate import cli as evaluate

BUNDLED = "model/ssd_mobilenet0.5_synthetic"

pytestmark = pytest.mark.e2e


def _map(prefix, rec, tmp_path, name):
    out = tmp_path / f"{name}.json"
    assert evaluate.main(["--prefix", str(prefix), "--rec", str(rec), "--json", str(out), "--no-progress",
                          "--no-coco"]) == 0
    return json.loads(out.read_text())["voc07_map"]


@pytest.mark.parametrize("precision, extra, tolerance", [
    ("int8", ["--calib-images", "16", "--calib-mode", "naive"], 0.05),
    ("int8", ["--calib-images", "16", "--calib-mode", "entropy"], 0.05),
])
def test_lower_precision_keeps_the_map(precision, extra, tolerance, packed, tmp_path):
    train_rec, val_rec = packed
    out = tmp_path / precision
    assert deploy.main(["--prefix", BUNDLED, "--out", str(out), "--quantize", precision,
                        "--calib-rec", str(train_rec), *extra]) == 0
    meta = modelfile.load_meta(out)
    assert meta.kind == "deploy" and meta.made_by["precision"] == precision
    ops = {n["op"] for n in json.loads(modelfile.symbol_path(out).read_text())["nodes"]}
    assert "_sg_mkldnn_conv" in ops
    reference = _map(BUNDLED, val_rec, tmp_path, "fp32")
    assert reference > 0.2
    assert _map(out, val_rec, tmp_path, precision) == pytest.approx(reference, abs=tolerance)


def test_quantize_errors(packed, tmp_path, capsys):
    assert deploy.main(["--prefix", BUNDLED, "--out", str(tmp_path / "q"), "--quantize", "int8"]) == 2
    assert "--quantize int8 needs --calib-rec" in capsys.readouterr().err
    assert deploy.main(["--prefix", BUNDLED, "--out", str(tmp_path / "q"), "--quantize", "int8",
                        "--calib-rec", str(packed[0]), "--exclude", "no_such_layer"]) == 2
    assert "--exclude 'no_such_layer' matches no layer" in capsys.readouterr().err
