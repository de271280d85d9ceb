import json
import shutil

from detect import demo


def test_demo_writes_annotated_images_json_and_tsv(checkpoint, images, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for p in images[:3]:
        shutil.copy(p, inputs / p.name)
    out = tmp_path / "out"
    code = demo.main([str(inputs), "--prefix", str(checkpoint), "--out", str(out), "--thresh", "0.1"])
    assert code == 0
    result = json.loads((out / "detections.json").read_text())
    assert [r["image"] for r in result["images"]] == [str(inputs / p.name) for p in images[:3]]
    assert sorted(p.name for p in out.glob("*.jpg")) == sorted(p.name for p in images[:3])
    rows = [d for r in result["images"] for d in r["detections"]]
    assert all(d["score"] >= 0.1 for d in rows)
    for r in result["images"]:
        for d in r["detections"]:
            x1, y1, x2, y2 = d["box"]  # inside the image: clipped, no row without area
            assert 0 <= x1 < x2 <= r["width"] and 0 <= y1 < y2 <= r["height"]
    tsv = (out / "detections.tsv").read_text().splitlines()
    assert tsv[0].split("\t") == ["image", "class_id", "class_name", "score", "x1", "y1", "x2", "y2"]
    assert len(tsv) == 1 + len(rows)


def test_demo_threshold_filters(tmp_path):
    """The bundled model on a sample image: the rows at --thresh 0.5 are exactly the rows of the 0.05 run
    that score 0.5 or more (and there are some of each)."""
    from common.paths import DEMO_IMAGES
    found = {}
    for thresh in ("0.05", "0.5"):
        out = tmp_path / thresh
        assert demo.main([str(DEMO_IMAGES / "000004.jpg"), "--out", str(out), "--thresh", thresh,
                          "--no-draw"]) == 0
        data = json.loads((out / "detections.json").read_text())
        found[thresh] = data["images"][0]["detections"]
        assert not list(out.glob("*.jpg"))
    assert all(d["score"] >= 0.05 for d in found["0.05"])
    assert found["0.5"] == [d for d in found["0.05"] if d["score"] >= 0.5]
    assert len(found["0.05"]) > len(found["0.5"]) > 0


def test_demo_bad_inputs(checkpoint, images, tmp_path, capsys):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\x00" * 10)
    code = demo.main([str(broken), str(images[0]), "--prefix", str(checkpoint), "--out", str(tmp_path / "o")])
    assert code == 1
    assert "broken.jpg: not a JPEG, PNG, BMP or WebP image; skipped" in capsys.readouterr().err
    data = json.loads((tmp_path / "o" / "detections.json").read_text())
    assert len(data["images"]) == 1
    assert demo.main([str(tmp_path / "nothing*.png"), "--prefix", str(checkpoint)]) == 2
    assert "no such file" in capsys.readouterr().err
    assert demo.main([str(images[0]), "--prefix", str(tmp_path / "nomodel")]) == 2
    assert "nomodel-meta.json: model metadata not found" in capsys.readouterr().err


def test_demo_into_a_used_folder_removes_the_previous_runs_pictures_only(checkpoint, images, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.jpg").write_bytes(b"a user's file")
    assert demo.main([str(images[0]), str(images[1]), "--prefix", str(checkpoint), "--out", str(out)]) == 0
    assert demo.main([str(images[1]), "--prefix", str(checkpoint), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.glob("*.jpg")) == sorted(["mine.jpg", images[1].name])
    result = json.loads((out / "detections.json").read_text())
    assert [r["annotated"] for r in result["images"]] == [images[1].name]


def test_a_one_pixel_image_is_detected_like_any_other(tmp_path):
    """Detection takes any size (the image is resized to the model's input); packing has its own minimum."""
    import cv2
    import numpy as np
    image = tmp_path / "dot.png"
    cv2.imwrite(str(image), np.full((1, 1, 3), 200, np.uint8))
    assert demo.main([str(image), "--out", str(tmp_path / "out"), "--thresh", "0"]) == 0
    [item] = json.loads((tmp_path / "out" / "detections.json").read_text())["images"]
    assert (item["width"], item["height"]) == (1, 1)
    for d in item["detections"]:  # whatever is found lies inside the 1x1 image
        x1, y1, x2, y2 = d["box"]
        assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1
    assert cv2.imread(str(tmp_path / "out" / "dot.jpg")).shape[:2] == (1, 1)
