import json

import cv2
import numpy as np
import pytest

from dataset.coco import load_coco
from dataset.records import DatasetError


def _write(tmp_path, data, images=("a.jpg", "b.jpg")):
    for name in images:
        cv2.imwrite(str(tmp_path / name), np.zeros((100, 200, 3), np.uint8))
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(data))
    return path


def _data():
    return {
        "images": [{"id": 10, "file_name": "a.jpg", "width": 200, "height": 100},
                   {"id": 20, "file_name": "b.jpg", "width": 200, "height": 100}],
        "categories": [{"id": 90, "name": "toothbrush"}, {"id": 1, "name": "person"},
                       {"id": 18, "name": "dog"}],
        "annotations": [
            {"id": 1, "image_id": 10, "category_id": 18, "bbox": [10, 20, 30, 40], "iscrowd": 0},
            {"id": 2, "image_id": 10, "category_id": 90, "bbox": [0, 0, 50, 50], "iscrowd": 1},
            {"id": 3, "image_id": 10, "category_id": 1, "bbox": [190, 90, 20, 20]},   # leaves the image
            {"id": 4, "image_id": 10, "category_id": 1, "bbox": [5, 5, 0.5, 10]},    # under a pixel
        ]}


def test_sparse_ids_map_to_contiguous_classes_and_back(tmp_path):
    data = load_coco(_write(tmp_path, _data()), tmp_path)
    assert data.categories.ids == (1, 18, 90) and data.categories.names == ("person", "dog", "toothbrush")
    assert [data.categories.category_id(i) for i in range(3)] == [1, 18, 90]
    assert data.image_ids == [10, 20]
    first, second = data.records
    assert second.objects == []  # an image without annotations is kept
    dog, crowd, clipped = first.objects
    assert (dog.class_id, dog.xmin, dog.ymin, dog.xmax, dog.ymax, dog.difficult) == (1, 10, 20, 40, 60, False)
    assert crowd.class_id == 2 and crowd.difficult            # crowd kept as an ignored region
    assert (clipped.xmax, clipped.ymax) == (200, 100)
    assert any("annotations[2] (id 3)" in s and "clipped" in s for s in data.skipped)
    assert any("annotations[3] (id 4)" in s and "under one pixel" in s for s in data.skipped)


def test_crowd_skip(tmp_path):
    data = load_coco(_write(tmp_path, _data()), tmp_path, crowd="skip")
    assert [o.class_id for o in data.records[0].objects] == [1, 0]
    assert any("(id 2): crowd annotation skipped" in s for s in data.skipped)


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("categories"), "missing 'categories'"),
    (lambda d: d["images"][1].pop("width"), r"images\[1\]: missing 'width'"),
    (lambda d: d["annotations"][0].pop("bbox"), r"annotations\[0\]: missing 'bbox'"),
    (lambda d: d["annotations"][0].update(bbox=[10, 20, -30, 40]),
     r"annotations\[0\] \(id 1\): bbox \[10, 20, -30, 40\] has a negative width"),
    (lambda d: d["annotations"][1].update(category_id=5),
     r"annotations\[1\] \(id 2\): category_id 5 is not in categories"),
    (lambda d: d["annotations"][1].update(image_id=99), r"annotations\[1\] \(id 2\): image_id 99 is not"),
    (lambda d: d["images"][1].update(file_name="missing.jpg"),
     r"images\[1\] \(id 20\): image file .*missing.jpg not found"),
])
def test_malformed_entries_are_named(tmp_path, change, message):
    data = _data()
    change(data)
    with pytest.raises(DatasetError, match=message):
        load_coco(_write(tmp_path, data), tmp_path)


def test_not_json(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("{not json")
    with pytest.raises(DatasetError, match="x.json: not valid JSON"):
        load_coco(path, tmp_path)
