"""The authors' SVHN networks (`train_svhn_feature_matching.py`,
`train_svhn_minibatch_discrimination.py`). Images scaled as (x - 127.5) / 128."""

from improved_gan_tf.architectures.common import conv_discriminator
from improved_gan_tf.architectures.common import dcgan_generator

IMAGE_SHAPE = (32, 32, 3)


def svhn_generator(latent_dim=100, name="generator"):
    """G: as CIFAR-10's (see `dcgan_generator`)."""
    return dcgan_generator(32, 3, latent_dim=latent_dim, name=name)


def svhn_discriminator(minibatch_discrimination=False, num_classes=10, seed=None, name="discriminator"):
    """D with widths 64/128 for feature matching; the minibatch-discrimination
    variant uses widths 96/192, Gaussian noise 0.2 on the input instead of dropout
    and MinibatchDiscrimination(100, 5) after the global pool."""
    narrow, wide = (96, 192) if minibatch_discrimination else (64, 128)
    return conv_discriminator(
        IMAGE_SHAPE, narrow, wide, num_classes=num_classes,
        input_noise=0.2 if minibatch_discrimination else None,
        minibatch_kernels=100 if minibatch_discrimination else 0,
        seed=seed, name=name,
    )
