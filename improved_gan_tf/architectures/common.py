"""Building blocks shared by the authors' networks."""

import keras

from improved_gan_tf.layers import Dropout
from improved_gan_tf.layers import GaussianNoise
from improved_gan_tf.layers import MinibatchDiscrimination
from improved_gan_tf.layers import WeightNormalization

# The D layer whose mean activations feature matching compares.
FEATURE_LAYER = "features"


def shift_only_batch_norm(name):
    """Batch norm with a learned shift and no scale (the authors' `batch_norm(g=None)`)."""
    return keras.layers.BatchNormalization(
        center=True, scale=False, epsilon=1e-6, momentum=0.9, name=name
    )


def conv_trunk(h, narrow, wide, seeds, first_padding="same"):
    """The authors' CIFAR/SVHN/MNIST conv trunk (weight-normalized, LeakyReLU 0.2)."""

    def conv(h, filters, kernel, stride=1, padding="same", name=None):
        return WeightNormalization(
            keras.layers.Conv2D(
                filters, kernel, strides=stride, padding=padding,
                activation=keras.layers.LeakyReLU(negative_slope=0.2),
                kernel_initializer=keras.initializers.RandomNormal(stddev=0.05, seed=next(seeds)),
            ),
            train_g=False,
            name=name,
        )(h)

    h = conv(h, narrow, 3, padding=first_padding, name="conv_1")
    h = conv(h, narrow, 3, name="conv_2")
    h = conv(h, narrow, 3, stride=2, name="conv_3")
    h = Dropout(0.5, seed=next(seeds), name="dropout_1")(h)
    h = conv(h, wide, 3, name="conv_4")
    h = conv(h, wide, 3, name="conv_5")
    h = conv(h, wide, 3, stride=2, name="conv_6")
    h = Dropout(0.5, seed=next(seeds), name="dropout_2")(h)
    h = conv(h, wide, 3, padding="valid", name="conv_7")
    h = conv(h, wide, 1, name="nin_1")
    h = conv(h, wide, 1, name="nin_2")
    return h


def seed_stream(seed):
    """Distinct per-layer seeds from one seed (None: unseeded layers)."""
    index = 0
    while True:
        yield None if seed is None else seed * 1000 + index
        index += 1


def deconv_generator(latent_dim, base_size, widths, channels, output_init_scale, name="generator",
                     output_data_init=True):
    """The authors' convolutional generator shape.

    z -> Dense base_size x base_size x 512 (no bias) + BN (shift only) + ReLU -> one
    deconv 5x5/2 + BN + ReLU per entry of `widths` -> deconv 5x5/2 `channels`,
    weight-normalized (trainable scale, data init to std `output_init_scale` unless
    `output_data_init=False`), tanh. Kernels N(0, 0.05). Output in [-1, 1].
    """
    normal = keras.initializers.RandomNormal(stddev=0.05)
    z = keras.Input((latent_dim,), name="z")
    h = keras.layers.Dense(base_size * base_size * 512, use_bias=False, kernel_initializer=normal, name="dense")(z)
    h = shift_only_batch_norm("batch_norm_0")(h)
    h = keras.layers.ReLU()(h)
    h = keras.layers.Reshape((base_size, base_size, 512))(h)
    for index, filters in enumerate(widths, start=1):
        h = keras.layers.Conv2DTranspose(
            filters, 5, strides=2, padding="same", use_bias=False,
            kernel_initializer=normal, name=f"deconv_{index}",
        )(h)
        h = shift_only_batch_norm(f"batch_norm_{index}")(h)
        h = keras.layers.ReLU()(h)
    images = WeightNormalization(
        keras.layers.Conv2DTranspose(
            channels, 5, strides=2, padding="same", activation="tanh", kernel_initializer=normal
        ),
        data_init=output_data_init,
        train_g=True,
        init_scale=output_init_scale,
        name="output",
    )(h)
    return keras.Model(z, images, name=name)


def dcgan_generator(image_size, channels, latent_dim=100, name="generator"):
    """The authors' CIFAR-10/SVHN generator.

    z ~ U(0,1)^latent_dim -> Dense 4x4x512 + BN (shift only) + ReLU -> deconv 5x5/2 256
    + BN + ReLU -> deconv 5x5/2 128 + BN + ReLU -> deconv 5x5/2 `channels`,
    weight-normalized (trainable scale, data init to std 0.1), tanh. Kernels N(0, 0.05).
    Output in [-1, 1], shape (batch, image_size, image_size, channels).
    """
    if image_size != 32:
        raise ValueError(f"dcgan_generator builds 32x32 images. Received: image_size={image_size}")
    return deconv_generator(latent_dim, 4, (256, 128), channels, output_init_scale=0.1, name=name)


def conv_discriminator(
    image_shape,
    narrow,
    wide,
    num_classes=10,
    input_noise=None,
    input_dropout=0.2,
    minibatch_kernels=0,
    seed=None,
    name="discriminator",
):
    """The authors' CIFAR-10/SVHN discriminator.

    Input dropout `input_dropout` (feature matching) or Gaussian noise `input_noise`
    (minibatch discrimination) -> `conv_trunk(narrow, wide)` -> global average pool
    (layer "features", where feature matching looks) -> optional
    MinibatchDiscrimination(`minibatch_kernels`, 5) -> weight-normalized Dense
    `num_classes` (trainable scale, data init to std 0.1).
    """
    seeds = seed_stream(seed)
    x = keras.Input(image_shape, name="images")
    if input_noise:
        h = GaussianNoise(input_noise, seed=next(seeds), name="input_noise")(x)
    else:
        h = Dropout(input_dropout, seed=next(seeds), name="input_dropout")(x)
    h = conv_trunk(h, narrow, wide, seeds)
    h = keras.layers.GlobalAveragePooling2D(name=FEATURE_LAYER)(h)
    if minibatch_kernels:
        h = MinibatchDiscrimination(minibatch_kernels, 5, name="minibatch_discrimination")(h)
    logits = WeightNormalization(
        keras.layers.Dense(
            num_classes, kernel_initializer=keras.initializers.RandomNormal(stddev=0.05, seed=next(seeds))
        ),
        train_g=True,
        init_scale=0.1,
        name="logits",
    )(h)
    return keras.Model(x, logits, name=name)
