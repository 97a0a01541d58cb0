"""Samples of a trained generator, as the authors draw them, and their pixels.

- `generate_samples(model, latents)`: G(latents) with batch statistics (`training=True`),
  G's non-trainable state put back afterwards, so sampling never changes a run;
- `to_pixels` / `to_uint8_images`: model-space samples back to pixels, the inverse of
  the run's preprocessing (`data.preprocessing`, the one place that defines it);
- `generate_run_samples(model, config, n)`: `n` samples of a restored run, batch by
  batch, from the scoring latents `(seed, SAMPLE_SEED_SALT)`.

The sample grids of training, `improved-gan score` and the human evaluation all sample
through `generate_samples`.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from improved_gan_tf import registry
from improved_gan_tf.data.preprocessing import get_preprocessing
from improved_gan_tf.data.preprocessing import to_pixels as data_to_pixels
from improved_gan_tf.latents import sample_latents

#: Second word of the stateless seed of the scoring latents: `(seed, SAMPLE_SEED_SALT)`.
SAMPLE_SEED_SALT = 20160610 + 1


def generate_samples(model, latents) -> np.ndarray:
    """G(latents) as the authors sample (batch statistics in G, `training=True`), with
    every non-trainable variable of G (batch-norm statistics, noise generators' states)
    restored afterwards so that sampling does not change the training run.

    Args:
        model: an `ImprovedGAN`.
        latents: `[N, latent_dim]` latents.

    Returns:
        float32 samples in model space (the run's preprocessing), `[N, ...]`.
    """
    generator = model.generator
    variables = [v for v in generator.variables if not v.trainable]
    saved = [keras.ops.convert_to_numpy(v) for v in variables]
    try:
        samples = generator(latents, training=True)
    finally:
        for variable, value in zip(variables, saved):
            variable.assign(value)
    return keras.ops.convert_to_numpy(samples).astype(np.float32)


def to_pixels(samples: np.ndarray, image_shape, preprocess: str) -> np.ndarray:
    """Model-space samples as float32 pixels in [0, 255], `[N, *image_shape]`, unrounded.

    The inverse of `preprocess` (`data.preprocessing`: `x * scale + offset`) in float32,
    without the rounding of `to_uint8_images`: the scorers see the generator's values.

    Raises:
        ValueError: `preprocess` is not one of `registry.PREPROCESSES`.
    """
    record = get_preprocessing(preprocess)
    x = np.asarray(samples, dtype=np.float32).reshape((-1,) + tuple(image_shape))
    return np.clip(x * record.scale + record.offset, 0.0, 255.0).astype(np.float32)


def to_uint8_images(samples: np.ndarray, image_shape, preprocess: str) -> np.ndarray:
    """Model-space samples as uint8 `[N, H, W, C]` images, for display
    (`data.preprocessing.to_pixels`: the exact inverse of the preprocessing)."""
    return data_to_pixels(samples, preprocess, image_shape)


def generate_run_samples(model, config, num_samples: int, *, batch_size: int | None = None,
                         seed: int = 0):
    """Yields a restored run's samples as float32 pixels in [0, 255], batch by batch.

    Latents: `sample_latents(model.latent_distribution, (num_samples, latent_dim),
    seed=(seed, SAMPLE_SEED_SALT))`, cut into consecutive batches of `batch_size`
    (default: the run's `train.batch_size`; it matters for generators with batch
    normalisation, which sample with batch statistics as the authors did). Each batch
    goes through `generate_samples` and `to_pixels` (not rounded) with the dataset's
    `(H, W, C)`.

    Raises:
        ValueError: `num_samples` or `batch_size` below 1.
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1; got {num_samples}")
    batch_size = int(batch_size or config.train.batch_size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    facts = registry.data_facts(config)
    latents = sample_latents(
        model.latent_distribution, (int(num_samples), model.latent_dim),
        seed=tf.constant([int(seed), SAMPLE_SEED_SALT], dtype=tf.int64),
    )
    for start in range(0, int(num_samples), batch_size):
        samples = generate_samples(model, latents[start:start + batch_size])
        yield to_pixels(samples, facts.image_shape, facts.preprocess)
