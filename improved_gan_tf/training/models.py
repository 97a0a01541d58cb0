"""The run's `ImprovedGAN`, built and compiled from its config.

`build_model(config)` is what training, restoring, export and the benchmarks share, so a
checkpoint restores into exactly the variables it was saved from.
"""

from __future__ import annotations

import inspect

import keras
import tensorflow as tf

from improved_gan_tf import architectures
from improved_gan_tf import registry
from improved_gan_tf.config import ConfigError
from improved_gan_tf.model import ImprovedGAN
from improved_gan_tf.optimizers import learning_rate_at
from improved_gan_tf.optimizers import make_optimizer

_BUILDERS = {
    "mnist_mlp": (architectures.mnist_mlp_generator, architectures.mnist_mlp_discriminator),
    "mnist_conv": (architectures.mnist_conv_generator, architectures.mnist_conv_discriminator),
    "cifar10": (architectures.cifar10_generator, architectures.cifar10_discriminator),
    "svhn": (architectures.svhn_generator, architectures.svhn_discriminator),
    "imagenet128": (architectures.imagenet128_generator, architectures.imagenet128_discriminator),
    "goodfellow2014": (architectures.goodfellow2014_generator, architectures.goodfellow2014_discriminator),
}


def build_networks(config, num_classes: int | None):
    """`(generator, discriminator)` of `model.architecture` with the config's options.

    Each key of `model.arch` goes to the builder whose signature has it; a key that
    neither builder takes raises `ConfigError` naming it.
    """
    make_g, make_d = _BUILDERS[config.model.architecture]
    g_params = inspect.signature(make_g).parameters
    d_params = inspect.signature(make_d).parameters
    g_kwargs, d_kwargs = {}, {}
    for key, value in config.model.arch.items():
        if key in g_params:
            g_kwargs[key] = value
        if key in d_params:
            d_kwargs[key] = value
        if key not in g_params and key not in d_params:
            raise ConfigError(
                f"config.model.arch.{key} is not an argument of {make_g.__name__} or "
                f"{make_d.__name__}; they take {sorted(set(g_params) | set(d_params))}."
            )
    if "seed" in d_params:
        d_kwargs.setdefault("seed", config.seed)
    if "seed" in g_params:
        g_kwargs.setdefault("seed", config.seed)
    if "num_classes" in d_params:
        d_kwargs.setdefault("num_classes", num_classes or 1)
    elif num_classes:
        raise ConfigError(
            f"config.model.architecture={config.model.architecture!r} has an unsupervised "
            "discriminator (one logit); set config.data.num_labeled=0."
        )
    if "minibatch_discrimination" in d_params:
        d_kwargs["minibatch_discrimination"] = config.model.minibatch_discrimination
    elif "minibatch_kernels" in d_params and not config.model.minibatch_discrimination:
        d_kwargs.setdefault("minibatch_kernels", 0)
    return make_g(**g_kwargs), make_d(**d_kwargs)


def build_model(config, num_classes: int | None = None, strategy=None) -> ImprovedGAN:
    """Builds and compiles the run's `ImprovedGAN` (in `strategy`'s scope if given).

    Args:
        config: a validated config.
        num_classes: K for semi-supervised runs (None: unsupervised). Defaults to what
            the config implies (`registry.data_facts(config).num_classes`: the dataset's,
            or `model.arch.num_classes` when set; None when `data.num_labeled == 0`).
        strategy: distribution strategy (default: the current one).
    """
    if num_classes is None and config.data.num_labeled:
        num_classes = registry.data_facts(config).num_classes
    keras.mixed_precision.set_global_policy(config.train.precision)
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        generator, discriminator = build_networks(config, num_classes)
        feature_layer = architectures.FEATURE_LAYER
        try:
            discriminator.get_layer(feature_layer)
        except ValueError:
            feature_layer = None
        model = ImprovedGAN(
            generator, discriminator, num_classes=num_classes, feature_layer=feature_layer,
            latent_distribution=config.model.latent_distribution,
            historical_averaging_weight=config.model.historical_averaging_weight,
            polyak_rate=config.model.polyak_rate or None,
            polyak_debias=config.model.polyak_debias, seed=config.seed,
            update_order=config.model.update_order,
        )
        g_lr = config.optimizer.generator_learning_rate or config.optimizer.learning_rate
        model.compile(
            d_optimizer=make_optimizer(config, learning_rate_at(config, 0, 0)),
            g_optimizer=make_optimizer(config, g_lr),
            generator_loss=config.model.generator_loss,
            feature_matching_norm=config.model.feature_matching_norm,
            unsupervised_weight=config.model.unsupervised_weight,
            label_smoothing=config.model.label_smoothing or None,
            discriminator_steps=config.model.discriminator_steps,
            generator_steps=config.model.generator_steps,
            generator_target_probability=config.model.generator_target_probability,
            supervised_loss=config.model.supervised_loss,
            jit_compile=config.train.jit_compile,
            run_eagerly=config.train.run_eagerly,
            steps_per_execution=config.train.steps_per_execution,
        )
    return model


def apply_multi_worker_workarounds(model):
    """Works around two Keras 3.15 TF-trainer failures under MultiWorkerMirroredStrategy.

    1. Before training, `_maybe_symbolic_build` pulls one batch and averages it over
       replicas with `strategy.reduce`, which MultiWorkerMirroredStrategy cannot do for
       a dict of per-replica tensors. An `ImprovedGAN` is fully built when created and
       compiled, so the batch is not needed: build what is left without it.
    2. The logs of every step are reduced with `strategy.reduce("MEAN", v, axis=0)`,
       which fails for scalars. The step's logs are returned as shape-[1] tensors, so
       the reduction yields the cross-worker mean as a scalar.
    """

    def symbolic_build(iterator=None, data_batch=None):
        del iterator, data_batch
        with model.distribute_strategy.scope():
            model._symbolic_build(data_batch={})

    def vector_logs(step):
        def wrapped(data):
            return {key: tf.reshape(value, [1]) for key, value in step(data).items()}

        return wrapped

    model._maybe_symbolic_build = symbolic_build
    model.train_step = vector_logs(model.train_step)
    model.test_step = vector_logs(model.test_step)
