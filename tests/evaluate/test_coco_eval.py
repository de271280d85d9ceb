"""COCOEvaluator against pycocotools run directly on the same json files."""
import contextlib
import io
import json

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from evaluate.coco_eval import STAT_NAMES, COCOEvaluator

CATEGORY_IDS = (3, 7, 11)  # sparse, as COCO's are
NAMES = ("a", "b", "c")


def _dataset(seed, images=25):
    """A COCO json with crowd boxes, empty images and objects of every size; detections with ties."""
    rng = np.random.default_rng(seed)
    gt = {"images": [], "annotations": [], "categories": [{"id": i, "name": n}
                                                          for i, n in zip(CATEGORY_IDS, NAMES)]}
    results = []
    for image_id in range(1, images + 1):
        w, h = int(rng.integers(200, 640)), int(rng.integers(200, 480))
        gt["images"].append({"id": image_id, "file_name": f"{image_id}.jpg", "width": w, "height": h})
        for _ in range(int(rng.integers(0, 6)) if image_id % 6 else 0):
            bw, bh = rng.uniform(8, 0.6 * w), rng.uniform(8, 0.6 * h)
            x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
            gt["annotations"].append({"id": len(gt["annotations"]) + 1, "image_id": image_id,
                                      "category_id": int(rng.choice(CATEGORY_IDS)), "bbox": [x, y, bw, bh],
                                      "area": bw * bh, "iscrowd": int(rng.random() < 0.1)})
        for _ in range(int(rng.integers(0, 8))):
            bw, bh = rng.uniform(8, 0.6 * w), rng.uniform(8, 0.6 * h)
            x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
            results.append({"image_id": image_id, "category_id": int(rng.choice(CATEGORY_IDS)),
                            "bbox": [x, y, bw, bh], "score": float(np.round(rng.random(), 1))})
        # near-copies of the ground truth, so that AP is far from 0
        for ann in [a for a in gt["annotations"] if a["image_id"] == image_id]:
            x, y, bw, bh = ann["bbox"]
            jitter = rng.normal(0, 0.05 * min(bw, bh), 4)
            results.append({"image_id": image_id, "category_id": ann["category_id"],
                            "bbox": [x + jitter[0], y + jitter[1], bw + jitter[2], bh + jitter[3]],
                            "score": float(np.round(rng.random(), 1))})
    return gt, results


def _pycocotools(gt_path, results_path):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_path))
        ev = COCOeval(gt, gt.loadRes(str(results_path)), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return dict(zip(STAT_NAMES, ev.stats))


def _rows(results, image, gt):
    """Our detection rows (normalized, class index) for one image's COCO results."""
    w, h = image["width"], image["height"]
    rows = [[CATEGORY_IDS.index(r["category_id"]), r["score"], r["bbox"][0] / w, r["bbox"][1] / h,
             (r["bbox"][0] + r["bbox"][2]) / w, (r["bbox"][1] + r["bbox"][3]) / h]
            for r in results if r["image_id"] == image["id"]]
    return np.array(rows).reshape(-1, 6)


@pytest.mark.parametrize("seed", [0, 1])
def test_equals_pycocotools_on_the_original_json(seed, tmp_path):
    gt, results = _dataset(seed)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(results))
    want = _pycocotools(tmp_path / "gt.json", tmp_path / "dt.json")
    ours = COCOEvaluator(NAMES, CATEGORY_IDS, ground_truth=gt)
    for image in gt["images"]:
        ours.update(_rows(results, image, gt), None, (image["width"], image["height"]), image_id=image["id"])
    got = ours.result()
    assert want["AP"] > 0.2
    for name in STAT_NAMES:
        assert got["stats"][name] == pytest.approx(want[name], abs=1e-9), name
    assert set(got["per_class"]) == set(NAMES)


def test_ground_truth_built_from_labels_equals_the_json(tmp_path):
    """Labels (normalized, difficult = crowd) give the same numbers as the json they came from."""
    gt, results = _dataset(5)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(results))
    want = _pycocotools(tmp_path / "gt.json", tmp_path / "dt.json")
    ours = COCOEvaluator(NAMES, CATEGORY_IDS)
    for image in gt["images"]:
        w, h = image["width"], image["height"]
        labels = np.array([[CATEGORY_IDS.index(a["category_id"]), a["bbox"][0] / w, a["bbox"][1] / h,
                            (a["bbox"][0] + a["bbox"][2]) / w, (a["bbox"][1] + a["bbox"][3]) / h,
                            a["iscrowd"]] for a in gt["annotations"] if a["image_id"] == image["id"]])
        ours.update(_rows(results, image, gt), labels.reshape(-1, 6), (w, h))
    got = ours.result()
    for name in STAT_NAMES:
        assert got["stats"][name] == pytest.approx(want[name], abs=1e-9), name


def test_results_use_the_original_category_ids_and_pixel_xywh():
    ev = COCOEvaluator(NAMES, CATEGORY_IDS)
    ev.update(np.array([[2, 0.9, 0.1, 0.2, 0.5, 0.6], [-1, 0, 0, 0, 0, 0]]), np.zeros((0, 6)), (200, 100))
    [r] = ev.results
    assert r["category_id"] == 11 and r["image_id"] == 1
    assert r["bbox"] == pytest.approx([20, 20, 80, 40]) and r["score"] == pytest.approx(0.9)


def test_no_detections_scores_zero():
    ev = COCOEvaluator(NAMES)
    ev.update(np.zeros((0, 6)), np.array([[0, 0.1, 0.1, 0.5, 0.5, 0]]), (100, 100))
    assert ev.result()["stats"]["AP"] == 0.0
