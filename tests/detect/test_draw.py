"""Drawing: labels stay inside the image and do not cover each other."""
import numpy as np

from detect.draw import LabelStyle, _label_top, draw_detections


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


def _text_height(image_side: int) -> int:
    """Height in pixels of the black text drawn in the label of one detection on a white image."""
    image = np.full((image_side, image_side, 3), 255, np.uint8)
    box = [0, 0.93, image_side * 0.3, image_side * 0.4, image_side * 0.6, image_side * 0.7]
    out = draw_detections(image, np.array([box], np.float32), ["face"])
    label_rows = out[:int(image_side * 0.4)]            # the label sits above the box
    dark = (label_rows < 60).all(axis=2)                 # black text on the class colour
    ys = np.nonzero(dark.any(axis=1))[0]
    return int(ys.max() - ys.min() + 1)


def test_label_text_is_at_least_10_px_and_about_one_and_a_half_percent_of_the_shorter_side():
    small, large = _text_height(300), _text_height(4000)
    assert 10 <= small <= 14                    # 1.5% of 300 is 4.5 px: the 10-pixel minimum
    assert 0.8 * 60 <= large <= 1.25 * 60       # 1.5% of 4000 px
    style_small, style_large = LabelStyle.for_image(300, 300), LabelStyle.for_image(4000, 3000)
    assert style_small.line_width == 1 and style_large.line_width == 10  # 1/300 of the shorter side
