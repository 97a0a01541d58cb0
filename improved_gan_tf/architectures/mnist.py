"""The authors' MNIST networks.

- Permutation-invariant semi-supervised model (`train_mnist_feature_matching.py`):
  an MLP generator and a weight-normalized MLP discriminator with Gaussian noise.
- Convolutional sample-quality model with minibatch discrimination
  (`train_mnist_minibatch.py`, in an earlier commit of openai/improved-gan; not in
  their final release).
"""

import keras

from improved_gan_tf.architectures.common import FEATURE_LAYER
from improved_gan_tf.architectures.common import conv_trunk
from improved_gan_tf.architectures.common import deconv_generator
from improved_gan_tf.architectures.common import seed_stream
from improved_gan_tf.architectures.common import shift_only_batch_norm
from improved_gan_tf.layers import GaussianNoise
from improved_gan_tf.layers import MinibatchDiscrimination
from improved_gan_tf.layers import WeightNormalization

LATENT_DIM = 100
IMAGE_PIXELS = 28 * 28
MLP_HIDDEN_UNITS = (1000, 500, 250, 250, 250)


def mnist_mlp_generator(latent_dim=LATENT_DIM, name="generator"):
    """G: z ~ U(0,1)^100 -> Dense 500 + BN + softplus -> Dense 500 + BN + softplus
    -> weight-normalized Dense 784 (trainable scale) + sigmoid.

    Output: flattened images in [0, 1], shape (batch, 784).
    """
    z = keras.Input((latent_dim,), name="z")
    h = z
    for index in (1, 2):
        h = keras.layers.Dense(500, use_bias=False, name=f"dense_{index}")(h)
        h = shift_only_batch_norm(f"batch_norm_{index}")(h)
        h = keras.layers.Activation("softplus", name=f"softplus_{index}")(h)
    images = WeightNormalization(
        keras.layers.Dense(IMAGE_PIXELS, activation="sigmoid"),
        data_init=False,
        train_g=True,
        name="output",
    )(h)
    return keras.Model(z, images, name=name)


def mnist_mlp_discriminator(num_classes=10, seed=None, name="discriminator"):
    """D: x + N(0, 0.3^2) -> weight-normalized Dense 1000-500-250-250-250, each ReLU then
    + N(0, 0.5^2) -> weight-normalized Dense `num_classes` (trainable scale).

    Hidden layers: kernel directions N(0, 0.1), data-dependent init, frozen scale g
    (the authors' `nn.DenseLayer`). Feature matching uses the last 250-unit layer's
    ReLU output, the layer named "features".
    """
    seeds = seed_stream(seed)
    x = keras.Input((IMAGE_PIXELS,), name="images")
    h = GaussianNoise(0.3, seed=next(seeds), name="input_noise")(x)
    for index, units in enumerate(MLP_HIDDEN_UNITS):
        is_last = index == len(MLP_HIDDEN_UNITS) - 1
        h = WeightNormalization(
            keras.layers.Dense(
                units,
                activation="relu",
                kernel_initializer=keras.initializers.RandomNormal(stddev=0.1, seed=next(seeds)),
            ),
            train_g=False,
            name=FEATURE_LAYER if is_last else f"dense_{index + 1}",
        )(h)
        h = GaussianNoise(0.5, seed=next(seeds), name=f"noise_{index + 1}")(h)
    logits = WeightNormalization(
        keras.layers.Dense(
            num_classes,
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.1, seed=next(seeds)),
        ),
        train_g=True,
        name="logits",
    )(h)
    return keras.Model(x, logits, name=name)


def mnist_conv_generator(latent_dim=LATENT_DIM, name="generator"):
    """Convolutional G of the MNIST minibatch-discrimination model.

    z ~ U(0,1)^100 -> Dense 7x7x512 + BN + ReLU -> deconv 5x5/2 256 (14x14) + BN + ReLU
    -> deconv 5x5/2 1 (28x28), weight-normalized (trainable scale, g = 1, b = 0: not
    data-initialized, as the script initializes only D,
    `ll.get_output(disc_layers[-1], x_lab, init=True)`), tanh.
    The authors' script chains 4 -> 8 -> 16 -> 28, which is not a valid stride-2
    transposed-convolution chain; this keeps the kernel sizes, widths and
    normalization and starts from 7x7 instead. Output in [-1, 1], (batch, 28, 28, 1).
    """
    return deconv_generator(latent_dim, 7, (256,), 1, output_init_scale=1.0, name=name,
                            output_data_init=False)


def mnist_conv_discriminator(num_classes=10, minibatch_kernels=100, seed=None, name="discriminator"):
    """Convolutional D of the MNIST minibatch-discrimination model (authors'
    `train_mnist_minibatch.py`): Gaussian noise 0.2, weight-normalized 3x3 convs
    96 (pad 3), 96, 96/2, dropout 0.5, 192, 192, 192/2, dropout 0.5, 192 valid,
    NIN 192, NIN 192, LeakyReLU 0.2, global average pool (layer "features"),
    minibatch discrimination (100 kernels of 5, T's direction N(0, 0.1): 2b81a18's
    `nn.MMDLayer(theta=Normal(0.1))`, where the later `nn.MinibatchLayer` has 0.05),
    weight-normalized Dense.
    """
    seeds = seed_stream(seed)
    x = keras.Input((28, 28, 1), name="images")
    h = GaussianNoise(0.2, seed=next(seeds), name="input_noise")(x)
    h = keras.layers.ZeroPadding2D(3)(h)
    h = conv_trunk(h, 96, 192, seeds, first_padding="valid")
    h = keras.layers.GlobalAveragePooling2D(name=FEATURE_LAYER)(h)
    if minibatch_kernels:
        h = MinibatchDiscrimination(
            minibatch_kernels, 5,
            theta_initializer=keras.initializers.RandomNormal(stddev=0.1, seed=next(seeds)),
            name="minibatch_discrimination",
        )(h)
    logits = WeightNormalization(
        keras.layers.Dense(num_classes, kernel_initializer=keras.initializers.RandomNormal(stddev=0.05)),
        train_g=True,
        name="logits",
    )(h)
    return keras.Model(x, logits, name=name)
