"""The Caffe converter on the project's own small SSD prototxt, compared with OpenCV DNN."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import mxnet as mx
import numpy as np
import pytest
from google.protobuf import text_format

from common import modelfile
from detect.model import forward_nodes
from symbol import detection_layout as rows
from tools.caffe_converter.caffemodel import read_caffemodel, read_prototxt, write_caffemodel
from tools.caffe_converter.convert import build, fill
from tools.caffe_converter.convert_model import main as convert_main
from tools.caffe_converter.opencv_check import match_detections, mxnet_forward, opencv_forward
from tools.caffe_converter.proto import caffe_pb
from tools.caffe_converter.random_weights import probe_input, write_random_caffemodel
from tools.make_synthetic_voc import CLASSES

TINY = Path(__file__).parent / "caffe" / "tiny_ssd.prototxt"
BLOBS = ("pool1", "pool2", "sum", "gated", "biggest", "cat", "norm_a", "norm_b", "global",
         "mbox_loc", "mbox_conf_flatten", "mbox_priorbox")


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("caffe") / "tiny.caffemodel"
    write_random_caffemodel(TINY, path, seed=1)
    return path


@pytest.fixture(scope="module")
def tiny_model(tiny_weights, tmp_path_factory):
    out = tmp_path_factory.mktemp("converted") / "tiny"
    assert convert_main([str(TINY), str(tiny_weights), str(out), "--class-names", ",".join(CLASSES),
                         "--mean", "127.5,127.5,127.5", "--scale", "0.007843"]) == 0
    return out


def _outputs(graph, args, auxs, blob, names):
    """The detections, then the outputs of the Caffe layers ``names``."""
    return forward_nodes(graph.symbol, args, auxs, blob,
                         [graph.symbol.name] + [graph.layer_outputs[n].name for n in names])


def test_schema_field_numbers_are_caffe_ssds():
    fields = caffe_pb().LayerParameter.DESCRIPTOR.fields_by_name
    numbers = {n: fields[n].number for n in ("convolution_param", "batch_norm_param", "permute_param",
                                             "prior_box_param", "detection_output_param", "norm_param")}
    assert numbers == {"convolution_param": 106, "batch_norm_param": 139, "permute_param": 202,
                       "prior_box_param": 203, "detection_output_param": 204, "norm_param": 206}
    blob = caffe_pb().BlobProto.DESCRIPTOR.fields_by_name
    assert (blob["shape"].number, blob["data"].number) == (7, 5)
    assert caffe_pb(raw_blobs=True).BlobProto.DESCRIPTOR.fields_by_name["data"].type == 12  # bytes


def test_raw_blob_encoding_is_caffes_packed_float(tmp_path):
    """A blob written as raw bytes decodes with the float schema, value for value."""
    net = read_prototxt(TINY)
    values = np.arange(8 * 3 * 3 * 3, dtype=np.float32).reshape(8, 3, 3, 3) / 7
    write_caffemodel(tmp_path / "m.caffemodel", net, {"conv1": [values]})
    parsed = caffe_pb().NetParameter()
    parsed.ParseFromString((tmp_path / "m.caffemodel").read_bytes())
    conv1 = next(layer for layer in parsed.layer if layer.name == "conv1")
    assert list(conv1.blobs[0].shape.dim) == [8, 3, 3, 3]
    np.testing.assert_array_equal(np.array(conv1.blobs[0].data, np.float32), values.reshape(-1))
    np.testing.assert_array_equal(read_caffemodel(tmp_path / "m.caffemodel")["conv1"][0], values)


def test_tiny_ssd_equals_opencv_blob_by_blob(tiny_weights):
    net = read_prototxt(TINY)
    graph = build(net)
    args, auxs = fill(graph, read_caffemodel(tiny_weights))
    assert "h1_priorbox_priors" in graph.constants       # two min sizes: constant priors
    assert "h0_priorbox_boxes" in graph.symbol.tojson()  # one min size: MultiBoxPrior
    blob = probe_input(graph.input_shape)
    theirs = opencv_forward(TINY, tiny_weights, blob, [*BLOBS, "detection_out"])
    ours = _outputs(graph, args, auxs, blob, BLOBS)
    for name, value in zip(BLOBS, ours[1:]):
        assert theirs[name].shape == value.shape, name
        np.testing.assert_allclose(value, theirs[name], atol=1e-4, rtol=0, err_msg=name)
    assert (ours[0][0][:, 0] >= 0).sum() == 30  # keep_top_k
    assert match_detections(theirs["detection_out"], ours[0]) <= 1e-4


@pytest.mark.parametrize("fold, rgb", [(True, False), (False, True), (True, True)])
def test_folding_batchnorm_and_rgb_input_are_exact(tiny_weights, fold, rgb):
    net = read_prototxt(TINY)
    weights = read_caffemodel(tiny_weights)
    plain = build(net)
    variant = build(net, fold_batchnorm=fold, rgb_input=rgb)
    blob = probe_input(plain.input_shape)
    want = _outputs(plain, *fill(plain, weights), blob, ["mbox_loc", "mbox_conf_flatten"])
    got = _outputs(variant, *fill(variant, weights), blob[:, ::-1] if rgb else blob,
                   ["mbox_loc", "mbox_conf_flatten"])
    for a, b in zip(want[1:], got[1:]):
        np.testing.assert_allclose(b, a, atol=1e-5, rtol=0)
    ops = [n["op"] for n in json.loads(variant.symbol.tojson())["nodes"]]
    # conv1's BatchNorm+Scale and conv2/dw's BatchNorm fold; nothing else is a BatchNorm.
    assert ops.count("BatchNorm") == (0 if fold else 2)


def test_depthwise_convolution_on_a_1x1_map_is_the_centre_tap():
    """SSDLite's last head: a 3x3 depthwise convolution, pad 1, on a 1x1 map (OpenCV 4.10 errs here)."""
    net = caffe_pb().NetParameter()
    text_format.Parse("""input: "data" input_shape { dim: 1 dim: 3 dim: 1 dim: 1 }
        layer { name: "dw" type: "Convolution" bottom: "data" top: "dw"
          convolution_param { num_output: 3 group: 3 kernel_size: 3 pad: 1 bias_term: false } }""", net)
    graph = build(net, detection=False)
    w = np.arange(27, dtype=np.float32).reshape(3, 1, 3, 3)
    x = np.array([2.0, -1.0, 0.5], np.float32).reshape(1, 3, 1, 1)
    args, _ = fill(graph, {"dw": [w]})
    out = graph.symbol.eval(data=mx.nd.array(x), **args)[0].asnumpy()
    np.testing.assert_allclose(out.reshape(-1), w[:, 0, 1, 1] * x.reshape(-1))


def test_converted_model_runs_in_demo_and_evaluate(tiny_model, voc_root, packed, images, tmp_path):
    from detect import demo
    from evaluate import cli as evaluate
    meta = modelfile.load_meta(tiny_model)
    assert (meta.kind, meta.channel_order, meta.data_shape) == ("deploy", "BGR", 96)
    assert meta.std == pytest.approx((1 / 0.007843,) * 3) and meta.class_names == tuple(CLASSES)
    # exact decimals, not the prototxt's float32 values (0.44999998807907104)
    assert meta.detection == {"nms_threshold": 0.45, "nms_topk": 50, "force_suppress": False,
                              "threshold": 0.05}
    out = tmp_path / "demo"
    assert demo.main([str(images[0]), "--prefix", str(tiny_model), "--out", str(out), "--thresh", "0"]) == 0
    result = json.loads((out / "detections.json").read_text())
    assert len(result["images"][0]["detections"]) == 30
    for source in (["--voc-root", str(voc_root)], ["--rec", str(packed[1])]):
        report = tmp_path / f"{source[0][2:]}.json"
        assert evaluate.main(["--prefix", str(tiny_model), *source, "--json", str(report),
                              "--no-progress"]) == 0
        assert json.loads(report.read_text())["num_images"] == 12


def test_nms_override_reaches_the_converted_graph(tiny_model, images):
    from detect.model import MXNetDetector as Detector
    from symbol.coding import DetectionParams
    image = cv2.imread(str(images[0]))
    loose = Detector.from_prefix(tiny_model, detection=DetectionParams(0.95, 50, False, 0.0))
    strict = Detector.from_prefix(tiny_model, detection=DetectionParams(0.05, 50, True, 0.0))

    def graph_rows(detector):  # the graph's own rows: NMS judged the boxes before clipping to the image
        return rows.valid(detector.forward(detector.preprocess(image)[None])[0])
    assert _max_pair_iou(graph_rows(strict)) <= 0.05 < _max_pair_iou(graph_rows(loose))


def test_nms_topk_that_cannot_apply_to_a_converted_graph_is_warned_about(tiny_model, caplog):
    from detect.model import MXNetDetector as Detector
    from symbol.coding import DetectionParams
    with caplog.at_level("WARNING"):
        Detector.from_prefix(tiny_model, detection=DetectionParams(0.45, 50, False, 0.05))
    assert "nms-topk" not in caplog.text
    with caplog.at_level("WARNING"):
        Detector.from_prefix(tiny_model, detection=DetectionParams(0.45, 20, False, 0.05))
    assert "--nms-topk 20 does not apply to a converted Caffe model: its per-class top_k (50)" in caplog.text


def _max_pair_iou(dets):
    boxes = dets[:, 2:6]
    lo = np.maximum(boxes[:, None, :2], boxes[None, :, :2])
    hi = np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
    area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    iou = inter / (area[:, None] + area[None, :] - inter)
    np.fill_diagonal(iou, 0)
    return float(iou.max())


def test_compare_tool_reports_tiny_differences(tiny_model, tiny_weights, capsys):
    from tools.caffe_converter.compare import main
    assert main([str(TINY), str(tiny_weights), str(tiny_model), "--blobs", "mbox_loc", "norm_b"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in lines] == ["mbox_loc", "norm_b", "detections"]
    assert all(float(ln.split("=")[-1]) < 1e-4 for ln in lines)


def test_mxnet_forward_names_missing_layers(tiny_model):
    with pytest.raises(KeyError, match="layer 'nope'"):
        mxnet_forward(tiny_model, probe_input((1, 3, 96, 96)), ["nope"])


# --- errors -----------------------------------------------------------------------------

def test_truncated_caffemodel(tiny_weights, tmp_path, capsys):
    cut = tmp_path / "cut.caffemodel"
    cut.write_bytes(tiny_weights.read_bytes()[:-1000])
    assert convert_main([str(TINY), str(cut), str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "cut.caffemodel" in err and "truncated" in err
    assert not list(tmp_path.glob("m-*"))


def test_blob_shapes_that_disagree_with_the_prototxt(tiny_weights, tmp_path, capsys):
    other = tmp_path / "other.prototxt"
    other.write_text(TINY.read_text().replace("kernel_h: 3 kernel_w: 3 pad_h: 2 pad_w: 2",
                                              "kernel_h: 5 kernel_w: 5 pad_h: 4 pad_w: 4"))
    assert convert_main([str(other), str(tiny_weights), str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "layer 'conv3' (type Convolution) blob 0 has shape (16, 16, 3, 3)" in err
    assert "the prototxt implies (16, 16, 5, 5)" in err


def test_unsupported_layer_and_field_name_the_layer(tiny_weights, tmp_path, capsys):
    lrn = tmp_path / "lrn.prototxt"
    lrn.write_text(TINY.read_text().replace('name: "drop" type: "Dropout"', 'name: "drop" type: "LRN"'))
    assert convert_main([str(lrn), str(tiny_weights), str(tmp_path / "m")]) == 2
    assert "layer 'drop' (type LRN): layer type 'LRN' is not supported" in capsys.readouterr().err
    field = tmp_path / "field.prototxt"
    field.write_text(TINY.read_text().replace("dropout_ratio: 0.3", "dropout_ratio: 0.3 scale_train: false"))
    assert convert_main([str(field), str(tiny_weights), str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "field.prototxt:" in err and "scale_train" in err and "in layer 'drop'" in err
    stochastic = tmp_path / "stochastic.prototxt"
    stochastic.write_text(TINY.read_text().replace("pool: MAX", "pool: STOCHASTIC"))
    assert convert_main([str(stochastic), str(tiny_weights), str(tmp_path / "m")]) == 2
    assert "layer 'pool1' (type Pooling): pooling_param.pool STOCHASTIC" in capsys.readouterr().err


def test_class_names_must_match_the_model(tiny_weights, tmp_path, capsys):
    assert convert_main([str(TINY), str(tiny_weights), str(tmp_path / "m"), "--class-names", "voc"]) == 2
    assert "gives 20 names; the model has 6 foreground classes" in capsys.readouterr().err


def test_inner_product_equals_opencv(tmp_path):
    prototxt = tmp_path / "fc.prototxt"
    prototxt.write_text('''input: "data" input_shape { dim: 1 dim: 3 dim: 4 dim: 4 }
        layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc"
                inner_product_param { num_output: 5 } }''')
    net = read_prototxt(prototxt)
    graph = build(net, detection=False)
    rng = np.random.default_rng(0)
    weights = {"fc": [rng.normal(size=(5, 48)).astype(np.float32), rng.normal(size=5).astype(np.float32)]}
    write_caffemodel(tmp_path / "fc.caffemodel", net, weights)
    x = probe_input((1, 3, 4, 4))
    ours = graph.symbol.eval(data=mx.nd.array(x), **fill(graph, weights)[0])[0].asnumpy()
    theirs = opencv_forward(prototxt, tmp_path / "fc.caffemodel", x, ["fc"])["fc"]
    np.testing.assert_allclose(ours, theirs.reshape(ours.shape), atol=1e-5)
    np.testing.assert_allclose(ours[0], weights["fc"][0] @ x.reshape(-1) + weights["fc"][1], atol=1e-5)


def test_converted_bgr_model_quantizes_and_evaluates(tiny_model, packed, tmp_path):
    from detect import deploy
    from evaluate import cli as evaluate
    out = tmp_path / "int8"
    assert deploy.main(["--prefix", str(tiny_model), "--out", str(out), "--quantize", "int8",
                        "--calib-rec", str(packed[0]), "--calib-images", "8"]) == 0
    meta = modelfile.load_meta(out)
    assert meta.channel_order == "BGR" and meta.made_by["precision"] == "int8"
    ops = {n["op"] for n in json.loads(modelfile.symbol_path(out).read_text())["nodes"]}
    assert "_sg_mkldnn_conv" in ops and "_contrib_box_nms" in ops
    report = tmp_path / "r.json"
    assert evaluate.main(["--prefix", str(out), "--rec", str(packed[1]), "--json", str(report),
                          "--no-progress"]) == 0
    assert json.loads(report.read_text())["num_images"] == 12


def test_onnx_export_of_a_converted_model_equals_opencv(tmp_path):
    """DetectionOutput's semantics as ONNX operators, on every layer type of the tiny prototxt
    (its instance-mode Normalize switched to channel mode: MXNet's ONNX exporter has channel mode only)."""
    import cv2  # noqa: F401

    from detect.onnx.runtime import OnnxDetector
    from tools.caffe_converter.opencv_check import match_detections
    text = TINY.read_text()
    channel = tmp_path / "tiny_channel.prototxt"
    channel.write_text(text.replace("across_spatial: true", "across_spatial: false"))
    weights = tmp_path / "tiny.caffemodel"
    write_random_caffemodel(channel, weights, seed=1)  # heads calibrated on this network
    out = tmp_path / "tiny"
    assert convert_main([str(channel), str(weights), str(out), "--mean", "127.5,127.5,127.5",
                         "--scale", "0.007843", "--onnx"]) == 0
    meta = modelfile.load_meta(out)
    blob = probe_input((1, 3, 96, 96))
    raw = blob * np.float32(1 / 0.007843) + np.float32(127.5)
    ours = OnnxDetector(str(out) + ".onnx").forward(raw.astype(np.float32))
    theirs = opencv_forward(channel, weights, blob, ["detection_out"])["detection_out"]
    assert (ours[0][:, 0] >= 0).sum() == 30  # keep_top_k
    assert match_detections(theirs, ours, meta.made_by["caffe_detection"]["background_id"]) < 1e-4


def test_instance_mode_normalize_cannot_be_exported_to_onnx(tiny_model, capsys):
    from detect import deploy
    out = str(tiny_model) + "_x"
    assert deploy.main(["--prefix", str(tiny_model), "--out", out, "--format", "onnx"]) == 2
    err = capsys.readouterr().err
    assert "MXNet's ONNX exporter cannot convert the body: L2Normalization" in err
    assert not Path(str(tiny_model) + "_x.onnx").exists()


def test_verify_exits_1_when_a_model_is_out_of_tolerance(tmp_path, capsys):
    from tools.caffe_converter.verify import main as verify_main
    (tmp_path / "tiny").mkdir()
    # (a spatial L2 normalization cannot go to ONNX, which verify also checks: the channel one can)
    text = TINY.read_text().replace("across_spatial: true", "across_spatial: false")
    (tmp_path / "tiny" / "deploy.prototxt").write_text(text)
    work = ["--work", str(tmp_path / "w")]
    assert verify_main([str(tmp_path), *work]) == 0
    assert "out of tolerance" not in capsys.readouterr().out
    assert verify_main([str(tmp_path), *work, "--tolerance", "1e-12"]) == 1  # float differences exceed it
    assert "out of tolerance (1e-12): tiny" in capsys.readouterr().out
