"""Gaussian noise and dropout whose noise differs across replicas.

Drop-in replacements for `keras.layers.GaussianNoise` and `keras.layers.Dropout`
(active only with `training=True`) that draw from `improved_gan_tf.rng.replica_seed`,
so under `MirroredStrategy` each replica perturbs its slice of the batch with its own
noise, as a single device would perturb the whole batch.
"""

import keras
import tensorflow as tf

from improved_gan_tf.rng import replica_seed
from improved_gan_tf.rng import stateless_standard_normal


@keras.saving.register_keras_serializable(package="improved_gan_tf")
class GaussianNoise(keras.layers.Layer):
    """Adds N(0, stddev^2) noise in training (the authors' `GaussianNoiseLayer`).

    Args:
        stddev: standard deviation of the noise.
        seed: seed of the layer's noise stream.
        **kwargs: base layer arguments.
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        if stddev < 0:
            raise ValueError(f"`stddev` must be >= 0. Received: stddev={stddev}")
        self.stddev = float(stddev)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.stddev == 0:
            return inputs
        return inputs + stateless_standard_normal(
            tf.shape(inputs), replica_seed(self.seed_generator), dtype=inputs.dtype,
            scale=self.stddev,
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


@keras.saving.register_keras_serializable(package="improved_gan_tf")
class Dropout(keras.layers.Layer):
    """Inverted dropout in training: keeps each unit with probability 1 - rate.

    Args:
        rate: fraction of units dropped, in [0, 1).
        seed: seed of the layer's noise stream.
        **kwargs: base layer arguments.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"`rate` must be in [0, 1). Received: rate={rate}")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        return tf.nn.experimental.stateless_dropout(
            inputs, rate=self.rate, seed=replica_seed(self.seed_generator)
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
