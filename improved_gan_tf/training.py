"""Training end to end: `train(config, workdir)` and the run directory it fills.

`improved-gan train --config configs/<experiment>.py --workdir DIR` (see `cli.py`) calls
`train`. It loads the data, builds and compiles an `ImprovedGAN` under a distribution
strategy, restores the last checkpoint of `workdir` if there is one (otherwise runs the
data-dependent initialization on `train.init_examples` training images), and trains with
`model.fit` and the callbacks of this module.

Run directory layout (public: `export.py` and the evaluation tools read it):

    DIR/config.json                 the full config of the run (`load_config`)
    DIR/labeled_indices.json        the labeled subset (semi-supervised runs)
    DIR/checkpoints/ckpt-<N>.*      `tf.train.CheckpointManager` checkpoints, N = global
                                    train step; `checkpoints/checkpoint` names the latest
    DIR/metrics.json, metrics.csv   one record per epoch (losses, accuracy, test error,
                                    learning rate, step time, images/s)
    DIR/samples/epoch_XXXX.png      10x10 grid of G(z) for a fixed latent batch z
    DIR/tensorboard/                TensorBoard scalars and sample images
    DIR/report.json, report.md      written at the end of training
    DIR/curves.png                  losses and test error per epoch

A checkpoint (`make_checkpoint`) holds, by position, every variable of the model (both
players' weights, batch-norm statistics, weight-norm `initialized` flags, the Polyak and
historical averages, and the random-number generators' states), every variable of both
optimizers (moments, iteration counts, learning rate, momentum), the global step (which
is the data pipeline's position: the training streams are pure functions of the step,
see `improved_gan_tf.data`) and the training time so far. Restoring one and running the
rest of the schedule therefore continues an interrupted run exactly; with
`deterministic=True` a run killed with SIGKILL and re-run ends with the same weights as
one that was never interrupted (tested).

Writes are atomic: TensorFlow writes a checkpoint's data and index files first and then
replaces the `checkpoints/checkpoint` state file with an atomic rename, so a kill during
a save leaves the previous checkpoint as the latest. JSON, CSV and PNG files are written
to a temporary file and renamed.

A non-finite loss stops training with `NonFiniteLossError`, which names the step and the
last good checkpoint; the diverged state is never saved.

Public helpers for other tools: `load_config`, `build_model`, `make_checkpoint`,
`latest_checkpoint`, `restore_models(workdir) -> (config, model)`, `weights_fingerprint`.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import inspect
import io
import json
import math
import os
import pathlib
import shutil
import time
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from ml_collections import config_dict

from improved_gan_tf import architectures
from improved_gan_tf import data as data_lib
from improved_gan_tf import registry
from improved_gan_tf.config import ConfigError
from improved_gan_tf.config import base_config
from improved_gan_tf.config import flatten
from improved_gan_tf.config import validate_config
from improved_gan_tf.fileio import atomic_write_bytes
from improved_gan_tf.fileio import atomic_write_text
from improved_gan_tf.grids import image_grid
from improved_gan_tf.grids import save_png
from improved_gan_tf.latents import sample_latents
from improved_gan_tf.model import ImprovedGAN
from improved_gan_tf.optimizers import AuthorsAdam  # noqa: F401  (public here too, for now)
from improved_gan_tf.optimizers import ScheduledMomentumSGD
from improved_gan_tf.optimizers import learning_rate_at
from improved_gan_tf.optimizers import make_optimizer
from improved_gan_tf.optimizers import momentum_at

CONFIG_FILENAME = "config.json"
CHECKPOINT_SUBDIR = "checkpoints"
CHECKPOINT_PREFIX = "ckpt"
METRICS_JSON = "metrics.json"
METRICS_CSV = "metrics.csv"
SAMPLES_SUBDIR = "samples"
TENSORBOARD_SUBDIR = "tensorboard"
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
CURVES_PNG = "curves.png"


class NonFiniteLossError(RuntimeError):
    """A training loss became NaN or infinite; the message names the step and checkpoint."""


# ----------------------------------------------------------------------------------------
# Small utilities.
# ----------------------------------------------------------------------------------------



def _to_float(value) -> float:
    return float(np.asarray(value))


def config_to_dict(config) -> dict:
    """A plain JSON-serializable dict of a ConfigDict."""
    return json.loads(config.to_json())


def config_from_dict(values: dict):
    """Rebuilds a locked, typed config from `config_to_dict` output (e.g. config.json).

    Unknown keys raise `ConfigError`, so a run directory of an incompatible version is
    refused rather than misread.
    """
    config = base_config()
    with config.unlocked():
        for key, value in (values.get("model", {}).get("arch") or {}).items():
            config.model.arch[key] = value
    for key, value in flatten(config_dict.ConfigDict(values)).items():
        if key.startswith("model.arch."):
            continue
        node = config
        *parents, leaf = key.split(".")
        try:
            for part in parents:
                node = node[part]
            if leaf not in node:
                raise KeyError(leaf)
        except KeyError:
            raise ConfigError(f"Unknown config key {key!r}.") from None
        if isinstance(node[leaf], float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        node[leaf] = value
    return validate_config(config)


def load_config(workdir) -> config_dict.ConfigDict:
    """The config a run directory was trained with (`DIR/config.json`)."""
    path = pathlib.Path(workdir) / CONFIG_FILENAME
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: is {workdir} a training run directory?")
    return config_from_dict(json.loads(path.read_text()))


# ----------------------------------------------------------------------------------------
# Devices, precision and strategies.
# ----------------------------------------------------------------------------------------


def configure_devices(config) -> None:
    """Logical CPUs, thread pools, op determinism and global seeds; call before any TF op runs.

    `distribute.logical_cpus=n` splits the first physical CPU into n logical devices
    (for exercising MirroredStrategy on a CPU machine). If TensorFlow is already
    initialized with n logical CPUs (e.g. by a test's conftest), that is accepted.
    """
    wanted = config.distribute.logical_cpus
    if wanted:
        cpus = tf.config.list_physical_devices("CPU")
        try:
            tf.config.set_logical_device_configuration(
                cpus[0], [tf.config.LogicalDeviceConfiguration()] * wanted
            )
        except RuntimeError as error:
            have = len(tf.config.list_logical_devices("CPU"))
            if have != wanted:
                raise RuntimeError(
                    f"config.distribute.logical_cpus={wanted}, but TensorFlow is already "
                    f"initialized with {have} logical CPU device(s); logical devices must be "
                    "configured before TensorFlow runs anything (use a fresh process)."
                ) from error
    if config.train.intra_op_threads:
        tf.config.threading.set_intra_op_parallelism_threads(config.train.intra_op_threads)
    if config.train.inter_op_threads:
        tf.config.threading.set_inter_op_parallelism_threads(config.train.inter_op_threads)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(config.seed)


_MIRRORED_STRATEGIES: dict[tuple[str, ...], tf.distribute.MirroredStrategy] = {}


def mirrored_strategy(device_names) -> tf.distribute.MirroredStrategy:
    """One `MirroredStrategy` per device list and process, reused on later calls.

    Several MirroredStrategy objects in one process hand out clashing collective
    instance keys ("Shape mismatch in the collective instance ..."), e.g. when a
    notebook or a test session trains twice; reusing the first one avoids that.
    """
    key = tuple(device_names)
    if key not in _MIRRORED_STRATEGIES:
        _MIRRORED_STRATEGIES[key] = tf.distribute.MirroredStrategy(list(key))
    return _MIRRORED_STRATEGIES[key]


def make_strategy(config) -> tf.distribute.Strategy:
    """The strategy `distribute.strategy` asks for.

    - `auto`: `MirroredStrategy` over all visible GPUs, else over all logical CPUs,
      when there is more than one device; the default strategy otherwise;
    - `mirrored`: `MirroredStrategy` over the same devices, even if there is one;
    - `multi_worker`: `MultiWorkerMirroredStrategy` from the `TF_CONFIG` environment
      variable (one process per worker);
    - `none`: the default (single-device) strategy.
    """
    name = config.distribute.strategy
    if name == "multi_worker":
        if not os.environ.get("TF_CONFIG"):
            raise ConfigError(
                "config.distribute.strategy='multi_worker' reads the cluster from the "
                "TF_CONFIG environment variable, which is not set."
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    if name == "none" or (name == "auto" and len(devices) <= 1):
        return tf.distribute.get_strategy()
    return mirrored_strategy(device.name for device in devices)


def task_info(strategy) -> tuple[str, int, bool]:
    """`(task_type, task_id, is_chief)` of this process (("", 0, True) on one machine)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return "", 0, True
    task_type, task_id = resolver.task_type, resolver.task_id or 0
    cluster = resolver.cluster_spec().as_dict()
    if "chief" in cluster:
        return task_type, task_id, task_type == "chief"
    return task_type, task_id, task_type in (None, "worker") and task_id == 0


# ----------------------------------------------------------------------------------------
# Data.
# ----------------------------------------------------------------------------------------


@dataclasses.dataclass
class TrainingData:
    """Everything the trainer needs from the data.

    `train_images` / `test_images` are uint8 arrays (None for ImageNet, which streams
    from TFDS); `labeled_indices` index `train_images`; `init_images` are preprocessed.
    """

    name: str
    image_shape: tuple
    num_classes: int
    preprocess: str
    train_images: np.ndarray | None
    train_labels: np.ndarray | None
    test_images: np.ndarray | None
    test_labels: np.ndarray | None
    labeled_indices: np.ndarray | None
    init_images: np.ndarray | None
    source: str

    @property
    def semi_supervised(self) -> bool:
        return self.labeled_indices is not None


def _synthetic_arrays(shape, count, num_classes, seed):
    rng = np.random.RandomState(seed)
    images = rng.randint(0, 256, size=(count,) + tuple(shape), dtype=np.uint8)
    labels = np.arange(count, dtype=np.int64) % num_classes
    return images, labels


def load_training_data(config) -> TrainingData:
    """Loads the arrays, picks the labeled subset and the init batch.

    The init batch is the first `train.init_examples` images of the training set
    permuted with `RandomState(data.seed)`, as in the authors' MNIST script
    (`init_param(trainx[:500])` after the permutation).
    """
    facts = registry.data_facts(config)
    name, shape, num_classes, preprocess = (
        facts.name, facts.image_shape, facts.num_classes, facts.preprocess
    )
    is_imagenet = registry.DATASETS[name].streamed

    if config.data.synthetic:
        count = max(config.data.train_examples or 0, config.train.init_examples,
                    config.data.num_labeled, config.train.batch_size * 2, num_classes)
        train_x, train_y = _synthetic_arrays(shape, count, num_classes, config.seed)
        test_count = config.data.test_examples or config.train.batch_size
        test_x, test_y = _synthetic_arrays(shape, test_count, num_classes, config.seed + 1)
        source = "synthetic (uniform random pixels)"
    elif is_imagenet:
        train_x = train_y = test_x = test_y = None
        source = "tfds imagenet2012 (manual download)"
    else:
        data_dir = config.data.dir or None
        train_x, train_y = data_lib.load_arrays(name, "train", data_dir)
        test_x, test_y = data_lib.load_arrays(name, config.data.test_split, data_dir)
        source = f"local files in {config.data.dir}" if data_dir else "tfds"
    if train_x is not None and config.data.train_examples:
        train_x, train_y = train_x[: config.data.train_examples], train_y[: config.data.train_examples]
    if test_x is not None and config.data.test_examples:
        test_x, test_y = test_x[: config.data.test_examples], test_y[: config.data.test_examples]

    labeled = None
    if config.data.num_labeled and train_y is not None:
        labeled = data_lib.select_labeled_subset(
            train_y, config.data.num_labeled, num_classes, config.data.seed
        )
    init_count = config.train.init_examples
    init_images = None
    if init_count and train_x is not None:
        order = np.random.RandomState(config.data.seed).permutation(train_x.shape[0])
        init_images = data_lib.preprocess_array(train_x[order[:init_count]], preprocess)
    elif init_count:
        init_images = data_lib.preprocess_array(_imagenet_init_batch(config, init_count), preprocess)
    return TrainingData(
        name=name, image_shape=tuple(shape), num_classes=num_classes, preprocess=preprocess,
        train_images=train_x, train_labels=train_y, test_images=test_x, test_labels=test_y,
        labeled_indices=labeled, init_images=init_images, source=source,
    )


def _imagenet_builder(config):
    import tensorflow_datasets as tfds

    kwargs = {}
    if config.data.tfds_manual_dir:
        kwargs["download_config"] = tfds.download.DownloadConfig(manual_dir=config.data.tfds_manual_dir)
    return tfds, kwargs


def _imagenet_images(config, split, seed):
    """ImageNet images center-cropped and resized to 128x128 (uint8), with labels."""
    tfds, kwargs = _imagenet_builder(config)
    try:
        ds = tfds.load(
            "imagenet2012", split=split, shuffle_files=split == "train",
            read_config=tfds.ReadConfig(shuffle_seed=seed),
            download_and_prepare_kwargs=kwargs or None, as_supervised=True,
        )
    except Exception as error:  # AssertionError / DownloadError, depending on the TFDS version
        raise data_lib.DatasetNotFoundError(
            "ImageNet (imagenet2012) needs a TFDS manual download: place ILSVRC2012_img_train.tar "
            "and ILSVRC2012_img_val.tar in a directory and pass it as "
            f"--config.data.tfds_manual_dir=DIR ({type(error).__name__}: {error})."
        ) from error

    def crop_resize(image, label):
        side = tf.minimum(tf.shape(image)[0], tf.shape(image)[1])
        image = tf.image.resize_with_crop_or_pad(image, side, side)
        size = registry.DATASETS["imagenet2012"].image_shape[:2]
        image = tf.image.resize(image, size, antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8), label

    return ds.map(crop_resize, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _imagenet_init_batch(config, count):
    ds = _imagenet_images(config, "train", config.data.seed).take(count)
    return np.stack([image for image, _ in ds.as_numpy_iterator()])


def _imagenet_training_stream(config, preprocess, initial_step):
    """The ImageNet stream (every image labeled, as in the authors' ImageNet model)."""
    fn = data_lib.get_preprocess(preprocess)
    batch = config.train.batch_size
    ds = _imagenet_images(config, "train", config.seed).repeat()
    ds = ds.shuffle(10 * batch, seed=config.seed).batch(batch, drop_remainder=True)
    ds = ds.skip(initial_step)
    ds = ds.map(
        lambda x, y: {registry.LABELED: fn(x), registry.LABELS: y, registry.UNLABELED: fn(x)},
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True,
    )
    return ds.prefetch(tf.data.AUTOTUNE)


def steps_per_epoch(config, data: TrainingData) -> int:
    """`train.steps_per_epoch`, or one pass over the unlabeled data when it is None/0."""
    if config.train.steps_per_epoch:
        return int(config.train.steps_per_epoch)
    if data.train_images is None:
        return registry.DATASETS[data.name].split_sizes["train"] // config.train.batch_size
    steps = data.train_images.shape[0] // config.train.batch_size
    if steps < 1:
        raise ConfigError(
            f"config.train.batch_size={config.train.batch_size} is larger than the "
            f"{data.train_images.shape[0]} training images; set config.train.steps_per_epoch."
        )
    return steps


def training_stream(config, data: TrainingData, initial_step: int, num_steps: int):
    """The training batches from global step `initial_step` on, `num_steps` of them."""
    steps = steps_per_epoch(config, data)
    if data.train_images is None and not config.data.synthetic:
        return _imagenet_training_stream(config, data.preprocess, initial_step).take(num_steps)
    end_epoch = math.ceil((initial_step + num_steps) / steps)
    if data.semi_supervised:
        ds = data_lib.semi_supervised_dataset(
            data.train_images, data.train_labels, data.labeled_indices,
            preprocess=data.preprocess, batch_size=config.train.batch_size, seed=config.seed,
            steps_per_epoch=steps, num_epochs=end_epoch, initial_step=initial_step,
        )
    else:
        ds = data_lib.unsupervised_dataset(
            data.train_images, preprocess=data.preprocess, batch_size=config.train.batch_size,
            seed=config.seed, steps_per_epoch=steps, num_epochs=end_epoch,
            initial_step=initial_step,
        )
    return ds.take(num_steps)


def evaluation_stream(config, data: TrainingData):
    """The labeled test set, every example once (None for unsupervised runs)."""
    if not data.semi_supervised and not registry.DATASETS[data.name].streamed:
        return None
    if data.test_images is None:
        fn = data_lib.get_preprocess(data.preprocess)
        ds = _imagenet_images(config, "validation", config.seed)
        if config.data.test_examples:
            ds = ds.take(config.data.test_examples)
        return ds.batch(config.train.batch_size).map(lambda x, y: (fn(x), y)).prefetch(2)
    return data_lib.eval_dataset(
        data.test_images, data.test_labels, preprocess=data.preprocess,
        batch_size=config.train.batch_size,
    )


# ----------------------------------------------------------------------------------------
# Model.
# ----------------------------------------------------------------------------------------

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
        )
    return model


# ----------------------------------------------------------------------------------------
# Checkpoints.
# ----------------------------------------------------------------------------------------


@dataclasses.dataclass
class RunState:
    """Variables saved with the model: the global step and the training time so far."""

    step: tf.Variable
    elapsed_seconds: tf.Variable

    @classmethod
    def create(cls):
        with tf.init_scope():
            return cls(
                step=tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step"),
                elapsed_seconds=tf.Variable(0.0, dtype=tf.float64, trainable=False, name="elapsed_seconds"),
            )


def make_checkpoint(model: ImprovedGAN, state: RunState | None = None) -> tf.train.Checkpoint:
    """The `tf.train.Checkpoint` of a run: every variable of the model and of both
    optimizers (by position, see the module docstring), the global step and the
    training time. `state` defaults to a fresh `RunState` (restore fills it)."""
    state = state or RunState.create()
    return tf.train.Checkpoint(
        model_variables=list(model.variables),
        d_optimizer_variables=list(model.d_optimizer.variables),
        g_optimizer_variables=list(model.g_optimizer.variables),
        global_step=state.step,
        elapsed_seconds=state.elapsed_seconds,
    )


def latest_checkpoint(workdir) -> str | None:
    """Path prefix of the latest checkpoint of a run directory (None if there is none)."""
    return tf.train.latest_checkpoint(str(pathlib.Path(workdir) / CHECKPOINT_SUBDIR))


def _mark_restored(model):
    for layer in model._data_init_layers():
        layer.mark_initialized_if_done()


def restore_models(workdir, checkpoint: str | None = None, strategy=None):
    """Rebuilds a run's model and loads its weights: `(config, model)`.

    Args:
        workdir: the run directory (`--workdir` of `improved-gan train`).
        checkpoint: a checkpoint path prefix (e.g. `DIR/checkpoints/ckpt-1200`); the
            latest one when None.
        strategy: strategy whose scope the model is built in (default: current).

    Returns:
        `(config, model)`: the run's config and a compiled `ImprovedGAN` whose generator,
        discriminator, Polyak average (`model.averaged_discriminator_weights()`) and
        optimizers hold the checkpoint's values; `model.restored_step` is its global step.

    Raises:
        FileNotFoundError: no config.json or no checkpoint in `workdir`.
    """
    config = load_config(workdir)
    path = checkpoint or latest_checkpoint(workdir)
    if path is None:
        raise FileNotFoundError(f"No checkpoint in {pathlib.Path(workdir) / CHECKPOINT_SUBDIR}.")
    model = build_model(config, strategy=strategy)
    state = RunState.create()
    make_checkpoint(model, state).restore(path).assert_consumed()
    _mark_restored(model)
    model.restored_step = int(state.step.numpy())
    return config, model


def weights_fingerprint(model: ImprovedGAN, trainable_only: bool = False) -> str:
    """SHA-256 of the bytes of every model variable (or only the trainable ones), for
    comparing runs and workers."""
    digest = hashlib.sha256()
    for variable in (model.trainable_variables if trainable_only else model.variables):
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(variable)).tobytes())
    return digest.hexdigest()


# ----------------------------------------------------------------------------------------
# Images.
# ----------------------------------------------------------------------------------------


def to_uint8_images(samples: np.ndarray, image_shape, preprocess: str) -> np.ndarray:
    """Maps model-space samples back to uint8 `[N, H, W, C]` for display."""
    x = np.asarray(samples, dtype=np.float32).reshape((-1,) + tuple(image_shape))
    if preprocess == "symmetric":
        x = x * 128.0 + 127.5
    else:
        x = x * 255.0
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def generate_samples(model: ImprovedGAN, latents) -> np.ndarray:
    """G(latents) as the authors sample (batch statistics in G, `training=True`), with
    every non-trainable variable of G (batch-norm statistics, noise generators' states)
    restored afterwards so that sampling does not change the training run."""
    generator = model.generator
    variables = [v for v in generator.variables if not v.trainable]
    saved = [keras.ops.convert_to_numpy(v) for v in variables]
    try:
        samples = generator(latents, training=True)
    finally:
        for variable, value in zip(variables, saved):
            variable.assign(value)
    return keras.ops.convert_to_numpy(samples).astype(np.float32)


# ----------------------------------------------------------------------------------------
# Callbacks.
# ----------------------------------------------------------------------------------------


class ScheduleCallback(keras.callbacks.Callback):
    """Sets both players' learning rate (and SGD momentum) from the config's schedule
    at every epoch start, or every step for per-step schedules."""

    def __init__(self, config, runner):
        super().__init__()
        self.config = config
        self.runner = runner
        self.per_step = config.optimizer.schedule == "exponential_per_step"

    def _apply(self, epoch):
        model = self.model
        lr = learning_rate_at(self.config, epoch, self.runner.step)
        g_base = self.config.optimizer.generator_learning_rate
        g_lr = lr if not g_base else lr * g_base / self.config.optimizer.learning_rate
        model.d_optimizer.learning_rate = lr
        model.g_optimizer.learning_rate = g_lr
        if isinstance(model.d_optimizer, ScheduledMomentumSGD):
            momentum = momentum_at(self.config, epoch)
            model.d_optimizer.momentum.assign(momentum)
            model.g_optimizer.momentum.assign(momentum)
        self.runner.learning_rate = lr

    def on_epoch_begin(self, epoch, logs=None):
        self.runner.epoch = epoch
        self._apply(epoch)

    def on_train_batch_begin(self, batch, logs=None):
        if self.per_step:
            self._apply(self.runner.epoch)


class EpochLogger(keras.callbacks.Callback):
    """Per epoch: the metrics record (JSON + CSV), TensorBoard scalars and images, and
    the PNG grid of samples from the fixed latent batch (chief only)."""

    def __init__(self, runner):
        super().__init__()
        self.runner = runner

    def on_epoch_end(self, epoch, logs=None):
        self.runner.end_epoch(epoch, logs or {})


class StepCallback(keras.callbacks.Callback):
    """Counts steps, stops on non-finite losses, times steps and saves checkpoints."""

    def __init__(self, runner):
        super().__init__()
        self.runner = runner

    def on_train_batch_begin(self, batch, logs=None):
        self.runner.batch_started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.runner.end_step(logs or {})

    def on_epoch_end(self, epoch, logs=None):
        self.runner.save_checkpoint()


# ----------------------------------------------------------------------------------------
# The trainer.
# ----------------------------------------------------------------------------------------


def _multi_worker_keras_workarounds(model):
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


class Trainer:
    """One training run in a run directory (see the module docstring).

    Most users call `train(config, workdir)`; the attributes are public so tests and
    tools can look inside (`model`, `strategy`, `data`, `manager`, `history`).
    """

    def __init__(self, config, workdir):
        self.config = validate_config(config)
        self.workdir = pathlib.Path(workdir)
        self.strategy = make_strategy(config)
        self.task_type, self.task_id, self.is_chief = task_info(self.strategy)
        self.replicas = self.strategy.num_replicas_in_sync
        if config.train.run_eagerly and self.replicas > 1:
            raise ConfigError(
                f"config.train.run_eagerly=True needs a single replica, but the strategy has "
                f"{self.replicas}; set config.distribute.strategy='none'."
            )
        self.data = load_training_data(config)
        self.steps_per_epoch = steps_per_epoch(config, self.data)
        self.total_steps = self.steps_per_epoch * config.train.epochs
        self.model = build_model(
            config, self.data.num_classes if self.data.semi_supervised else None, self.strategy
        )
        if isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            _multi_worker_keras_workarounds(self.model)
        with self.strategy.scope():
            self.state = RunState.create()
        self.checkpoint = make_checkpoint(self.model, self.state)
        checkpoint_dir = self.workdir / CHECKPOINT_SUBDIR
        if not self.is_chief:
            # Every worker takes part in saving (variables may live on several workers);
            # only the chief's copy is kept.
            checkpoint_dir = self.workdir / f".worker_{self.task_type}_{self.task_id}" / CHECKPOINT_SUBDIR
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(checkpoint_dir), max_to_keep=config.checkpoint.max_to_keep,
            checkpoint_name=CHECKPOINT_PREFIX,
        )
        self.latents = sample_latents(
            config.model.latent_distribution, (config.train.num_samples, self.model.latent_dim),
            seed=tf.constant([config.seed, 20160610]),
        )
        self.history: list[dict] = []
        self.step = 0
        self.epoch = 0
        self.learning_rate = learning_rate_at(config, 0, 0)
        self.batch_started = time.perf_counter()
        self.window_seconds = 0.0
        self.window_steps = 0
        self.epoch_seconds = 0.0
        self.epoch_steps = 0
        self.session_started = time.perf_counter()
        self.elapsed_at_start = 0.0
        self.last_saved: str | None = None
        self.saved_step: int | None = None
        self.eval_ds = None
        self.resumed_from: str | None = None
        if self.is_chief:
            self.writer = tf.summary.create_file_writer(str(self.workdir / TENSORBOARD_SUBDIR))
        else:
            self.writer = tf.summary.create_noop_writer()

    # -------------------------------------------------------------- setup
    def _write_run_files(self):
        if not self.is_chief:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        previous = self.workdir / CONFIG_FILENAME
        if previous.exists():
            old = flatten(config_dict.ConfigDict(json.loads(previous.read_text())))
            new = flatten(self.config)
            changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            if changed:
                print(f"[improved-gan] config differs from the run directory's in: {changed}", flush=True)
        atomic_write_text(previous, self.config.to_json(indent=1) + "\n")
        if self.data.semi_supervised:
            data_lib.save_labeled_indices(
                self.workdir, self.data.labeled_indices, seed=self.config.data.seed,
                labels=self.data.train_labels, num_classes=self.data.num_classes,
                dataset=self.data.name, extra={"source": self.data.source},
            )

    def restore_or_initialize(self):
        """Restores the latest checkpoint of the run directory, or initializes the model
        (data-dependent init) and saves checkpoint 0."""
        latest = latest_checkpoint(self.workdir)
        if latest:
            self.checkpoint.restore(latest).assert_consumed()
            _mark_restored(self.model)
            self.resumed_from = latest
            self.last_saved = latest
            self.saved_step = int(self.state.step.numpy())
            print(f"[improved-gan] resumed from {latest} (step {int(self.state.step.numpy())})", flush=True)
        else:
            if self.config.train.init_examples:
                self.model.initialize(self.data.init_images)
            if self.task_type == "":
                # Checkpoint 0 (single process only: under MultiWorkerMirroredStrategy a
                # worker must not find the chief's checkpoint 0 while deciding whether to
                # restore, so the first multi-worker checkpoint is at `every_steps`).
                self.save_checkpoint()
        self.step = int(self.state.step.numpy())
        self.elapsed_at_start = float(self.state.elapsed_seconds.numpy())
        self.session_started = time.perf_counter()
        metrics_path = self.workdir / METRICS_JSON
        if metrics_path.exists():
            completed = self.step // self.steps_per_epoch
            self.history = [r for r in json.loads(metrics_path.read_text()) if r["epoch"] <= completed]

    # -------------------------------------------------------------- steps
    def elapsed(self) -> float:
        return self.elapsed_at_start + time.perf_counter() - self.session_started

    def save_checkpoint(self):
        """Saves the current state as checkpoint `step` (never a non-finite one)."""
        if self.saved_step == self.step:
            return  # Decided from this session's own record, so all workers agree.
        for variable in self.model.trainable_variables:
            if not bool(np.all(np.isfinite(keras.ops.convert_to_numpy(variable)))):
                raise NonFiniteLossError(
                    f"Non-finite weights in {variable.path} at step {self.step}; not saving. "
                    f"The last good checkpoint is {self.last_saved}."
                )
        self.state.step.assign(self.step)
        self.state.elapsed_seconds.assign(self.elapsed())
        path = self.manager.save(checkpoint_number=self.step)
        self.saved_step = self.step
        if self.is_chief:
            self.last_saved = path
        else:
            self.last_saved = str(self.workdir / CHECKPOINT_SUBDIR / pathlib.Path(path).name)

    def end_step(self, logs):
        now = time.perf_counter()
        seconds = now - self.batch_started
        self.step += 1
        self.window_seconds += seconds
        self.window_steps += 1
        self.epoch_seconds += seconds
        self.epoch_steps += 1
        bad = {k: _to_float(v) for k, v in logs.items() if not math.isfinite(_to_float(v))}
        if bad:
            where = self.last_saved or "none (no checkpoint was written)"
            raise NonFiniteLossError(
                f"Non-finite loss at step {self.step} (epoch {self.epoch + 1}): "
                + ", ".join(f"{k}={v}" for k, v in bad.items())
                + f". Training stopped; the last good checkpoint is {where}, and it was "
                "not overwritten. Lower the learning rate or check the data, then re-run "
                "to resume from it."
            )
        every = self.config.checkpoint.every_steps
        if every and self.step % every == 0:
            self.save_checkpoint()
        log_every = self.config.train.log_every_steps
        if log_every and self.step % log_every == 0:
            with self.writer.as_default(step=self.step):
                for key, value in logs.items():
                    tf.summary.scalar(f"step/{key}", _to_float(value))
                tf.summary.scalar("step/learning_rate", self.learning_rate)
                tf.summary.scalar("step/seconds_per_step", self.window_seconds / self.window_steps)
            self.window_seconds, self.window_steps = 0.0, 0

    def end_epoch(self, epoch, logs):
        logs = {k: _to_float(v) for k, v in logs.items()}
        steps, seconds = max(self.epoch_steps, 1), max(self.epoch_seconds, 1e-9)
        record: dict[str, Any] = {"epoch": epoch + 1, "step": self.step}
        for key in ("d_loss", "g_loss", "supervised_loss", "unsupervised_loss", "accuracy"):
            if key in logs:
                record[key] = logs[key]
        if "val_error" in logs:
            # `fit` validates with the Polyak-averaged D when there is one.
            n_test = self._num_test()
            averaged = raw = logs["val_error"]
            if self.model.d_polyak_average is not None and self.eval_ds is not None:
                # The same test set with D's current (not averaged) weights.
                raw = float(keras.Model.evaluate(self.model, self.eval_ds, verbose=0, return_dict=True)["error"])
            reported = averaged if self.config.model.test_with_polyak_average else raw
            record["test_error"] = reported
            record["test_errors"] = int(round(reported * n_test))
            record["test_examples"] = n_test
            record["test_errors_raw"] = int(round(raw * n_test))
            if self.model.d_polyak_average is not None:
                record["test_errors_polyak"] = int(round(averaged * n_test))
        record["learning_rate"] = self.learning_rate
        record["seconds_per_step"] = seconds / steps
        record["images_per_second"] = steps * self.config.train.batch_size / seconds
        record["wall_seconds"] = self.elapsed()
        self.epoch_seconds, self.epoch_steps = 0.0, 0
        self.history = [r for r in self.history if r["epoch"] != record["epoch"]] + [record]
        if not self.is_chief:
            return
        samples = generate_samples(self.model, self.latents)
        with self.writer.as_default(step=epoch + 1):
            for key, value in record.items():
                if key not in ("epoch", "step"):
                    tf.summary.scalar(f"epoch/{key}", value)
        images = to_uint8_images(samples, self.data.image_shape, self.data.preprocess)
        grid = image_grid(images)
        save_png(self.workdir / SAMPLES_SUBDIR / f"epoch_{epoch + 1:04d}.png", grid)
        with self.writer.as_default(step=epoch + 1):
            tf.summary.image("samples", grid[None], max_outputs=1)
        self.writer.flush()
        self._write_metrics()
        line = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()
        )
        print(f"[improved-gan] {line}", flush=True)

    def _num_test(self) -> int:
        if self.data.test_images is not None:
            return int(self.data.test_images.shape[0])
        validation = registry.DATASETS[self.data.name].split_sizes["validation"]  # ImageNet
        return int(self.config.data.test_examples or validation)

    def _write_metrics(self):
        atomic_write_text(self.workdir / METRICS_JSON, json.dumps(self.history, indent=1) + "\n")
        keys: list[str] = []
        for record in self.history:
            keys += [k for k in record if k not in keys]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=keys)
        writer.writeheader()
        writer.writerows(self.history)
        atomic_write_text(self.workdir / METRICS_CSV, buffer.getvalue())

    # -------------------------------------------------------------- fit
    def fit(self):
        """Runs (the rest of) the schedule with `model.fit`; returns the report dict."""
        self._write_run_files()
        self.restore_or_initialize()
        # EpochLogger's on_epoch_end runs before StepCallback's, so an epoch's record is
        # written before the checkpoint that ends the epoch.
        callbacks = [ScheduleCallback(self.config, self), EpochLogger(self), StepCallback(self)]
        eval_ds = self.eval_ds = evaluation_stream(self.config, self.data)
        every = self.config.train.eval_every_epochs
        fit_kwargs = dict(
            callbacks=callbacks, verbose=self.config.train.verbose if self.is_chief else 0,
        )
        if eval_ds is not None and every:
            fit_kwargs.update(validation_data=eval_ds, validation_freq=every)
        while self.step < self.total_steps:
            epoch, done = divmod(self.step, self.steps_per_epoch)
            if done:
                # A resumed run first finishes its interrupted epoch (one short `fit`)...
                steps, last_epoch = self.steps_per_epoch - done, epoch + 1
                num_steps = steps
            else:
                # ...then runs the remaining whole epochs.
                steps, last_epoch = self.steps_per_epoch, self.config.train.epochs
                num_steps = (last_epoch - epoch) * steps
            stream = training_stream(self.config, self.data, self.step, num_steps)
            self.model.fit(
                stream, initial_epoch=epoch, epochs=last_epoch, steps_per_epoch=steps, **fit_kwargs
            )
        self.save_checkpoint()
        return self.write_report()

    # -------------------------------------------------------------- report
    def write_report(self) -> dict:
        """Writes report.json, report.md and curves.png (chief); returns the report."""
        final = self.history[-1] if self.history else {}
        wall = self.elapsed()
        total_images = self.step * self.config.train.batch_size
        report: dict[str, Any] = {
            "experiment": self.config.experiment,
            "workdir": str(self.workdir),
            "config": config_to_dict(self.config),
            "data_source": self.data.source,
            "labeled_indices_file": (
                str(self.workdir / data_lib.LABELED_INDICES_FILENAME) if self.data.semi_supervised else None
            ),
            "num_labeled": int(self.config.data.num_labeled) if self.data.semi_supervised else 0,
            "epochs_completed": self.step // self.steps_per_epoch,
            "global_step": self.step,
            "steps_per_epoch": self.steps_per_epoch,
            "replicas": self.replicas,
            "strategy": (
                "MultiWorkerMirroredStrategy"
                if isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy)
                else type(self.strategy).__name__
            ),
            "wall_seconds": wall,
            "images_per_second": total_images / max(wall, 1e-9),
            "seconds_per_step_last_epoch": final.get("seconds_per_step"),
            "last_checkpoint": self.last_saved,
            "resumed_from": self.resumed_from,
            "weights_fingerprint": weights_fingerprint(self.model),
            "trainable_weights_fingerprint": weights_fingerprint(self.model, trainable_only=True),
            "curves_png": str(self.workdir / CURVES_PNG),
            "final": final,
        }
        if "test_errors" in final:
            best = min(self.history, key=lambda r: r.get("test_errors", math.inf))
            report["test_errors"] = final["test_errors"]
            report["test_examples"] = final["test_examples"]
            report["test_error_percent"] = 100.0 * final["test_error"]
            report["best_epoch"] = {"epoch": best["epoch"], "test_errors": best["test_errors"]}
        if not self.is_chief:
            atomic_write_text(
                self.workdir / f".worker_{self.task_type}_{self.task_id}" / REPORT_JSON,
                json.dumps(report, indent=1) + "\n",
            )
            return report
        plot_curves(self.history, self.workdir / CURVES_PNG, title=self.config.experiment)
        previous_report = self.workdir / REPORT_JSON
        earlier_scores = (
            json.loads(previous_report.read_text()).get("scores") if previous_report.is_file() else None
        )
        atomic_write_text(self.workdir / REPORT_JSON, json.dumps(report, indent=1) + "\n")
        atomic_write_text(self.workdir / REPORT_MD, render_report_md(report, self.history))
        if earlier_scores:
            # `improved-gan score` results survive a resumed run; they name the
            # checkpoint they were computed on.
            from improved_gan_tf.evaluation.score_run import update_report

            update_report(self.workdir, earlier_scores)
            report["scores"] = earlier_scores
        self.writer.flush()
        return report

    def cleanup(self):
        """Removes a non-chief worker's temporary checkpoint directory."""
        if not self.is_chief:
            shutil.rmtree(self.workdir / f".worker_{self.task_type}_{self.task_id}" / CHECKPOINT_SUBDIR,
                          ignore_errors=True)


def plot_curves(history: list[dict], path, title: str = "") -> None:
    """Losses (left) and test error (right) per epoch, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    has_error = any("test_errors" in r for r in history)
    fig, axes = plt.subplots(1, 2 if has_error else 1, figsize=(11 if has_error else 6, 4), squeeze=False)
    ax = axes[0][0]
    for key in ("d_loss", "g_loss", "supervised_loss", "unsupervised_loss"):
        points = [(r["epoch"], r[key]) for r in history if key in r]
        if points:
            ax.plot(*zip(*points), marker=".", label=key)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_ylabel("loss (epoch mean)")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.grid(True, alpha=0.3)
    ax.legend()
    ax.set_title("losses")
    if has_error:
        ax = axes[0][1]
        points = [(r["epoch"], r["test_errors"]) for r in history if "test_errors" in r]
        n = next(r["test_examples"] for r in history if "test_examples" in r)
        for key, style, label in (
            ("test_errors_polyak", dict(marker="o", color="tab:red"), "Polyak-averaged D"),
            ("test_errors_raw", dict(marker=".", color="tab:gray", alpha=0.7), "current D"),
        ):
            curve = [(r["epoch"], r[key]) for r in history if key in r]
            if curve:
                ax.plot(*zip(*curve), label=label, **style)
        ax.legend()
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"test errors (of {n:,})")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        last = points[-1]
        ax.set_title(f"test errors: {last[1]} at epoch {last[0]}")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(pathlib.Path(path), buffer.getvalue())


def render_report_md(report: dict, history: list[dict]) -> str:
    """The human-readable report."""
    lines = [f"# Training report: {report['experiment'] or 'run'}", ""]
    lines.append(f"- run directory: `{report['workdir']}`")
    lines.append(f"- data: {report['data_source']}")
    if report.get("labeled_indices_file"):
        lines.append(
            f"- labeled examples: {report['num_labeled']} (indices: `{report['labeled_indices_file']}`)"
        )
    lines.append(
        f"- trained: {report['epochs_completed']} epochs, {report['global_step']} steps of "
        f"{report['steps_per_epoch']} per epoch, {report['replicas']} replica(s) ({report['strategy']})"
    )
    lines.append(f"- wall time: {report['wall_seconds']:.1f} s; {report['images_per_second']:.1f} images/s")
    if "test_errors" in report:
        model_config = report["config"]["model"]
        averaged = model_config["polyak_rate"] and model_config["test_with_polyak_average"]
        lines.append(
            f"- **test error: {report['test_errors']} / {report['test_examples']:,} "
            f"({report['test_error_percent']:.2f}%)** with the "
            f"{'Polyak-averaged' if averaged else 'current'} discriminator; "
            f"best {report['best_epoch']['test_errors']} at epoch {report['best_epoch']['epoch']}"
        )
    lines.append(f"- last checkpoint: `{report['last_checkpoint']}`")
    lines += ["", f"![losses and test error]({CURVES_PNG})", "", "## Per epoch", ""]
    columns = [c for c in ("epoch", "d_loss", "g_loss", "supervised_loss", "unsupervised_loss",
                           "accuracy", "test_errors", "test_errors_raw", "test_errors_polyak", "learning_rate",
                           "seconds_per_step")
               if any(c in r for r in history)]
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "---|" * len(columns))
    for record in history:
        cells = []
        for column in columns:
            value = record.get(column, "")
            cells.append(f"{value:.4g}" if isinstance(value, float) else str(value))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Config", "", "```json", json.dumps(report["config"], indent=1), "```", ""]
    return "\n".join(lines)


def train(config, workdir) -> dict:
    """Trains `config` in `workdir` (resuming from its last checkpoint); returns the report.

    Call `configure_devices(config)` first in a fresh process (the CLI does).
    """
    trainer = Trainer(config, workdir)
    try:
        return trainer.fit()
    finally:
        trainer.cleanup()
