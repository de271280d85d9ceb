"""The judges of every equality test: ``detect.compare.match`` and the OpenCV check built on it must
tell rows that differ from rows that agree."""
import numpy as np
import pytest

from detect.compare import found_share, match
from tools.caffe_converter.opencv_check import match_detections

ROWS = np.array([[0, 0.95, 0.10, 0.10, 0.40, 0.50],
                 [1, 0.80, 0.50, 0.20, 0.90, 0.70],
                 [0, 0.60, 0.05, 0.60, 0.30, 0.95],
                 [-1, 0.00, 0.00, 0.00, 0.00, 0.00]], np.float32)  # padding


def _changed(row: int, column: int, value: float) -> np.ndarray:
    out = ROWS.copy()
    out[row, column] = value
    return out


def test_equal_rows_match_in_any_order_and_padding_is_ignored():
    shuffled = np.concatenate([ROWS[[2, 0, 1]], np.full((3, 6), -1, np.float32)])
    assert match(ROWS, shuffled) == (0, 0.0, 0.0)


@pytest.mark.parametrize("changed, expected", [
    (_changed(1, 0, 2), (2, 0.0, 0.0)),                        # another class: both rows lack a partner
    (_changed(0, 1, 0.90), (0, 0.0, pytest.approx(0.05))),     # another score
    (_changed(2, 4, 0.33), (0, pytest.approx(0.03), 0.0)),     # another box corner
    (ROWS[[0, 1]], (1, 0.0, 0.0)),                             # one row missing
])
def test_rows_that_differ_are_told_apart(changed, expected):
    assert match(ROWS, changed) == expected
    assert match(changed, ROWS) == expected  # whichever side it is on


def test_a_near_tie_is_paired_by_closeness_not_by_order():
    """Two rows of one class with scores a float apart may come sorted either way: each pairs with its
    own box, so the differences stay zero."""
    a = np.array([[0, 0.7000001, 0.1, 0.1, 0.2, 0.2], [0, 0.7, 0.6, 0.6, 0.9, 0.9]], np.float32)
    b = a[::-1].copy()
    unmatched, box, score = match(a, b)
    assert unmatched == 0 and box == 0.0 and score <= 2e-7


def test_the_score_cut_leaves_out_low_rows_and_forgives_rows_near_it():
    low = _changed(2, 1, 0.19)  # the third row falls under a cut of 0.2 on one side only
    assert match(ROWS, low) == (0, 0.0, pytest.approx(0.41))  # without a cut: paired, scores differ
    assert match(ROWS, low, cut=0.2, margin=1e-3) == (1, 0.0, 0.0)  # 0.6 has no partner above the cut
    near = _changed(2, 1, 0.1995)
    assert match(_changed(2, 1, 0.2004), near, cut=0.2, margin=1e-3)[0] == 0  # both within the margin
    assert match(ROWS, ROWS[[0, 1]], cut=0.7) == (0, 0.0, 0.0)  # the missing row scores under the cut


def test_opencv_rows_are_judged_the_same_way():
    """OpenCV's rows [image, label, score, x1, y1, x2, y2], labels counting the background."""
    ours = ROWS[None]
    theirs = np.zeros((1, 1, 3, 7), np.float32)
    theirs[0, 0, :, 1] = ROWS[:3, 0] + 1
    theirs[0, 0, :, 2:] = ROWS[:3, 1:]
    assert match_detections(theirs, ours) == 0.0
    moved = theirs.copy()
    moved[0, 0, 1, 4] += 0.02
    assert match_detections(moved, ours) == pytest.approx(0.02)
    other = theirs.copy()
    other[0, 0, 0, 1] = 3  # another class
    assert match_detections(other, ours) == float("inf")
    assert match_detections(theirs[:, :, :2], ours) == float("inf")  # a row missing


def test_found_share_counts_reference_rows_seen_at_the_iou():
    shifted = ROWS.copy()
    shifted[0, 2:6] += 0.05  # IoU of the first box with itself moved: about 0.56
    assert found_share(ROWS, ROWS, score=0.5, iou=0.8) == (3, 3)
    assert found_share(ROWS, shifted, score=0.5, iou=0.8) == (2, 3)
    assert found_share(ROWS, shifted, score=0.5, iou=0.5) == (3, 3)
    assert found_share(ROWS, _changed(1, 1, 0.4), score=0.5, iou=0.8) == (2, 3)  # now under the score
