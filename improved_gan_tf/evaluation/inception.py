"""The Inception-v3 scorer: Inception Score and FID of image sets, with a metric card.

`InceptionScorer` runs one of two networks (`inception_networks.py`) over images, batch
by batch, and returns the Inception Score, the FID statistics, the FID against a
reference, and a metric card saying how the numbers were computed:

* the 2015-12-05 TensorFlow graph `classify_image_graph_def.pb` the paper's numbers
  (and TTUR's FIDs) come from: pass its path. Its scores are comparable with published
  ones; the card carries the file's SHA-256 so a reader can check it is the original.
* Keras's `InceptionV3` (the default, "imagenet"): other weights; its scores are NOT
  comparable with published numbers, and the card says so.

Memory stays bounded for any number of images: images arrive as an array or an iterable
of batches (e.g. a generator sampling a GAN), the FID statistics accumulate in float64
(`RunningStatistics`) and, when the number of images is known (an array, or
`num_images`), so does the Inception Score split by split (`RunningInceptionScore`);
only for an iterable of unknown length are the class probabilities kept (N x K float32:
200 MB for 50,000 images and 1008 classes).
"""
from __future__ import annotations

import os
import pathlib
import warnings
from collections.abc import Iterable

import numpy as np

from improved_gan_tf.evaluation._images import to_pixel_range
from improved_gan_tf.evaluation.errors import (
    MetricInputError,
    MissingWeightsError,
    SmallSampleWarning,
)
from improved_gan_tf.evaluation.inception_networks import (
    GRAPH_DEF_ARCHIVE_URL,
    GRAPH_DEF_FILE,
    KERAS_WEIGHTS_FILE,
    KERAS_WEIGHTS_URL,
    GraphDefInception,
    KerasInception,
    read_graph_def,
    resolve_keras_weights,
)
from improved_gan_tf.evaluation.kid import kernel_inception_distance
from improved_gan_tf.evaluation.metrics import (
    RunningInceptionScore,
    RunningStatistics,
    frechet_distance,
    inception_score,
)
from improved_gan_tf.evaluation.statistics import (
    file_sha256,
    load_statistics,
    statistics_sha256,
)

__all__ = [
    "GRAPH_DEF_ARCHIVE_URL",
    "GRAPH_DEF_FILE",
    "InceptionScorer",
    "KERAS_WEIGHTS_FILE",
    "KERAS_WEIGHTS_URL",
    "MissingWeightsError",
]


def _as_batches(images, batch_size: int):
    """Yields batches of at most `batch_size` images from an array, a list of images,
    or an iterable (e.g. a generator) of batches."""
    if isinstance(images, (list, tuple)):
        # A list of single images, as the authors' get_inception_score takes.
        images = np.stack([np.asarray(image) for image in images])
    if isinstance(images, np.ndarray) or (
        hasattr(images, "shape") and hasattr(images, "__getitem__")
    ):
        n = len(images)
        for start in range(0, n, batch_size):
            yield images[start:start + batch_size]
    elif isinstance(images, Iterable):
        for batch in images:
            batch = np.asarray(batch)
            # Re-chunk large batches so memory stays bounded by batch_size.
            for start in range(0, len(batch), batch_size):
                yield batch[start:start + batch_size]
    else:
        raise TypeError(
            "images must be an array (N, H, W[, C]) or an iterable of such batches; got "
            f"{type(images).__name__}"
        )


def _to_rgb(batch: np.ndarray) -> np.ndarray:
    if batch.ndim == 3:
        batch = batch[..., None]
    if batch.ndim != 4 or batch.shape[-1] not in (1, 3):
        raise MetricInputError(
            "images must have shape (N, H, W), (N, H, W, 1) or (N, H, W, 3); got a "
            f"batch of shape {batch.shape}"
        )
    if batch.shape[-1] == 1:
        batch = np.repeat(batch, 3, axis=-1)
    return batch


def _known_length(images, num_images):
    if num_images is not None:
        return int(num_images)
    if isinstance(images, (list, tuple)) or hasattr(images, "shape"):
        return len(images)
    return None


class InceptionScorer:
    """Computes Inception Scores and FIDs of image sets with Inception-v3.

    Images are NumPy arrays `(N, H, W)`, `(N, H, W, 1)` or `(N, H, W, 3)` (uint8 or
    float) with values in `value_range` (default [0, 255]), or an iterable of such
    batches (e.g. a generator that samples a GAN batch by batch). Grayscale is repeated
    to 3 channels. Images are processed `batch_size` at a time; the network runs in
    inference mode, so an image's features do not depend on its batch.

    Args:
      weights: where the network comes from:
        - "imagenet" (default): Keras InceptionV3 with ImageNet weights, from
          `cache_dir/models/inception_v3_weights_tf_dim_ordering_tf_kernels.h5`
          (`cache_dir` defaults to `$KERAS_HOME` or `~/.keras`), else downloaded by
          Keras if `allow_download` and the network is reachable; otherwise a
          `MissingWeightsError` says which file to put where. Not comparable with
          published numbers.
        - a path to that `.h5` file (or any weights file Keras InceptionV3 loads).
        - a path to the 2015 graph `classify_image_graph_def.pb` (suffix `.pb`), or a
          `tf.compat.v1.GraphDef`: the paper's network (1008 classes, `pool_3`),
          checked for unsafe op types before it is imported.
        - None: randomly initialised Keras InceptionV3 (for tests and benchmarks; the
          numbers mean nothing).
      batch_size: images per forward pass.
      cache_dir: Keras cache directory to look in (see above).
      allow_download: whether "imagenet" may download through Keras.
      seed: seed for the random initialisation when `weights=None` (set through
        `keras.utils.set_random_seed`, which seeds Python, NumPy and TF globally).
      fid_method: how `frechet_distance` takes the matrix square root: "sqrtm"
        (the TTUR reference computation, default) or "eigh" (exact and faster).
      verbose: 1 shows a `keras.utils.Progbar`, 0 is silent.

    Raises:
      MissingWeightsError: if the weights or graph file is not found.
      WeightsFileError: if the file is not loadable as the network.
      UnsafeGraphError: if a GraphDef holds an op type an image classifier does not
        need (`graph_check.ALLOWED_GRAPH_OPS`).

    Examples:

      scorer = InceptionScorer("/data/classify_image_graph_def.pb")
      result = scorer.score(samples, reference="cifar10_train_stats.npz",
                            reference_name="cifar10 train", reference_num_examples=50000)
      result["inception_score"], result["fid"], result["card"]
    """

    def __init__(
        self,
        weights="imagenet",
        *,
        batch_size: int = 50,
        cache_dir=None,
        allow_download: bool = True,
        seed: int | None = 0,
        fid_method: str = "sqrtm",
        verbose: int = 1,
    ):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise MetricInputError(f"batch_size must be an integer >= 1; got {batch_size!r}")
        if fid_method not in ("sqrtm", "eigh"):
            raise MetricInputError(f"fid_method must be 'sqrtm' or 'eigh'; got {fid_method!r}")
        self.batch_size = int(batch_size)
        self.fid_method = fid_method
        self.verbose = verbose
        import tensorflow as tf

        if isinstance(weights, tf.compat.v1.GraphDef) or (
            isinstance(weights, (str, os.PathLike)) and str(weights).endswith(".pb")
        ):
            self.source = "graph_def"
            graph_def, description, sha256 = read_graph_def(weights)
            self._net = GraphDefInception(graph_def, source=description, sha256=sha256)
        else:
            self.source = "keras"
            path = (
                None if weights is None
                else resolve_keras_weights(weights, cache_dir, allow_download)
            )
            self._net = KerasInception(path, seed)
        self.weights = weights

    @property
    def num_classes(self) -> int:
        """1000 for the Keras network, 1008 for the 2015 graph."""
        return int(self._net.num_classes)

    @property
    def feature_dim(self) -> int:
        """2048 for both networks."""
        return int(self._net.feature_dim)

    def card(self) -> dict:
        """The scorer's part of a metric card: network, weights and their SHA-256,
        resize, logits variant, number of classes, feature layer, FID method."""
        return {**self._net.card(), "batch_size": self.batch_size, "fid_method": self.fid_method}

    def _iterate(self, images, value_range, num_images):
        import keras

        total = _known_length(images, num_images)
        progbar = keras.utils.Progbar(total, unit_name="image") if self.verbose else None
        seen = 0
        for batch in _as_batches(images, self.batch_size):
            if len(batch) == 0:
                continue
            batch = _to_rgb(to_pixel_range(batch, value_range))
            probs, feats = self._net(batch)
            seen += len(batch)
            if progbar is not None:
                progbar.update(seen)
            yield probs, feats
        if seen == 0:
            raise MetricInputError("images is empty")
        if progbar is not None and total is None:
            progbar.update(seen, finalize=True)

    def _reference(self, reference, name, num_examples):
        """`(mu, sigma, card entry)` of a reference given as statistics, file or images
        (real images, in [0, 255] whatever the generated images' range)."""
        entry = {"name": name, "num_examples": num_examples, "file": None, "file_sha256": None}
        if isinstance(reference, (str, os.PathLike)):
            mu, sigma = load_statistics(reference)
            entry["file"] = str(pathlib.Path(reference))
            entry["file_sha256"] = file_sha256(reference)
        elif isinstance(reference, tuple) and len(reference) == 2:
            mu, sigma = reference
        else:
            stats = RunningStatistics()
            for _, f in self._iterate(reference, (0, 255), None):
                stats.update(f)
            mu, sigma = stats.result()
            if num_examples is not None and num_examples != stats.count:
                raise MetricInputError(
                    f"reference_num_examples={num_examples} but the reference images "
                    f"number {stats.count}"
                )
            entry["num_examples"] = stats.count
        entry["sha256"] = statistics_sha256(mu, sigma)
        return mu, sigma, entry

    def _small_sample_warnings(self, num_images, reference_entry):
        messages = []
        counts = [("generated", num_images)]
        if reference_entry is not None:
            counts.append(("reference", reference_entry["num_examples"]))
        for which, count in counts:
            if count is not None and count < self.feature_dim:
                message = (
                    f"FID from {count} {which} samples, fewer than the {self.feature_dim} "
                    "feature dimensions: the covariance estimate is singular and the FID "
                    "is biased upwards; it is not comparable with 50,000-sample FIDs"
                )
                warnings.warn(message, SmallSampleWarning, stacklevel=3)
                messages.append(message)
        return messages

    def score(
        self,
        images,
        *,
        splits: int = 10,
        shuffle_seed: int | None = None,
        reference=None,
        reference_name: str | None = None,
        reference_num_examples: int | None = None,
        value_range=(0, 255),
        num_images: int | None = None,
        return_features: bool = False,
        kid_reference_features=None,
        kid_options: dict | None = None,
    ) -> dict:
        """Inception Score, FID statistics, FID, KID and the metric card, in one pass.

        Args:
          images: the images (see the class docstring): an array or an iterable of
            batches, never concatenated.
          splits: splits for the Inception Score (each needs at least 2 images).
          shuffle_seed: None (the authors' convention: splits in the order given) or
            the `RandomState` seed of a row permutation before splitting (2020 is
            torch-fidelity's); see `metrics.inception_score`.
          reference: what the FID compares with: `None` (no FID), a `(mu, sigma)`
            pair, the path of a TTUR `.npz` statistics file (`load_statistics`), or
            real images (array or iterable, in [0, 255]).
          reference_name: the reference set's name for the card (e.g. "cifar10 train").
          reference_num_examples: how many images the reference statistics come from,
            for the card (counted when `reference` is images).
          value_range: range of the images' values, e.g. `(-1, 1)` for tanh outputs.
          num_images: length of an iterable `images`: it then shows in the progress
            bar, `splits` is checked before any image is scored, and the Inception
            Score accumulates without keeping the probabilities (an iterable of
            another length is an error). Without it, the N x K float32
            probabilities are kept (200 MB for 50,000 images and 1008 classes).
          return_features: also return the `(N, 2048)` features (N x 2048 float32:
            400 MB for 50,000 images).
          kid_reference_features: `(M, 2048)` features of real images (e.g.
            `scorer.predict(real)[1]`); when given, the generated features are kept
            (as with `return_features`) and the KID is computed
            (`kernel_inception_distance`).
          kid_options: keyword arguments of `kernel_inception_distance`
            (`num_subsets`, `subset_size`, `seed`); recorded in the card.

        Returns:
          dict with `inception_score` `(mean, std)`, `mu`, `sigma`, `num_images`,
          `fid` when `reference` is given, `kid` `(mean, std)` when
          `kid_reference_features` is given, `features` if requested, and `card`: the
          scorer's card (`card()`) plus `splits`, `shuffle_seed`, `num_samples`,
          `value_range`, `reference` (`name`, `num_examples`, `sha256` of the
          statistics, `file`, `file_sha256`) and `warnings` (the messages of any
          `SmallSampleWarning` issued).

        Raises:
          MetricInputError: on empty or malformed images, too few images for
            `splits`, or reference statistics that do not match the features.

        Warns:
          SmallSampleWarning: when the FID uses fewer samples (generated or
            reference) than feature dimensions (2,048).
        """
        known = _known_length(images, num_images)
        if known is not None and isinstance(splits, (int, np.integer)) and known < 2 * splits:
            raise MetricInputError(
                f"{known} images are too few for splits={splits}: each split needs at "
                f"least 2 images (N >= {2 * splits})"
            )
        keep_features = return_features or kid_reference_features is not None
        ref_entry = None
        if reference is not None:
            ref_mu, ref_sigma, ref_entry = self._reference(
                reference, reference_name, reference_num_examples
            )
        # With the number of images known, the Inception Score is accumulated split by
        # split (RunningInceptionScore) and nothing grows with N; otherwise the
        # probabilities (N x K float32) are kept until the count is known.
        running = None if known is None else RunningInceptionScore(known, splits, shuffle_seed)
        probs, stats, feats, count = [], RunningStatistics(), [], 0
        for p, f in self._iterate(images, value_range, num_images):
            if running is not None:
                running.update(p)
            else:
                probs.append(p)
            stats.update(f)
            count += len(p)
            if keep_features:
                feats.append(f)
        if running is not None:
            score = running.result()
        else:
            score = inception_score(np.concatenate(probs), splits=splits, shuffle_seed=shuffle_seed)
        mu, sigma = stats.result()
        result = {
            "inception_score": score,
            "mu": mu,
            "sigma": sigma,
            "num_images": int(count),
        }
        messages = []
        if reference is not None:
            messages = self._small_sample_warnings(count, ref_entry)
            result["fid"] = frechet_distance(
                mu, sigma, ref_mu, ref_sigma, method=self.fid_method
            )
        kid_entry = None
        if kid_reference_features is not None:
            options = dict(kid_options or {})
            features = np.concatenate(feats)
            result["kid"] = kernel_inception_distance(kid_reference_features, features, **options)
            kid_entry = {"num_reference_features": int(len(kid_reference_features)),
                         **{"num_subsets": 100, "subset_size": 1000, "seed": 0}, **options}
        if return_features:
            result["features"] = np.concatenate(feats)
        result["card"] = {
            **self.card(),
            "splits": int(splits),
            "shuffle_seed": shuffle_seed,
            "split_convention": (
                "authors (rows in the order given)" if shuffle_seed is None
                else f"torch-fidelity (rows permuted by RandomState({shuffle_seed}))"
            ),
            "num_samples": int(count),
            "value_range": [float(v) for v in value_range],
            "reference": ref_entry,
            "kid": kid_entry,
            "warnings": messages,
        }
        return result

    def predict(self, images, *, value_range=(0, 255), num_images=None):
        """Returns `(probabilities (N, K), features (N, 2048))` as float32 arrays."""
        probs, feats = [], []
        for p, f in self._iterate(images, value_range, num_images):
            probs.append(p)
            feats.append(f)
        return np.concatenate(probs), np.concatenate(feats)

    def inception_score(self, images, *, splits: int = 10, shuffle_seed: int | None = None,
                        value_range=(0, 255), num_images=None) -> tuple[float, float]:
        """`(mean, std)` Inception Score of `images`; see `metrics.inception_score`."""
        known = _known_length(images, num_images)
        if known is not None:
            running = RunningInceptionScore(known, splits, shuffle_seed)
            for p, _ in self._iterate(images, value_range, num_images):
                running.update(p)
            return running.result()
        probs = np.concatenate(
            [p for p, _ in self._iterate(images, value_range, num_images)]
        )
        return inception_score(probs, splits=splits, shuffle_seed=shuffle_seed)

    def activation_statistics(self, images, *, value_range=(0, 255), num_images=None):
        """`(mu, sigma)` of the pool features, accumulated batch by batch (float64)."""
        stats = RunningStatistics()
        for _, f in self._iterate(images, value_range, num_images):
            stats.update(f)
        return stats.result()

    def fid(self, images, reference, *, value_range=(0, 255), num_images=None) -> float:
        """FID between `images` and `reference` (`(mu, sigma)`, an `.npz` path, or
        real images in [0, 255]); warns like `score` on small samples."""
        ref_mu, ref_sigma, entry = self._reference(reference, None, None)
        stats = RunningStatistics()
        for _, f in self._iterate(images, value_range, num_images):
            stats.update(f)
        self._small_sample_warnings(stats.count, entry)
        mu, sigma = stats.result()
        return frechet_distance(mu, sigma, ref_mu, ref_sigma, method=self.fid_method)
