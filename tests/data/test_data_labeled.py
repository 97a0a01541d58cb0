"""`improved_gan_tf.data.labeled`: the authors' labeled subset, recorded atomically."""

import json
import os

import numpy as np
import pytest

from improved_gan_tf import data


@pytest.fixture(scope="module")
def mnist_train(mnist_dir):
    return data.load_arrays("mnist", "train", mnist_dir)


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
