"""Drawing: labels stay inside the image and do not cover each other."""
import numpy as np

from detect.draw import _label_top, draw_detections


def test_labels_of_boxes_at_the_top_edge_go_inside_and_stack():
    taken = []
    first = _label_top(0, 12, taken, left=10, width=60)
    taken.append((10, first, 70, first + 12))
    second = _label_top(2, 12, taken, left=40, width=60)  # overlaps the first label horizontally
    assert (first, second) == (0, 12)
    assert _label_top(50, 12, taken, left=10, width=60) == 38  # room above: above its box
    assert _label_top(0, 12, taken, left=200, width=60) == 0   # no overlap: stays at the edge


def test_two_detections_at_the_top_edge_draw_two_separate_labels():
    image = np.full((100, 200, 3), 255, np.uint8)
    dets = np.array([[0, 0.9, 5, 0, 90, 60], [1, 0.8, 20, 1, 120, 70]], np.float32)
    out = draw_detections(image, dets, ["circle", "square"])
    filled_rows = [y for y in range(40) if (out[y, 25:60] != 255).all(axis=1).any()]
    # two label bands, one under the other: filled rows reach past a single label's height
    assert max(filled_rows) - min(filled_rows) > 20
