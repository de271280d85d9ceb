import json

import pytest

from evaluate import cli as evaluate


def test_rec_and_voc_folder_give_the_same_map(checkpoint, packed, voc_root, tmp_path, capsys):
    out_rec, out_voc = tmp_path / "rec.json", tmp_path / "voc.json"
    assert evaluate.main(["--prefix", str(checkpoint), "--rec", str(packed[1]), "--json", str(out_rec),
                          "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "VOC07" in text and "mAP" in text and "circle" in text
    assert evaluate.main(["--prefix", str(checkpoint), "--voc-root", str(voc_root), "--split", "test",
                          "--json", str(out_voc), "--no-progress"]) == 0
    a, b = json.loads(out_rec.read_text()), json.loads(out_voc.read_text())
    assert a["num_images"] == b["num_images"] == 12
    assert 0 <= a["voc07_map"] <= 1
    assert a["voc07_map"] == pytest.approx(b["voc07_map"], abs=0.03)
    assert set(a["per_class"]) == set(b["per_class"])


def test_evaluate_errors(checkpoint, tmp_path, capsys):
    assert evaluate.main(["--prefix", str(checkpoint), "--rec", str(tmp_path / "none.rec")]) == 2
    assert "none.rec: record file not found" in capsys.readouterr().err


def test_coco_json_source_plots_examples_and_results(checkpoint, voc_root, tmp_path, capsys):
    from evaluate.coco_eval import COCOEvaluator  # noqa: F401  (pycocotools present)
    from tools import voc_to_coco
    ann = tmp_path / "instances_test.json"
    voc_to_coco.main(["--root", str(voc_root), "--split", "test", "--out", str(ann), "--first-id", "3"])
    capsys.readouterr()
    report, results, plots = tmp_path / "r.json", tmp_path / "dt.json", tmp_path / "plots"
    assert evaluate.main(["--prefix", str(checkpoint), "--coco-json", str(ann), "--image-root",
                          str(voc_root / "JPEGImages"), "--json", str(report), "--coco-results", str(results),
                          "--plot-dir", str(plots), "--examples", "6", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "COCO AP" in text and "COCO: AP " in text and "wrote 8 plots" in text
    result = json.loads(report.read_text())
    assert result["num_images"] == 12 and 0 <= result["coco"]["stats"]["AP"] <= 1
    rows = json.loads(results.read_text())
    assert rows and {r["category_id"] for r in rows} <= set(range(3, 9))
    assert all(len(r["bbox"]) == 4 and r["bbox"][2] >= 0 for r in rows)
    # the COCO numbers are pycocotools' on the original json and these results
    from tests.evaluate.test_coco_eval import _pycocotools
    assert _pycocotools(ann, results)["AP"] == pytest.approx(result["coco"]["stats"]["AP"], abs=1e-12)
    import cv2
    grid = cv2.imread(str(plots / "examples.jpg"))
    assert grid.shape == (2 * 320, 4 * 320, 3)
    assert sorted(p.name for p in plots.glob("pr_*.png"))[-1] == "pr_triangle.png"


def test_coco_categories_must_match_the_model(checkpoint, voc_root, tmp_path, capsys):
    ann = tmp_path / "instances.json"
    ann.write_text(json.dumps({"images": [], "annotations": [], "categories": [{"id": 1, "name": "cat"}]}))
    assert evaluate.main(["--prefix", str(checkpoint), "--coco-json", str(ann), "--image-root",
                          str(tmp_path)]) == 2
    assert "categories ['cat'] differ from the model's classes" in capsys.readouterr().err


def test_breakdown_counts_every_non_difficult_object_once(voc_root, tmp_path, capsys):
    from dataset.voc import load_voc
    from tools.make_synthetic_voc import CLASSES
    out = tmp_path / "b.json"
    assert evaluate.main(["--prefix", "model/ssd_mobilenet0.5_synthetic", "--voc-root", str(voc_root),
                          "--json", str(out), "--no-progress", "--no-coco", "--breakdown", "0.3"]) == 0
    text = capsys.readouterr().out
    assert "recall by object size" in text and "score >= 0.3" in text and "confusion" in text
    result = json.loads(out.read_text())["breakdown"]
    objects = [o for r in load_voc(voc_root, "test", CLASSES) for o in r.objects if not o.difficult]
    assert sum(r["objects"] for r in result["by_size"]) == len(objects)
    counts = result["confusion"]["counts"]
    per_class = [sum(o.class_id == c for o in objects) for c in range(len(CLASSES))]
    assert [sum(row) for row in counts] == per_class
    found = sum(r["found"] * r["objects"] for r in result["by_size"] if r["objects"])
    assert found == pytest.approx(len(objects) - sum(row[-1] for row in counts))
    assert found > 0  # the bundled model finds some of them
