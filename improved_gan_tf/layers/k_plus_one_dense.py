"""A K+1-class output layer with a learned generated-class logit."""

import keras
from keras import initializers
from keras import ops


@keras.saving.register_keras_serializable(package="improved_gan_tf")
class KPlusOneDense(keras.layers.Layer):
    """Dense to K+1 logits, returned relative to the generated class's logit.

    The paper's K+1-class discriminator may fix the generated class's logit at 0
    (the CIFAR/SVHN/MNIST scripts) or learn it (the authors' ImageNet D,
    `imagenet/discriminator.py`: 1001 logits, the last for "generated"). This
    layer learns it, and returns the K real-class logits minus the generated one:

        l = h W + b                    (K+1 logits; W ~ N(0, 0.02), b = 0)
        output = l[:, :K] - l[:, K]    (K logits; the generated class's is then 0)

    Subtracting a logit from all K+1 changes no probability, so the output is the
    same classifier with the generated logit fixed at 0, and everything that
    reads K-class logits gets the authors' quantities unchanged:

        logsumexp(output) = logsumexp(l[:, :K]) - l[:, K]   the authors' gan_logits
        losses.all_classes_supervised_loss(output, y)
            = logsumexp(l) - l_y                            their 1001-way class loss
        softmax(output) = p(y | x, y < K+1)                 the real-class posterior

    (`losses.supervised_loss` on the output is the K-way loss, which the learned
    logit does not enter.)

    Args:
        num_classes: K, the number of real classes.
        kernel_initializer: initializer of W (N(0, 0.02), the authors' `linear`).
        bias_initializer: initializer of b (zeros).
        **kwargs: base `keras.layers.Layer` arguments.

    Input shape: `(N, A)`. Output shape: `(N, K)`. The raw K+1 logits are
    `raw_logits(inputs)`.

    Examples:

    >>> layer = KPlusOneDense(num_classes=10)
    >>> layer(np.random.rand(4, 6).astype("float32")).shape
    (4, 10)
    """

    def __init__(self, num_classes, kernel_initializer=None, bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"`num_classes` must be a positive int. Received: num_classes={num_classes!r}")
        self.num_classes = num_classes
        self.kernel_initializer = initializers.get(
            kernel_initializer or initializers.RandomNormal(stddev=0.02)
        )
        self.bias_initializer = initializers.get(bias_initializer)

    def build(self, input_shape):
        features = input_shape[-1]
        if features is None or len(input_shape) != 2:
            raise ValueError(f"KPlusOneDense takes (batch, features) inputs. Received: input_shape={input_shape}")
        self.kernel = self.add_weight(
            name="kernel", shape=(features, self.num_classes + 1), initializer=self.kernel_initializer
        )
        self.bias = self.add_weight(name="bias", shape=(self.num_classes + 1,), initializer=self.bias_initializer)

    def raw_logits(self, inputs):
        """The K+1 logits l (the last: the generated class)."""
        return ops.matmul(inputs, self.kernel) + self.bias

    def call(self, inputs):
        logits = self.raw_logits(inputs)
        return logits[:, : self.num_classes] - logits[:, self.num_classes :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
        }
