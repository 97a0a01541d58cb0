"""improved_gan_tf: Improved Techniques for Training GANs (Salimans et al., 2016) in Keras 3.

Public API:

- `improved_gan_tf.layers`: `MinibatchDiscrimination`, `VirtualBatchNormalization`,
  `WeightNormalization`.
- `improved_gan_tf.losses`: the GAN game's losses, feature matching, one-sided label
  smoothing, the semi-supervised K+1 losses and historical averaging.
- `improved_gan_tf.ImprovedGAN`: a `keras.Model` whose `train_step` plays the game.
- `improved_gan_tf.architectures`: the networks of the papers' experiments.
"""

__version__ = "0.1.0"

from improved_gan_tf import layers  # noqa: E402,F401
from improved_gan_tf import losses  # noqa: E402,F401
from improved_gan_tf.model import ImprovedGAN  # noqa: E402,F401
