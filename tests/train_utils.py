"""Helpers for the training tests: load a config file and shrink it to a few steps."""

import pathlib

from improved_gan_tf.config import load_config_file

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
CONFIGS_DIR = REPO_ROOT / "configs"
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
CONFIG_NAMES = (
    "quickstart",
    "mnist_feature_matching",
    "mnist_feature_matching_arxiv",
    "mnist_minibatch_discrimination",
    "cifar10_feature_matching",
    "cifar10_minibatch_discrimination",
    "svhn_feature_matching",
    "svhn_minibatch_discrimination",
    "imagenet128_vbn",
    "goodfellow2014_mnist",
)


def load_config(name):
    """`configs/<name>.py`'s `get_config()`."""
    return load_config_file(str(CONFIGS_DIR / f"{name}.py"))


def data_dir_for(name):
    """The offline copy of a config's dataset under ../shared/data."""
    return {
        "mnist": SHARED_DATA / "mnist",
        "cifar10": SHARED_DATA / "cifar10",
        "svhn_cropped": SHARED_DATA / "svhn" / "svhn_train_subset50.npz",
    }.get(name)


def tiny(config, steps=2, batch_size=8, test_examples=16):
    """Shrinks a config to `steps` training steps on small batches, offline data."""
    config.train.epochs = 1
    config.train.steps_per_epoch = steps
    config.train.batch_size = batch_size * config.model.discriminator_steps
    config.train.init_examples = min(config.train.init_examples, 16)
    config.train.verbose = 0
    config.train.run_eagerly = True  # 2 eager steps cost less than tracing the step
    config.train.num_samples = 4
    config.data.test_examples = test_examples
    config.checkpoint.every_steps = 0
    config.distribute.strategy = "none"
    directory = data_dir_for(config.data.name)
    if directory is not None:
        config.data.dir = str(directory)
    if config.data.name == "svhn_cropped":
        # The offline SVHN copy is 50 training images: 1 label per class, test on them.
        config.data.num_labeled = 10
        config.data.test_split = "train"
    elif config.data.num_labeled:
        config.data.num_labeled = 20
    return config
