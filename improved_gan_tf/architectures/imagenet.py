"""The ImageNet 128x128 networks of the VBN experiment (authors' `imagenet/`).

As the authors' code (openai/improved-gan, `imagenet/generator.py`,
`imagenet/discriminator.py`, `imagenet/ops.py`): a VBN generator whose reference
batch -- its latents and its noise channels -- is fixed at the start, and a
discriminator of the joint batch [real; generated] (cross-half batch norm,
minibatch features against each half, 1000 classes + a learned generated-class
logit). GPU-scale: here they are built and stepped on a tiny batch only.
"""

import keras
import tensorflow as tf

from improved_gan_tf.architectures.common import FEATURE_LAYER
from improved_gan_tf.architectures.common import seed_stream
from improved_gan_tf.layers import CrossBatchNormalization
from improved_gan_tf.layers import GaussianNoise
from improved_gan_tf.layers import JointMinibatchFeatures
from improved_gan_tf.layers import KPlusOneDense
from improved_gan_tf.layers import ReferenceBatchGenerator
from improved_gan_tf.layers import VirtualBatchNormalization
from improved_gan_tf.rng import replica_seed


@keras.saving.register_keras_serializable(package="improved_gan_tf")
class NoiseChannels(keras.layers.Layer):
    """Concatenates `channels` extra U(-1, 1) noise channels to a feature map.

    The authors' ImageNet generator adds such channels after every VBN block
    (`make_z` in `imagenet/generator.py`). In training they are fresh every call,
    except for the first `reference_batch_size` rows, the VBN reference batch
    (`ReferenceBatchGenerator` puts it first): their noise is drawn once, at build,
    and stored as a non-trainable weight, as the authors' `make_z(..., is_ref=True)`
    makes it a variable, so the reference statistics change only with G's
    weights. At inference the noise is a fixed draw (from `seed`, the same for
    every example), so a served generator is a deterministic function of z.

    Args:
        channels: number of noise channels.
        seed: seed of the inference draw and of the reference noise.
        reference_batch_size: rows at the start of every training batch that get
            the fixed reference noise (0: none).
        **kwargs: base `keras.layers.Layer` arguments.
    """

    def __init__(self, channels, seed=0, reference_batch_size=0, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.seed = int(seed)
        self.reference_batch_size = int(reference_batch_size)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        self.reference_noise = None
        if self.reference_batch_size:
            if any(dim is None for dim in input_shape[1:-1]):
                raise ValueError(
                    "NoiseChannels with a reference batch needs known spatial dimensions. "
                    f"Received: input_shape={input_shape}"
                )
            self.reference_noise = self.add_weight(
                name="reference_noise",
                shape=(self.reference_batch_size, *input_shape[1:-1], self.channels),
                initializer=keras.initializers.RandomUniform(-1.0, 1.0, seed=self.seed + 104729),
                trainable=False,
            )

    def call(self, inputs, training=None):
        shape = tf.concat([tf.shape(inputs)[:-1], [self.channels]], axis=0)
        if training:
            seed = replica_seed(self.seed_generator)
            if self.reference_noise is None:
                noise = tf.random.stateless_uniform(shape, seed=seed, minval=-1.0, maxval=1.0)
            else:
                rest = tf.concat([[tf.shape(inputs)[0] - self.reference_batch_size], shape[1:]], axis=0)
                fresh = tf.random.stateless_uniform(rest, seed=seed, minval=-1.0, maxval=1.0)
                noise = tf.concat([tf.cast(self.reference_noise, fresh.dtype), fresh], axis=0)
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
        return {
            **super().get_config(),
            "channels": self.channels,
            "seed": self.seed,
            "reference_batch_size": self.reference_batch_size,
        }


def imagenet128_generator(gf_dim=64, latent_dim=8192, reference_batch_size=16, seed=0,
                          output_stddev=0.075, output_bias=-0.45, name="generator"):
    """G (`imagenet/generator.py`): z ~ U(-1,1)^latent_dim -> Dense 4x4x(8 gf) -> VBN +
    ReLU, then five deconv 5x5/2 blocks (4 gf, 2 gf, gf, gf, gf; 4 -> 128 px) each
    VBN + ReLU, with gf, gf, gf/2, gf/4, gf/8, gf/8 U(-1, 1) noise channels
    concatenated after the dense block and each deconv block, then deconv 5x5/1
    to 3 channels, tanh.

    Kernels N(0, 0.02), biases 0 (`ops.linear`, `ops.deconv2d`), except the output
    layer's: N(0, `output_stddev`) and bias `output_bias` (`train_imagenet.py`:
    `out_stddev = .075`, `out_init_b = - .45`). Wrapped in
    `ReferenceBatchGenerator` with `reference_batch_size` fixed reference latents
    and fixed reference noise channels: the authors' reference batch is one
    per-device batch (`generator(is_ref=True)` makes `batch_size` reference
    latents; `train_imagenet.sh`: `--batch_size 16`).
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

    def noise(index, h):
        return NoiseChannels(noise_channels[index], seed=seed * 100 + index,
                             reference_batch_size=reference_batch_size, name=f"noise_{index}")(h)

    h = noise(0, h)
    for index, filters in enumerate(widths, start=1):
        h = keras.layers.Conv2DTranspose(
            filters, 5, strides=2, padding="same", kernel_initializer=normal, name=f"deconv_{index}"
        )(h)
        h = VirtualBatchNormalization(reference_batch_size, name=f"vbn_{index}")(h)
        h = keras.layers.ReLU()(h)
        h = noise(index, h)
    images = keras.layers.Conv2DTranspose(
        3, 5, strides=1, padding="same", activation="tanh",
        kernel_initializer=keras.initializers.RandomNormal(stddev=output_stddev),
        bias_initializer=keras.initializers.Constant(output_bias), name="output",
    )(h)
    body = keras.Model(z, images, name=f"{name}_body")
    return ReferenceBatchGenerator(
        body, reference_batch_size, latent_distribution="uniform_signed", seed=seed, name=name
    )


def imagenet128_discriminator(df_dim=64, num_classes=1000, minibatch_kernels=300, kernel_dim=50,
                              seed=None, name="discriminator"):
    """D (`imagenet/discriminator.py`) of the joint batch [real; generated]:
    x + N(0, 0.1^2) -> 7 convs 3x3 with strides 2, 2, 2, 1, 1, 2, 2 and widths
    df, 2 df, 4 df, 4 df, 4 df, 8 df, 8 df, each cross-half batch norm + LeakyReLU
    0.2 -> Dense 40 df + cross-half batch norm + LeakyReLU (layer "features") ->
    minibatch features against the real and the generated half
    (`minibatch_kernels` of `kernel_dim`; 0: none) -> K+1 logits with a learned
    generated-class logit, output relative to it (`layers.KPlusOneDense`).

    Kernels: convs truncated N(0, 0.02) (`ops.conv2d`), dense layers N(0, 0.02)
    (`ops.linear`), biases 0. Every layer's width must be even (each cross-half
    batch norm splits its channels in two).
    """
    seeds = seed_stream(seed)
    x = keras.Input((128, 128, 3), name="images")
    h = GaussianNoise(0.1, seed=next(seeds), name="input_noise")(x)
    for index, (multiple, stride) in enumerate(((1, 2), (2, 2), (4, 2), (4, 1), (4, 1), (8, 2), (8, 2))):
        h = keras.layers.Conv2D(
            df_dim * multiple, 3, strides=stride, padding="same",
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02, seed=next(seeds)),
            name=f"conv_{index}",
        )(h)
        h = CrossBatchNormalization(name=f"batch_norm_{index}")(h)
        h = keras.layers.LeakyReLU(negative_slope=0.2)(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(
        df_dim * 40, kernel_initializer=keras.initializers.RandomNormal(stddev=0.02, seed=next(seeds)),
        name="dense",
    )(h)
    h = CrossBatchNormalization(name="batch_norm_dense")(h)
    h = keras.layers.LeakyReLU(negative_slope=0.2, name=FEATURE_LAYER)(h)
    if minibatch_kernels:
        h = JointMinibatchFeatures(
            minibatch_kernels, kernel_dim,
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.02, seed=next(seeds)),
            name="minibatch_features",
        )(h)
    logits = KPlusOneDense(
        num_classes, kernel_initializer=keras.initializers.RandomNormal(stddev=0.02, seed=next(seeds)),
        name="logits",
    )(h)
    return keras.Model(x, logits, name=name)
