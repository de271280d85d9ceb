import shutil

import pytest

from dataset.records import DatasetError, read_class_names
from dataset.voc import load_voc, parse_annotation
from tools.make_synthetic_voc import CLASSES

XML = """<annotation><filename>a.jpg</filename><size><width>100</width><height>50</height></size>
<object><name>{name}</name><difficult>{difficult}</difficult>
<bndbox><xmin>{x1}</xmin><ymin>10</ymin><xmax>{x2}</xmax><ymax>40</ymax></bndbox></object></annotation>"""


def _write(tmp_path, text):
    (tmp_path / "Annotations").mkdir(exist_ok=True)
    path = tmp_path / "Annotations" / "a.xml"
    path.write_text(text)
    return path


def test_parses_boxes_classes_and_difficult(tmp_path):
    path = _write(tmp_path, XML.format(name="star", difficult=1, x1=5, x2=100))
    rec = parse_annotation(path, CLASSES)
    assert (rec.width, rec.height) == (100, 50)
    assert rec.path == tmp_path / "JPEGImages" / "a.jpg"
    (obj,) = rec.objects
    assert obj.class_id == CLASSES.index("star") and obj.difficult
    assert (obj.xmin, obj.ymin, obj.xmax, obj.ymax) == (5, 10, 100, 40)


@pytest.mark.parametrize("text,message", [
    ("<annotation><size>", "malformed XML"),
    (XML.format(name="dog", difficult=0, x1=5, x2=20), "object 0: unknown class name 'dog'"),
    (XML.format(name="star", difficult=0, x1=30, x2=20), "object 0: empty box"),
    (XML.format(name="star", difficult=0, x1=30, x2=30), "object 0: empty box"),
    (XML.format(name="star", difficult=0, x1=5, x2=101), "outside the 100x50 image"),
    (XML.format(name="star", difficult=0, x1=-2, x2=20), "outside the 100x50 image"),
    (XML.format(name="star", difficult=0, x1="abc", x2=20), "<xmin> is not a number"),
    ("<annotation><filename>a.jpg</filename></annotation>", "missing <size>"),
])
def test_bad_annotations_name_the_file_and_problem(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(DatasetError, match=message) as err:
        parse_annotation(path, CLASSES)
    assert str(path) in str(err.value)


def test_load_voc_reads_the_synthetic_split(voc_root):
    records = load_voc(voc_root, "trainval", CLASSES)
    assert len(records) == 40
    assert all(r.path.is_file() for r in records)
    assert sum(len(r.objects) for r in records) > 40


def test_empty_or_missing_image_set(tmp_path, voc_root):
    root = tmp_path / "voc"
    shutil.copytree(voc_root / "ImageSets", root / "ImageSets")
    (root / "ImageSets/Main/empty.txt").write_text("\n")
    with pytest.raises(DatasetError, match="empty.txt: image set is empty"):
        load_voc(root, "empty", CLASSES)
    with pytest.raises(DatasetError, match="nope.txt: image set file not found"):
        load_voc(root, "nope", CLASSES)


def test_class_names_from_file_string_and_list(tmp_path):
    f = tmp_path / "names.txt"
    f.write_text("# comment\ncat\ndog\n\n")
    assert read_class_names(str(f)) == ("cat", "dog")
    assert read_class_names("cat, dog") == ("cat", "dog")
    assert read_class_names(["a"]) == ("a",)
    with pytest.raises(DatasetError, match="duplicated"):
        read_class_names("a,b,a")
    with pytest.raises(DatasetError, match="empty name"):
        read_class_names("a,,b")
