"""Batch normalization across the real and generated halves of a joint batch."""

import keras
from keras import initializers
from keras import ops


@keras.saving.register_keras_serializable(package="improved_gan_tf")
class CrossBatchNormalization(keras.layers.Layer):
    """Batch norm of a joint [real; generated] batch, each channel half by one half.

    The authors' ImageNet discriminator sees one joint batch: N real examples
    followed by N generated ones. Its `ops.batch_norm_cross` normalizes the first
    C/2 channels of every example with the statistics of the real half and the
    last C/2 channels with those of the generated half, so that D's features
    carry information about both halves whichever example they belong to:

        rows r = 0..N-1 (real), g = N..2N-1 (generated), channels a = 0..C/2-1,
        b = C/2..C-1; moments over the batch rows of a half and the spatial axes:
        y[:, a] = (x[:, a] - mean_r(x[:, a])) / sqrt(var_r(x[:, a]) + eps) * gamma_a + beta_a
        y[:, b] = (x[:, b] - mean_g(x[:, b])) / sqrt(var_g(x[:, b]) + eps) * gamma_b + beta_b

    `var` is the biased (population) variance, `gamma` starts N(1, 0.02) and
    `beta` at 0, eps = 1e-5. There are no moving averages: training always uses
    the current batch's statistics, as the authors' layer.

    With `training=False` there is no generated half (the authors never run D
    outside the joint training batch; evaluation and the exported classifier
    do): every channel is then normalized with the statistics of the whole input
    batch, so an example's output depends on the other examples it is sent with.

    Args:
        epsilon: added to the variance (authors: 1e-5).
        gamma_initializer: initializer of the per-channel gain (N(1, 0.02)).
        beta_initializer: initializer of the per-channel bias (zeros).
        **kwargs: base `keras.layers.Layer` arguments.

    Input shape: `(2N, ..., C)` with C even; in training the first N rows are
    real and the last N generated. Output shape: the input's.

    Raises:
        ValueError: at build if C is unknown or odd; in training if the batch
            size is odd.

    Examples:

    >>> layer = CrossBatchNormalization()
    >>> joint = np.random.rand(2 * 3, 4, 4, 8).astype("float32")
    >>> layer(joint, training=True).shape
    (6, 4, 4, 8)

    Reference:
        The authors' `imagenet/ops.py` (`batch_norm_cross`) and
        `imagenet/discriminator.py` (every conv and linear layer of D goes through
        `self.bnx`), openai/improved-gan.
    """

    def __init__(self, epsilon=1e-5, gamma_initializer=None, beta_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)
        self.gamma_initializer = initializers.get(
            gamma_initializer or initializers.RandomNormal(mean=1.0, stddev=0.02)
        )
        self.beta_initializer = initializers.get(beta_initializer)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None or channels % 2:
            raise ValueError(
                "CrossBatchNormalization needs a known, even number of channels (half "
                f"normalized by each half of the batch). Received: input_shape={input_shape}"
            )
        self._reduce_axes = tuple(range(len(input_shape) - 1))
        self.gamma = self.add_weight(name="gamma", shape=(channels,), initializer=self.gamma_initializer)
        self.beta = self.add_weight(name="beta", shape=(channels,), initializer=self.beta_initializer)

    def _moments(self, x):
        mean = ops.mean(x, axis=self._reduce_axes)
        variance = ops.mean(ops.square(x - mean), axis=self._reduce_axes)
        return mean, variance

    def call(self, inputs, training=None):
        if training:
            batch = inputs.shape[0]
            if batch is not None and batch % 2:
                raise ValueError(
                    "In training CrossBatchNormalization takes a joint batch [real; generated] "
                    f"of even size. Received: batch size {batch}"
                )
            half = ops.shape(inputs)[0] // 2
            split = inputs.shape[-1] // 2
            real_mean, real_variance = self._moments(inputs[:half, ..., :split])
            fake_mean, fake_variance = self._moments(inputs[half:, ..., split:])
            mean = ops.concatenate([real_mean, fake_mean], axis=0)
            variance = ops.concatenate([real_variance, fake_variance], axis=0)
        else:
            mean, variance = self._moments(inputs)
        scale = self.gamma / ops.sqrt(variance + self.epsilon)
        return (inputs - mean) * scale + self.beta

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "epsilon": self.epsilon,
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_initializer": initializers.serialize(self.beta_initializer),
        }
