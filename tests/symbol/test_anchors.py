import math

import mxnet as mx
import numpy as np
import pytest

from symbol.anchors import RATIOS_4, RATIOS_6, AnchorSpec, count_anchors, linear_scales, numpy_prior


@pytest.mark.parametrize("spec,h,w", [
    (AnchorSpec(sizes=(0.1, 0.141), ratios=RATIOS_4), 5, 5),
    (AnchorSpec(sizes=(0.2, 0.27), ratios=RATIOS_6), 3, 4),
    (AnchorSpec(sizes=(0.3,), ratios=(1.0, 2.0), step=0.25, offset=0.5), 4, 4),
    (AnchorSpec(sizes=(0.5, 0.7, 0.9), ratios=(1.0,)), 2, 3),
])
def test_numpy_prior_equals_multiboxprior(spec, h, w):
    feat = mx.nd.zeros((1, 8, h, w))
    got = mx.nd.contrib.MultiBoxPrior(feat, **spec.prior_kwargs()).asnumpy()[0]
    want = numpy_prior(spec, h, w)
    assert got.shape == (h * w * spec.per_location, 4)
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_per_location_counts():
    assert AnchorSpec(sizes=(0.1, 0.2), ratios=RATIOS_4).per_location == 4
    assert AnchorSpec(sizes=(0.1, 0.2), ratios=RATIOS_6).per_location == 6


def test_ssd300_scales_are_the_released_caffe_sizes():
    # ssd_pascal.py: min_sizes 30, 60, 111, 162, 213, 264 and max_sizes 60, 111, ..., 315 pixels.
    mins = [30, 60, 111, 162, 213, 264]
    maxs = [60, 111, 162, 213, 264, 315]
    got = linear_scales(6, s_min=0.2, s_max=0.9, first=(0.1, 0.2))
    for (s, s_prime), lo, hi in zip(got, mins, maxs):
        assert s == pytest.approx(lo / 300, abs=1e-6)
        assert s_prime == pytest.approx(math.sqrt(lo * hi) / 300, abs=1e-6)


def test_ssd512_scales_are_the_released_caffe_sizes():
    # ssd_pascal_512.py: min_sizes 20.48, 51.2, 133.12, ..., 460.8; max_sizes 51.2, 133.12, ..., 542.72.
    got = linear_scales(7, s_min=0.15, s_max=0.9, first=(0.04, 0.1))
    mins = [0.04, 0.15, 0.30, 0.45, 0.60, 0.75, 0.90]
    maxs = [0.10, 0.30, 0.45, 0.60, 0.75, 0.90, 1.05]
    assert len(got) == 7
    for (s, s_prime), lo, hi in zip(got, mins, maxs):
        assert s == pytest.approx(lo, abs=1e-6)
        assert s_prime == pytest.approx(math.sqrt(lo * hi), abs=1e-6)


def test_paper_rule_without_special_first_layer():
    got = [s for s, _ in linear_scales(5, s_min=0.2, s_max=0.9)]
    # step floor((90 - 20) / 4) = 17 percent
    assert got == pytest.approx([0.2, 0.37, 0.54, 0.71, 0.88])


def test_count_anchors_and_errors():
    specs = [AnchorSpec(sizes=(0.1, 0.2), ratios=RATIOS_4), AnchorSpec(sizes=(0.3, 0.4), ratios=RATIOS_6)]
    assert count_anchors(specs, [(2, 2), (1, 1)]) == 2 * 2 * 4 + 6
    with pytest.raises(ValueError, match="2 anchor specs for 1 feature maps"):
        count_anchors(specs, [(2, 2)])
    with pytest.raises(ValueError, match="sizes"):
        AnchorSpec(sizes=(0.0,), ratios=(1.0,))
    with pytest.raises(ValueError, match="ratios"):
        AnchorSpec(sizes=(0.1,), ratios=(-1.0,))
