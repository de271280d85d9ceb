"""Input preparation of every engine: raw pixels in the model's channel order, then its normalization."""
import numpy as np

from common.modelmeta import ModelMeta
from detect.detector import normalize, preprocess, resize_input


def _meta(order: str) -> ModelMeta:
    return ModelMeta(kind="deploy", network=None, data_shape=2, class_names=("a",), mean=(10.0, 20.0, 30.0),
                     std=(2.0, 4.0, 5.0), channel_order=order)


def test_normalize_subtracts_and_divides_per_channel_for_one_image_and_a_batch():
    pixels = np.array([[[12.0]], [[28.0]], [[40.0]]], np.float32)  # (3, 1, 1)
    expected = np.array([[[1.0]], [[2.0]], [[2.0]]], np.float32)
    np.testing.assert_array_equal(normalize(pixels, (10, 20, 30), (2, 4, 5)), expected)
    batch = np.stack([pixels, pixels + 2])  # (2, 3, 1, 1)
    out = normalize(batch, (10, 20, 30), (2, 4, 5))
    assert out.dtype == np.float32 and out.shape == (2, 3, 1, 1)
    np.testing.assert_array_equal(out[1], np.array([[[2.0]], [[2.5]], [[2.4]]], np.float32))


def test_preprocess_is_the_resized_rgb_input_normalized():
    image = np.zeros((2, 2, 3), np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = 30, 20, 10  # B, G, R
    raw = resize_input(image, _meta("RGB"))
    np.testing.assert_array_equal(raw[:, 0, 0], [10, 20, 30])  # reordered to R, G, B
    np.testing.assert_array_equal(resize_input(image, _meta("BGR"))[:, 0, 0], [30, 20, 10])
    np.testing.assert_array_equal(preprocess(image, _meta("RGB"))[:, 0, 0], [0, 0, 0])
    np.testing.assert_array_equal(preprocess(image, _meta("BGR"))[:, 0, 0], [10, 0, -4])
