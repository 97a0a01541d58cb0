"""The authors' CIFAR-10 networks (`train_cifar_feature_matching.py`,
`train_cifar_minibatch_discrimination.py`). Images scaled as (x - 127.5) / 128."""

from improved_gan_tf.architectures.common import conv_discriminator
from improved_gan_tf.architectures.common import dcgan_generator

IMAGE_SHAPE = (32, 32, 3)


def cifar10_generator(latent_dim=100, name="generator"):
    """G: z ~ U(0,1)^100 -> 4x4x512 -> deconv 256 -> 128 -> 3 tanh (see `dcgan_generator`)."""
    return dcgan_generator(32, 3, latent_dim=latent_dim, name=name)


def cifar10_discriminator(minibatch_discrimination=False, num_classes=10, seed=None, name="discriminator"):
    """D with widths 96/192.

    Feature matching: dropout 0.2 on the input. Minibatch discrimination: Gaussian
    noise 0.2 on the input instead, and MinibatchDiscrimination(100, 5) after the
    global pool.
    """
    return conv_discriminator(
        IMAGE_SHAPE, 96, 192, num_classes=num_classes,
        input_noise=0.2 if minibatch_discrimination else None,
        minibatch_kernels=100 if minibatch_discrimination else 0,
        seed=seed, name=name,
    )
