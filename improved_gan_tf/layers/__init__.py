"""Keras 3 layers for the techniques of "Improved Techniques for Training GANs"."""

from improved_gan_tf.layers.cross_batch_normalization import CrossBatchNormalization
from improved_gan_tf.layers.joint_minibatch_features import JointMinibatchFeatures
from improved_gan_tf.layers.k_plus_one_dense import KPlusOneDense
from improved_gan_tf.layers.minibatch_discrimination import MinibatchDiscrimination
from improved_gan_tf.layers.noise import Dropout
from improved_gan_tf.layers.noise import GaussianNoise
from improved_gan_tf.layers.virtual_batch_normalization import ReferenceBatchGenerator
from improved_gan_tf.layers.virtual_batch_normalization import VirtualBatchNormalization
from improved_gan_tf.layers.weight_normalization import WeightNormalization

__all__ = [
    "CrossBatchNormalization",
    "Dropout",
    "GaussianNoise",
    "JointMinibatchFeatures",
    "KPlusOneDense",
    "MinibatchDiscrimination",
    "ReferenceBatchGenerator",
    "VirtualBatchNormalization",
    "WeightNormalization",
]
