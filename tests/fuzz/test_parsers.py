"""Fuzzing the readers of user files: any input ends in the project's own error or a valid result.

Targets: VOC XML annotations, COCO jsons, list files, the RecordIO label layout, the RecordIO
structure check and the Caffe prototxt parser. The inputs are random and mutated valid files.
``make test`` runs a bounded number of examples; ``make fuzz`` runs many more.
"""
import json
import math
import struct

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from dataset import label_layout
from dataset.coco import load_coco
from dataset.listfile import load_list
from dataset.recordio import check_recordio
from dataset.records import DatasetError, ImageRecord
from dataset.voc import parse_annotation
from tools.caffe_converter.caffemodel import read_prototxt
from tools.caffe_converter.convert import ConversionError

NUMBERS = st.one_of(st.integers(-10**6, 10**6).map(str),
                    st.floats(allow_nan=True, allow_infinity=True).map(repr),
                    st.sampled_from(["nan", "inf", "-0", "1e309", "", " 12 ", "0x10", "abc", "3.5.1"]))


@st.composite
def voc_xml(draw):
    parts = ["<annotation>"]
    if draw(st.booleans()):
        parts.append(f"<filename>{draw(st.text(max_size=8))}.jpg</filename>")
    if draw(st.booleans()):
        parts.append(f"<size><width>{draw(NUMBERS)}</width><height>{draw(NUMBERS)}</height></size>")
    for _ in range(draw(st.integers(0, 3))):
        # each coordinate is left out now and then: a box with a missing corner is generated on purpose
        coords = "".join(f"<{t}>{draw(NUMBERS)}</{t}>" for t in ("xmin", "ymin", "xmax", "ymax")
                         if draw(st.integers(0, 7)) > 0)
        name = draw(st.sampled_from(['cat', 'dog', 'ox', '']))
        difficult = draw(st.sampled_from(['0', '1', 'x']))
        parts.append(f"<object><name>{name}</name><difficult>{difficult}</difficult>"
                     f"<bndbox>{coords}</bndbox></object>")
    parts.append("</annotation>")
    text = "".join(parts)
    if draw(st.booleans()):  # mutate: cut or splice random text
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(max_size=20)) + (text[at:] if draw(st.booleans()) else "")
    return text


def _valid_record(record: ImageRecord) -> None:
    for o in record.objects:
        assert all(math.isfinite(v) for v in (o.xmin, o.ymin, o.xmax, o.ymax))
        assert 0 <= o.xmin < o.xmax <= record.width and 0 <= o.ymin < o.ymax <= record.height


@given(text=voc_xml())
def test_voc_annotations(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("voc") / "a.xml"
    path.write_bytes(text.encode("utf-8", "replace"))
    try:
        record = parse_annotation(path, ("cat", "dog"))
    except DatasetError:
        return
    _valid_record(record)


def test_a_box_missing_a_corner_is_an_error_naming_it(tmp_path):
    path = tmp_path / "a.xml"
    path.write_text("<annotation><filename>a.jpg</filename><size><width>64</width><height>48</height></size>"
                    "<object><name>cat</name><difficult>0</difficult><bndbox><xmin>1</xmin><ymin>2</ymin>"
                    "<xmax>30</xmax></bndbox></object></annotation>")
    with pytest.raises(DatasetError, match="object 0: missing <ymax>|missing <ymax>"):
        parse_annotation(path, ("cat", "dog"))


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**9, 10**9), st.floats(), st.text(max_size=5))
JSON = st.recursive(SCALARS,
                    lambda children: st.one_of(st.lists(children, max_size=4),
                                               st.dictionaries(st.text(max_size=8), children, max_size=4)),
                    max_leaves=20)
VALID_COCO = {"images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}],
              "annotations": [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [5, 5, 20, 20],
                               "iscrowd": 0}],
              "categories": [{"id": 3, "name": "cat"}]}


@st.composite
def coco_json(draw):
    if draw(st.booleans()):
        return draw(JSON)
    data = json.loads(json.dumps(VALID_COCO))
    for _ in range(draw(st.integers(1, 3))):  # replace a field of the valid document by anything
        section = draw(st.sampled_from(["images", "annotations", "categories"]))
        key = draw(st.sampled_from(sorted(data[section][0])))
        data[section][0][key] = draw(JSON)
    return data


@given(data=coco_json())
def test_coco_jsons(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("coco") / "instances.json"
    path.write_text(json.dumps(data))
    try:
        result = load_coco(path, path.parent, check_files=False)
    except DatasetError:
        return
    for record in result.records:
        _valid_record(record)


TOKEN = st.one_of(st.text(alphabet="0123456789.,-naif", max_size=20),
                  st.tuples(NUMBERS, NUMBERS, NUMBERS, NUMBERS, st.integers(-2, 4)).map(
                      lambda t: ",".join(map(str, t))))


@given(lines=st.lists(st.lists(TOKEN, max_size=3), max_size=4), image=st.sampled_from(["a.jpg", "b.jpg", ""]))
def test_list_files(tmp_path_factory, lines, image):
    root = tmp_path_factory.mktemp("list")
    import cv2
    cv2.imwrite(str(root / "a.jpg"), np.full((48, 64, 3), 100, np.uint8))
    listing = root / "train.txt"
    listing.write_text("\n".join(" ".join([image] + tokens) for tokens in lines))
    try:
        records = load_list(listing, root, ("cat", "dog"))
    except DatasetError:
        return
    for record in records:
        _valid_record(record)


@given(objects=st.lists(st.tuples(st.integers(-1, 50), *[st.floats(0, 1)] * 4, st.sampled_from([0.0, 1.0])),
                        max_size=6), size=st.tuples(st.integers(1, 5000), st.integers(1, 5000)))
def test_label_layout_round_trip(objects, size):
    rows = np.array(objects, np.float32).reshape(-1, label_layout.OBJECT_WIDTH)
    packed = label_layout.pack(rows, *size)
    back = label_layout.unpack(packed)
    np.testing.assert_array_equal(back, rows[rows[:, 0] >= 0])
    assert label_layout.image_size(packed) == size


@given(values=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=40))
def test_label_layout_reads_any_floats(values):
    try:
        objects = label_layout.unpack(np.array(values, np.float32))
    except DatasetError:
        return
    assert objects.ndim == 2 and (objects[:, 0] >= 0).all()


def _valid_rec_bytes() -> bytes:
    payload = b"\x00" * 24 + b"image"
    out = b""
    for _ in range(3):
        out += struct.pack("<II", 0xCED7230A, len(payload)) + payload + b"\x00" * (-len(payload) % 4)
    return out


@given(data=st.one_of(st.binary(max_size=200), st.tuples(st.integers(0, 100), st.binary(max_size=8)).map(
    lambda t: _valid_rec_bytes()[:t[0]] + t[1] + _valid_rec_bytes()[t[0] + len(t[1]):])))
def test_recordio_structure_check(tmp_path_factory, data):
    rec = tmp_path_factory.mktemp("rec") / "a.rec"
    rec.write_bytes(data)
    try:
        count = check_recordio(rec)
    except DatasetError:
        return
    assert count >= 1


PROTOTXT = ('name: "t"\ninput: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'
            'layer { name: "c" type: "Convolution" bottom: "data" top: "c" '
            'convolution_param { num_output: 2 kernel_size: 3 } }\n')


@given(cut=st.integers(0, len(PROTOTXT)), noise=st.text(max_size=30), keep=st.booleans())
def test_prototxt_parser(tmp_path_factory, cut, noise, keep):
    assume(noise or not keep)
    path = tmp_path_factory.mktemp("proto") / "deploy.prototxt"
    path.write_bytes((PROTOTXT[:cut] + noise + (PROTOTXT[cut:] if keep else "")).encode("utf-8", "replace"))
    try:
        read_prototxt(path)
    except ConversionError:
        return
