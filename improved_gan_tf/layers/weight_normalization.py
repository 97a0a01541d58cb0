"""Weight normalization (Salimans & Kingma, 2016) as a Keras 3 wrapper layer."""

import keras
from keras import initializers
from keras import ops

from improved_gan_tf.layers.data_dependent_init import DataDependentInitMixin

_SUPPORTED = (
    keras.layers.Dense,
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.Conv1DTranspose,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv3DTranspose,
)


@keras.saving.register_keras_serializable(package="improved_gan_tf")
class WeightNormalization(DataDependentInitMixin, keras.layers.Wrapper):
    """Reparameterizes the kernel of a Dense or convolution layer as `w = g * v / ||v||`.

    Each output unit's weight vector `w` is split into a direction `v` (the wrapped
    layer's own `kernel` variable) and a length `g` (one scalar per output unit, a
    weight of this wrapper): `w = g * v / sqrt(||v||^2 + epsilon)`, the norm taken
    over every kernel axis except the output-channel axis.

    With `data_init=True` (the default, as in `tfa.layers.WeightNormalization`), the
    first call with `training=True` sets `g` and the bias from that batch so that the
    pre-activations start with zero mean and standard deviation `init_scale` per unit
    (Salimans & Kingma, 2016, section 3):

        t = x . v / ||v||   (with the current g, usually 1)
        g <- g * init_scale / std(t),    b <- -mean(t) * init_scale / std(t)

    The authors of "Improved Techniques for Training GANs" initialize on a batch of
    500 training examples and keep `g` frozen afterwards (`train_g=False`) except in
    the last layer of D and G. Whether a layer has been initialized is stored in the
    non-trainable weight `initialized`, so a restored checkpoint never re-runs it;
    see `improved_gan_tf.layers.data_dependent_init` for how initialization works
    inside `tf.function` and under `MirroredStrategy`.

    The constructor matches `tfa.layers.WeightNormalization(layer, data_init=True)`,
    so code written against TensorFlow Addons ports by changing the import.

    Args:
        layer: a `keras.layers.Dense`, `ConvND` or `ConvNDTranspose` instance.
        data_init: whether to run the data-dependent initialization on the first
            training call.
        train_g: whether `g` is trainable after initialization (tfa: always True;
            the authors' hidden layers: False).
        init_scale: target standard deviation of the pre-activations after the
            data-dependent initialization.
        epsilon: added to `||v||^2` before the square root (the authors use 1e-6).
        **kwargs: base `keras.layers.Wrapper` arguments (e.g. `name`).

    Examples:

    >>> dense = WeightNormalization(keras.layers.Dense(3), data_init=False)
    >>> dense(np.ones((2, 4), "float32")).shape
    (2, 3)

    Reference:
        - Salimans & Kingma, "Weight Normalization: A Simple Reparameterization to
          Accelerate Training of Deep Neural Networks", NeurIPS 2016
          (arXiv:1602.07868).
        - Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016,
          and the authors' `nn.weight_norm` / `nn.DenseLayer` (openai/improved-gan).
    """

    def __init__(
        self,
        layer,
        data_init=True,
        train_g=True,
        init_scale=1.0,
        epsilon=1e-6,
        **kwargs,
    ):
        super().__init__(layer, **kwargs)
        if not isinstance(layer, _SUPPORTED):
            raise ValueError(
                "WeightNormalization wraps Dense, ConvND and ConvNDTranspose layers. "
                f"Received: layer={layer!r} of type {type(layer).__name__}"
            )
        if init_scale <= 0:
            raise ValueError(
                f"`init_scale` must be positive. Received: init_scale={init_scale}"
            )
        if epsilon < 0:
            raise ValueError(
                f"`epsilon` must be non-negative. Received: epsilon={epsilon}"
            )
        self.data_init = bool(data_init)
        self.train_g = bool(train_g)
        self.init_scale = float(init_scale)
        self.epsilon = float(epsilon)
        self._is_transpose = "Transpose" in type(layer).__name__
        self._is_dense = isinstance(layer, keras.layers.Dense)
        # The wrapper applies the activation itself, after its own bias handling.
        self._activation = layer.activation

    def build(self, input_shape):
        super().build(input_shape)
        kernel = self.layer.kernel
        rank = len(kernel.shape)
        # Output channels: last axis of Dense/Conv kernels, second-to-last of
        # transposed-convolution kernels (kh, kw, out, in).
        self._output_axis = rank - 2 if self._is_transpose else rank - 1
        self._norm_axes = tuple(a for a in range(rank) if a != self._output_axis)
        units = kernel.shape[self._output_axis]
        self.g = self.add_weight(
            name="g",
            shape=(units,),
            initializer=initializers.Ones(),
            trainable=self.train_g,
        )
        self._add_initialized_flag()

    def normalized_kernel(self):
        """Returns `g * v / sqrt(||v||^2 + epsilon)` with the kernel's shape."""
        v = self.layer.kernel
        squared_norm = ops.sum(ops.square(v), axis=self._norm_axes, keepdims=True)
        scale_shape = [1] * len(v.shape)
        scale_shape[self._output_axis] = -1
        g = ops.reshape(self.g, scale_shape)
        # The per-unit scale first: one pass over the kernel instead of two.
        return v * (g * ops.rsqrt(squared_norm + self.epsilon))

    def _linear(self, inputs, kernel):
        layer = self.layer
        if self._is_dense:
            return ops.matmul(inputs, kernel)
        if self._is_transpose:
            return ops.conv_transpose(
                inputs,
                kernel,
                strides=list(layer.strides),
                padding=layer.padding,
                output_padding=layer.output_padding,
                dilation_rate=layer.dilation_rate,
                data_format=layer.data_format,
            )
        return ops.conv(
            inputs,
            kernel,
            strides=list(layer.strides),
            padding=layer.padding,
            dilation_rate=layer.dilation_rate,
            data_format=layer.data_format,
        )

    def _channel_axis(self, ndim):
        if self._is_dense or self.layer.data_format == "channels_last":
            return ndim - 1
        return 1

    def _initialize_from(self, inputs):
        if self.layer.bias is None:
            raise ValueError(
                f"WeightNormalization '{self.name}' with data_init=True needs the "
                "wrapped layer to have a bias (use_bias=True): the initialization "
                "sets it to -mean/std."
            )
        pre_activation = self._linear(inputs, self.normalized_kernel())
        channel_axis = self._channel_axis(len(pre_activation.shape))
        reduce_axes = tuple(
            a for a in range(len(pre_activation.shape)) if a != channel_axis
        )
        mean = ops.mean(pre_activation, axis=reduce_axes)
        std = ops.sqrt(
            ops.mean(
                ops.square(pre_activation - self._reshape_channel(mean, pre_activation)),
                axis=reduce_axes,
            )
        )
        inv_std = self.init_scale / std
        self.g.assign(self.g * inv_std)
        self.layer.bias.assign(-mean * inv_std)

    def _reshape_channel(self, per_channel, like):
        shape = [1] * len(like.shape)
        shape[self._channel_axis(len(like.shape))] = -1
        return ops.reshape(per_channel, shape)

    def call(self, inputs, training=None):
        self._maybe_initialize(inputs, training)
        outputs = self._linear(inputs, self.normalized_kernel())
        if self.layer.bias is not None:
            outputs = outputs + self._reshape_channel(self.layer.bias, outputs)
        if self._activation is not None:
            outputs = self._activation(outputs)
        return outputs

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        config = {
            "data_init": self.data_init,
            "train_g": self.train_g,
            "init_scale": self.init_scale,
            "epsilon": self.epsilon,
        }
        return {**super().get_config(), **config}
