"""Minibatch discrimination (Salimans et al., 2016, section 3.2)."""

import keras
from keras import initializers
from keras import ops

from improved_gan_tf.layers.data_dependent_init import DataDependentInitMixin

# Added to the j == i distances so that exp(-distance) of an example with itself is 0.
_SELF_DISTANCE = 1e6


@keras.saving.register_keras_serializable(package="improved_gan_tf")
class MinibatchDiscrimination(DataDependentInitMixin, keras.layers.Layer):
    """Appends to each example features that measure its closeness to the rest of the batch.

    For input features `f(x_i)` of size A and a tensor T of shape
    `(A, num_kernels, kernel_dim)`:

        M_i = f(x_i) . T                                  (num_kernels x kernel_dim)
        c_b(x_i, x_j) = exp(-||M_{i,b} - M_{j,b}||_1)
        o(x_i)_b = sum_{j != i} c_b(x_i, x_j) + bias_b
        output_i = concat([f(x_i), o(x_i)])                 (A + num_kernels)

    As in the authors' `nn.MinibatchLayer`: T is weight-normalized over A,
    `T = theta * exp(log_weight_scale) / ||theta||_A` with a trainable log-scale per
    (kernel, dim), the bias starts at -1, and with `data_init=True` the first
    training call rescales T by `0.5 * mean_i min_{j != i} ||M_{i,b} - M_{j,b}||_1`
    per kernel and sets the bias to `-mean_i(o(x_i))`.

    The side information is computed within the batch the layer is called on:
    call D separately on labeled, unlabeled and generated batches (as
    `ImprovedGAN` does) so each source is compared with itself, and note that under
    `MirroredStrategy` each replica compares examples within its own slice.

    Memory: the pairwise distances take `N * N * num_kernels * kernel_dim` floats for
    a batch of N (N = 100 with the paper's 100 x 5 kernels: 20 MB; the data-dependent
    init on N = 500 examples: 500 MB).

    Args:
        num_kernels: B, the number of kernels (output features added).
        kernel_dim: C, the dimension of each kernel's projection.
        data_init: whether the first training call runs the data-dependent init.
        theta_initializer: initializer of T's direction (authors: N(0, 0.05)).
        **kwargs: base `keras.layers.Layer` arguments.

    Input shape: `(N, A)` (higher-rank inputs are flattened to `(N, A)`).
    Output shape: `(N, A + num_kernels)`.

    Examples:

    >>> layer = MinibatchDiscrimination(num_kernels=4, kernel_dim=3, data_init=False)
    >>> layer(np.random.rand(6, 10).astype("float32")).shape
    (6, 14)

    Reference:
        Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016,
        section 3.2 (arXiv:1606.03498), and the authors' `nn.MinibatchLayer`.
    """

    def __init__(
        self,
        num_kernels,
        kernel_dim=5,
        data_init=True,
        theta_initializer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(num_kernels, int) or num_kernels < 1:
            raise ValueError(
                f"`num_kernels` must be a positive int. Received: num_kernels={num_kernels!r}"
            )
        if not isinstance(kernel_dim, int) or kernel_dim < 1:
            raise ValueError(
                f"`kernel_dim` must be a positive int. Received: kernel_dim={kernel_dim!r}"
            )
        self.num_kernels = num_kernels
        self.kernel_dim = kernel_dim
        self.data_init = bool(data_init)
        self.theta_initializer = initializers.get(
            theta_initializer or initializers.RandomNormal(stddev=0.05)
        )

    def build(self, input_shape):
        features = 1
        for dim in input_shape[1:]:
            if dim is None:
                raise ValueError(
                    "MinibatchDiscrimination needs a known feature size. "
                    f"Received: input_shape={input_shape}"
                )
            features *= dim
        self.theta = self.add_weight(
            name="theta",
            shape=(features, self.num_kernels, self.kernel_dim),
            initializer=self.theta_initializer,
        )
        self.log_weight_scale = self.add_weight(
            name="log_weight_scale",
            shape=(self.num_kernels, self.kernel_dim),
            initializer="zeros",
        )
        self.bias = self.add_weight(
            name="bias",
            shape=(self.num_kernels,),
            initializer=initializers.Constant(-1.0),
        )
        self._add_initialized_flag()

    def kernel(self):
        """T = theta * exp(log_weight_scale) / ||theta||, the norm over input features."""
        norm = ops.sqrt(ops.sum(ops.square(self.theta), axis=0, keepdims=True))
        return self.theta * ops.expand_dims(ops.exp(self.log_weight_scale), 0) / norm

    def _pairwise_l1(self, features):
        """Returns ||M_{i,b} - M_{j,b}||_1 as (N, N, num_kernels), +1e6 where j == i."""
        projections = ops.tensordot(features, self.kernel(), axes=[[1], [0]])
        differences = ops.expand_dims(projections, 1) - ops.expand_dims(projections, 0)
        distances = ops.sum(ops.abs(differences), axis=-1)
        batch = ops.shape(features)[0]
        self_mask = ops.expand_dims(ops.eye(batch, dtype=distances.dtype), -1)
        return distances + _SELF_DISTANCE * self_mask

    def _flatten(self, inputs):
        if len(inputs.shape) > 2:
            return ops.reshape(inputs, (ops.shape(inputs)[0], -1))
        return inputs

    def _initialize_from(self, inputs):
        features = self._flatten(inputs)
        distances = self._pairwise_l1(features)
        mean_min_distance = 0.5 * ops.mean(ops.min(distances, axis=1), axis=0)
        self.log_weight_scale.assign(
            self.log_weight_scale - ops.expand_dims(ops.log(mean_min_distance), -1)
        )
        closeness = ops.sum(ops.exp(-distances / mean_min_distance), axis=1)
        self.bias.assign(-ops.mean(closeness, axis=0))

    def call(self, inputs, training=None):
        self._maybe_initialize(inputs, training)
        features = self._flatten(inputs)
        closeness = ops.sum(ops.exp(-self._pairwise_l1(features)), axis=1)
        return ops.concatenate([features, closeness + self.bias], axis=-1)

    def compute_output_shape(self, input_shape):
        features = 1
        for dim in input_shape[1:]:
            features *= dim
        return (input_shape[0], features + self.num_kernels)

    def get_config(self):
        config = {
            "num_kernels": self.num_kernels,
            "kernel_dim": self.kernel_dim,
            "data_init": self.data_init,
            "theta_initializer": initializers.serialize(self.theta_initializer),
        }
        return {**super().get_config(), **config}
