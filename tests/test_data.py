"""Tests of `improved_gan_tf.data`: parsers, errors, labeled subset and pipelines.

Real files come from ../shared/data (see its SOURCES.md for the facts checked here) and
the Debian package dataset-fashion-mnist; corrupt files are made from them in tmp_path.
"""

import gzip
import importlib.resources
import json
import os
import shutil
import socket
import sys
import time
import warnings

import numpy as np
import pytest
import scipy.io
import tensorflow as tf

from improved_gan_tf import data

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@pytest.fixture(scope="module")
def mnist_train(mnist_dir):
    return data.load_arrays("mnist", "train", mnist_dir)


@pytest.fixture(scope="module")
def mnist_test(mnist_dir):
    return data.load_arrays("mnist", "test", mnist_dir)


def _copy_mnist_test(mnist_dir, dest, compress=True):
    """Copies the two MNIST test files into `dest` (gunzipped when `compress` is False)."""
    dest.mkdir(parents=True, exist_ok=True)
    for key in ("test_images", "test_labels"):
        name = IDX_FILES[key]
        if compress:
            shutil.copy(mnist_dir / f"{name}.gz", dest / f"{name}.gz")
        else:
            with gzip.open(mnist_dir / f"{name}.gz") as src:
                (dest / name).write_bytes(src.read())
    return dest


# ---------------------------------------------------------------------------------------
# IDX (MNIST, Fashion-MNIST).
# ---------------------------------------------------------------------------------------


def test_mnist_train_matches_known_facts(mnist_train):
    images, labels = mnist_train
    assert images.shape == (60000, 28, 28, 1) and images.dtype == np.uint8
    assert labels.shape == (60000,) and labels.dtype == np.int64
    assert labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert np.bincount(labels).tolist() == [
        5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949,
    ]
    assert images.mean() == pytest.approx(33.3184, abs=1e-4)


def test_mnist_test_matches_known_facts(mnist_test):
    images, labels = mnist_test
    assert images.shape == (10000, 28, 28, 1)
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(labels).tolist() == [
        980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009,
    ]
    assert images.mean() == pytest.approx(33.7912, abs=1e-4)


def test_fashion_mnist_loads(fashion_mnist_dir):
    images, labels = data.load_arrays("fashion-mnist", "test", fashion_mnist_dir)
    assert images.shape == (10000, 28, 28, 1) and images.dtype == np.uint8
    assert labels.dtype == np.int64
    assert np.bincount(labels).tolist() == [1000] * 10
    assert labels[:5].tolist() == [9, 2, 1, 1, 6]


def test_uncompressed_idx_gives_same_arrays(mnist_dir, mnist_test, tmp_path):
    plain = _copy_mnist_test(mnist_dir, tmp_path / "plain", compress=False)
    images, labels = data.load_arrays("mnist", "test", plain)
    np.testing.assert_array_equal(images, mnist_test[0])
    np.testing.assert_array_equal(labels, mnist_test[1])


def test_idx_bad_magic(mnist_dir, tmp_path):
    d = _copy_mnist_test(mnist_dir, tmp_path / "m", compress=False)
    path = d / IDX_FILES["test_labels"]
    raw = bytearray(path.read_bytes())
    raw[2:4] = b"\x08\x03"  # 2051 (an image file's magic) in a label file.
    path.write_bytes(bytes(raw))
    with pytest.raises(data.DataFileError, match="bad magic number 2051") as e:
        data.load_arrays("mnist", "test", d)
    assert str(path) in str(e.value)
    raw[0] = 0x1F  # Not an IDX file at all.
    path.write_bytes(bytes(raw))
    with pytest.raises(data.DataFileError, match="bad magic number"):
        data.read_idx(path)


def test_idx_truncated_file(mnist_dir, tmp_path):
    d = _copy_mnist_test(mnist_dir, tmp_path / "m", compress=False)
    path = d / IDX_FILES["test_images"]
    raw = path.read_bytes()
    path.write_bytes(raw[: 16 + 784 * 5000 + 100])
    with pytest.raises(data.DataFileError, match="truncated") as e:
        data.load_arrays("mnist", "test", d)
    message = str(e.value)
    assert str(path) in message and "10000 records" in message and "5000 whole" in message


def test_idx_trailing_bytes(mnist_dir, tmp_path):
    d = _copy_mnist_test(mnist_dir, tmp_path / "m", compress=False)
    path = d / IDX_FILES["test_labels"]
    path.write_bytes(path.read_bytes() + b"\x00\x01")
    with pytest.raises(data.DataFileError, match="trailing bytes"):
        data.load_arrays("mnist", "test", d)


def test_gzip_truncated(mnist_dir, tmp_path):
    d = _copy_mnist_test(mnist_dir, tmp_path / "m")
    path = d / f"{IDX_FILES['test_images']}.gz"
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(data.DataFileError, match="gzip stream is truncated") as e:
        data.load_arrays("mnist", "test", d)
    assert str(path) in str(e.value)


def test_gzip_crc_error(mnist_dir, tmp_path):
    d = _copy_mnist_test(mnist_dir, tmp_path / "m")
    path = d / f"{IDX_FILES['test_labels']}.gz"
    raw = bytearray(path.read_bytes())
    raw[-8] ^= 0xFF  # The CRC-32 of the gzip trailer.
    path.write_bytes(bytes(raw))
    with pytest.raises(data.DataFileError, match="(?i)corrupt gzip.*CRC") as e:
        data.load_arrays("mnist", "test", d)
    assert str(path) in str(e.value)


def test_idx_image_label_count_mismatch(mnist_dir, tmp_path):
    d = _copy_mnist_test(mnist_dir, tmp_path / "m", compress=False)
    path = d / IDX_FILES["test_labels"]
    raw = path.read_bytes()
    path.write_bytes(raw[:4] + (9000).to_bytes(4, "big") + raw[8 : 8 + 9000])
    with pytest.raises(data.DataFileError, match="10000 images but .* 9000 labels"):
        data.load_arrays("mnist", "test", d)


def test_idx_subset_loads_with_warning(mnist_dir, tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    for key, size in (("test_images", 784), ("test_labels", 1)):
        name = IDX_FILES[key]
        with gzip.open(mnist_dir / f"{name}.gz") as f:
            raw = f.read()
        header = 16 if size == 784 else 8
        out = raw[:4] + (300).to_bytes(4, "big") + raw[8:header] + raw[header : header + 300 * size]
        (d / name).write_bytes(out)
    with pytest.warns(data.DataSubsetWarning, match="found 300 examples.*official 10000"):
        images, labels = data.load_arrays("mnist", "test", d)
    assert images.shape == (300, 28, 28, 1)
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_missing_local_file(mnist_dir, tmp_path):
    d = _copy_mnist_test(mnist_dir, tmp_path / "m")
    (d / f"{IDX_FILES['test_labels']}.gz").unlink()
    with pytest.raises(data.DatasetNotFoundError, match="t10k-labels-idx1-ubyte.gz"):
        data.load_arrays("mnist", "test", d)
    with pytest.raises(data.DatasetNotFoundError, match="does not exist"):
        data.load_arrays("mnist", "test", tmp_path / "nowhere")


def test_unknown_name_and_split(mnist_dir):
    with pytest.raises(ValueError, match="Unknown dataset name 'imagenet'"):
        data.load_arrays("imagenet", "train", mnist_dir)
    with pytest.raises(ValueError, match="Unknown split 'extra'"):
        data.load_arrays("mnist", "extra", mnist_dir)


# ---------------------------------------------------------------------------------------
# CIFAR-10 binary.
# ---------------------------------------------------------------------------------------


def test_cifar10_subset_records_and_warning(cifar10_dir):
    with pytest.warns(data.DataSubsetWarning) as record:
        images, labels = data.load_arrays("cifar10", "train", cifar10_dir)
    message = str(record[0].message)
    assert "found 4000" in message and "official 50000" in message
    assert "data_batch_2.bin" in message  # The missing files are named.
    assert images.shape == (4000, 32, 32, 3) and images.dtype == np.uint8
    assert labels.dtype == np.int64
    assert np.bincount(labels).tolist() == [396, 366, 420, 384, 422, 393, 414, 385, 407, 413]
    chw = images[0].transpose(2, 0, 1).reshape(-1)  # Back to the file's CHW layout.
    assert chw[:3].tolist() == [59, 43, 50]
    assert chw[-3:].tolist() == [140, 84, 72]


def test_cifar10_accepts_bin_dir_itself(cifar10_dir):
    with pytest.warns(data.DataSubsetWarning, match="found 4000 .* official 10000"):
        images, labels = data.load_arrays(
            "cifar10", "test", cifar10_dir / "cifar-10-batches-bin"
        )
    assert images.shape == (4000, 32, 32, 3)
    assert sorted(set(labels.tolist())) == [0, 1, 8, 9]


def test_cifar10_record_layout(tmp_path):
    rng = np.random.RandomState(0)
    chw = rng.randint(0, 256, size=(3, 3, 32, 32), dtype=np.uint8)
    labels = np.array([3, 0, 9], np.uint8)
    records = np.concatenate([labels[:, None], chw.reshape(3, -1)], axis=1)
    path = tmp_path / "test_batch.bin"
    path.write_bytes(records.tobytes())
    images, got = data.read_cifar10_bin(path)
    np.testing.assert_array_equal(images, chw.transpose(0, 2, 3, 1))
    assert got.tolist() == [3, 0, 9]


def test_cifar10_partial_record_is_error(cifar10_dir, tmp_path):
    raw = (cifar10_dir / "cifar-10-batches-bin" / "test_batch.bin").read_bytes()
    d = tmp_path / "cifar-10-batches-bin"
    d.mkdir()
    path = d / "test_batch.bin"
    path.write_bytes(raw[: 3073 * 2 + 100])
    with pytest.raises(data.DataFileError, match="not a whole number of 3073-byte") as e:
        data.load_arrays("cifar10", "test", tmp_path)
    assert str(path) in str(e.value) and "2 whole records and 100 bytes" in str(e.value)


def test_cifar10_bad_label_byte(tmp_path):
    path = tmp_path / "test_batch.bin"
    path.write_bytes(bytes([11]) + bytes(3072))
    with pytest.raises(data.DataFileError, match="record 0 has label byte 11"):
        data.read_cifar10_bin(path)


def test_cifar10_full_count_no_warning(tmp_path):
    labels = np.arange(10000, dtype=np.uint8) % 10
    records = np.zeros((10000, 3073), np.uint8)
    records[:, 0] = labels
    (tmp_path / "test_batch.bin").write_bytes(records.tobytes())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        images, got = data.load_arrays("cifar10", "test", tmp_path)
    assert images.shape == (10000, 32, 32, 3) and got.tolist() == labels.tolist()


def test_cifar10_missing_files(tmp_path):
    with pytest.raises(data.DatasetNotFoundError, match="data_batch_1.bin.*pickle"):
        data.load_arrays("cifar10", "train", tmp_path)


# ---------------------------------------------------------------------------------------
# SVHN.
# ---------------------------------------------------------------------------------------


def test_svhn_npz(svhn_dir):
    with pytest.warns(data.DataSubsetWarning, match="found 50 .* official 73257"):
        images, labels = data.load_arrays("svhn", "train", svhn_dir)
    assert images.shape == (50, 32, 32, 3) and images.dtype == np.uint8
    assert labels.dtype == np.int64
    assert np.bincount(labels, minlength=10).tolist() == [6, 4, 7, 4, 5, 6, 4, 4, 4, 6]
    np.testing.assert_allclose(
        images.reshape(-1, 3).mean(0), [116.18, 117.66, 123.15], atol=0.01
    )
    with pytest.raises(data.DatasetNotFoundError, match="test_32x32.mat"):
        data.load_arrays("svhn", "test", svhn_dir)


def test_svhn_mat_maps_label_10_to_0(tmp_path):
    rng = np.random.RandomState(1)
    x = rng.randint(0, 256, size=(32, 32, 3, 7), dtype=np.uint8)
    y = np.array([[10], [1], [2], [10], [9], [5], [3]], np.uint8)
    scipy.io.savemat(tmp_path / "test_32x32.mat", {"X": x, "y": y})
    with pytest.warns(data.DataSubsetWarning):
        images, labels = data.load_arrays("svhn_cropped", "test", tmp_path)
    np.testing.assert_array_equal(images, x.transpose(3, 0, 1, 2))
    assert labels.dtype == np.int64
    assert labels.tolist() == [0, 1, 2, 0, 9, 5, 3]


def test_svhn_bad_files(tmp_path):
    bad_y = tmp_path / "a" / "train.npz"
    bad_y.parent.mkdir()
    np.savez(bad_y, x=np.zeros((2, 32, 32, 3), np.uint8), y=np.array([1, 10]))
    with pytest.raises(data.DataFileError, match=r"'y'\[1\] = 10"):
        data.load_arrays("svhn", "train", bad_y.parent)
    bad_x = tmp_path / "b.npz"
    np.savez(bad_x, x=np.zeros((2, 32, 32, 3), np.float32), y=np.array([1, 2]))
    with pytest.raises(data.DataFileError, match="'x' has dtype float32"):
        data.load_arrays("svhn", "train", bad_x)
    pickled = tmp_path / "c.npz"
    np.savez(pickled, x=np.array([{"a": 1}], dtype=object), y=np.array([1]))
    with pytest.raises(data.DataFileError, match="cannot read .npz"):
        data.load_arrays("svhn", "train", pickled)
    corrupt = tmp_path / "d" / "train_32x32.mat"
    corrupt.parent.mkdir()
    corrupt.write_bytes(b"MATLAB 5.0 MAT-file" + bytes(50))
    with pytest.raises(data.DataFileError, match="train_32x32.mat"):
        data.load_arrays("svhn", "train", corrupt.parent)


# ---------------------------------------------------------------------------------------
# TFDS source.
# ---------------------------------------------------------------------------------------


def test_tfds_without_network_fails_fast(tmp_path, monkeypatch):
    probed = []

    def no_network(host, port=443, timeout=5.0):
        probed.append((host, port))
        return False, "test: network disabled"

    monkeypatch.setattr(data, "_can_reach", no_network)
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

    monkeypatch.setattr(data, "_can_reach", lambda *a, **k: (True, "connected"))

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
    ok, reason = data._can_reach("127.0.0.1", port, timeout=2.0)
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
    monkeypatch.setattr(data, "_can_reach", lambda *a, **k: (True, "connected"))
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


# ---------------------------------------------------------------------------------------
# Labeled subset.
# ---------------------------------------------------------------------------------------


def test_labeled_subset_matches_authors_recipe(mnist_train):
    images, labels = mnist_train
    indices = data.select_labeled_subset(labels, 100, 10, seed=1)
    assert indices.dtype == np.int64 and indices.shape == (100,)
    assert len(set(indices.tolist())) == 100
    assert np.bincount(labels[indices], minlength=10).tolist() == [10] * 10
    # The authors' code, literally (train_mnist_feature_matching.py).
    rng_data = np.random.RandomState(1)
    inds = rng_data.permutation(images.shape[0])
    trainx, trainy = images[inds], labels[inds]
    txs = np.concatenate([trainx[trainy == j][:10] for j in range(10)])
    tys = np.concatenate([trainy[trainy == j][:10] for j in range(10)])
    np.testing.assert_array_equal(images[indices], txs)
    np.testing.assert_array_equal(labels[indices], tys)


def test_labeled_subset_determinism(mnist_train):
    labels = mnist_train[1]
    a = data.select_labeled_subset(labels, 200, 10, seed=7)
    b = data.select_labeled_subset(labels, 200, 10, seed=7)
    c = data.select_labeled_subset(labels, 200, 10, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(np.sort(a), np.sort(c))
    for n in (20, 50):
        idx = data.select_labeled_subset(labels, n, 10, seed=1)
        assert np.bincount(labels[idx], minlength=10).tolist() == [n // 10] * 10


def test_labeled_subset_errors():
    labels = np.array([0] * 7 + [1] * 5 + [2] * 7)
    with pytest.raises(ValueError, match="num_labeled=10 must be a positive multiple"):
        data.select_labeled_subset(labels, 10, num_classes=3, seed=0)
    with pytest.raises(ValueError, match="class 1 has only 5 examples"):
        data.select_labeled_subset(labels, 18, num_classes=3, seed=0)


def test_labeled_indices_file_roundtrip(mnist_train, tmp_path):
    labels = mnist_train[1]
    indices = data.select_labeled_subset(labels, 100, 10, seed=3)
    path = data.save_labeled_indices(
        tmp_path, indices, seed=3, labels=labels, dataset="mnist",
        extra={"data_dir": "/somewhere"},
    )
    assert path == tmp_path / data.LABELED_INDICES_FILENAME
    assert sorted(os.listdir(tmp_path)) == [data.LABELED_INDICES_FILENAME]  # No temp left.
    got, record = data.load_labeled_indices(tmp_path)
    np.testing.assert_array_equal(got, indices)
    assert record["seed"] == 3 and record["num_labeled"] == 100
    assert record["per_class_counts"] == [10] * 10
    assert record["dataset"] == "mnist" and record["data_dir"] == "/somewhere"
    assert record["labels"] == labels[indices].tolist()
    # Overwriting is atomic too, and a named file works.
    other = data.save_labeled_indices(tmp_path / "sub" / "idx.json", indices[:10], seed=1)
    assert json.loads(other.read_text())["num_labeled"] == 10
    other.write_text("{not json")
    with pytest.raises(data.DataFileError, match="idx.json: not valid JSON"):
        data.load_labeled_indices(other)


# ---------------------------------------------------------------------------------------
# Pipelines.
# ---------------------------------------------------------------------------------------


def _indexed_images(n):
    """Images whose pixels encode their index (base 256), so batches can be traced."""
    x = np.zeros((n, 2, 2, 1), np.uint8)
    x[:, 0, 0, 0] = np.arange(n) % 256
    x[:, 0, 1, 0] = np.arange(n) // 256
    return x


def _decode(batch):
    x = tf.cast(batch, tf.int64).numpy()
    return x[:, 0, 0, 0] + 256 * x[:, 0, 1, 0]


def _identity(x):
    return tf.cast(x, tf.float32)


def _take(ds, n):
    return [tf.nest.map_structure(lambda t: t.numpy(), e) for e in ds.take(n)]


def test_semi_supervised_specs_and_values(mnist_train):
    images, labels = mnist_train
    indices = data.select_labeled_subset(labels, 100, 10, seed=1)
    ds = data.semi_supervised_dataset(
        images, labels, indices, preprocess="unit_flat", batch_size=100, seed=1
    )
    assert ds.element_spec == {
        "labeled_images": tf.TensorSpec([100, 784], tf.float32),
        "labels": tf.TensorSpec([100], tf.int64),
        "unlabeled_images": tf.TensorSpec([100, 784], tf.float32),
        "unlabeled_images_2": tf.TensorSpec([100, 784], tf.float32),
    }
    assert ds.cardinality() == tf.data.INFINITE_CARDINALITY
    batch = next(iter(ds))
    x = batch["labeled_images"].numpy()
    assert 0.0 <= x.min() and x.max() <= 1.0
    # Each labeled image is one of the labeled subset's, with its own label.
    flat = images[indices].reshape(100, 784).astype(np.float32) / 255.0
    for row, label in zip(x[:5], batch["labels"].numpy()[:5]):
        match = np.flatnonzero((flat == row).all(axis=1))
        assert match.size >= 1 and labels[indices[match[0]]] == label
    # With 100 labels and batches of 100, every batch holds each labeled example once.
    assert sorted(batch["labels"].numpy().tolist()) == sorted(labels[indices].tolist())


def test_semi_supervised_epoch_structure():
    n, n_lab, b = 1000, 30, 20
    images = _indexed_images(n)
    labels = np.arange(n) % 10
    lab_idx = np.arange(0, n, n // n_lab)[:n_lab]
    ds = data.semi_supervised_dataset(
        images, labels, lab_idx, preprocess=_identity, batch_size=b, seed=5, num_epochs=2
    )
    steps = n // b
    assert int(ds.cardinality()) == 2 * steps
    batches = _take(ds, 2 * steps)
    for epoch in range(2):
        epoch_batches = batches[epoch * steps : (epoch + 1) * steps]
        unl = np.concatenate([_decode(e["unlabeled_images"]) for e in epoch_batches])
        unl2 = np.concatenate([_decode(e["unlabeled_images_2"]) for e in epoch_batches])
        lab = np.concatenate([_decode(e["labeled_images"]) for e in epoch_batches])
        lab_y = np.concatenate([e["labels"] for e in epoch_batches])
        # Unlabeled streams: a permutation of the whole set each, independent.
        assert sorted(unl.tolist()) == list(range(n))
        assert sorted(unl2.tolist()) == list(range(n))
        assert not np.array_equal(unl, unl2)
        # Labeled stream: the labeled set tiled, each tile a fresh permutation.
        np.testing.assert_array_equal(lab_y, labels[lab])
        tiles = lab[: (len(lab) // n_lab) * n_lab].reshape(-1, n_lab)
        for tile in tiles:
            assert sorted(tile.tolist()) == sorted(lab_idx.tolist())
        assert not np.array_equal(tiles[0], tiles[1])
    # Reshuffled each epoch.
    first = np.concatenate([_decode(e["unlabeled_images"]) for e in batches[:steps]])
    second = np.concatenate([_decode(e["unlabeled_images"]) for e in batches[steps:]])
    assert not np.array_equal(first, second)


def test_semi_supervised_determinism_and_resume():
    images = _indexed_images(500)
    labels = np.arange(500) % 10
    lab_idx = data.select_labeled_subset(labels, 20, 10, seed=1)
    make = lambda seed, **kw: data.semi_supervised_dataset(  # noqa: E731
        images, labels, lab_idx, preprocess=_identity, batch_size=50, seed=seed, **kw
    )
    a, b, c = _take(make(1), 25), _take(make(1), 25), _take(make(2), 25)
    for x, y in zip(a, b):
        for key in x:
            np.testing.assert_array_equal(x[key], y[key])
    assert not np.array_equal(a[0]["unlabeled_images"], c[0]["unlabeled_images"])
    # Resuming at step 13 (mid-epoch 1, 10 steps per epoch) continues the same stream.
    resumed = _take(make(1, initial_step=13), 12)
    for x, y in zip(a[13:], resumed):
        for key in x:
            np.testing.assert_array_equal(x[key], y[key])
    assert int(make(1, num_epochs=3, initial_step=13).cardinality()) == 17


def test_unsupervised_and_eval_datasets(cifar10_dir):
    with pytest.warns(data.DataSubsetWarning):
        images, labels = data.load_arrays("cifar10", "test", cifar10_dir)
    ds = data.unsupervised_dataset(images, preprocess="symmetric", batch_size=64, seed=3)
    assert ds.element_spec == tf.TensorSpec([64, 32, 32, 3], tf.float32)
    x = next(iter(ds)).numpy()
    assert -1.0 <= x.min() and x.max() < 1.0
    again = next(iter(data.unsupervised_dataset(
        images, preprocess="symmetric", batch_size=64, seed=3)))
    np.testing.assert_array_equal(x, again.numpy())

    ev = data.eval_dataset(images, labels, preprocess="symmetric", batch_size=1000)
    assert ev.element_spec == (
        tf.TensorSpec([None, 32, 32, 3], tf.float32),
        tf.TensorSpec([None], tf.int64),
    )
    for _ in range(2):  # Second pass comes from the cache, same values, file order.
        got = _take(ev, 10)
        assert len(got) == 4
        np.testing.assert_array_equal(np.concatenate([y for _, y in got]), labels)
        np.testing.assert_allclose(got[0][0][0], (images[0] - 127.5) / 128.0)


def test_preprocess_ranges():
    x = np.array([0, 255], np.uint8).reshape(2, 1, 1, 1)
    np.testing.assert_allclose(data.preprocess_array(x, "unit_flat"), [[0.0], [1.0]])
    np.testing.assert_allclose(
        data.preprocess_array(x, "symmetric").reshape(-1), [-127.5 / 128, 127.5 / 128]
    )
    assert data.DEFAULT_PREPROCESS["cifar10"] == "symmetric"
    with pytest.raises(ValueError, match="Unknown preprocess 'tanh'"):
        data.get_preprocess("tanh")


def test_pipeline_is_not_the_bottleneck(mnist_train):
    """The MNIST semi-supervised stream must far outpace a training step (~tens of ms)."""
    images, labels = mnist_train
    indices = data.select_labeled_subset(labels, 100, 10, seed=1)
    ds = data.semi_supervised_dataset(
        images, labels, indices, preprocess="unit_flat", batch_size=100, seed=1
    )
    result = data.benchmark_dataset(ds, num_batches=300)
    assert result["batches_per_sec"] > 200, result


def test_semi_supervised_stream_under_mirrored_strategy(two_replica_strategy):
    """The stream splits across the 2 logical CPUs of conftest into per-replica halves."""
    strategy = two_replica_strategy
    images = _indexed_images(400)
    labels = np.arange(400) % 10
    lab_idx = data.select_labeled_subset(labels, 20, 10, seed=1)
    ds = data.semi_supervised_dataset(
        images, labels, lab_idx, preprocess=_identity, batch_size=40, seed=1
    )
    dist = strategy.experimental_distribute_dataset(ds)
    element = next(iter(dist))
    parts = strategy.experimental_local_results(element["unlabeled_images"])
    assert [p.shape[0] for p in parts] == [20, 20]
    whole = _take(ds, 1)[0]["unlabeled_images"]
    np.testing.assert_array_equal(np.concatenate([p.numpy() for p in parts]), whole)
