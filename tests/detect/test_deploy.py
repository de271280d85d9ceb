import json

import cv2
import numpy as np

from common import modelfile
from detect import deploy
from detect.model import MXNetDetector as Detector
from symbol.coding import DetectionParams


def test_deploy_model_detections_equal_the_checkpoints(checkpoint, images, tmp_path):
    out = tmp_path / "deploy" / "ssd"
    assert deploy.main(["--prefix", str(checkpoint), "--out", str(out), "--nms", "0.4"]) == 0
    meta = modelfile.load_meta(out)
    assert meta.kind == "deploy" and meta.detection["nms_threshold"] == 0.4
    assert "exported_from" in meta.made_by
    graph = json.loads(modelfile.symbol_path(out).read_text())
    ops = {n["op"] for n in graph["nodes"]}
    assert "_contrib_MultiBoxDetection" in ops and "_contrib_MultiBoxTarget" not in ops

    params = DetectionParams(nms_threshold=0.4)
    from_ckpt = Detector.from_prefix(checkpoint, batch_size=4, detection=params)
    from_deploy = Detector.from_prefix(out, batch_size=4)
    batch = np.stack([from_ckpt.preprocess(cv2.imread(str(p))) for p in images[:4]])
    a, b = from_ckpt.forward(batch), from_deploy.forward(batch)
    assert a.shape == (4, from_ckpt.module.get_outputs()[0].shape[1], 6)
    assert (a[:, :, 0] >= 0).any()
    np.testing.assert_array_equal(a, b)


def test_deploy_refuses_a_deploy_model_and_missing_params(checkpoint, tmp_path, capsys):
    out = tmp_path / "d"
    assert deploy.main(["--prefix", str(checkpoint), "--out", str(out)]) == 0
    assert deploy.main(["--prefix", str(out), "--out", str(tmp_path / "again")]) == 2
    assert "already a deploy model" in capsys.readouterr().err
    assert deploy.main(["--prefix", str(checkpoint), "--epoch", "77", "--out", str(tmp_path / "x")]) == 2
    assert "0077.params: parameters not found" in capsys.readouterr().err
    assert deploy.main(["--prefix", str(checkpoint), "--out", str(checkpoint)]) == 2
    assert "is the model being exported" in capsys.readouterr().err
    assert modelfile.latest_epoch(checkpoint) is not None  # nothing deleted


def test_nms_override_changes_the_fused_operator(checkpoint, images, tmp_path):
    out = tmp_path / "d"
    deploy.main(["--prefix", str(checkpoint), "--out", str(out)])
    image = cv2.imread(str(images[0]))
    loose = Detector.from_prefix(out, detection=DetectionParams(nms_threshold=0.95))
    strict = Detector.from_prefix(out, detection=DetectionParams(nms_threshold=0.05, force_suppress=True))
    n_loose = len(loose.detect([image], thresh=0.0)[0])
    n_strict = len(strict.detect([image], thresh=0.0)[0])
    assert n_strict < n_loose
