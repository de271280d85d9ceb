import numpy as np
import pytest

from dataset.iterator import SHUFFLE_CHUNK_MB, DetRecordIter
from dataset.label_layout import normalized_objects
from dataset.recordio import (
    pack_records,
    read_labels,
    read_sidecar,
    scan_max_objects,
    write_lst,
)
from dataset.records import BoxObject, DatasetError, ImageRecord
from dataset.voc import load_voc
from tools.make_synthetic_voc import CLASSES

MEAN, STD = (123.68, 116.78, 103.94), (58.395, 57.12, 57.375)


def test_packed_labels_equal_the_annotations(voc_root, packed):
    records = load_voc(voc_root, "trainval", CLASSES)
    labels = list(read_labels(packed[0]))
    assert len(labels) == len(records)
    for rec, lab in zip(records, labels):
        want = normalized_objects(rec)
        np.testing.assert_array_equal(lab, want[want[:, 0] >= 0])
    info = read_sidecar(packed[0])
    assert info["num_images"] == 40 and info["class_names"] == list(CLASSES)
    assert info["max_objects"] == max(len(r.objects) for r in records) == scan_max_objects(packed[0])


def test_unreadable_image_names_the_file_and_writes_nothing(tmp_path, voc_root, packed):
    records = load_voc(voc_root, "trainval", CLASSES)[:3]
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    records[1].path = bad
    out = tmp_path / "out.rec"
    out.write_bytes(b"previous")
    with pytest.raises(DatasetError, match="broken.jpg.*not a JPEG, PNG, BMP or WebP image"):
        pack_records(records, out, CLASSES, progress=False)
    assert out.read_bytes() == b"previous"
    assert not out.with_suffix(".idx").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.jpg", "out.rec"]


def test_size_mismatch_and_missing_image_and_empty_dataset(tmp_path, voc_root):
    records = load_voc(voc_root, "trainval", CLASSES)[:2]
    records[0].width += 1
    with pytest.raises(DatasetError, match="annotation says"):
        pack_records(records, tmp_path / "a.rec", CLASSES, progress=False)
    records = load_voc(voc_root, "trainval", CLASSES)[:2]
    records[1].path = tmp_path / "missing.jpg"
    with pytest.raises(DatasetError, match="missing.jpg.*cannot read image"):
        pack_records(records, tmp_path / "a.rec", CLASSES, progress=False)
    with pytest.raises(DatasetError, match="dataset to pack is empty"):
        pack_records([], tmp_path / "a.rec", CLASSES, progress=False)
    assert not list(tmp_path.glob("*.rec"))


def test_lst_lines(tmp_path, voc_root):
    records = load_voc(voc_root, "trainval", CLASSES)[:2]
    write_lst(records, tmp_path / "a.lst", root=voc_root)
    lines = (tmp_path / "a.lst").read_text().splitlines()
    fields = lines[0].split("\t")
    assert fields[0] == "0" and fields[-1] == "JPEGImages/000000.jpg"
    assert [float(v) for v in fields[1:5]] == [4, 6, records[0].width, records[0].height]


def _noise_records(folder, count, side=320):
    """``count`` incompressible JPEGs (~0.3 MB each) with one box, so a file spans several parts."""
    import cv2
    rng = np.random.default_rng(0)
    records = []
    for i in range(count):
        path = folder / f"{i:03d}.jpg"
        cv2.imwrite(str(path), rng.integers(0, 256, (side, side, 3), dtype=np.uint8),
                    [cv2.IMWRITE_JPEG_QUALITY, 100])
        records.append(ImageRecord(path, side, side, [BoxObject(i % 3, 10, 10, 100, 100)]))
    return records


def test_shuffled_passes_visit_the_whole_file_in_random_order(tmp_path):
    """ImageDetRecordIter alone shuffles only inside the chunk it reads (the file's order
    survives); DetRecordIter also visits the file's parts in a random order."""
    rec = tmp_path / "noise.rec"
    pack_records(_noise_records(tmp_path, 100), rec, CLASSES, progress=False)
    assert rec.stat().st_size > 4 * SHUFFLE_CHUNK_MB << 20  # at least four parts

    def order(shuffle, seed):
        it = DetRecordIter(rec, batch_size=10, data_shape=32, mean=MEAN, std=STD, shuffle=shuffle,
                           seed=seed, threads=1, wrap_last_batch=False)
        return [int(i) for batch in it for i in batch.index[: 10 - batch.pad]]

    assert order(False, 0) == list(range(100))
    orders = [order(True, seed) for seed in (1, 2)]
    for o in orders:
        assert sorted(o) == list(range(100))  # every image once per pass
        # positions in the pass hardly follow positions in the file
        assert abs(np.corrcoef(o, np.arange(100))[0, 1]) < 0.5
    assert orders[0] != orders[1]
    assert order(True, 1) == orders[0]  # seeded: repeatable
