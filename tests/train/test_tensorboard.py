"""train.py --log-dir: the event files TensorBoard reads hold the run's numbers."""
from __future__ import annotations

import base64
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from common import modelfile
from common.paths import BUNDLED_MODEL
from tests.train.test_trainer import _config
from tools.make_synthetic_voc import CLASSES
from train.trainer import build_trainer

pytest.importorskip("tensorboard", reason="tensorboard (requirements/dev.txt) reads the event files")

#: Run in a child process: TensorBoard's reader and mxboard (the writer, loaded by the training
#: in this process) register protobuf messages of the same names.
READER = r"""
import base64, json, sys
from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.util import tensor_util
events = ea.EventAccumulator(sys.argv[1], size_guidance={"tensors": 0, "images": 0, "scalars": 0})
events.Reload()
tags = events.Tags()
print(json.dumps({
    "scalars": {t: [[e.step, e.value] for e in events.Scalars(t)] for t in tags["scalars"]},
    "tensors": {t: [[e.step, tensor_util.make_ndarray(e.tensor_proto).tolist()]
                    for e in events.Tensors(t)]
                for t in tags["tensors"]},
    "images": {t: [[e.step, e.width, e.height, base64.b64encode(e.encoded_image_string).decode()]
                   for e in events.Images(t)] for t in tags["images"]},
}))
"""


def read_events(log_dir):
    out = subprocess.run([sys.executable, "-c", READER, str(log_dir)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def run(packed, tmp_path_factory):
    """Two epochs of fine-tuning the bundled model (so that the APs mean something), validated
    after each and logged to TensorBoard."""
    tmp = tmp_path_factory.mktemp("board")
    meta = modelfile.load_meta(BUNDLED_MODEL)
    config = _config(packed, tmp, optimizer="adam", lr=1e-5, batch_size=8, epochs=2, log_dir=tmp / "logs",
                     network=meta.network, data_shape=meta.data_shape,
                     anchor_scales=tuple(meta.made_by["anchor_scales"]), top_down=meta.made_by["top_down"],
                     pretrained=modelfile.params_path(BUNDLED_MODEL, modelfile.latest_epoch(BUNDLED_MODEL)))
    history = build_trainer(config).fit()
    return config, history, read_events(tmp / "logs")


def test_scalars_are_the_epoch_statistics(run):
    _, history, events = run
    for key in ("loss", "cls_loss", "loc_loss", "lr", "images_per_sec", "val_map"):
        logged = events["scalars"][key]
        assert [s for s, _ in logged] == [1, 2], key
        np.testing.assert_allclose([v for _, v in logged], [getattr(h, key) for h in history], rtol=1e-6,
                                   err_msg=key)


def test_class_aps_average_to_the_map_evaluate_py_reports(run, tmp_path):
    config, history, events = run
    aps = {name: events["scalars"][f"AP/{name}"][-1][1]
           for name in CLASSES if f"AP/{name}" in events["scalars"]}
    assert aps and np.isclose(np.mean(list(aps.values())), history[-1].val_map, rtol=1e-6)
    from evaluate import cli as evaluate
    out = tmp_path / "eval.json"
    assert evaluate.main(["--prefix", str(config.run.prefix), "--rec", str(config.data.val_rec), "--json",
                          str(out), "--no-coco", "--no-progress"]) == 0
    report = json.loads(out.read_text())
    assert report["voc07_map"] > 0.5
    assert np.isclose(report["voc07_map"], history[-1].val_map, rtol=1e-6)
    for name, ap in aps.items():
        assert np.isclose(report["per_class"][name]["voc07_ap"], ap, rtol=1e-6), name


def test_pr_curves_count_the_classes_ground_truth(run):
    config, _, events = run
    curves = [t for t in events["tensors"] if t.startswith("PR/")]
    assert curves
    from dataset import label_layout as objs
    from dataset.recordio import read_labels
    labels = list(read_labels(config.data.val_rec))
    for tag in curves:
        name = tag[len("PR/"):]
        data = np.array(events["tensors"][tag][-1][1])
        tp, fp, tn, fn, precision, recall = data  # the pr_curves plugin's row order
        # At every threshold the matched plus the missed detections are the same set of positives.
        assert np.all(tp + fn == tp[0] + fn[0]) and tp[0] + fn[0] > 0, name
        assert np.all(np.diff(tp) <= 0) and np.all(np.diff(fp) <= 0), name
        np.testing.assert_allclose(precision[tp + fp > 0], (tp / np.maximum(tp + fp, 1))[tp + fp > 0],
                                   rtol=1e-5)
        index = CLASSES.index(name)
        truths = sum(int(((objs.valid_objects(lab)[:, objs.CLASS_ID] == index)
                          & (objs.valid_objects(lab)[:, objs.DIFFICULT] == 0)).sum()) for lab in labels)
        assert tp[0] + fn[0] == truths, name  # every object of the class is a positive, found or not


def test_missed_objects_count_against_recall_as_the_voc_evaluator_counts_them(tmp_path):
    """A model that finds one of two objects: TensorBoard's recall must stop at 0.5, as the VOC
    evaluator's does (given only the detections' labels it would reach 1.0)."""
    from evaluate.voc_ap import VOCEvaluator
    from train.tensorboard import TrainingLog
    evaluator = VOCEvaluator(["a"])
    truth = np.array([[0, 0.1, 0.1, 0.3, 0.3, 0], [0, 0.6, 0.6, 0.9, 0.9, 0]], np.float32)
    found = np.array([[0, 0.9, 0.1, 0.1, 0.3, 0.3], [0, 0.6, 0.35, 0.35, 0.5, 0.5]], np.float32)  # hit, miss
    evaluator.update(found, truth)
    board = TrainingLog(tmp_path / "logs")
    board.validation(1, evaluator, [], [])
    board.close()
    tp, fp, tn, fn, precision, recall = np.array(read_events(tmp_path / "logs")["tensors"]["PR/a"][0][1])
    thresholds = np.linspace(0, 1, len(recall))
    voc_recall, _ = evaluator.pr_curve(0)  # by descending score: after 0.9 (a hit), after 0.6 (a miss)
    assert list(voc_recall) == [0.5, 0.5]
    for t, r, p in zip(thresholds, recall, precision):
        if 0 < t <= 0.6:
            assert r == pytest.approx(0.5) and p == pytest.approx(0.5), t
        elif 0.6 < t < 0.89:  # (the scores are float32: 0.9 is stored as 0.89999998)
            assert r == pytest.approx(0.5) and p == pytest.approx(1.0), t
    assert tp[0] + fn[0] == 2 and recall.max() <= 1.0


def test_examples_image_is_the_grid_of_validation_pictures(run):
    _, _, events = run
    images = events["images"]["validation/examples"]
    assert [step for step, *_ in images] == [1, 2]
    _, width, height, png = images[-1]
    picture = cv2.imdecode(np.frombuffer(base64.b64decode(png), np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape == (height, width, 3) and picture.std() > 0
