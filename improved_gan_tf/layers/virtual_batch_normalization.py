"""Virtual batch normalization (Salimans et al., 2016, section 3.5)."""

import keras
from keras import initializers
from keras import ops

from improved_gan_tf.latents import latent_initializer


@keras.saving.register_keras_serializable(package="improved_gan_tf")
class VirtualBatchNormalization(keras.layers.Layer):
    """Normalizes each example with a fixed reference batch's statistics and its own.

    Batch normalization makes an example's output depend on the other examples in
    its minibatch. Virtual batch normalization (VBN) instead normalizes example i
    with statistics of a reference batch of N examples, chosen once at the start of
    training, combined with the example itself (the authors' imagenet `VBN`):

        ref_mean, ref_mean_sq = per-channel mean of x and x^2 over the reference
                                batch's [batch, spatial...] axes
        mean_i    = 1/(N+1) * mean_spatial(x_i)   + N/(N+1) * ref_mean
        mean_sq_i = 1/(N+1) * mean_spatial(x_i^2) + N/(N+1) * ref_mean_sq
        y_i = (x_i - mean_i) / sqrt(epsilon + mean_sq_i - mean_i^2) * gamma + beta

    and the reference batch itself is normalized with its own statistics
    (ref_mean, ref_mean_sq). `gamma` starts N(1, 0.02) and `beta` at 0.

    Protocol for the reference batch:

    - With `training=True` the first `reference_batch_size` rows of the input ARE the
      reference batch's activations at this layer, computed with the current weights,
      followed by the examples to normalize. The output has the same rows. A
      generator does this by prepending its reference latents (drawn once and stored
      as non-trainable weights) to every batch and dropping those rows at the end:
      `ReferenceBatchGenerator` does exactly that around any generator body.
      The reference statistics are also stored in the non-trainable weights
      `reference_mean` and `reference_mean_square` (mean over replicas under
      `MirroredStrategy`, where every replica holds the same reference latents).
    - With `training=False` (inference, export) the input holds only examples and
      the stored reference statistics are used, so serving needs no reference rows.

    In both modes an example's output depends only on itself and the reference
    batch, never on the other examples of its minibatch.

    Args:
        reference_batch_size: N, the number of reference rows at the start of every
            training-mode input.
        axis: the channel axis (default: last).
        epsilon: added to the variance (authors: 1e-5).
        gamma_initializer: initializer of the per-channel gain (N(1, 0.02)).
        beta_initializer: initializer of the per-channel bias (zeros).
        **kwargs: base `keras.layers.Layer` arguments.

    Examples:

    >>> vbn = VirtualBatchNormalization(reference_batch_size=4)
    >>> reference_and_batch = np.random.rand(4 + 3, 8).astype("float32")
    >>> vbn(reference_and_batch, training=True).shape
    (7, 8)

    Reference:
        Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016,
        section 3.5 (arXiv:1606.03498), and the authors' `imagenet/model.py` VBN.
    """

    def __init__(
        self,
        reference_batch_size,
        axis=-1,
        epsilon=1e-5,
        gamma_initializer=None,
        beta_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(reference_batch_size, int) or reference_batch_size < 1:
            raise ValueError(
                "`reference_batch_size` must be a positive int. Received: "
                f"reference_batch_size={reference_batch_size!r}"
            )
        self.reference_batch_size = reference_batch_size
        self.axis = axis
        self.epsilon = float(epsilon)
        self.gamma_initializer = initializers.get(
            gamma_initializer or initializers.RandomNormal(mean=1.0, stddev=0.02)
        )
        self.beta_initializer = initializers.get(beta_initializer)

    def build(self, input_shape):
        ndim = len(input_shape)
        self._channel_axis = self.axis % ndim
        if self._channel_axis == 0:
            raise ValueError(
                f"`axis` cannot be the batch axis. Received: axis={self.axis}"
            )
        channels = input_shape[self._channel_axis]
        if channels is None:
            raise ValueError(
                "VirtualBatchNormalization needs a known channel dimension. "
                f"Received: input_shape={input_shape}"
            )
        self._example_axes = tuple(
            a for a in range(1, ndim) if a != self._channel_axis
        )
        self.gamma = self.add_weight(
            name="gamma", shape=(channels,), initializer=self.gamma_initializer
        )
        self.beta = self.add_weight(
            name="beta", shape=(channels,), initializer=self.beta_initializer
        )
        self.reference_mean = self.add_weight(
            name="reference_mean",
            shape=(channels,),
            initializer="zeros",
            trainable=False,
            aggregation="mean",
        )
        self.reference_mean_square = self.add_weight(
            name="reference_mean_square",
            shape=(channels,),
            initializer="ones",
            trainable=False,
            aggregation="mean",
        )

    def _per_channel(self, vector, ndim):
        shape = [1] * ndim
        shape[self._channel_axis] = -1
        return ops.reshape(vector, shape)

    def _normalize(self, x, mean, mean_square):
        std = ops.sqrt(self.epsilon + mean_square - ops.square(mean))
        gamma = self._per_channel(self.gamma, len(x.shape))
        beta = self._per_channel(self.beta, len(x.shape))
        return (x - mean) / std * gamma + beta

    def _virtual_statistics(self, x, reference_mean, reference_mean_square):
        """Combines each example's own statistics with the reference batch's."""
        new_coeff = 1.0 / (self.reference_batch_size + 1.0)
        old_coeff = 1.0 - new_coeff
        ndim = len(x.shape)
        if self._example_axes:
            own_mean = ops.mean(x, axis=self._example_axes, keepdims=True)
            own_mean_square = ops.mean(ops.square(x), axis=self._example_axes, keepdims=True)
        else:
            own_mean, own_mean_square = x, ops.square(x)
        mean = new_coeff * own_mean + old_coeff * self._per_channel(reference_mean, ndim)
        mean_square = new_coeff * own_mean_square + old_coeff * self._per_channel(
            reference_mean_square, ndim
        )
        return mean, mean_square

    def call(self, inputs, training=None):
        ndim = len(inputs.shape)
        if not training:
            mean, mean_square = self._virtual_statistics(
                inputs, self.reference_mean, self.reference_mean_square
            )
            return self._normalize(inputs, mean, mean_square)

        reference = inputs[: self.reference_batch_size]
        examples = inputs[self.reference_batch_size :]
        reduce_axes = (0,) + self._example_axes
        reference_mean = ops.mean(reference, axis=reduce_axes)
        reference_mean_square = ops.mean(ops.square(reference), axis=reduce_axes)
        self.reference_mean.assign(ops.stop_gradient(reference_mean))
        self.reference_mean_square.assign(ops.stop_gradient(reference_mean_square))

        normalized_reference = self._normalize(
            reference,
            self._per_channel(reference_mean, ndim),
            self._per_channel(reference_mean_square, ndim),
        )
        mean, mean_square = self._virtual_statistics(
            examples, reference_mean, reference_mean_square
        )
        return ops.concatenate(
            [normalized_reference, self._normalize(examples, mean, mean_square)], axis=0
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {
            "reference_batch_size": self.reference_batch_size,
            "axis": self.axis,
            "epsilon": self.epsilon,
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_initializer": initializers.serialize(self.beta_initializer),
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="improved_gan_tf")
class ReferenceBatchGenerator(keras.Model):
    """Runs a generator body with a fixed reference batch, as VBN needs.

    Holds `reference_batch_size` latent vectors drawn once (at build time, from the
    generator's latent distribution) as non-trainable weights, so they are saved in
    checkpoints and exports. With `training=True` it prepends them to `z`, runs the
    body (whose `VirtualBatchNormalization` layers must all have the same
    `reference_batch_size`), and returns only the rows of `z`: the reference
    activations are recomputed with the current weights at every step. With
    `training=False` it runs the body on `z` alone, and the VBN layers use the
    reference statistics stored by the last training call.

    Args:
        body: a Keras model mapping latents `(batch, latent_dim)` to samples.
        reference_batch_size: number of reference latents.
        latent_distribution: "uniform" (U(0, 1)), "uniform_signed" (U(-1, 1)) or
            "normal" (N(0, 1)); used to draw the reference latents.
        seed: seed of the reference latents.
        **kwargs: base `keras.Model` arguments.

    Reference:
        Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016,
        section 3.5.
    """

    def __init__(
        self,
        body,
        reference_batch_size,
        latent_distribution="uniform",
        seed=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.body = body
        self.reference_batch_size = int(reference_batch_size)
        self.latent_distribution = latent_distribution
        self.seed = int(seed)
        self.latent_dim = int(body.inputs[0].shape[-1])
        vbn_sizes = {
            layer.reference_batch_size
            for layer in body._flatten_layers()
            if isinstance(layer, VirtualBatchNormalization)
        }
        if vbn_sizes - {self.reference_batch_size}:
            raise ValueError(
                "Every VirtualBatchNormalization layer of the body must use "
                f"reference_batch_size={self.reference_batch_size}. Found: {sorted(vbn_sizes)}"
            )

    def build(self, input_shape=None):
        self.reference_latents = self.add_weight(
            name="reference_latents",
            shape=(self.reference_batch_size, self.latent_dim),
            initializer=latent_initializer(self.latent_distribution, self.seed),
            trainable=False,
        )
        if not self.body.built:
            self.body.build((None, self.latent_dim))
        self.built = True

    def call(self, z, training=None):
        if not training:
            return self.body(z, training=False)
        reference = ops.cast(self.reference_latents, z.dtype)
        outputs = self.body(ops.concatenate([reference, z], axis=0), training=True)
        return outputs[self.reference_batch_size :]

    def compute_output_shape(self, input_shape):
        return self.body.compute_output_shape(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "body": keras.saving.serialize_keras_object(self.body),
            "reference_batch_size": self.reference_batch_size,
            "latent_distribution": self.latent_distribution,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["body"] = keras.saving.deserialize_keras_object(config["body"])
        return cls(**config)
