import math

import numpy as np
import pytest

from evaluate.breakdown import ErrorBreakdown

NAMES = ("a", "b", "c")


def _norm(box, w, h):
    return [box[0] / w, box[1] / h, box[2] / w, box[3] / h]


def test_found_recognized_and_confusion_on_a_hand_made_image():
    w, h = 200, 100  # shorter side 100 px
    gt = np.array([
        [0, *_norm((10, 10, 19, 19), w, h), 0],     # 10x10 px (inclusive pixels): size 0.10
        [1, *_norm((100, 20, 149, 69), w, h), 0],   # 50x50 px: size 0.50
        [2, *_norm((150, 70, 159, 79), w, h), 1],   # difficult: not counted
        [2, *_norm((60, 60, 64, 64), w, h), 0],     # 5x5 px: size 0.05, nothing on it
        [-1, 0, 0, 0, 0, 0],                        # padding
    ])
    dets = np.array([
        [1, 0.9, *_norm((10, 10, 19, 19), w, h)],    # over object 0 with the wrong class
        [1, 0.01, *_norm((100, 20, 149, 69), w, h)],  # below the score threshold
        [1, 0.5, *_norm((100, 20, 139, 69), w, h)],   # IoU 0.8 with object 1, right class
        [0, 0.4, *_norm((100, 20, 149, 69), w, h)],   # also over object 1, lower score
        [-1, 0.9, 0, 0, 1, 1],                         # suppressed row
    ])
    ev = ErrorBreakdown(NAMES, score=0.05, bins=(0.0, 0.075, 0.2, math.inf))
    ev.update(dets, gt, (w, h))
    rows = ev.size_rows()
    assert [r["objects"] for r in rows] == [1, 1, 1]
    assert [r["found"] for r in rows] == [0.0, 1.0, 1.0]
    assert [r["recognized"] for r in rows] == [0.0, 0.0, 1.0]
    # object 0 (a) -> best detection b; object 1 (b) -> b (0.5 beats a's 0.4); object 3 (c) not found
    np.testing.assert_array_equal(ev.confusion, [[0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]])
    text = ev.format()
    assert "0.075-0.200" in text and "not found" in text
    assert ev.result()["confusion"]["counts"] == ev.confusion.tolist()


def test_normalized_boxes_without_image_size_and_empty_bins():
    ev = ErrorBreakdown(NAMES, bins=(0.0, 0.5, math.inf))
    ev.update(np.zeros((0, 6)), np.array([[2, 0.1, 0.1, 0.9, 0.9, 0]]))  # size 0.8, no detections
    assert ev.size_rows()[0]["found"] is None and ev.size_rows()[1] == {
        "min": 0.5, "max": math.inf, "objects": 1, "found": 0.0, "recognized": 0.0}
    with pytest.raises(ValueError, match="size bins must be increasing"):
        ErrorBreakdown(NAMES, bins=(0.5, 0.1))
