"""The augmentation settings reach MXNet's iterator: mirrored boxes follow mirrored pixels, and settings
that do nothing leave images and boxes untouched."""
import numpy as np
import pytest

from dataset import label_layout as objs
from dataset.augmentation import NO_AUGMENTATION, Augmentation
from dataset.iterator import DetRecordIter

#: Only a horizontal flip, always.
MIRROR = Augmentation(crop_prob=0.0, min_overlaps=(), expand_prob=0.0, mirror_prob=1.0, color_prob=0.0)


def _first_batch(rec, augmentation, seed=0):
    it = DetRecordIter(rec, batch_size=8, data_shape=300, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0),
                       augmentation=augmentation, shuffle=False, seed=seed, threads=1)
    batch = next(iter(it))
    return batch.data[0].asnumpy(), batch.label[0].asnumpy()


def test_a_mirrored_image_has_its_boxes_mirrored(packed):
    plain, plain_labels = _first_batch(packed[0], NO_AUGMENTATION)
    mirrored, labels = _first_batch(packed[0], MIRROR)
    np.testing.assert_allclose(mirrored, plain[..., ::-1], atol=1.0)  # pixel values 0-255
    assert np.abs(mirrored - plain).max() > 50  # the images are not symmetric: a flip shows
    boxes = 0
    for before, after in zip(plain_labels, labels):
        before, after = objs.valid_objects(before), objs.valid_objects(after)
        assert len(before) == len(after)
        boxes += len(before)
        np.testing.assert_array_equal(after[:, objs.CLASS_ID], before[:, objs.CLASS_ID])
        box, flipped = before[:, objs.BOX], after[:, objs.BOX]
        np.testing.assert_allclose(flipped[:, [0, 2]], 1 - box[:, [2, 0]], atol=1e-6)
        np.testing.assert_allclose(flipped[:, [1, 3]], box[:, [1, 3]], atol=1e-6)
    assert boxes >= 8


def test_no_crop_and_a_zoom_out_of_one_leave_images_untouched(packed):
    """--crop-prob 0 and --max-expand 1 (zoom-out always drawn, onto a canvas of the same size)."""
    plain, plain_labels = _first_batch(packed[0], NO_AUGMENTATION)
    still = Augmentation(crop_prob=0.0, expand_prob=1.0, max_expand=1.0, mirror_prob=0.0, color_prob=0.0)
    data, labels = _first_batch(packed[0], still)
    np.testing.assert_array_equal(data, plain)
    np.testing.assert_array_equal(labels, plain_labels)


@pytest.mark.parametrize("setting", [dict(crop_prob=1.0), dict(expand_prob=1.0, max_expand=4.0)])
def test_crops_and_zoom_outs_do_change_the_images(packed, setting):
    """The control: the same settings switched on move the boxes (so the checks above can fail)."""
    _, plain_labels = _first_batch(packed[0], NO_AUGMENTATION)
    changed = Augmentation(**{**dict(crop_prob=0.0, expand_prob=0.0, mirror_prob=0.0, color_prob=0.0),
                              **setting})
    _, labels = _first_batch(packed[0], changed)
    pairs = [(objs.valid_objects(a), objs.valid_objects(b)) for a, b in zip(plain_labels, labels)]
    moved = [len(a) != len(b) or not np.array_equal(a[:, objs.BOX], b[:, objs.BOX]) for a, b in pairs]
    assert sum(moved) >= 4  # of the batch's 8 images
