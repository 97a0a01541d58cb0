"""Test-session setup shared by every test module.

TensorFlow fixes its device list at first use, so the two logical CPU devices that the
MirroredStrategy tests need are configured here, before any test touches TensorFlow.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pathlib

import pytest
import tensorflow as tf

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2
)

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
FASHION_MNIST_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="session")
def mnist_dir():
    path = SHARED_DATA / "mnist"
    if not (path / "train-images-idx3-ubyte.gz").exists():
        pytest.fail(f"MNIST files missing under {path} (see ../shared/data/SOURCES.md)")
    return path


@pytest.fixture(scope="session")
def classifier_path(mnist_dir, tmp_path_factory):
    """A small MNIST dataset classifier (1 epoch, 1,000 images), trained once per session
    for the tests that score with one."""
    from improved_gan_tf.evaluation import train_dataset_classifier

    path = tmp_path_factory.mktemp("clf") / "mnist_tiny.keras"
    train_dataset_classifier(
        "mnist", mnist_dir, path, epochs=1, width=4, max_train_examples=1000,
        max_test_examples=200, augment=False, verbose=0,
    )
    return path


@pytest.fixture(scope="session")
def fashion_mnist_dir():
    if not (FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.fail(
            f"Fashion-MNIST missing under {FASHION_MNIST_DIR}: "
            "apt-get install dataset-fashion-mnist (.ci/run does this)"
        )
    return FASHION_MNIST_DIR


@pytest.fixture(scope="session")
def cifar10_dir():
    return SHARED_DATA / "cifar10"


@pytest.fixture(scope="session")
def svhn_dir():
    return SHARED_DATA / "svhn"


@pytest.fixture(scope="session")
def two_replica_strategy():
    """The MirroredStrategy over the 2 logical CPUs that training itself uses.

    Several MirroredStrategy objects in one process hand out clashing collective
    instance keys, so tests share the process-wide one from
    `training.mirrored_strategy` instead of creating their own.
    """
    from improved_gan_tf.training import mirrored_strategy

    return mirrored_strategy(device.name for device in tf.config.list_logical_devices("CPU"))
