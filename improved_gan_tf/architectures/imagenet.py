"""The ImageNet 128x128 networks of the VBN experiment (authors' `imagenet/`).

GPU-scale: here they are built and stepped on a tiny batch only.
"""

import keras
import tensorflow as tf

from improved_gan_tf.architectures.common import FEATURE_LAYER
from improved_gan_tf.layers import GaussianNoise
from improved_gan_tf.layers import MinibatchDiscrimination
from improved_gan_tf.layers import ReferenceBatchGenerator
from improved_gan_tf.layers import VirtualBatchNormalization


@keras.saving.register_keras_serializable(package="improved_gan_tf")
class NoiseChannels(keras.layers.Layer):
    """Concatenates `channels` extra U(-1, 1) noise channels to a feature map.

    The authors' ImageNet generator adds such channels after every VBN block. In
    training they are fresh every call. At inference they are a fixed draw (from
    `seed`, the same for every example), so a served generator is a deterministic
    function of z.
    """

    def __init__(self, channels, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.seed = int(seed)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        from improved_gan_tf.rng import replica_seed

        shape = tf.concat([tf.shape(inputs)[:-1], [self.channels]], axis=0)
        if training:
            seed = replica_seed(self.seed_generator)
            noise = tf.random.stateless_uniform(shape, seed=seed, minval=-1.0, maxval=1.0)
        else:
            fixed = tf.random.stateless_uniform(
                tf.concat([[1], tf.shape(inputs)[1:-1], [self.channels]], axis=0),
                seed=[self.seed, 0], minval=-1.0, maxval=1.0,
            )
            noise = tf.broadcast_to(fixed, shape)
        return tf.concat([inputs, tf.cast(noise, inputs.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (input_shape[-1] + self.channels,)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "seed": self.seed}


def imagenet128_generator(gf_dim=64, latent_dim=8192, reference_batch_size=64, seed=0, name="generator"):
    """G: z ~ U(-1,1)^latent_dim -> Dense 4x4x(8 gf) -> VBN + ReLU, then five
    deconv 5x5/2 blocks (4 gf, 2 gf, gf, gf, gf; 4 -> 128 px) each VBN + ReLU with
    extra noise channels concatenated before the next layer, then deconv 5x5/1 to 3
    channels, tanh. Wrapped in `ReferenceBatchGenerator` so VBN sees the reference
    batch at every step.
    """
    normal = keras.initializers.RandomNormal(stddev=0.02)
    z = keras.Input((latent_dim,), name="z")
    h = keras.layers.Dense(4 * 4 * gf_dim * 8, kernel_initializer=normal, name="dense")(z)
    h = keras.layers.Reshape((4, 4, gf_dim * 8))(h)
    h = VirtualBatchNormalization(reference_batch_size, name="vbn_0")(h)
    h = keras.layers.ReLU()(h)
    noise_channels = (gf_dim, gf_dim, max(gf_dim // 2, 1), max(gf_dim // 4, 1),
                      max(gf_dim // 8, 1), max(gf_dim // 8, 1))
    widths = (gf_dim * 4, gf_dim * 2, gf_dim, gf_dim, gf_dim)
    h = NoiseChannels(noise_channels[0], seed=seed * 100, name="noise_0")(h)
    for index, filters in enumerate(widths, start=1):
        h = keras.layers.Conv2DTranspose(
            filters, 5, strides=2, padding="same", kernel_initializer=normal, name=f"deconv_{index}"
        )(h)
        h = VirtualBatchNormalization(reference_batch_size, name=f"vbn_{index}")(h)
        h = keras.layers.ReLU()(h)
        h = NoiseChannels(noise_channels[index], seed=seed * 100 + index, name=f"noise_{index}")(h)
    images = keras.layers.Conv2DTranspose(
        3, 5, strides=1, padding="same", activation="tanh", kernel_initializer=normal, name="output"
    )(h)
    body = keras.Model(z, images, name=f"{name}_body")
    return ReferenceBatchGenerator(
        body, reference_batch_size, latent_distribution="uniform_signed", seed=seed, name=name
    )


def imagenet128_discriminator(df_dim=64, num_classes=1000, minibatch_kernels=300, kernel_dim=50,
                              seed=None, name="discriminator"):
    """D: x + N(0, 0.1^2) -> 7 convs 3x3 (df/2, 2df/2, 4df/2, 4df, 4df, 8df/2, 8df/2),
    each batch norm + LeakyReLU 0.2 -> Dense 40 df + BN + LeakyReLU (layer
    "features") -> minibatch features (300 kernels of 50) -> Dense `num_classes`
    logits (the generated class's logit fixed at 0 by the K+1 loss).
    """
    x = keras.Input((128, 128, 3), name="images")
    h = GaussianNoise(0.1, seed=seed, name="input_noise")(x)
    for index, (multiple, stride) in enumerate(((1, 2), (2, 2), (4, 2), (4, 1), (4, 1), (8, 2), (8, 2))):
        h = keras.layers.Conv2D(df_dim * multiple, 3, strides=stride, padding="same", name=f"conv_{index}")(h)
        h = keras.layers.BatchNormalization(name=f"batch_norm_{index}")(h)
        h = keras.layers.LeakyReLU(negative_slope=0.2)(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(df_dim * 40, name="dense")(h)
    h = keras.layers.BatchNormalization(name="batch_norm_dense")(h)
    h = keras.layers.LeakyReLU(negative_slope=0.2, name=FEATURE_LAYER)(h)
    h = MinibatchDiscrimination(minibatch_kernels, kernel_dim, data_init=False, name="minibatch_discrimination")(h)
    logits = keras.layers.Dense(num_classes, name="logits")(h)
    return keras.Model(x, logits, name=name)
