"""improved_gan_tf: Improved Techniques for Training GANs (Salimans et al., 2016) in Keras 3.

Public API:

- `improved_gan_tf.layers`: `MinibatchDiscrimination`, `VirtualBatchNormalization`,
  `WeightNormalization`.
- `improved_gan_tf.losses`: the GAN game's losses, feature matching, one-sided label
  smoothing, the semi-supervised K+1 losses and historical averaging.
- `improved_gan_tf.ImprovedGAN`: a `keras.Model` whose `train_step` plays the game.
- `improved_gan_tf.optimizers`: `AuthorsAdam` (the authors' Adam, also
  `improved_gan_tf.AuthorsAdam`), `ScheduledMomentumSGD` and the learning-rate schedules.
- `improved_gan_tf.registry`: the datasets' facts, the config keys' choices and the batch
  keys (no TensorFlow).
- `improved_gan_tf.architectures`: the networks of the papers' experiments.
"""

__version__ = "0.1.0"

import importlib

# Loaded on first use (PEP 562), so that `improved_gan_tf.registry` and
# `improved_gan_tf.config` import without TensorFlow.
_SUBMODULES = ("layers", "losses", "optimizers", "registry")
_NAMES = {"ImprovedGAN": "improved_gan_tf.model", "AuthorsAdam": "improved_gan_tf.optimizers"}

__all__ = ["AuthorsAdam", "ImprovedGAN", *_SUBMODULES]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
