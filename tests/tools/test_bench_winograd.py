import mxnet as mx
import numpy as np
import pytest

from tools.bench_winograd import AT, BT, G, bind_pair, transform_weights


def test_matrices_compute_a_1d_correlation_exactly():
    rng = np.random.default_rng(0)
    d, g = rng.standard_normal(6), rng.standard_normal(3)
    expected = np.array([d[i:i + 3] @ g for i in range(4)])  # F(4, 3): 4 outputs of a 3-tap filter
    np.testing.assert_allclose(AT @ ((G @ g) * (BT @ d)), expected, rtol=0, atol=1e-12)


def test_transformed_weights_layout():
    w = np.random.default_rng(1).standard_normal((5, 3, 3, 3))
    u = transform_weights(w)
    assert u.shape == (36, 5, 3) and u.dtype == np.float32
    np.testing.assert_allclose(u[2 * 6 + 4, 1, 2], (G @ w[1, 2] @ G.T)[2, 4], rtol=1e-6)


@pytest.mark.parametrize("batch, channels, filters, height, width", [
    (1, 4, 6, 8, 8),     # whole tiles
    (2, 3, 5, 7, 9),     # partial last tiles, two images
    (1, 16, 8, 1, 1),    # a 1x1 map: only the centre tap sees data
])
def test_winograd_equals_direct_convolution(batch, channels, filters, height, width):
    rng = np.random.default_rng(2)
    w = rng.standard_normal((filters, channels, 3, 3)).astype(np.float32)
    x = rng.standard_normal((batch, channels, height, width)).astype(np.float32)
    direct, wino = bind_pair(w, batch=batch, height=height, width=width)
    for ex in (direct, wino):
        ex.arg_dict["data"][:] = mx.nd.array(x)
        ex.forward(is_train=False)
    ref, out = direct.outputs[0].asnumpy(), wino.outputs[0].asnumpy()
    assert out.shape == ref.shape == (batch, filters, height, width)
    np.testing.assert_allclose(out, ref, rtol=0, atol=2e-5 * np.abs(ref).max())
