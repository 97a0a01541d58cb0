"""`ClassifierScorer`: the dataset classifier's score and FD behind a `score(...)` method.

`ScoreCallback` takes any scorer with `score(batches, *, num_images, **kwargs) -> dict`;
`InceptionScorer` is one for CIFAR-10-like data. For MNIST-like data this is the other:
the classifier score (the Inception Score formula on the dataset classifier's
predictions) and the classifier Fréchet distance (on its 128-d features) against the
statistics of real reference images, computed once when the scorer is built.

Batches are scored as they arrive: the feature statistics accumulate in float64 and,
with `num_images` given, the score split by split, so nothing grows with the number of
samples.
"""
from __future__ import annotations

import numpy as np

from improved_gan_tf.evaluation.errors import MetricInputError
from improved_gan_tf.evaluation.metrics import (
    RunningInceptionScore,
    activation_statistics,
    RunningStatistics,
    frechet_distance,
    inception_score,
)

__all__ = ["ClassifierScorer", "classifier_card", "small_sample_messages"]


def small_sample_messages(feature_dim: int, num_generated: int, num_reference: int) -> list[str]:
    """A card's warnings: the classifier FD from fewer samples than feature dimensions."""
    return [
        f"classifier FD from {count} {which} samples, fewer than the {feature_dim} "
        "feature dimensions: the covariance estimate is singular and the FD is biased upwards"
        for which, count in (("generated", num_generated), ("reference", num_reference))
        if count < feature_dim
    ]


def classifier_card(classifier, classifier_path=None) -> dict:
    """The dataset classifier's part of a metric card.

    Args:
      classifier: the Keras classifier.
      classifier_path: its file, whose SHA-256 the card carries (None: not hashed).

    Returns:
      dict with `scorer`, `classifier_path`, `classifier_sha256`, `feature_dim`,
      `num_classes` and `comparable` (only with the same classifier file).
    """
    from improved_gan_tf.evaluation.dataset_classifier import FEATURES_LAYER
    from improved_gan_tf.evaluation.statistics import file_sha256

    return {
        "scorer": "dataset classifier",
        "classifier_path": None if classifier_path is None else str(classifier_path),
        "classifier_sha256": None if classifier_path is None else file_sha256(classifier_path),
        "feature_dim": int(classifier.get_layer(FEATURES_LAYER).output.shape[-1]),
        "num_classes": int(classifier.output_shape[-1]),
        "comparable": "only with scores from the same classifier file (its sha256)",
    }


class ClassifierScorer:
    """Classifier score and classifier FD of image batches, with a metric card.

    Args:
      classifier: a model of `build_dataset_classifier` / `load_dataset_classifier`.
      reference_images: real images (e.g. the test split), uint8 or float pixels in
        [0, 255], `(M, H, W)` or `(M, H, W, 1)`; M >= 2.
      reference_name: the reference set's name for the card (e.g. "mnist test").
      classifier_path: the classifier's file, hashed into the card (None: not hashed).
      batch_size: images per forward pass.

    Examples:

      scorer = ClassifierScorer(load_dataset_classifier(path), test_images,
                                classifier_path=path)
      result = scorer.score(batches, num_images=5000, value_range=(0, 1))
      result["classifier_score"], result["classifier_fd"], result["card"]
    """

    def __init__(self, classifier, reference_images, *, reference_name: str | None = None,
                 classifier_path=None, batch_size: int = 500):
        from improved_gan_tf.evaluation.dataset_classifier import classifier_predict
        from improved_gan_tf.evaluation.statistics import statistics_sha256

        reference_images = np.asarray(reference_images)
        if len(reference_images) < 2:
            raise MetricInputError(
                f"reference_images must hold at least 2 images; got shape {reference_images.shape}"
            )
        self.classifier = classifier
        self.batch_size = int(batch_size)
        self._predict = classifier_predict
        _, feats = classifier_predict(classifier, reference_images, batch_size=self.batch_size)
        self.reference_mu, self.reference_sigma = activation_statistics(feats)
        self._card = classifier_card(classifier, classifier_path)
        self._reference = {
            "name": reference_name,
            "num_examples": int(len(reference_images)),
            "sha256": statistics_sha256(self.reference_mu, self.reference_sigma),
        }

    def card(self) -> dict:
        """The scorer's part of a metric card: classifier file and its SHA-256, ..."""
        return dict(self._card)

    def score(self, images, *, num_images: int | None = None, splits: int = 10,
              value_range=(0, 255)) -> dict:
        """Scores an array or an iterable of batches of generated images.

        Args:
          images: an array or an iterable of batches (never concatenated).
          num_images: the number of images of an iterable: the score then accumulates
            split by split (else the N x K probabilities are kept).
          splits: splits of the classifier score (each needs at least 2 images).
          value_range: range of the images' values, e.g. `(0, 1)` for sigmoid outputs.

        Returns:
          dict with `classifier_score` `(mean, std)`, `classifier_fd`, `num_images`
          and `card` (`card()` plus `splits`, `shuffle_seed` (None: splits in order),
          `split_convention`, `num_samples`, `value_range`, `reference` (`name`,
          `num_examples`, `sha256` of its statistics) and `warnings`).

        Raises:
          MetricInputError: no images, too few for `splits`, or a different count than
            `num_images`.
        """
        if num_images is not None and num_images < 2 * splits:
            raise MetricInputError(
                f"{num_images} images are too few for splits={splits}: each split needs "
                f"at least 2 images (N >= {2 * splits})"
            )
        if isinstance(images, np.ndarray):
            images = [images[i:i + self.batch_size] for i in range(0, len(images), self.batch_size)]
        running = None if num_images is None else RunningInceptionScore(num_images, splits, None)
        probs, stats = [], RunningStatistics()
        for batch in images:
            if len(batch) == 0:
                continue
            p, f = self._predict(self.classifier, np.asarray(batch), batch_size=self.batch_size,
                                 value_range=value_range)
            if running is not None:
                running.update(p)
            else:
                probs.append(p)
            stats.update(f)
        if stats.count == 0:
            raise MetricInputError("images is empty")
        if running is not None:
            score = running.result()
        else:
            score = inception_score(np.concatenate(probs), splits=splits)
        mu, sigma = stats.result()
        return {
            "classifier_score": tuple(float(v) for v in score),
            "classifier_fd": float(frechet_distance(mu, sigma, self.reference_mu, self.reference_sigma)),
            "num_images": int(stats.count),
            "card": {
                **self.card(), "splits": int(splits), "shuffle_seed": None,
                "split_convention": "authors (rows in the order given)",
                "num_samples": int(stats.count), "value_range": [float(v) for v in value_range],
                "reference": dict(self._reference),
                "warnings": small_sample_messages(self._card["feature_dim"], stats.count,
                                                  self._reference["num_examples"]),
            },
        }
