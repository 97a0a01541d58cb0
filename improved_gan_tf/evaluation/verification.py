"""Checks a local 2015 Inception graph against the published CIFAR-10 figures.

Users who have `classify_image_graph_def.pb` and the full CIFAR-10 can confirm that
this library's Inception path reproduces the numbers papers cite before citing their
own: `verify_inception(graph, cifar10_dir)` runs the graph over the CIFAR-10 images and
returns each figure beside its published value:

* the Inception Score of the 50,000 training images, 10 splits: 11.24 +- 0.12 in the
  paper (authors' convention, splits in file order) and 11.23678 +- 0.0951 in
  torch-fidelity (rows shuffled with `RandomState(2020)` first);
* the FID between the first 5,000 training and the first 5,000 test images (TTUR's
  computation): 10.3233274 in torch-fidelity's test fixture;
* `pool_3` sanity checks (shape, finite and non-negative features, probabilities that
  sum to 1, the same features for an image alone and in a batch).

A directory with fewer images than the official files (e.g. a subset) still runs every
check, but marks the figures as not comparable.
"""
from __future__ import annotations

import warnings

import numpy as np

from improved_gan_tf.evaluation.metrics import (
    RunningInceptionScore,
    RunningStatistics,
    frechet_distance,
)

__all__ = ["PUBLISHED_FIGURES", "verify_inception"]

PUBLISHED_FIGURES = {
    "inception_score_train": {
        "mean": 11.24,
        "std": 0.12,
        "num_images": 50000,
        "splits": 10,
        "shuffle_seed": None,
        "source": "Salimans et al. 2016, Table 2 ('Real data', CIFAR-10 training set)",
    },
    "inception_score_train_torch_fidelity": {
        "mean": 11.23678,
        "std": 0.0951,
        "num_images": 50000,
        "splits": 10,
        "shuffle_seed": 2020,
        "source": "torch-fidelity's CIFAR-10 training-set Inception Score (samples_shuffle, rng_seed 2020)",
    },
    "fid_train5k_test5k": {
        "value": 10.3233274,
        "num_images": 5000,
        "source": "torch-fidelity's test fixture: FID of the first 5,000 CIFAR-10 training "
                  "images against the first 5,000 test images",
    },
}

# How close a local result must be to count as reproducing a figure. An Inception
# Score within the paper's own split std; the torch-fidelity figures (a PyTorch port of
# the same graph, matched to TF within 1e-4 on features) within 1e-3 relative.
_TOLERANCE = {
    "inception_score_train": ("absolute", 0.12),
    "inception_score_train_torch_fidelity": ("relative", 1e-3),
    "fid_train5k_test5k": ("relative", 1e-3),
}


def _compare(name, value, num_images):
    published = PUBLISHED_FIGURES[name]
    target = published.get("mean", published.get("value"))
    comparable = num_images == published["num_images"]
    kind, tolerance = _TOLERANCE[name]
    difference = value - target
    bound = tolerance if kind == "absolute" else tolerance * abs(target)
    return {
        "published": target,
        "published_std": published.get("std"),
        "source": published["source"],
        "difference": float(difference),
        "tolerance": f"{kind} {tolerance:g}",
        "num_images": int(num_images),
        "expected_num_images": published["num_images"],
        "comparable": comparable,
        # A subset cannot confirm or refute the published figure.
        "within_tolerance": bool(abs(difference) <= bound) if comparable else None,
    }


def _load(split, cifar10_dir, notes):
    from improved_gan_tf import data as data_lib

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images, _ = data_lib.load_arrays("cifar10", split, cifar10_dir)
    notes.extend(str(w.message) for w in caught)
    return images


def _pool3_checks(scorer, images):
    """Sanity of the features of a few images, alone and in one batch."""
    sample = images[:8]
    probs, feats = scorer.predict(sample)
    one_by_one = np.concatenate([scorer.predict(image[None])[1] for image in sample])
    scale = float(np.max(np.abs(feats))) or 1.0
    batch_difference = float(np.max(np.abs(one_by_one - feats)))
    return {
        "feature_shape": list(feats.shape),
        "feature_dim": int(scorer.feature_dim),
        "num_classes": int(scorer.num_classes),
        "expected_feature_dim": 2048,
        "expected_num_classes": 1008,
        "features_finite": bool(np.all(np.isfinite(feats))),
        "features_non_negative": bool(np.all(feats >= 0)),  # ReLU then average pooling
        "feature_mean": float(feats.mean()),
        "probabilities_sum_to_one": bool(np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)),
        "batch_of_one_max_difference": batch_difference,
        "batch_independent": bool(batch_difference <= 1e-5 * scale),
    }


def verify_inception(graph, cifar10_dir, *, batch_size: int = 100, chunk_size: int = 5000,
                     verbose: int = 0) -> dict:
    """Runs the 2015 Inception graph over CIFAR-10 and compares with published figures.

    The training images are scored in chunks of `chunk_size`, the Inception Scores
    accumulated split by split and the FID statistics of the first 5,000 in float64;
    the Inception Score is computed both in the authors' convention and in
    torch-fidelity's (`shuffle_seed=2020`), and the FID of the first 5,000 training
    against the first 5,000 test images with TTUR's computation.

    Args:
      graph: path of `classify_image_graph_def.pb` (or a `tf.compat.v1.GraphDef`); it
        is checked for unsafe op types before it is imported.
      cifar10_dir: directory with `cifar-10-batches-bin/` (or the `.bin` files).
      batch_size: images per forward pass.
      chunk_size: training images per `predict` call (bounds memory).
      verbose: passed to the scorer (1 shows progress bars).

    Returns:
      dict with `card` (the scorer's metric card: graph path and SHA-256, ...),
      `pool_3` (sanity checks), `inception_score_train`,
      `inception_score_train_torch_fidelity` and `fid_train5k_test5k` (each with
      `value` (or `mean`/`std`) beside `published`, `difference`, `tolerance`,
      `num_images`, `comparable` and `within_tolerance`, which is None when the
      directory holds fewer images than the published figure used), and `notes`
      (e.g. that the directory is a subset).

    Raises:
      MissingWeightsError, WeightsFileError, UnsafeGraphError: for a bad graph file.
      DataFileError (from `improved_gan_tf.data`): for missing or damaged CIFAR-10
        files.
    """
    from improved_gan_tf.evaluation.inception import InceptionScorer

    scorer = InceptionScorer(graph, batch_size=batch_size, verbose=verbose)
    notes: list[str] = []
    train = _load("train", cifar10_dir, notes)
    test = _load("test", cifar10_dir, notes)
    report = {"card": scorer.card(), "pool_3": _pool3_checks(scorer, train)}

    conventions = {"inception_score_train": None, "inception_score_train_torch_fidelity": 2020}
    running = {name: RunningInceptionScore(len(train), 10, seed)
               for name, seed in conventions.items()}
    train_stats = RunningStatistics()
    for start in range(0, len(train), chunk_size):
        probs, feats = scorer.predict(train[start:start + chunk_size])
        for accumulator in running.values():
            accumulator.update(probs)
        if start < 5000:
            train_stats.update(feats[:5000 - start])
    for name, seed in conventions.items():
        mean, std = running[name].result()
        report[name] = {"mean": mean, "std": std, "splits": 10, "shuffle_seed": seed,
                        **_compare(name, mean, len(train))}

    test_mu, test_sigma = scorer.activation_statistics(test[:5000])
    train_mu, train_sigma = train_stats.result()
    with warnings.catch_warnings():
        # The eps retry of TTUR's sqrtm warns; the value is what TTUR reports.
        warnings.simplefilter("ignore", RuntimeWarning)
        fid = frechet_distance(train_mu, train_sigma, test_mu, test_sigma,
                               method=scorer.fid_method)
    num = min(train_stats.count, len(test[:5000]))
    report["fid_train5k_test5k"] = {
        "value": fid, "num_train": train_stats.count, "num_test": int(len(test[:5000])),
        **_compare("fid_train5k_test5k", fid, num),
    }
    report["notes"] = notes
    return report
