"""DetRecordIter: labels, pixels, channel order and augmentation of the batches it reads."""
import numpy as np
import pytest

from dataset.augmentation import Augmentation
from dataset.iterator import DetRecordIter
from dataset.label_layout import normalized_objects
from dataset.voc import load_voc
from tools.make_synthetic_voc import CLASSES

MEAN, STD = (123.68, 116.78, 103.94), (58.395, 57.12, 57.375)


def test_iterator_reads_back_every_label_exactly(voc_root, packed):
    records = load_voc(voc_root, "trainval", CLASSES)
    it = DetRecordIter(packed[0], batch_size=6, data_shape=64, mean=MEAN, std=STD, wrap_last_batch=False)
    for _ in range(3):  # every pass, including one reset right after construction, sees each image once
        it.reset()
        got = []
        for batch in it:
            assert batch.data[0].shape == (6, 3, 64, 64)
            assert batch.label[0].shape == (6, it.max_objects, 6)
            got.extend(batch.label[0].asnumpy()[: 6 - batch.pad])
        assert len(got) == len(records)
    for rec, lab in zip(records, got):
        want = normalized_objects(rec)
        want = want[want[:, 0] >= 0]
        np.testing.assert_array_equal(lab[: len(want)], want)
        assert np.all(lab[len(want):] == -1)


def test_iterator_normalizes_pixels(voc_root, packed):
    import cv2
    records = load_voc(voc_root, "trainval", CLASSES)
    it = DetRecordIter(packed[0], batch_size=1, data_shape=32, mean=MEAN, std=STD)
    data = it.next().data[0].asnumpy()[0]
    image = cv2.imread(str(records[0].path))[:, :, ::-1]
    resized = cv2.resize(image, (32, 32), interpolation=cv2.INTER_LINEAR).transpose(2, 0, 1)
    want = (resized - np.array(MEAN).reshape(3, 1, 1)) / np.array(STD).reshape(3, 1, 1)
    assert np.abs(data - want).mean() < 0.05


def test_bgr_batches_are_the_rgb_ones_reversed(packed):
    """A BGR model's mean/std are given in BGR order; the batch's channels come reversed."""
    rgb = DetRecordIter(packed[1], batch_size=2, data_shape=32, mean=MEAN, std=STD, wrap_last_batch=False)
    bgr = DetRecordIter(packed[1], batch_size=2, data_shape=32, mean=MEAN[::-1], std=STD[::-1],
                        wrap_last_batch=False, channel_order="BGR")
    a, b = rgb.next(), bgr.next()
    np.testing.assert_allclose(b.data[0].asnumpy(), a.data[0].asnumpy()[:, ::-1], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(b.label[0].asnumpy(), a.label[0].asnumpy())
    with pytest.raises(ValueError, match="channel_order must be RGB or BGR"):
        DetRecordIter(packed[1], batch_size=2, data_shape=32, mean=MEAN, std=STD, channel_order="GBR")


def test_augmented_batches_keep_valid_boxes(packed):
    it = DetRecordIter(packed[0], batch_size=8, data_shape=96, mean=MEAN, std=STD,
                       augmentation=Augmentation(), shuffle=True, seed=1)
    seen = 0
    for _ in range(2):
        it.reset()
        for batch in it:
            lab = batch.label[0].asnumpy().reshape(-1, 6)
            real = lab[lab[:, 0] >= 0]
            seen += len(real)
            assert np.all(real[:, 0] < len(CLASSES))
            assert np.all((real[:, 1:5] >= 0) & (real[:, 1:5] <= 1))
            assert np.all(real[:, 3] > real[:, 1]) and np.all(real[:, 4] > real[:, 2])
    assert seen > 0


def test_kept_batches_keep_their_pixels(packed):
    """MXNet's iterator refills one buffer; the batches DetRecordIter hands out own their arrays."""
    def sums(batches):
        return [float(b.data[0].asnumpy().sum()) for b in batches]

    def reader():
        return DetRecordIter(packed[0], batch_size=4, data_shape=32, mean=MEAN, std=STD, shuffle=True,
                             seed=2, threads=1, wrap_last_batch=False)

    one_at_a_time = sums(reader())
    kept = list(reader())
    assert len(set(one_at_a_time)) == len(one_at_a_time) > 2
    assert sums(kept) == one_at_a_time
    assert [list(b.index) for b in kept] == [list(b.index) for b in reader()]
