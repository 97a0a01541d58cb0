"""The ablations of `benchmarks/step_headroom.py` remove what they say they remove.

If the library stopped calling the names the benchmark replaces, the "no noise" and
"no weight norm" variants would silently time the full step; these tests catch that.
"""

import keras
import numpy as np
import pytest

from benchmarks import step_headroom
from improved_gan_tf.layers import GaussianNoise
from improved_gan_tf.layers import WeightNormalization
from improved_gan_tf.layers import noise


@pytest.fixture
def restore_library():
    saved = noise.stateless_standard_normal, WeightNormalization.normalized_kernel
    yield
    noise.stateless_standard_normal, WeightNormalization.normalized_kernel = saved


def _noise_and_dense_outputs():
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    noisy = keras.ops.convert_to_numpy(GaussianNoise(0.3, seed=1)(x, training=True))
    dense = WeightNormalization(keras.layers.Dense(3, kernel_initializer="glorot_uniform"), data_init=False)
    dense.build(x.shape)
    dense.g.assign(np.array([2.0, 0.5, 3.0], "float32"))
    dense.layer.bias.assign(np.array([0.1, -0.2, 0.3], "float32"))
    v = keras.ops.convert_to_numpy(dense.layer.kernel)
    outputs = keras.ops.convert_to_numpy(dense(x, training=True))
    return x, noisy, v, outputs


def test_the_library_adds_noise_and_normalizes_the_kernel(restore_library):
    x, noisy, v, outputs = _noise_and_dense_outputs()
    assert np.abs(noisy - x).max() > 0.1
    w = v * np.array([2.0, 0.5, 3.0]) / np.sqrt((v**2).sum(axis=0) + 1e-6)
    np.testing.assert_allclose(outputs, x @ w + np.array([0.1, -0.2, 0.3]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "variant, noise_removed, normalization_removed",
    [("no_noise", True, False), ("no_weight_norm", False, True), ("neither", True, True)],
)
def test_each_variant_removes_its_parts_and_only_those(restore_library, variant, noise_removed,
                                                       normalization_removed):
    step_headroom.remove_parts(variant)
    x, noisy, v, outputs = _noise_and_dense_outputs()
    assert (np.abs(noisy - x).max() == 0) == noise_removed
    without_normalization = x @ v + np.array([0.1, -0.2, 0.3])
    assert np.allclose(outputs, without_normalization, rtol=1e-5, atol=1e-6) == normalization_removed
