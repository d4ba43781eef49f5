"""The core's inline exp (core/include/tinynet/fast_exp.h) against NumPy's.

Every Gaussian, hopping and tanh in the core goes through it, so its
accuracy is the floor of the "C++ against the NumPy reference to round-off"
checks; this pins it directly (four-wide and scalar paths, the clamp, NaN).
"""

import numpy as np

from tinynet import _core


def test_fast_exp_matches_libm_to_two_ulp():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-700.0, 700.0, 200_001),     # odd length: the scalar tail too
                        rng.uniform(-30.0, 5.0, 200_000),
                        np.array([0.0, -0.0, 1.0, -1.0, np.log(2.0), 0.5 * np.log(2.0), 700.0, -700.0])])
    got = _core.fast_exp(x)
    want = np.exp(x)
    relative = np.abs(got - want) / want
    assert relative.max() <= 4.5e-16, (x[np.argmax(relative)], relative.max())
    assert got[x == 0.0].tolist() == [1.0, 1.0]


def test_fast_exp_clamps_and_keeps_nan():
    x = np.array([-800.0, -1e300, 800.0, np.nan, np.nan, 1.0, 2.0])    # NaN in the vector and the scalar path
    got = _core.fast_exp(x)
    assert 0.0 < got[0] == got[1] <= np.exp(-700.0) * (1 + 1e-15)    # clamped to -700, no underflow to 0
    assert got[2] == _core.fast_exp(np.array([700.0]))[0]               # clamped to +700
    assert np.isnan(got[3]) and np.isnan(got[4])
