"""Latent distributions of the papers' generators: U(0, 1), U(-1, 1) and N(0, 1)."""

import tensorflow as tf
from keras import initializers

from improved_gan_tf.registry import LATENT_DISTRIBUTIONS


def _check(distribution):
    if distribution not in LATENT_DISTRIBUTIONS:
        raise ValueError(
            f"Unknown latent distribution {distribution!r}; expected one of "
            f"{LATENT_DISTRIBUTIONS}"
        )


def sample_latents(distribution, shape, seed, dtype="float32"):
    """Draws latents z ~ U(0, 1) ("uniform", the MNIST/CIFAR/SVHN generators),
    U(-1, 1) ("uniform_signed", the ImageNet generator) or N(0, 1) ("normal").

    Args:
        distribution: one of `LATENT_DISTRIBUTIONS`.
        shape: output shape, e.g. `(batch, latent_dim)`.
        seed: a stateless-RNG seed, an integer tensor of shape (2,)
            (e.g. from `improved_gan_tf.rng.replica_seed`).
        dtype: output dtype.
    """
    _check(distribution)
    if distribution == "normal":
        return tf.random.stateless_normal(shape, seed=seed, dtype=dtype)
    low = -1.0 if distribution == "uniform_signed" else 0.0
    return tf.random.stateless_uniform(shape, seed=seed, minval=low, maxval=1.0, dtype=dtype)


def latent_initializer(distribution, seed):
    """A Keras initializer that draws a fixed latent batch (e.g. VBN's reference batch)."""
    _check(distribution)
    if distribution == "normal":
        return initializers.RandomNormal(seed=seed)
    low = -1.0 if distribution == "uniform_signed" else 0.0
    return initializers.RandomUniform(minval=low, maxval=1.0, seed=seed)
