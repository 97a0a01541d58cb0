"""Preprocessing: uint8 pixels to model input, and model output back to pixels.

Every preprocess is one affine map, written down once as a `Preprocessing` record:

    model input = (pixels - offset) / scale          (flattened for "unit_flat")
    pixels      = round(model input * scale + offset), clipped to [0, 255]

so the forward map, its exact inverse and its output range (the image of [0, 255])
cannot disagree. The generator models the preprocessed data space, so the same inverse
turns its samples into pixels for sample grids, scores and exported images.

| name          | forward                           | output range         | the authors' data                          |
|---------------|-----------------------------------|----------------------|--------------------------------------------|
| `unit_flat`   | x / 255, flattened to `[B, H*W*C]`| [0, 1]               | MNIST `mnist.npz`, 784 inputs              |
| `unit`        | x / 255, NHWC                     | [0, 1]               | MNIST, the minibatch-discrimination CNN    |
| `symmetric`   | (x - 127.5) / 128                 | [-0.99609, 0.99609]  | CIFAR-10 `cifar10_data.py`                 |
| `signed_unit` | (x - 127.5) / 127.5 = x * 2/255 - 1 | [-1, 1]            | SVHN `train_svhn_*.py`; ImageNet `model.py`|

The forward maps run in TensorFlow (they are mapped over `tf.data` batches); the
inverses exist in numpy (`to_pixels`) and in TensorFlow (`to_pixels_tf`,
`to_unit_interval_tf`, for graphs such as an exported generator). The names are
`registry.PREPROCESSES`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from improved_gan_tf import registry

__all__ = [
    "DEFAULT_PREPROCESS",
    "PREPROCESSING",
    "Preprocessing",
    "get_preprocess",
    "get_preprocessing",
    "output_range",
    "preprocess_array",
    "to_pixels",
    "to_pixels_tf",
    "to_unit_interval_tf",
]


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """One preprocess: `model input = (pixels - offset) / scale`, and its inverse.

    Attributes:
      name: the name in configs (`data.preprocess`), one of `registry.PREPROCESSES`.
      offset: the pixel value that maps to 0.
      scale: pixel values per unit of model input.
      flatten: whether the forward map flattens each image to one vector.
    """

    name: str
    offset: float
    scale: float
    flatten: bool = False

    @property
    def output_range(self) -> tuple[float, float]:
        """`(low, high)`: the model inputs of pixel values 0 and 255."""
        return ((0.0 - self.offset) / self.scale, (255.0 - self.offset) / self.scale)

    def forward(self, images: tf.Tensor) -> tf.Tensor:
        """Maps a uint8 batch `[B, H, W, C]` to float32 model input."""
        x = tf.cast(images, tf.float32)
        if self.offset:
            x = x - self.offset
        x = x / self.scale
        if self.flatten:
            x = tf.reshape(x, [tf.shape(x)[0], math.prod(x.shape[1:])])
        return x

    def to_pixels(self, images, image_shape: Sequence[int] | None = None) -> np.ndarray:
        """The exact inverse of `forward` in numpy: uint8 pixels (see `to_pixels`)."""
        x = np.asarray(images, dtype=np.float64)
        if not np.isfinite(x).all():
            bad = np.flatnonzero(~np.isfinite(x.reshape(-1)))
            raise ValueError(
                f"Cannot map non-finite model output to pixels: {bad.size} of {x.size} "
                f"values are not finite (the first, at flat index {bad[0]}, is "
                f"{x.reshape(-1)[bad[0]]})."
            )
        pixels = np.clip(np.rint(x * self.scale + self.offset), 0, 255).astype(np.uint8)
        return _reshaped(pixels, image_shape)

    def to_pixels_tf(self, images: tf.Tensor, image_shape: Sequence[int] | None = None) -> tf.Tensor:
        """The exact inverse of `forward` in TensorFlow: a uint8 tensor."""
        x = tf.cast(images, tf.float32) * self.scale + self.offset
        pixels = tf.cast(tf.clip_by_value(tf.round(x), 0.0, 255.0), tf.uint8)
        return _reshaped_tf(pixels, image_shape)

    def to_unit_interval_tf(
        self, images: tf.Tensor, image_shape: Sequence[int] | None = None
    ) -> tf.Tensor:
        """The inverse of `forward` divided by 255, unrounded: float32 in [0, 1]."""
        x = (tf.cast(images, tf.float32) * self.scale + self.offset) / 255.0
        return _reshaped_tf(tf.clip_by_value(x, 0.0, 1.0), image_shape)


def _reshaped(x: np.ndarray, image_shape: Sequence[int] | None) -> np.ndarray:
    return x if image_shape is None else x.reshape((-1,) + tuple(int(d) for d in image_shape))


def _reshaped_tf(x: tf.Tensor, image_shape: Sequence[int] | None) -> tf.Tensor:
    if image_shape is None:
        return x
    return tf.reshape(x, tf.concat([tf.shape(x)[:1], [int(d) for d in image_shape]], axis=0))


_RECORDS = (
    # The authors' MNIST data: pixels in [0, 1], flattened to 784 (permutation-invariant).
    Preprocessing("unit_flat", offset=0.0, scale=255.0, flatten=True),
    # Pixels in [0, 1], NHWC.
    Preprocessing("unit", offset=0.0, scale=255.0),
    # The authors' CIFAR-10 data (cifar10_data.py): (x - 127.5) / 128, NHWC.
    Preprocessing("symmetric", offset=127.5, scale=128.0),
    # The authors' SVHN scripts ((x - 127.5) / 127.5) and ImageNet code (x * 2/255 - 1):
    # [-1, 1] exactly, NHWC. Written as the SVHN formula, the one float32 rounds once.
    Preprocessing("signed_unit", offset=127.5, scale=127.5),
)

#: Name -> `Preprocessing`, for every name of `registry.PREPROCESSES`.
PREPROCESSING: dict[str, Preprocessing] = {record.name: record for record in _RECORDS}

#: The authors' input range for each dataset (`DatasetSpec.default_preprocess`).
DEFAULT_PREPROCESS = {name: spec.default_preprocess for name, spec in registry.DATASETS.items()}


def get_preprocessing(preprocess: str) -> Preprocessing:
    """Returns the record of a preprocess name.

    Args:
      preprocess: one of `registry.PREPROCESSES`.

    Returns:
      The `Preprocessing`.

    Raises:
      ValueError: unknown name (the message lists the known ones).
    """
    try:
        return PREPROCESSING[preprocess]
    except (KeyError, TypeError):  # TypeError: an unhashable value.
        raise ValueError(
            f"Unknown preprocess {preprocess!r}; expected one of {sorted(PREPROCESSING)}."
        ) from None


def get_preprocess(
    preprocess: str | Callable[[tf.Tensor], tf.Tensor],
) -> Callable[[tf.Tensor], tf.Tensor]:
    """Returns the function mapping a uint8 image batch `[B, H, W, C]` to model input.

    Args:
      preprocess: `"unit_flat"` (x / 255 flattened to `[B, H*W*C]`), `"unit"` (x / 255,
        NHWC), `"symmetric"` ((x - 127.5) / 128, NHWC), `"signed_unit"`
        ((x - 127.5) / 127.5, NHWC), or a callable on a uint8 batch returning float32.

    Returns:
      The callable.

    Raises:
      ValueError: unknown name.
    """
    if callable(preprocess):
        return preprocess
    if preprocess not in PREPROCESSING:
        raise ValueError(
            f"Unknown preprocess {preprocess!r}; expected one of {sorted(PREPROCESSING)} "
            "or a callable."
        )
    return PREPROCESSING[preprocess].forward


def preprocess_array(images: np.ndarray, preprocess: str | Callable) -> np.ndarray:
    """Applies `preprocess` to a uint8 numpy batch (e.g. for data-dependent init).

    Args:
      images: uint8 `[B, H, W, C]`.
      preprocess: see `get_preprocess`.

    Returns:
      float32 numpy array in the model's input range.
    """
    return get_preprocess(preprocess)(tf.convert_to_tensor(images)).numpy()


def output_range(preprocess: str) -> tuple[float, float]:
    """`(low, high)`: the range of a preprocess's model input (pixels 0 and 255).

    Args:
      preprocess: one of `registry.PREPROCESSES`.

    Returns:
      `(0.0, 1.0)` for "unit" / "unit_flat", `(-0.99609375, 0.99609375)` for
      "symmetric", `(-1.0, 1.0)` for "signed_unit".

    Raises:
      ValueError: unknown name.

    Examples:

    >>> output_range("signed_unit")
    (-1.0, 1.0)
    """
    return get_preprocessing(preprocess).output_range


def to_pixels(images, preprocess: str, image_shape: Sequence[int] | None = None) -> np.ndarray:
    """Maps model-space images (data or generator samples) back to uint8 pixels.

    The exact inverse of the forward map: `round(x * scale + offset)` clipped to
    [0, 255], so `to_pixels(preprocess_array(p, name), name)` is `p` for every uint8
    `p` (flattened for "unit_flat" unless `image_shape` is given). Samples outside the
    output range are clipped.

    Args:
      images: float array of model-space values, e.g. `[N, 784]` or `[N, H, W, C]`.
      preprocess: one of `registry.PREPROCESSES`.
      image_shape: if given, the result is reshaped to `[N, *image_shape]` (needed to
        undo the flattening of "unit_flat").

    Returns:
      uint8 numpy array.

    Raises:
      ValueError: unknown preprocess, a non-finite value, or a size that is not a
        multiple of `image_shape`.

    Examples:

    >>> to_pixels(np.array([[-1.0, 0.0, 1.0]]), "signed_unit").tolist()
    [[0, 128, 255]]
    """
    return get_preprocessing(preprocess).to_pixels(images, image_shape)


def to_pixels_tf(
    images: tf.Tensor, preprocess: str, image_shape: Sequence[int] | None = None
) -> tf.Tensor:
    """`to_pixels` in TensorFlow (for graphs): a uint8 tensor, same values.

    Non-finite values are not checked in the graph (a NaN becomes some uint8 value).

    Args:
      images: float tensor of model-space values.
      preprocess: one of `registry.PREPROCESSES`.
      image_shape: if given, the result is reshaped to `[N, *image_shape]`.

    Returns:
      uint8 tensor.

    Raises:
      ValueError: unknown preprocess.
    """
    return get_preprocessing(preprocess).to_pixels_tf(images, image_shape)


def to_unit_interval_tf(
    images: tf.Tensor, preprocess: str, image_shape: Sequence[int] | None = None
) -> tf.Tensor:
    """Maps model-space images to float32 pixels / 255 in [0, 1], unrounded.

    `(x * scale + offset) / 255` clipped to [0, 1]: the inverse of the forward map on
    the unit interval (for exported generators whose float output is [0, 1] images).
    For the model input of a real image, `round(255 * result)` gives its pixels back.

    Args, Raises: as `to_pixels_tf`.

    Returns:
      float32 tensor, same shape as `to_pixels_tf`'s result.
    """
    return get_preprocessing(preprocess).to_unit_interval_tf(images, image_shape)
