"""prepare_dataset for the three input formats, and the VOC -> COCO converter."""
import json
import shutil

import numpy as np

from dataset.coco import load_coco
from dataset.recordio import read_labels, read_sidecar
from dataset.voc import load_voc
from tools import prepare_dataset, voc_to_coco
from tools.make_synthetic_voc import CLASSES


def test_voc_to_coco_round_trip(voc_root, tmp_path):
    out = tmp_path / "instances.json"
    assert voc_to_coco.main(["--root", str(voc_root), "--split", "test", "--out", str(out),
                             "--first-id", "5"]) == 0
    data = load_coco(out, voc_root / "JPEGImages")
    voc = load_voc(voc_root, "test", CLASSES)
    assert data.categories.ids == tuple(range(5, 5 + len(CLASSES)))
    assert [r.path for r in data.records] == [r.path for r in voc]
    for coco_rec, voc_rec in zip(data.records, voc):
        # VOC's inclusive 1-based pixels [xmin, xmax] are the continuous range [xmin - 1, xmax].
        got = [(o.class_id, o.xmin + 1, o.ymin + 1, o.xmax, o.ymax, o.difficult) for o in coco_rec.objects]
        want = [(o.class_id, o.xmin, o.ymin, o.xmax, o.ymax, o.difficult) for o in voc_rec.objects]
        assert got == want
    assert any(a["iscrowd"] for a in json.loads(out.read_text())["annotations"])  # difficult -> crowd


def test_coco_packs_with_its_category_names(voc_root, tmp_path, capsys):
    ann = tmp_path / "instances.json"
    voc_to_coco.main(["--root", str(voc_root), "--split", "trainval", "--out", str(ann)])
    data = json.loads(ann.read_text())
    data["annotations"][0]["bbox"][2] += 10_000  # leaves the image: clipped and reported
    ann.write_text(json.dumps(data))
    rec = tmp_path / "train.rec"
    assert prepare_dataset.main(["--dataset", "coco", "--root", str(voc_root / "JPEGImages"),
                                 "--annotations", str(ann), "--out", str(rec), "--no-progress",
                                 "--no-shuffle"]) == 0
    out = capsys.readouterr().out
    assert "40 images, 6 classes" in out and "1 items skipped or changed" in out
    assert read_sidecar(rec)["class_names"] == list(CLASSES)
    labels = list(read_labels(rec))
    assert len(labels) == 40 and labels[0][0, 3] == 1.0  # the clipped box ends at the right border


def test_list_format_packs(voc_root, tmp_path):
    records = load_voc(voc_root, "trainval", CLASSES)[:5]
    listing = tmp_path / "train.txt"
    listing.write_text("\n".join(
        f"{r.path.name} " + " ".join(f"{o.xmin:g},{o.ymin:g},{o.xmax:g},{o.ymax:g},{o.class_id}"
                                    for o in r.objects) for r in records) + "\n")
    rec = tmp_path / "list.rec"
    assert prepare_dataset.main(["--dataset", "list", "--root", str(voc_root / "JPEGImages"),
                                 "--annotations", str(listing), "--class-names", ",".join(CLASSES),
                                 "--out", str(rec), "--no-progress", "--no-shuffle"]) == 0
    labels = list(read_labels(rec))
    assert len(labels) == len(records) == 5 and sum(len(r.objects) for r in records) >= 5
    for label, record in zip(labels, records):  # --no-shuffle: the list's order
        objects = label[label[:, 0] >= 0]
        want = [[o.class_id, o.xmin / record.width, o.ymin / record.height, o.xmax / record.width,
                 o.ymax / record.height] for o in record.objects]
        np.testing.assert_allclose(objects[:, :5], np.array(want).reshape(-1, 5), atol=1e-6)


def test_records_are_shuffled_by_seed_and_the_lst_follows(voc_root, tmp_path):
    def pack(name, *flags):
        rec = tmp_path / f"{name}.rec"
        assert prepare_dataset.main(["--root", str(voc_root), "--split", "trainval", "--out", str(rec),
                                     "--no-progress", "--lst", *flags]) == 0
        lst = [line.split("\t")[-1] for line in rec.with_suffix(".lst").read_text().splitlines()]
        return [label.tobytes() for label in read_labels(rec)], lst

    plain, plain_lst = pack("plain", "--no-shuffle")
    assert plain_lst == [f"JPEGImages/{r.path.name}" for r in load_voc(voc_root, "trainval", CLASSES)]
    a, a_lst = pack("a")
    b, b_lst = pack("b", "--seed", "1")
    assert a == pack("a2")[0]  # seeded
    for labels, lst in ((a, a_lst), (b, b_lst)):
        assert labels != plain and sorted(labels) == sorted(plain)  # the same records, reordered
        assert [plain[plain_lst.index(path)] for path in lst] == labels  # .lst line i = record i
    assert a != b


def test_voc_without_a_class_list_uses_the_names_found(voc_root, tmp_path, caplog):
    root = tmp_path / "voc"
    shutil.copytree(voc_root, root)
    (root / "classes.txt").unlink()
    rec = tmp_path / "v.rec"
    with caplog.at_level("INFO"):
        assert prepare_dataset.main(["--root", str(root), "--split", "trainval", "--out", str(rec),
                                     "--no-progress"]) == 0
    assert read_sidecar(rec)["class_names"] == sorted(CLASSES)
    assert "using the 6 names found in the annotations" in caplog.text


def test_missing_flags_are_named(tmp_path, capsys):
    assert prepare_dataset.main(["--dataset", "coco", "--root", str(tmp_path), "--out", "x.rec"]) == 2
    assert "--dataset coco needs --annotations" in capsys.readouterr().err
    assert prepare_dataset.main(["--dataset", "list", "--root", str(tmp_path), "--annotations", "l.txt",
                                 "--out", "x.rec"]) == 2
    assert "--dataset list needs --class-names" in capsys.readouterr().err


def _fake_voc_year(root, year, count, start):
    """A VOC<year> folder of ``count`` images with VOC class names (synthetic pictures)."""
    import cv2
    import numpy as np

    from dataset.classes import VOC_CLASSES
    folder = root / f"VOC{year}"
    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    ids = [f"{year}_{start + i:06d}" for i in range(count)]
    for k, image_id in enumerate(ids):
        pixels = np.full((60, 80, 3), 40 * k % 255, np.uint8)
        cv2.imwrite(str(folder / "JPEGImages" / f"{image_id}.jpg"), pixels)
        name = VOC_CLASSES[k % len(VOC_CLASSES)]
        (folder / "Annotations" / f"{image_id}.xml").write_text(
            f"<annotation><filename>{image_id}.jpg</filename><size><width>80</width><height>60</height></size>"
            f"<object><name>{name}</name><difficult>0</difficult><bndbox><xmin>5</xmin><ymin>5</ymin>"
            f"<xmax>50</xmax><ymax>40</ymax></bndbox></object></annotation>")
    (folder / "ImageSets" / "Main" / "trainval.txt").write_text("\n".join(ids) + "\n")
    return folder


def test_voc2007_and_voc2012_pack_into_one_rec(tmp_path, capsys):
    import json

    from dataset.recordio import read_labels
    devkit = tmp_path / "VOCdevkit"
    _fake_voc_year(devkit, 2007, 5, 0)
    _fake_voc_year(devkit, 2012, 7, 100)
    out = tmp_path / "voc0712.rec"
    assert prepare_dataset.main(["--root", str(devkit / "VOC2007"), "--split", "trainval",
                                 "--root", str(devkit / "VOC2012"), "--split", "trainval",
                                 "--class-names", "voc", "--out", str(out), "--no-progress"]) == 0
    assert "12 images, 20 classes" in capsys.readouterr().out
    info = json.loads(out.with_suffix(".json").read_text())
    assert info["num_images"] == 12 and len(info["class_names"]) == 20
    assert sorted(int(objs[0][0]) for objs in read_labels(out)) == sorted([k % 20 for k in range(5)]
                                                                          + [k % 20 for k in range(7)])
    assert prepare_dataset.main(["--root", str(devkit / "VOC2007"), "--root", str(devkit / "VOC2012"),
                                 "--split", "trainval", "--class-names", "voc", "--out", str(out)]) == 2
    assert "2 --root and 1 --split" in capsys.readouterr().err
