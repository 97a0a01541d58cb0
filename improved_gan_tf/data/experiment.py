"""The data of one experiment: arrays, labeled subset, init batch and the streams.

`load_training_data(config)` loads what `registry.data_facts(config)` names (local files,
TFDS, or synthetic pixels) and picks the labeled subset and the data-dependent init batch;
`training_stream` / `evaluation_stream` build the `tf.data` pipelines the trainer feeds
to `fit`. The training stream is a pure function of the global step, so a resumed run
sees exactly the batches an uninterrupted one would. ImageNet (a TFDS manual download)
streams from TFDS, center-cropped and resized to the registry's 128x128.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow as tf

from improved_gan_tf import registry
from improved_gan_tf.config import ConfigError
from improved_gan_tf.data.errors import DatasetNotFoundError
from improved_gan_tf.data.files import load_arrays
from improved_gan_tf.data.labeled import select_labeled_subset
from improved_gan_tf.data.pipelines import eval_dataset
from improved_gan_tf.data.pipelines import semi_supervised_dataset
from improved_gan_tf.data.pipelines import unsupervised_dataset
from improved_gan_tf.data.preprocessing import get_preprocess
from improved_gan_tf.data.preprocessing import preprocess_array


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
        train_x, train_y = load_arrays(name, "train", data_dir)
        test_x, test_y = load_arrays(name, config.data.test_split, data_dir)
        source = f"local files in {config.data.dir}" if data_dir else "tfds"
    if train_x is not None and config.data.train_examples:
        train_x, train_y = train_x[: config.data.train_examples], train_y[: config.data.train_examples]
    if test_x is not None and config.data.test_examples:
        test_x, test_y = test_x[: config.data.test_examples], test_y[: config.data.test_examples]

    labeled = None
    if config.data.num_labeled and train_y is not None:
        labeled = select_labeled_subset(
            train_y, config.data.num_labeled, num_classes, config.data.seed
        )
    init_count = config.train.init_examples
    init_images = None
    if init_count and train_x is not None:
        order = np.random.RandomState(config.data.seed).permutation(train_x.shape[0])
        init_images = preprocess_array(train_x[order[:init_count]], preprocess)
    elif init_count:
        init_images = preprocess_array(_imagenet_init_batch(config, init_count), preprocess)
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
        raise DatasetNotFoundError(
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
    fn = get_preprocess(preprocess)
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
        ds = semi_supervised_dataset(
            data.train_images, data.train_labels, data.labeled_indices,
            preprocess=data.preprocess, batch_size=config.train.batch_size, seed=config.seed,
            steps_per_epoch=steps, num_epochs=end_epoch, initial_step=initial_step,
        )
    else:
        ds = unsupervised_dataset(
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
        fn = get_preprocess(data.preprocess)
        ds = _imagenet_images(config, "validation", config.seed)
        if config.data.test_examples:
            ds = ds.take(config.data.test_examples)
        return ds.batch(config.train.batch_size).map(lambda x, y: (fn(x), y)).prefetch(2)
    return eval_dataset(
        data.test_images, data.test_labels, preprocess=data.preprocess,
        batch_size=config.train.batch_size,
    )


def num_test_examples(config, data: TrainingData) -> int:
    """How many examples `evaluation_stream` holds."""
    if data.test_images is not None:
        return int(data.test_images.shape[0])
    validation = registry.DATASETS[data.name].split_sizes["validation"]  # ImageNet
    return int(config.data.test_examples or validation)
