"""Keras 3 layers for the techniques of "Improved Techniques for Training GANs"."""

from improved_gan_tf.layers.minibatch_discrimination import MinibatchDiscrimination
from improved_gan_tf.layers.noise import Dropout
from improved_gan_tf.layers.noise import GaussianNoise
from improved_gan_tf.layers.virtual_batch_normalization import ReferenceBatchGenerator
from improved_gan_tf.layers.virtual_batch_normalization import VirtualBatchNormalization
from improved_gan_tf.layers.weight_normalization import WeightNormalization

__all__ = [
    "Dropout",
    "GaussianNoise",
    "MinibatchDiscrimination",
    "ReferenceBatchGenerator",
    "VirtualBatchNormalization",
    "WeightNormalization",
]
