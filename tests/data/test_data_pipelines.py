"""`improved_gan_tf.data.pipelines`: the semi-supervised, unsupervised and evaluation
streams (structure, determinism, resuming, speed, distribution)."""

import numpy as np
import pytest
import tensorflow as tf

from benchmarks.input_pipeline import benchmark_dataset
from improved_gan_tf import data


@pytest.fixture(scope="module")
def mnist_train(mnist_dir):
    return data.load_arrays("mnist", "train", mnist_dir)


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


def test_pipeline_is_not_the_bottleneck(mnist_train):
    """The MNIST semi-supervised stream must far outpace a training step (~tens of ms)."""
    images, labels = mnist_train
    indices = data.select_labeled_subset(labels, 100, 10, seed=1)
    ds = data.semi_supervised_dataset(
        images, labels, indices, preprocess="unit_flat", batch_size=100, seed=1
    )
    result = benchmark_dataset(ds, num_batches=300)
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
