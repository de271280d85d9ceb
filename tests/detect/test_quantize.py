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


# Measured on the 500 test images (model/README.md): fp32 0.8790, INT8 naive 0.8791, INT8 entropy
# 0.8735, BF16 0.8801 (the previous bundled model: 0.7674, 0.7671, 0.7304 -- KL thresholds clipped
# its activations more -- and 0.7676).
@pytest.mark.parametrize("precision, extra, tolerance", [
    ("int8", ["--calib-images", "16", "--calib-mode", "naive"], 0.03),
    ("int8", ["--calib-images", "16", "--calib-mode", "entropy"], 0.08),
    pytest.param("bf16", [], 0.03, marks=pytest.mark.bf16),
])
def test_lower_precision_keeps_the_map(precision, extra, tolerance, packed, tmp_path):
    train_rec, val_rec = packed
    out = tmp_path / precision
    calib = ["--calib-rec", str(train_rec)] if precision == "int8" else []
    assert deploy.main(["--prefix", BUNDLED, "--out", str(out), "--quantize", precision, *calib, *extra]) == 0
    meta = modelfile.load_meta(out)
    assert meta.kind == "deploy" and meta.made_by["precision"] == precision
    ops = {n["op"] for n in json.loads(modelfile.symbol_path(out).read_text())["nodes"]}
    assert ("_sg_mkldnn_conv" if precision == "int8" else "amp_cast") in ops
    reference = _map(BUNDLED, val_rec, tmp_path, "fp32")
    assert reference > 0.2
    assert _map(out, val_rec, tmp_path, precision) == pytest.approx(reference, abs=tolerance)


def test_quantize_errors(packed, tmp_path, capsys):
    assert deploy.main(["--prefix", BUNDLED, "--out", str(tmp_path / "q"), "--quantize", "int8"]) == 2
    assert "--quantize int8 needs --calib-rec" in capsys.readouterr().err
    assert deploy.main(["--prefix", BUNDLED, "--out", str(tmp_path / "q"), "--quantize", "int8",
                        "--calib-rec", str(packed[0]), "--exclude", "no_such_layer"]) == 2
    assert "--exclude 'no_such_layer' matches no layer" in capsys.readouterr().err


def test_bf16_is_refused_in_one_line_where_the_cpu_has_no_bfloat16_kernels(tmp_path, capsys, monkeypatch):
    import shutil

    from common import cpu
    from detect import demo
    monkeypatch.setattr(cpu, "bfloat16_missing", lambda: "MXNet has no bfloat16 convolutions on this CPU")
    assert deploy.main(["--prefix", BUNDLED, "--out", str(tmp_path / "q"), "--quantize", "bf16"]) == 2
    assert capsys.readouterr().err.strip() == ("error: --quantize bf16: MXNet has no bfloat16 convolutions "
                                               "on this CPU")
    assert list(tmp_path.iterdir()) == []
    # a bf16 model made on another machine: refused when loaded, naming its file
    prefix = tmp_path / "made_elsewhere"
    for path in (modelfile.symbol_path(BUNDLED), modelfile.params_path(BUNDLED, 4)):
        shutil.copy(path, str(path).replace(BUNDLED, str(prefix)))
    meta = json.loads(modelfile.meta_path(BUNDLED).read_text())
    meta["made_by"]["precision"] = "bf16"
    modelfile.meta_path(prefix).write_text(json.dumps(meta))
    assert demo.main(["--prefix", str(prefix), "--out", str(tmp_path / "out"), "data/demo"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: {modelfile.meta_path(prefix)}: a bf16 model: MXNet has no bfloat16 convolutions "
                   "on this CPU")
    assert not (tmp_path / "out").exists()


@pytest.mark.bf16
def test_bf16_graph_runs_convolutions_in_bfloat16_and_keeps_the_fp32_anchors():
    from pathlib import Path

    import cv2
    import numpy as np

    from detect.detector import preprocess
    from detect.model import BODY_OUTPUTS, forward_nodes, inference_symbol
    from detect.quantize import FIXED_ANCHORS, to_bfloat16
    from symbol.coding import DetectionParams
    meta = modelfile.load_meta(BUNDLED)
    params = DetectionParams(**meta.detection)
    fp32 = inference_symbol(BUNDLED, meta, params)
    args, auxs = modelfile.load_params(BUNDLED, modelfile.resolve_epoch(BUNDLED, None))
    bf16, bargs, bauxs = to_bfloat16(fp32, args, auxs, meta.data_shape, params)
    conv_weights = [k for k in bargs if k.endswith("_weight")]
    assert conv_weights and all(bargs[k].dtype != np.float32 for k in conv_weights)  # stored as bfloat16
    assert bargs[FIXED_ANCHORS].dtype == np.float32
    image = cv2.imread(str(sorted(Path("data/demo").glob("*.jpg"))[0]))
    data = preprocess(image, meta)[None]
    cls32, loc32, anchors32 = forward_nodes(fp32, args, auxs, data, BODY_OUTPUTS)
    cls16, loc16 = forward_nodes(bf16, bargs, bauxs, data, ["cls_preds_fp32", "loc_preds_fp32"])
    np.testing.assert_array_equal(bargs[FIXED_ANCHORS].asnumpy(), anchors32)
    # bfloat16 keeps 8 bits of mantissa: small errors that add up over the layers
    # (measured on this image: 1.0% mean error of the logits, 2.9% of the offsets, all anchors keep
    # their class; the previous bundled model: 1.4%, 4.3%, 0.9999)
    for a, b, bound in ((cls32, cls16, 0.03), (loc32, loc16, 0.08)):
        assert 0 < np.abs(a - b).mean() < bound * np.abs(a).mean()  # > 0: it ran in lower precision
    assert (cls32.argmax(axis=1) == cls16.argmax(axis=1)).mean() > 0.99


def test_bf16_refuses_graphs_without_the_body_outputs():
    import mxnet as mx

    from detect.quantize import to_bfloat16
    from symbol.coding import DetectionParams
    plain = mx.sym.Convolution(mx.sym.var("data"), num_filter=2, kernel=(1, 1), name="c")
    with pytest.raises(ValueError, match="--quantize bf16 needs a model built by this project"):
        to_bfloat16(plain, {}, {}, 300, DetectionParams())
