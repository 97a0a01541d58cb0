"""`improved_gan_tf.data.preprocessing`: each forward map against the authors' formula,
its exact inverse on every grey level, its output range, in numpy and in TensorFlow."""

import numpy as np
import pytest
import tensorflow as tf

from improved_gan_tf import data
from improved_gan_tf import registry

# The authors' formulas, written independently of the records' (offset, scale) form:
# model input of uint8 pixels p, and pixels of model-space values y.
AUTHORS_FORWARD = {
    "unit_flat": lambda p: p.reshape(len(p), -1) / 255.0,  # mnist.npz: [0, 1], 784 inputs
    "unit": lambda p: p / 255.0,
    "symmetric": lambda p: (p - 127.5) / 128.0,  # cifar10_data.py
    "signed_unit": lambda p: p * (2.0 / 255.0) - 1.0,  # imagenet/model.py, read_and_decode
}
AUTHORS_INVERSE = {
    "unit_flat": lambda y: y * 255.0,
    "unit": lambda y: y * 255.0,
    "symmetric": lambda y: y * 128.0 + 127.5,
    "signed_unit": lambda y: (y + 1.0) * 255.0 / 2.0,
}
EXPECTED_RANGES = {
    "unit_flat": (0.0, 1.0),
    "unit": (0.0, 1.0),
    "symmetric": (-127.5 / 128.0, 127.5 / 128.0),
    "signed_unit": (-1.0, 1.0),
}
IMAGE_SHAPE = (16, 16, 1)


def _every_grey_level():
    """All 256 uint8 values in one batch of two 16x16 images (second one reversed)."""
    levels = np.arange(256, dtype=np.uint8).reshape(IMAGE_SHAPE)
    return np.stack([levels, levels[::-1]])


def test_every_registry_preprocess_has_one_record_and_no_other():
    assert set(data.PREPROCESSING) == set(registry.PREPROCESSES)
    for name, record in data.PREPROCESSING.items():
        assert record.name == name
        assert data.get_preprocessing(name) is record


@pytest.mark.parametrize("name", registry.PREPROCESSES)
def test_forward_map_is_the_authors_formula(name):
    pixels = _every_grey_level()
    got = data.preprocess_array(pixels, name)
    expected = AUTHORS_FORWARD[name](pixels.astype(np.float64))
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-7)


@pytest.mark.parametrize("name", registry.PREPROCESSES)
def test_to_pixels_inverts_the_forward_map_on_all_256_grey_levels(name):
    pixels = _every_grey_level()
    model_input = data.preprocess_array(pixels, name)
    back = data.to_pixels(model_input, name, image_shape=IMAGE_SHAPE)
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, pixels)


@pytest.mark.parametrize("name", registry.PREPROCESSES)
def test_to_pixels_is_the_authors_inverse_rounded_and_clipped(name):
    low, high = EXPECTED_RANGES[name]
    span = high - low
    y = np.random.default_rng(0).uniform(low - 0.2 * span, high + 0.2 * span, size=(64, 5))
    expected = np.clip(np.rint(AUTHORS_INVERSE[name](y)), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(data.to_pixels(y, name), expected)
    assert data.to_pixels(np.array([[low - 5.0, high + 5.0]]), name).tolist() == [[0, 255]]


@pytest.mark.parametrize("name", registry.PREPROCESSES)
def test_output_range_is_the_image_of_black_and_white(name):
    assert data.output_range(name) == pytest.approx(EXPECTED_RANGES[name], abs=1e-12)
    model_input = data.preprocess_array(_every_grey_level(), name)
    low, high = data.output_range(name)
    assert model_input.min() == pytest.approx(low, abs=1e-7)
    assert model_input.max() == pytest.approx(high, abs=1e-7)


@pytest.mark.parametrize("name", registry.PREPROCESSES)
def test_tensorflow_inverses_agree_with_numpy(name):
    pixels = _every_grey_level()
    model_input = data.preprocess_array(pixels, name)
    got = data.to_pixels_tf(tf.constant(model_input), name, image_shape=IMAGE_SHAPE)
    assert got.dtype == tf.uint8
    np.testing.assert_array_equal(got.numpy(), pixels)
    unit = data.to_unit_interval_tf(tf.constant(model_input), name, image_shape=IMAGE_SHAPE)
    assert unit.dtype == tf.float32 and tuple(unit.shape) == (2,) + IMAGE_SHAPE
    np.testing.assert_allclose(unit.numpy(), pixels / 255.0, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(np.rint(unit.numpy() * 255.0), pixels)
    low, high = EXPECTED_RANGES[name]
    span = high - low
    samples = np.random.default_rng(1).uniform(low - 0.2 * span, high + 0.2 * span, (32, 7))
    samples = samples.astype(np.float32)
    np.testing.assert_array_equal(
        data.to_pixels_tf(tf.constant(samples), name).numpy(), data.to_pixels(samples, name)
    )
    unit = data.to_unit_interval_tf(tf.constant(samples), name).numpy()
    assert unit.min() >= 0.0 and unit.max() <= 1.0


def test_signed_unit_is_the_svhn_scripts_scaling_on_real_svhn_images(svhn_dir):
    with pytest.warns(data.DataSubsetWarning):
        images, _ = data.load_arrays("svhn", "train", svhn_dir)
    got = data.preprocess_array(images, "signed_unit")
    # train_svhn_feature_matching.py, `rescale`: (-127.5 + mat) / 127.5.
    np.testing.assert_allclose(got, (-127.5 + images.astype(np.float64)) / 127.5, atol=1e-7)
    assert got.min() >= -1.0 and got.max() <= 1.0
    np.testing.assert_array_equal(data.to_pixels(got, "signed_unit"), images)


def test_non_finite_samples_and_unknown_names_are_refused_with_the_value():
    with pytest.raises(ValueError, match=r"1 of 3 values are not finite .* is nan"):
        data.to_pixels(np.array([0.0, np.nan, 1.0]), "unit")
    with pytest.raises(ValueError, match="Unknown preprocess 'tanh'; expected one of"):
        data.to_pixels(np.zeros(3), "tanh")
    with pytest.raises(ValueError, match="Unknown preprocess 'tanh'"):
        data.output_range("tanh")
    with pytest.raises(ValueError, match="Unknown preprocess"):
        data.to_unit_interval_tf(tf.zeros([1, 3]), "tanh")
    with pytest.raises(ValueError, match="cannot reshape"):
        data.to_pixels(np.zeros((2, 5)), "unit_flat", image_shape=(28, 28, 1))


def test_preprocess_ranges():
    x = np.array([0, 255], np.uint8).reshape(2, 1, 1, 1)
    np.testing.assert_allclose(data.preprocess_array(x, "unit_flat"), [[0.0], [1.0]])
    np.testing.assert_allclose(
        data.preprocess_array(x, "symmetric").reshape(-1), [-127.5 / 128, 127.5 / 128]
    )
    assert data.DEFAULT_PREPROCESS["cifar10"] == "symmetric"
    with pytest.raises(ValueError, match="Unknown preprocess 'tanh'"):
        data.get_preprocess("tanh")
