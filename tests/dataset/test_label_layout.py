import numpy as np
import pytest

from dataset import label_layout as L


def test_pack_unpack_round_trip():
    objs = np.array([[0, 0.1, 0.2, 0.3, 0.4, 0], [5, 0.5, 0.5, 1.0, 0.9, 1]], np.float32)
    flat = L.pack(objs, 640, 480)
    assert flat[:4].tolist() == [L.HEADER_WIDTH, L.OBJECT_WIDTH, 640, 480]
    assert flat.size == L.HEADER_WIDTH + 2 * L.OBJECT_WIDTH
    np.testing.assert_array_equal(L.unpack(flat), objs)
    assert L.image_size(flat) == (640, 480)


def test_unpack_drops_padding_and_accepts_wider_headers():
    flat = np.array([4, 5, 640, 480, 1, 0.1, 0.1, 0.2, 0.2, -1, -1, -1, -1, -1], np.float32)
    np.testing.assert_array_equal(L.unpack(flat), np.array([[1, 0.1, 0.1, 0.2, 0.2]], np.float32))
    with pytest.raises(ValueError, match="not a detection label"):
        L.unpack(np.array([1, 2, 3], np.float32))


def test_pad_width_and_iter_layout():
    assert L.pad_width(3) == L.HEADER_WIDTH + 18
    row = np.concatenate([[3, 300, 300, 16], L.pack(np.ones((2, 6)), 10, 20), [-1] * 6])
    assert L.iter_layout(row) == (L.ITER_PREFIX + L.HEADER_WIDTH, 6, 3)
    assert L.image_size(L.pack(np.ones((1, 6)), 10, 20)) == (10, 20)
    assert L.image_size(np.array([2, 6, 1, 0, 0, 1, 1, 0])) is None
