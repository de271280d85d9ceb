import numpy as np
import pytest

from common.boxes import box_iou
from evaluate.voc_ap import VOCEvaluator, area_ap, voc07_ap


def test_box_iou():
    iou = box_iou([[0, 0, 2, 2]], [[1, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6]])
    np.testing.assert_allclose(iou, [[1 / 7, 1.0, 0.0]])
    # inclusive pixel boxes: [1..2]x[1..2] is 4 pixels, overlap with [2..3]^2 is 1 pixel
    np.testing.assert_allclose(box_iou([[1, 1, 2, 2]], [[2, 2, 3, 3]], offset=1), [[1 / 7]])


def test_hand_computed_single_class():
    # 3 ground truth boxes (one difficult), 4 detections.
    gt = np.array([[0, 0.0, 0.0, 0.2, 0.2, 0], [0, 0.5, 0.5, 0.7, 0.7, 0], [0, 0.8, 0.8, 0.9, 0.9, 1]])
    dets = np.array([
        [0, 0.9, 0.0, 0.0, 0.2, 0.2],      # TP
        [0, 0.8, 0.0, 0.0, 0.2, 0.21],     # duplicate of the first: FP
        [0, 0.7, 0.8, 0.8, 0.9, 0.9],      # on the difficult box: ignored
        [0, 0.6, 0.5, 0.5, 0.7, 0.7],      # TP
    ])
    ev = VOCEvaluator(["a"])
    ev.update(dets, gt)
    recall, precision = ev.pr_curve(0)
    np.testing.assert_allclose(recall, [0.5, 0.5, 1.0])
    np.testing.assert_allclose(precision, [1.0, 0.5, 2 / 3])
    # 11-point: recall thresholds 0..0.5 -> max precision 1; 0.6..1.0 -> 2/3.
    assert ev.mean_ap("voc07") == pytest.approx((6 * 1.0 + 5 * (2 / 3)) / 11)
    # area: 0.5 * 1 + 0.5 * 2/3
    assert ev.mean_ap("area") == pytest.approx(0.5 + 0.5 * 2 / 3)


def test_classes_without_ground_truth_are_left_out_of_the_mean():
    ev = VOCEvaluator(["a", "b"])
    ev.update(np.array([[1, 0.5, 0, 0, 1, 1]]), np.array([[0, 0, 0, 1, 1, 0]]))
    aps = ev.average_precisions()
    assert aps["b"] is None and aps["a"] == 0.0
    assert ev.mean_ap() == 0.0


def test_ap_functions_on_perfect_and_empty_curves():
    assert voc07_ap(np.array([1.0]), np.array([1.0])) == pytest.approx(1.0)
    assert area_ap(np.array([0.5]), np.array([1.0])) == pytest.approx(0.5)
    assert voc07_ap(np.array([]), np.array([])) == 0.0


def _random_case(seed, images=30, classes=4, tied=False):
    """Random ground truth (with difficult objects and empty images) and detections near it.

    ``tied`` rounds scores to one decimal, so many detections tie.
    """
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(images):
        n = rng.integers(0, 6)
        xy = rng.uniform(0, 0.7, (n, 2))
        wh = rng.uniform(0.05, 0.3, (n, 2))
        gt = np.concatenate([rng.integers(0, classes, (n, 1)), xy, xy + wh,
                             (rng.random((n, 1)) < 0.15)], axis=1)
        # detections: jittered ground truth, some with wrong class, plus clutter
        k = rng.integers(0, 8)
        src = gt[rng.integers(0, max(n, 1), k)] if n else np.zeros((k, 6))
        jitter = rng.normal(0, 0.03, (k, 4))
        boxes = np.clip(src[:, 1:5] + jitter, 0, 1)
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 0.01)
        cls = np.where(rng.random(k) < 0.8, src[:, 0], rng.integers(0, classes, k))
        if not n:
            xy2 = rng.uniform(0, 0.7, (k, 2))
            boxes = np.concatenate([xy2, xy2 + 0.1], axis=1)
        scores = rng.random((k, 1))
        dets = np.concatenate([cls[:, None], np.round(scores, 1) if tied else scores, boxes], axis=1)
        cases.append((dets, gt))
    return cases


@pytest.mark.parametrize("seed, tied", [(0, False), (1, False), (2, False), (3, True), (4, True)])
def test_equals_gluoncv_metrics(seed, tied):
    from gluoncv.utils.metrics.voc_detection import VOC07MApMetric, VOCMApMetric
    names = ["a", "b", "c", "d"]
    ours = VOCEvaluator(names)
    g07, garea = VOC07MApMetric(0.5, names), VOCMApMetric(0.5, names)
    size = np.array([500, 375])  # VOC-like image, boxes compared in pixels
    cases = _random_case(seed, tied=tied)
    assert any(len(gt) == 0 for _, gt in cases) and any((gt[:, 5] > 0).any() for _, gt in cases if len(gt))
    for dets, gt in cases:
        gt[:, 1:5] = np.round(gt[:, 1:5] * np.tile(size, 2)) / np.tile(size, 2)  # integer pixels
        ours.update(dets, gt, tuple(size))
        pix = lambda b: b * np.tile(size, 2)  # noqa: E731
        for metric in (g07, garea):
            metric.update(pix(dets[None, :, 2:6]), dets[None, :, 0], dets[None, :, 1],
                          pix(gt[None, :, 1:5]), gt[None, :, 0], gt[None, :, 5])
    assert ours.mean_ap("voc07") == pytest.approx(g07.get()[1][-1], abs=1e-6)
    assert ours.mean_ap("area") == pytest.approx(garea.get()[1][-1], abs=1e-6)
    ours_per_class = ours.average_precisions("voc07")
    theirs = dict(zip(*g07.get()))
    assert list(theirs) == names + ["mAP"]  # every class, then the mean
    for name in names:  # a class without ground truth: None here, NaN in GluonCV; else equal APs
        if ours_per_class[name] is None:
            assert np.isnan(theirs[name]), name
        else:
            assert ours_per_class[name] == pytest.approx(theirs[name], abs=1e-6), name
    assert sum(v is not None for v in ours_per_class.values()) >= 3
