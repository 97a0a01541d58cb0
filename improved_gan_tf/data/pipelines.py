"""`tf.data` streams built from whole splits held as numpy arrays.

The semi-supervised trainer needs random access to the whole training set, so the
loaders return numpy arrays (`data.load_arrays`) and the pipelines here build `tf.data`
streams from them: `semi_supervised_dataset` (the authors' per-epoch labeled and
unlabeled batches), `unsupervised_dataset` and `eval_dataset`. The training streams are
pure functions of `(seed, epoch, step)`: two runs with the same seed see the same
batches, and a resumed run (`initial_step`) continues exactly where an uninterrupted one
would be. A training batch is a dict with the keys of `registry.BATCH_KEYS`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from improved_gan_tf import registry
from improved_gan_tf.data.files import load_arrays
from improved_gan_tf.data.preprocessing import get_preprocess

__all__ = [
    "eval_dataset",
    "load_dataset",
    "semi_supervised_dataset",
    "unsupervised_dataset",
]

_INFINITE_EPOCHS = 2**62


def _options() -> tf.data.Options:
    options = tf.data.Options()
    options.deterministic = True
    # The data lives in memory: under a multi-worker strategy every worker builds the same
    # stream and keeps its share of each batch.
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    return options


def _permutations(count: int, length: int, seed: tf.Tensor) -> tf.Tensor:
    """`count` independent random permutations of `range(length)`, as `[count, length]`."""
    keys = tf.random.stateless_uniform([count, length], seed=seed)
    return tf.argsort(keys, axis=1, stable=True)


def _epoch_seed(seed: int, epoch: tf.Tensor, stream: int) -> tf.Tensor:
    return tf.stack([tf.constant(seed, tf.int64), epoch * 8 + stream])


def _stream_indices(
    pool_size: int, needed: int, seed: int, epoch: tf.Tensor, stream: int
) -> tf.Tensor:
    """Indices into a pool: the pool tiled, each tile independently permuted."""
    reps = -(-needed // pool_size)
    perms = _permutations(reps, pool_size, _epoch_seed(seed, epoch, stream))
    return tf.reshape(perms, [-1])[:needed]


def _check_images(images: np.ndarray, what: str = "images") -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(
            f"{what} must be uint8 [N, H, W, C], got {images.dtype} {images.shape}."
        )
    return images


def _epoch_range(
    steps_per_epoch: int, num_epochs: int | None, initial_step: int
) -> tuple[tf.data.Dataset, int, int | None]:
    if steps_per_epoch <= 0:
        raise ValueError(f"steps_per_epoch must be positive, got {steps_per_epoch}.")
    if initial_step < 0:
        raise ValueError(f"initial_step must be >= 0, got {initial_step}.")
    start_epoch, skip = divmod(initial_step, steps_per_epoch)
    stop = _INFINITE_EPOCHS if num_epochs is None else num_epochs
    if num_epochs is not None and initial_step > num_epochs * steps_per_epoch:
        raise ValueError(
            f"initial_step={initial_step} is past the end of {num_epochs} epochs of "
            f"{steps_per_epoch} steps."
        )
    total = None if num_epochs is None else num_epochs * steps_per_epoch - initial_step
    return tf.data.Dataset.range(start_epoch, max(stop, start_epoch)), skip, total


def _finish(ds: tf.data.Dataset, total: int | None) -> tf.data.Dataset:
    cardinality = tf.data.INFINITE_CARDINALITY if total is None else total
    ds = ds.apply(tf.data.experimental.assert_cardinality(cardinality))
    return ds.prefetch(tf.data.AUTOTUNE).with_options(_options())


def semi_supervised_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    labeled_indices: np.ndarray,
    *,
    preprocess: str | Callable[[tf.Tensor], tf.Tensor],
    batch_size: int = 100,
    labeled_batch_size: int | None = None,
    seed: int = 1,
    steps_per_epoch: int | None = None,
    num_epochs: int | None = None,
    initial_step: int = 0,
) -> tf.data.Dataset:
    """The semi-supervised training stream of the authors' scripts.

    Per epoch (as in `train_mnist_feature_matching.py`): the labeled set is tiled to the
    epoch's length, each tile independently permuted; the unlabeled set (the whole
    training set) is permuted; a second, independent permutation of it feeds the
    generator's feature statistics. Step `t` of an epoch takes the `t`-th batch of each.
    The permutations are stateless functions of `(seed, epoch)`, so the stream is
    deterministic and `initial_step` resumes it exactly.

    Args:
      images: uint8 `[N, H, W, C]`, the whole training set (unlabeled data).
      labels: int `[N]` labels of `images`.
      labeled_indices: indices into `images` of the labeled subset
        (`select_labeled_subset`).
      preprocess: see `get_preprocess` (`DEFAULT_PREPROCESS[name]` for the paper).
      batch_size: unlabeled batch size (100 in the paper).
      labeled_batch_size: labeled batch size; defaults to `batch_size`.
      seed: seed of the per-epoch permutations.
      steps_per_epoch: steps per epoch; defaults to `N // batch_size` (one pass over the
        unlabeled data, 600 for MNIST).
      num_epochs: number of epochs; `None` repeats forever.
      initial_step: global step to start from (for resuming a run).

    Returns:
      A `tf.data.Dataset` of dicts, each one step:
      `{"labeled_images": float32 [Bl, ...], "labels": int64 [Bl],
        "unlabeled_images": float32 [B, ...], "unlabeled_images_2": float32 [B, ...]}`
      where `...` is the preprocessed image shape (`[784]` for `"unit_flat"` MNIST).

    Raises:
      ValueError: on inconsistent shapes, empty or out-of-range `labeled_indices`, or
        non-positive sizes.
    """
    images = _check_images(images)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"labels has {labels.shape[0]} entries but images has {images.shape[0]}."
        )
    labeled_indices = np.asarray(labeled_indices, dtype=np.int64).reshape(-1)
    if labeled_indices.size == 0:
        raise ValueError("labeled_indices is empty.")
    if labeled_indices.min() < 0 or labeled_indices.max() >= images.shape[0]:
        raise ValueError(
            f"labeled_indices out of range [0, {images.shape[0]}): "
            f"min {labeled_indices.min()}, max {labeled_indices.max()}."
        )
    labeled_batch_size = labeled_batch_size or batch_size
    if batch_size <= 0 or labeled_batch_size <= 0:
        raise ValueError(
            f"batch sizes must be positive, got {batch_size} and {labeled_batch_size}."
        )
    n = images.shape[0]
    steps = steps_per_epoch or n // batch_size
    epochs, skip, total = _epoch_range(steps, num_epochs, initial_step)
    fn = get_preprocess(preprocess)
    n_lab = labeled_indices.shape[0]

    # The labeled examples are copied out so that labeled batches gather from a small array.
    lab_images = tf.constant(images[labeled_indices])
    lab_labels = tf.constant(labels[labeled_indices])
    all_images = tf.constant(images)

    def epoch_batches(epoch):
        lab = _stream_indices(n_lab, steps * labeled_batch_size, seed, epoch, 0)
        unl = _stream_indices(n, steps * batch_size, seed, epoch, 1)
        unl2 = _stream_indices(n, steps * batch_size, seed, epoch, 2)
        return tf.data.Dataset.from_tensor_slices(
            (
                tf.reshape(lab, [steps, labeled_batch_size]),
                tf.reshape(unl, [steps, batch_size]),
                tf.reshape(unl2, [steps, batch_size]),
            )
        )

    def gather(lab, unl, unl2):
        return {
            registry.LABELED: fn(tf.gather(lab_images, lab)),
            registry.LABELS: tf.gather(lab_labels, lab),
            registry.UNLABELED: fn(tf.gather(all_images, unl)),
            registry.UNLABELED_FOR_GENERATOR: fn(tf.gather(all_images, unl2)),
        }

    ds = epochs.flat_map(epoch_batches).skip(skip)
    ds = ds.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return _finish(ds, total)


def unsupervised_dataset(
    images: np.ndarray,
    *,
    preprocess: str | Callable[[tf.Tensor], tf.Tensor],
    batch_size: int = 100,
    seed: int = 1,
    steps_per_epoch: int | None = None,
    num_epochs: int | None = None,
    initial_step: int = 0,
) -> tf.data.Dataset:
    """A stream of shuffled image batches (for sample-quality GAN training).

    Each epoch is an independent permutation of `images` (stateless in `(seed, epoch)`);
    batches are full (the last partial batch of an epoch is dropped).

    Args:
      images: uint8 `[N, H, W, C]`.
      preprocess: see `get_preprocess`.
      batch_size: batch size.
      seed: seed of the per-epoch permutations.
      steps_per_epoch: defaults to `N // batch_size`.
      num_epochs: number of epochs; `None` repeats forever.
      initial_step: global step to start from (for resuming a run).

    Returns:
      A `tf.data.Dataset` of float32 `[batch_size, ...]` image batches.

    Raises:
      ValueError: on bad shapes or sizes.
    """
    images = _check_images(images)
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}.")
    n = images.shape[0]
    steps = steps_per_epoch or n // batch_size
    if steps <= 0:
        raise ValueError(f"{n} images are fewer than one batch of {batch_size}.")
    epochs, skip, total = _epoch_range(steps, num_epochs, initial_step)
    fn = get_preprocess(preprocess)
    all_images = tf.constant(images)

    def epoch_batches(epoch):
        idx = _stream_indices(n, steps * batch_size, seed, epoch, 3)
        return tf.data.Dataset.from_tensor_slices(tf.reshape(idx, [steps, batch_size]))

    ds = epochs.flat_map(epoch_batches).skip(skip)
    ds = ds.map(
        lambda i: fn(tf.gather(all_images, i)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return _finish(ds, total)


def eval_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    preprocess: str | Callable[[tf.Tensor], tf.Tensor],
    batch_size: int = 100,
    cache: bool = True,
) -> tf.data.Dataset:
    """The test / evaluation dataset, in file order, every example exactly once.

    Args:
      images: uint8 `[N, H, W, C]`.
      labels: int `[N]`.
      preprocess: see `get_preprocess`.
      batch_size: batch size (the last batch may be smaller).
      cache: cache the preprocessed batches in memory (evaluated every epoch).

    Returns:
      A `tf.data.Dataset` of `(float32 [B, ...], int64 [B])`.

    Raises:
      ValueError: on bad shapes.
    """
    images = _check_images(images)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"labels has {labels.shape[0]} entries but images has {images.shape[0]}."
        )
    fn = get_preprocess(preprocess)
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)
    ds = ds.map(
        lambda x, y: (fn(x), y), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    if cache:
        ds = ds.cache()
    return ds.prefetch(tf.data.AUTOTUNE).with_options(_options())


def load_dataset(
    name: str,
    split: str,
    data_dir: str | os.PathLike | None = None,
    **kwargs: Any,
) -> tf.data.Dataset:
    """Loads a split as an unbatched `tf.data.Dataset` of `(image, label)`.

    The element spec is the same for both sources: `(TensorSpec([H, W, C], tf.uint8),
    TensorSpec([], tf.int64))`.

    Args:
      name: dataset name (see `load_arrays`).
      split: split name.
      data_dir: local directory of standard files, or `None` for TFDS.
      **kwargs: passed to `load_arrays`.

    Returns:
      The dataset, in file order.

    Raises:
      Same as `load_arrays`.
    """
    images, labels = load_arrays(name, split, data_dir, **kwargs)
    return tf.data.Dataset.from_tensor_slices((images, labels))
