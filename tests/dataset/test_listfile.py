import cv2
import numpy as np
import pytest

from dataset.listfile import load_list
from dataset.records import DatasetError


def _images(tmp_path):
    (tmp_path / "img").mkdir()
    for name in ("a.jpg", "b.png"):
        cv2.imwrite(str(tmp_path / "img" / name), np.zeros((60, 80, 3), np.uint8))


def test_reads_boxes_sizes_and_empty_images(tmp_path):
    _images(tmp_path)
    listing = tmp_path / "train.txt"
    listing.write_text("# comment\nimg/a.jpg 1,2,30,40,1 10,10,80,60,0\n\nimg/b.png\n")
    records = load_list(listing, tmp_path, ["cat", "dog"])
    assert [(r.width, r.height) for r in records] == [(80, 60), (80, 60)]
    assert [(o.class_id, o.xmin, o.ymax) for o in records[0].objects] == [(1, 1, 40), (0, 10, 60)]
    assert records[1].objects == [] and records[0].source.endswith("train.txt:2")


@pytest.mark.parametrize("line, message", [
    ("img/a.jpg 1,2,30,40", r"train.txt:1: box 0: box '1,2,30,40' must be x1,y1,x2,y2,cls"),
    ("img/a.jpg 1,2,30,40,7", r"train.txt:1: box 0: class 7 is outside 0..1"),
    ("img/a.jpg 1,2,x,40,1", r"train.txt:1: box 0: .* must be four numbers"),
    ("img/a.jpg 30,2,1,40,1", r"train.txt:1: box 0: empty box"),
    ("img/a.jpg 1,2,300,40,1", r"train.txt:1: box 0: box .* lies outside the 80x60 image"),
    ("img/none.jpg 1,2,3,4,0", r"train.txt:1: image file .*none.jpg not found"),
])
def test_errors_name_file_and_line(tmp_path, line, message):
    _images(tmp_path)
    listing = tmp_path / "train.txt"
    listing.write_text(line + "\n")
    with pytest.raises(DatasetError, match=message):
        load_list(listing, tmp_path, ["cat", "dog"])
