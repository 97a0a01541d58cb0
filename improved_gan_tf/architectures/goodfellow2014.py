"""The original GAN's MNIST networks (Goodfellow et al. 2014; `mnist.yaml` of
goodfeli/adversarial): an MLP generator and a maxout discriminator with dropout."""

import keras
from keras import ops

from improved_gan_tf.layers import Dropout


@keras.saving.register_keras_serializable(package="improved_gan_tf")
class Maxout(keras.layers.Layer):
    """Maxout units (Goodfellow et al. 2013): max over `num_pieces` affine pieces.

    y_j = max_k (x . W_{j,k} + b_{j,k}), for j < num_units.
    """

    def __init__(self, num_units, num_pieces, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.num_units = int(num_units)
        self.num_pieces = int(num_pieces)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        self.dense = keras.layers.Dense(
            self.num_units * self.num_pieces, kernel_initializer=self.kernel_initializer, name="pieces"
        )
        self.dense.build(input_shape)

    def call(self, inputs):
        pieces = ops.reshape(self.dense(inputs), (-1, self.num_units, self.num_pieces))
        return ops.max(pieces, axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_units)

    def get_config(self):
        return {
            **super().get_config(),
            "num_units": self.num_units,
            "num_pieces": self.num_pieces,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


def goodfellow2014_generator(latent_dim=100, output_bias=None, name="generator"):
    """G: z -> ReLU 1200 -> ReLU 1200 -> sigmoid 784 (weights U(-0.05, 0.05)).

    Args:
        output_bias: optional (784,) initial output bias; the original sets it to the
            log-odds of the training set's pixel means (`init_sigmoid_bias_from_marginals`).
    """
    uniform = keras.initializers.RandomUniform(-0.05, 0.05)
    z = keras.Input((latent_dim,), name="z")
    h = keras.layers.Dense(1200, activation="relu", kernel_initializer=uniform, name="h0")(z)
    h = keras.layers.Dense(1200, activation="relu", kernel_initializer=uniform, name="h1")(h)
    bias = "zeros" if output_bias is None else keras.initializers.Constant(output_bias)
    images = keras.layers.Dense(
        784, activation="sigmoid", kernel_initializer=uniform, bias_initializer=bias, name="y"
    )(h)
    return keras.Model(z, images, name=name)


def goodfellow2014_discriminator(seed=None, name="discriminator"):
    """D: dropout 0.2 on the input -> maxout 240 x 5 pieces -> dropout 0.5 -> maxout
    240 x 5 -> dropout 0.5 -> 1 logit (weights U(-0.005, 0.005))."""
    uniform = keras.initializers.RandomUniform(-0.005, 0.005)
    base = 0 if seed is None else seed * 10
    x = keras.Input((784,), name="images")
    h = Dropout(0.2, seed=base, name="input_dropout")(x)
    h = Maxout(240, 5, kernel_initializer=uniform, name="h0")(h)
    h = Dropout(0.5, seed=base + 1, name="dropout_h0")(h)
    h = Maxout(240, 5, kernel_initializer=uniform, name="features")(h)
    h = Dropout(0.5, seed=base + 2, name="dropout_h1")(h)
    logits = keras.layers.Dense(1, kernel_initializer=uniform, name="y")(h)
    return keras.Model(x, logits, name=name)
