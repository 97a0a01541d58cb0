"""`improved_gan_tf.data.tfds`: TFDS loading fails fast and clearly without network, and
gives the same specs and pixels as the local files."""

import gzip
import importlib.resources
import socket
import sys
import time
import warnings

import numpy as np
import pytest
import tensorflow as tf

from improved_gan_tf import data
from improved_gan_tf.data import tfds as data_tfds

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def test_tfds_without_network_fails_fast(tmp_path, monkeypatch):
    probed = []

    def no_network(host, port=443, timeout=5.0):
        probed.append((host, port))
        return False, "test: network disabled"

    monkeypatch.setattr(data_tfds, "can_reach", no_network)
    start = time.perf_counter()
    with pytest.raises(data.DatasetNotFoundError) as e:
        data.load_arrays("mnist", "train", tfds_data_dir=tmp_path)
    assert time.perf_counter() - start < 30
    message = str(e.value)
    for needle in ("'mnist'", "train-images-idx3-ubyte.gz", "--config.data.dir=DIR",
                   str(tmp_path), "network disabled"):
        assert needle in message
    assert probed == [("storage.googleapis.com", 443)]
    assert data.DATASETS["svhn_cropped"].download_address == ("ufldl.stanford.edu", 80)

    with pytest.raises(data.DatasetNotFoundError, match="cifar-10-batches-bin"):
        data.load_arrays("cifar10", "test", None, tfds_data_dir=tmp_path, download=False)


def test_tfds_download_failure_is_wrapped(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    monkeypatch.setattr(data_tfds, "can_reach", lambda *a, **k: (True, "connected"))

    def fail(self, *args, **kwargs):
        raise ConnectionError("simulated download failure")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", fail)
    with pytest.raises(data.DatasetNotFoundError, match="simulated download failure") as e:
        data.load_arrays("svhn", "test", "", tfds_data_dir=tmp_path)
    assert "test_32x32.mat" in str(e.value) and "--config.data.dir" in str(e.value)


def test_reachability_probe_is_bounded():
    with socket.socket() as s:  # A loopback port with nothing listening.
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.perf_counter()
    ok, reason = data_tfds.can_reach("127.0.0.1", port, timeout=2.0)
    assert not ok and reason
    assert time.perf_counter() - start < 5


def test_tfds_and_local_give_same_specs_and_pixels(mnist_dir, tmp_path, monkeypatch):
    """Prepares a small TFDS `mnist` from the local files, then compares both sources."""
    import tensorflow_datasets as tfds

    tfds_mnist = pytest.importorskip("tensorflow_datasets.image_classification.mnist")
    if not hasattr(tfds_mnist, "_TEST_EXAMPLES"):
        pytest.skip("TFDS's MNIST builder changed; cannot prepare a small copy offline")
    # TFDS 4.9.10 imports `importlib_resources` while preparing; the stdlib module serves.
    monkeypatch.setitem(sys.modules, "importlib_resources", importlib.resources)
    raw = {}
    for key, name in IDX_FILES.items():
        with gzip.open(mnist_dir / f"{name}.gz") as f:
            (tmp_path / name).write_bytes(f.read())
        raw[key.replace("images", "data")] = str(tmp_path / name)
    monkeypatch.setattr(tfds_mnist, "_TRAIN_EXAMPLES", 300)
    monkeypatch.setattr(tfds_mnist, "_TEST_EXAMPLES", 200)
    monkeypatch.setattr(
        tfds.download.DownloadManager, "download_and_extract", lambda self, urls: raw
    )
    monkeypatch.setattr(data_tfds, "can_reach", lambda *a, **k: (True, "connected"))
    tfds_dir = tmp_path / "tfds"

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from_tfds = data.load_dataset("mnist", "test", tfds_data_dir=tfds_dir)
    local = data.load_dataset("mnist", "test", mnist_dir)
    assert from_tfds.element_spec == local.element_spec
    assert local.element_spec == (
        tf.TensorSpec([28, 28, 1], tf.uint8),
        tf.TensorSpec([], tf.int64),
    )
    x_tfds, y_tfds = data.load_arrays("mnist", "test", tfds_data_dir=tfds_dir)
    x_local, y_local = data.load_arrays("mnist", "test", mnist_dir)
    assert x_tfds.shape == (200, 28, 28, 1)

    def canonical(x, y):  # TFDS reorders examples when preparing: compare as multisets.
        rows = np.concatenate([y[:, None].astype(np.uint8), x.reshape(len(x), -1)], 1)
        return rows[np.lexsort(rows.T[::-1])]

    np.testing.assert_array_equal(
        canonical(x_tfds, y_tfds), canonical(x_local[:200], y_local[:200])
    )

