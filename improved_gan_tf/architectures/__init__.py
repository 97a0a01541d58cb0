"""Builders for the networks of the papers' experiments.

Every builder returns a functional `keras.Model` (the ImageNet generator: a
`ReferenceBatchGenerator`). Discriminators output logits and name the layer that
feature matching uses `FEATURE_LAYER` ("features").
"""

from improved_gan_tf.architectures.cifar10 import cifar10_discriminator
from improved_gan_tf.architectures.cifar10 import cifar10_generator
from improved_gan_tf.architectures.common import FEATURE_LAYER
from improved_gan_tf.architectures.goodfellow2014 import goodfellow2014_discriminator
from improved_gan_tf.architectures.goodfellow2014 import goodfellow2014_generator
from improved_gan_tf.architectures.imagenet import imagenet128_discriminator
from improved_gan_tf.architectures.imagenet import imagenet128_generator
from improved_gan_tf.architectures.mnist import mnist_conv_discriminator
from improved_gan_tf.architectures.mnist import mnist_conv_generator
from improved_gan_tf.architectures.mnist import mnist_mlp_discriminator
from improved_gan_tf.architectures.mnist import mnist_mlp_generator
from improved_gan_tf.architectures.svhn import svhn_discriminator
from improved_gan_tf.architectures.svhn import svhn_generator
