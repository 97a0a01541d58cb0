"""The facts every part of the package agrees on, in one place (no TensorFlow).

- `DATASETS`: one `DatasetSpec` per dataset (MNIST, Fashion-MNIST, CIFAR-10, SVHN and
  ImageNet 128x128): image shape, classes, the authors' preprocessing, split sizes,
  standard files and download address. `canonical_name` maps the accepted spellings
  (`"svhn"`, `"cifar-10"`, ...) to a key of `DATASETS`.
- The allowed values of the config keys that name a choice (`ARCHITECTURES`,
  `GENERATOR_LOSSES`, `FEATURE_MATCHING_NORMS`, `LATENT_DISTRIBUTIONS`, `PREPROCESSES`,
  `OPTIMIZERS`, `SCHEDULES`, `STRATEGIES`, `PRECISIONS`, `DATASET_NAMES`):
  `config.validate_config` checks against them and the modules that implement the
  choices import them from here.
- The keys of a training batch (`LABELED`, `LABELS`, `UNLABELED`,
  `UNLABELED_FOR_GENERATOR`): the data pipelines write them, `ImprovedGAN.train_step`
  reads them.
- `data_facts(config)`: which dataset, image shape, number of classes and
  preprocessing a training config means. Training, export, scoring and the benchmarks
  all ask it.

Only the standard library is imported, so config files, the command line's flag
checks and the tests can read these facts without starting TensorFlow.
"""

from __future__ import annotations

import dataclasses
import urllib.parse

__all__ = [
    "ARCHITECTURES",
    "BATCH_KEYS",
    "DATASETS",
    "DATASET_NAMES",
    "DataFacts",
    "DatasetSpec",
    "FEATURE_MATCHING_NORMS",
    "GENERATOR_LOSSES",
    "LABELED",
    "LABELS",
    "LATENT_DISTRIBUTIONS",
    "OPTIMIZERS",
    "PRECISIONS",
    "PREPROCESSES",
    "SCHEDULES",
    "STRATEGIES",
    "SUPERVISED_LOSSES",
    "UNLABELED",
    "UNLABELED_FOR_GENERATOR",
    "UPDATE_ORDERS",
    "canonical_name",
    "data_facts",
]

# --------------------------------------------------------------------------------------
# Choices of config keys.
# --------------------------------------------------------------------------------------

#: `model.architecture`: the networks of `improved_gan_tf.architectures`.
ARCHITECTURES = ("mnist_mlp", "mnist_conv", "cifar10", "svhn", "imagenet128", "goodfellow2014")
#: `model.generator_loss` (`ImprovedGAN.compile`).
GENERATOR_LOSSES = ("feature_matching", "non_saturating", "minimax", "target_probability")
#: `model.supervised_loss` (`ImprovedGAN.compile`): cross-entropy over the K real
#: classes (`losses.supervised_loss`) or over all K+1 (`losses.all_classes_supervised_loss`).
SUPERVISED_LOSSES = ("real_classes", "all_classes")
#: `model.update_order` (`ImprovedGAN(update_order=...)`).
UPDATE_ORDERS = ("sequential", "simultaneous")
#: `model.feature_matching_norm` (`losses.feature_matching_loss`).
FEATURE_MATCHING_NORMS = ("l2", "l1")
#: `model.latent_distribution` (`latents.sample_latents`).
LATENT_DISTRIBUTIONS = ("uniform", "uniform_signed", "normal")
#: `data.preprocess` (`data.preprocessing`: each one's forward map, inverse and output
#: range); the config's "" means the dataset's `default_preprocess`.
PREPROCESSES = ("unit_flat", "unit", "symmetric", "signed_unit")
#: `optimizer.name` (`optimizers.make_optimizer`).
OPTIMIZERS = ("authors_adam", "adam", "sgd")
#: `optimizer.schedule` (`optimizers.learning_rate_at`).
SCHEDULES = ("constant", "linear_ramp_down", "exponential_per_step")
#: `distribute.strategy` (`training.make_strategy`).
STRATEGIES = ("auto", "mirrored", "multi_worker", "none")
#: `train.precision` (a Keras mixed-precision policy).
PRECISIONS = ("float32", "mixed_bfloat16")

# --------------------------------------------------------------------------------------
# Batch keys.
# --------------------------------------------------------------------------------------

#: A training batch is a dict with these keys (`UNLABELED_FOR_GENERATOR` optional: the
#: second, independent unlabeled batch of the generator's update, as the authors'
#: scripts draw it; `UNLABELED` is used when it is absent). `LABELED` / `LABELS` are
#: absent in unsupervised batches.
LABELED = "labeled_images"
LABELS = "labels"
UNLABELED = "unlabeled_images"
UNLABELED_FOR_GENERATOR = "unlabeled_images_2"
BATCH_KEYS = (LABELED, LABELS, UNLABELED, UNLABELED_FOR_GENERATOR)

# --------------------------------------------------------------------------------------
# Datasets.
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Static facts about one dataset.

    Attributes:
      name: canonical name (the TFDS name).
      image_shape: `(H, W, C)` of one image as the models see it (ImageNet: the
        128x128 center crops of the authors' ImageNet model).
      num_classes: number of classes K.
      default_preprocess: the authors' input range for the dataset (a `PREPROCESSES`
        name; what the config's `data.preprocess=""` means).
      split_sizes: official number of examples of each split.
      local_files: for each split, a description of the standard files a local
        directory must hold (used in error messages; empty when the dataset has no
        local format).
      download_url: where TFDS downloads the dataset from (its host is probed before a
        download so that a machine without network fails fast; empty for a TFDS manual
        download).
      aliases: other names a config's `data.name` may use.
      streamed: True when the trainer streams the dataset from TFDS instead of holding
        it as numpy arrays (`data.load_arrays` refuses it): ImageNet.
    """

    name: str
    image_shape: tuple[int, int, int]
    num_classes: int
    default_preprocess: str
    split_sizes: dict[str, int]
    local_files: dict[str, tuple[str, ...]]
    download_url: str
    aliases: tuple[str, ...] = ()
    streamed: bool = False

    @property
    def download_address(self) -> tuple[str, int]:
        """`(host, port)` of `download_url`."""
        url = urllib.parse.urlsplit(self.download_url)
        return url.hostname or "", url.port or (443 if url.scheme == "https" else 80)


def _idx_files(split: str) -> tuple[str, ...]:
    prefix = "train" if split == "train" else "t10k"
    return (f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz")


_SPECS = (
    DatasetSpec(
        name="mnist",
        image_shape=(28, 28, 1),
        num_classes=10,
        default_preprocess="unit_flat",  # the authors' MNIST data: [0, 1], flattened to 784
        split_sizes={"train": 60000, "test": 10000},
        local_files={s: _idx_files(s) for s in ("train", "test")},
        download_url="https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    DatasetSpec(
        name="fashion_mnist",
        image_shape=(28, 28, 1),
        num_classes=10,
        default_preprocess="unit_flat",
        split_sizes={"train": 60000, "test": 10000},
        local_files={s: _idx_files(s) for s in ("train", "test")},
        download_url="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
    DatasetSpec(
        name="cifar10",
        image_shape=(32, 32, 3),
        num_classes=10,
        default_preprocess="symmetric",  # the authors' CIFAR-10 / SVHN data: (x - 127.5) / 128
        split_sizes={"train": 50000, "test": 10000},
        local_files={
            "train": tuple(f"cifar-10-batches-bin/data_batch_{i}.bin" for i in range(1, 6)),
            "test": ("cifar-10-batches-bin/test_batch.bin",),
        },
        download_url="https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    ),
    DatasetSpec(
        name="svhn_cropped",
        image_shape=(32, 32, 3),
        num_classes=10,
        # openai/improved-gan mnist_svhn_cifar10/train_svhn_feature_matching.py and
        # train_svhn_minibatch_discrimination.py, `rescale`: (-127.5 + mat) / 127.5.
        default_preprocess="signed_unit",
        split_sizes={"train": 73257, "test": 26032, "extra": 531131},
        local_files={
            s: (f"{s}_32x32.mat", f"or an .npz with '{s}' in its name holding x, y")
            for s in ("train", "test", "extra")
        },
        download_url="http://ufldl.stanford.edu/housenumbers/",
        aliases=("svhn",),
    ),
    DatasetSpec(
        name="imagenet2012",
        image_shape=(128, 128, 3),
        num_classes=1000,
        # openai/improved-gan imagenet/model.py, `read_and_decode`:
        # tf.cast(image, tf.float32) * (2. / 255) - 1.
        default_preprocess="signed_unit",
        split_sizes={"train": 1281167, "validation": 50000},
        local_files={},
        download_url="",  # TFDS manual download (data.tfds_manual_dir)
        streamed=True,
    ),
)

#: Canonical name -> `DatasetSpec`.
DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in _SPECS}

#: `data.name`: the canonical names and their aliases.
DATASET_NAMES = tuple(name for spec in _SPECS for name in (spec.name, *spec.aliases))

# Further spellings `canonical_name` accepts (not allowed in configs).
_SPELLINGS = {
    "fashion-mnist": "fashion_mnist",
    "fashionmnist": "fashion_mnist",
    "cifar-10": "cifar10",
    "cifar_10": "cifar10",
}
_ALIASES = {
    **{name: spec.name for spec in _SPECS for name in (spec.name, *spec.aliases)},
    **_SPELLINGS,
}


def canonical_name(name: str) -> str:
    """Returns the canonical (TFDS) name of a dataset.

    Args:
      name: a dataset name such as `"mnist"`, `"fashion_mnist"`, `"cifar10"`, `"svhn"`,
        `"imagenet2012"`.

    Returns:
      One of the keys of `DATASETS`.

    Raises:
      ValueError: if the name is unknown.
    """
    key = _ALIASES.get(str(name).strip().lower())
    if key is None:
        raise ValueError(
            f"Unknown dataset name {name!r}; expected one of {sorted(DATASETS)} "
            "(aliases: 'svhn', 'cifar-10', 'fashion-mnist')."
        )
    return key


@dataclasses.dataclass(frozen=True)
class DataFacts:
    """What a training config's data is: see `data_facts`."""

    name: str
    image_shape: tuple[int, int, int]
    num_classes: int
    preprocess: str


def data_facts(config) -> DataFacts:
    """The dataset, raw image shape, number of classes and preprocessing of a config.

    - `name`: `canonical_name(config.data.name)`;
    - `image_shape`: the dataset's `(H, W, C)` (the uint8 images before preprocessing);
    - `num_classes`: `config.model.arch.num_classes` when the config sets it (the
      ImageNet config does; tiny test runs set fewer), else the dataset's;
    - `preprocess`: `config.data.preprocess`, or the dataset's `default_preprocess`
      when it is "".
    """
    spec = DATASETS[canonical_name(config.data.name)]
    return DataFacts(
        name=spec.name,
        image_shape=tuple(spec.image_shape),
        num_classes=int(config.model.arch.get("num_classes", spec.num_classes)),
        preprocess=config.data.preprocess or spec.default_preprocess,
    )
