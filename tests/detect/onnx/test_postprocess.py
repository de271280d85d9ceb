"""The ONNX detection stages against MXNet's own operators on random problems (exact reference)."""
import mxnet as mx
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper

from detect.compare import match
from detect.onnx import postprocess
from detect.onnx.graph import OPSET, float_tensor
from symbol.coding import VARIANCES, DetectionParams


def _run_stage(stage, output, inputs: dict, constants: dict):
    g, out = stage
    graph = helper.make_graph(g.nodes, "stage", [float_tensor(k, v.shape) for k, v in inputs.items()],
                              [float_tensor(out, [None, None, 6])],
                              g.initializers + [numpy_helper.from_array(v, k) for k, v in constants.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, inputs)[0]


def _problem(rng, batch=2, anchors=60, classes=3):
    logits = rng.normal(0, 2, (batch, classes + 1, anchors)).astype(np.float32)
    loc = rng.normal(0, 0.5, (batch, anchors * 4)).astype(np.float32)
    xy = rng.uniform(0, 0.7, (anchors, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(0.1, 0.4, (anchors, 2))], 1).astype(np.float32)
    return logits, loc, boxes


@pytest.mark.parametrize("params", [DetectionParams(), DetectionParams(force_suppress=True),
                                    DetectionParams(nms_topk=10), DetectionParams(nms_topk=-1, threshold=0.2),
                                    DetectionParams(nms_threshold=0.0), DetectionParams(nms_threshold=0.7)])
def test_multibox_stage_equals_multiboxdetection(params):
    rng = np.random.default_rng(1)
    for _ in range(3):
        logits, loc, anchors = _problem(rng)
        ours = _run_stage(postprocess.multibox("cls", "loc", "anchors", len(anchors), 3, params), None,
                          {"cls": logits, "loc": loc}, {"anchors": anchors})
        theirs = mx.nd.contrib.MultiBoxDetection(
            mx.nd.softmax(mx.nd.array(logits), axis=1), mx.nd.array(loc), mx.nd.array(anchors[None]),
            nms_threshold=params.nms_threshold, force_suppress=params.force_suppress, variances=VARIANCES,
            nms_topk=params.nms_topk, threshold=params.threshold, clip=True).asnumpy()
        for a, b in zip(theirs, ours):
            unmatched, box, score = match(a, b)
            assert (unmatched, box < 1e-6, score < 1e-6) == (0, True, True)
            valid = b[b[:, 0] >= 0]
            assert (np.diff(valid[:, 1]) <= 0).all() and (b[len(valid):] == -1).all()  # sorted, then padding


def test_caffe_stage_equals_the_converters_detection_output():
    from symbol.caffe_detection import DetectionConfig, detection_output
    rng = np.random.default_rng(2)
    n, classes = 80, 4  # classes include the background (0)
    probs = mx.nd.softmax(mx.nd.array(rng.normal(0, 2, (2, n, classes))), axis=2).asnumpy()
    conf = probs.reshape(2, -1).astype(np.float32)
    loc = rng.normal(0, 0.5, (2, n * 4)).astype(np.float32)
    xy = rng.uniform(0, 0.7, (n, 2))
    corners = np.concatenate([xy, xy + rng.uniform(0.1, 0.4, (n, 2))], 1).astype(np.float32)
    variances = np.tile(np.array([0.1, 0.1, 0.2, 0.2], np.float32), (n, 1))
    priors = np.stack([corners.ravel(), variances.ravel()]).astype(np.float32)
    for top_k, keep, clip in ((10, 15, True), (-1, -1, False), (30, 25, True)):
        cfg = DetectionConfig(classes, 0, 0.45, top_k, keep, 0.05, False, clip)
        sym = detection_output(mx.sym.var("loc"), mx.sym.var("conf"), mx.sym.var("priors"), cfg, "det", n)
        theirs = sym.eval(loc=mx.nd.array(loc), conf=mx.nd.array(conf), priors=mx.nd.array(priors[None]))[0]
        config = postprocess.CaffeDetection(classes, 0, top_k, keep, False, clip)
        params = DetectionParams(nms_threshold=0.45, threshold=0.05)
        ours = _run_stage(postprocess.caffe("loc", "conf", "priors", n, config, params), None,
                          {"loc": loc, "conf": conf}, {"priors": priors})
        for a, b in zip(theirs.asnumpy(), ours):
            unmatched, box, score = match(a, b)
            assert (unmatched, box < 1e-6, score < 1e-6) == (0, True, True), (top_k, keep)
