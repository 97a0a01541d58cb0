"""Minibatch features of a joint [real; generated] batch (the authors' ImageNet D)."""

import keras
from keras import initializers
from keras import ops


@keras.saving.register_keras_serializable(package="improved_gan_tf")
class JointMinibatchFeatures(keras.layers.Layer):
    """Appends each example's closeness to the real half and to the generated half.

    The minibatch discrimination of the authors' ImageNet discriminator
    (`imagenet/discriminator.py`), which differs from the paper's layer of the
    CIFAR/SVHN scripts (`MinibatchDiscrimination`): an ordinary, un-normalized
    linear map, no bias on the output, no data-dependent init, and the closeness
    is computed on the joint batch [real (N); generated (N)] and split by half.
    For the joint batch x_0..x_{2N-1}:

        M_i = reshape(h_i W + b, (num_kernels, kernel_dim))   W ~ N(0, 0.02), b = 0
        c_b(i, j) = exp(-||M_{i,b} - M_{j,b}||_1) * [i != j]
        real_b(i) = sum_{j < N}  c_b(i, j) / sum_{i', j < N}  [i' != j]
        fake_b(i) = sum_{j >= N} c_b(i, j) / sum_{i', j >= N} [i' != j]
        output_i = concat([h_i, real(i), fake(i)])        (A + 2 num_kernels)

    The denominators are the authors' `tf.reduce_sum(half(mask, k))`: the number
    of ones of the whole (2N x N) half of the mask, N (2N - 1), the same for every
    example (not a per-example count).

    With `training=False` there is no generated half (the authors never run D
    outside the joint training batch): both feature sets are then the closeness
    to the input batch itself, sum_{j != i} c_b(i, j) / (M (M - 1)) for a batch of
    M (0 for M = 1), so evaluation and the exported classifier see features of
    the scale of training's.

    Args:
        num_kernels: B (authors: 300).
        kernel_dim: C (authors: 50).
        kernel_initializer: initializer of W (N(0, 0.02), the authors' `linear`).
        bias_initializer: initializer of b (zeros).
        **kwargs: base `keras.layers.Layer` arguments.

    Input shape: `(2N, A)` (higher-rank inputs are flattened). In training the
    first N rows are real, the last N generated.
    Output shape: `(2N, A + 2 * num_kernels)`.

    Memory: the pairwise distances take `(2N)^2 * num_kernels * kernel_dim` floats
    (the authors' 16 + 16 per device with 300 x 50: 61 MB).

    Examples:

    >>> layer = JointMinibatchFeatures(num_kernels=4, kernel_dim=3)
    >>> layer(np.random.rand(6, 10).astype("float32"), training=True).shape
    (6, 18)

    Reference:
        Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016,
        section 3.2, and the authors' `imagenet/discriminator.py`.
    """

    def __init__(self, num_kernels=300, kernel_dim=50, kernel_initializer=None,
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        for name, value in (("num_kernels", num_kernels), ("kernel_dim", kernel_dim)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive int. Received: {name}={value!r}")
        self.num_kernels = num_kernels
        self.kernel_dim = kernel_dim
        self.kernel_initializer = initializers.get(
            kernel_initializer or initializers.RandomNormal(stddev=0.02)
        )
        self.bias_initializer = initializers.get(bias_initializer)

    def build(self, input_shape):
        features = 1
        for dim in input_shape[1:]:
            if dim is None:
                raise ValueError(
                    f"JointMinibatchFeatures needs a known feature size. Received: input_shape={input_shape}"
                )
            features *= dim
        size = self.num_kernels * self.kernel_dim
        self.kernel = self.add_weight(name="kernel", shape=(features, size), initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(size,), initializer=self.bias_initializer)

    def _closeness(self, features):
        """exp(-L1) between every pair of rows, (M, num_kernels, M), 0 on the diagonal."""
        projections = ops.matmul(features, self.kernel) + self.bias
        projections = ops.reshape(projections, (-1, self.num_kernels, self.kernel_dim))
        differences = ops.expand_dims(projections, 2) - ops.expand_dims(
            ops.transpose(projections, (1, 0, 2)), 0
        )
        distances = ops.sum(ops.abs(differences), axis=-1)
        batch = ops.shape(features)[0]
        mask = 1.0 - ops.eye(batch, dtype=distances.dtype)
        return ops.exp(-distances) * ops.expand_dims(mask, 1)

    def call(self, inputs, training=None):
        features = inputs
        if len(inputs.shape) > 2:
            features = ops.reshape(inputs, (ops.shape(inputs)[0], -1))
        closeness = self._closeness(features)
        batch = ops.cast(ops.shape(features)[0], closeness.dtype)
        if training:
            if features.shape[0] is not None and features.shape[0] % 2:
                raise ValueError(
                    "In training JointMinibatchFeatures takes a joint batch [real; generated] of "
                    f"even size. Received: batch size {features.shape[0]}"
                )
            half = ops.shape(features)[0] // 2
            count = ops.cast(half, closeness.dtype) * (batch - 1.0)
            to_real = ops.sum(closeness[:, :, :half], axis=-1) / count
            to_fake = ops.sum(closeness[:, :, half:], axis=-1) / count
        else:
            count = ops.maximum(batch * (batch - 1.0), 1.0)
            to_real = to_fake = ops.sum(closeness, axis=-1) / count
        return ops.concatenate([features, to_real, to_fake], axis=-1)

    def compute_output_shape(self, input_shape):
        features = 1
        for dim in input_shape[1:]:
            features *= dim
        return (input_shape[0], features + 2 * self.num_kernels)

    def get_config(self):
        return {
            **super().get_config(),
            "num_kernels": self.num_kernels,
            "kernel_dim": self.kernel_dim,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
        }
