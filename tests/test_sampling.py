"""`sampling.to_pixels` / `to_uint8_images`: model-space samples back to pixels,
checked against the preprocessing formulas written out here."""

import numpy as np
import pytest

from improved_gan_tf import sampling

# model input = (pixels - offset) / scale, per preprocess (the authors' data scripts).
FORMULAS = {"unit_flat": (0.0, 255.0), "unit": (0.0, 255.0), "symmetric": (127.5, 128.0),
            "signed_unit": (127.5, 127.5)}


@pytest.mark.parametrize("preprocess", sorted(FORMULAS))
def test_pixels_invert_the_preprocessing_and_clip(preprocess):
    offset, scale = FORMULAS[preprocess]
    pixels = np.arange(256, dtype=np.float64).reshape(4, 8, 8, 1)
    model_space = ((pixels - offset) / scale).astype(np.float32)
    if preprocess == "unit_flat":
        model_space = model_space.reshape(4, 64)
    back = sampling.to_pixels(model_space, (8, 8, 1), preprocess)
    assert back.dtype == np.float32 and back.shape == (4, 8, 8, 1)
    np.testing.assert_allclose(back, pixels, atol=1e-4)
    np.testing.assert_array_equal(sampling.to_uint8_images(model_space, (8, 8, 1), preprocess),
                                  pixels.astype(np.uint8))
    # Samples outside the data's range are clipped to [0, 255], not wrapped.
    outside = np.full((1, 8, 8, 1), 5.0, np.float32)
    assert sampling.to_pixels(outside, (8, 8, 1), preprocess).max() == 255.0
    assert sampling.to_uint8_images(-outside, (8, 8, 1), preprocess).max() == 0


def test_an_unknown_preprocess_is_refused_by_name():
    with pytest.raises(ValueError, match="'gamma'"):
        sampling.to_pixels(np.zeros((1, 4)), (2, 2, 1), "gamma")
