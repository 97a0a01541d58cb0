"""Scoring a trained generator: `score_run(workdir)`, the library of `improved-gan score`.

What `score_run` does:

1. Restores the run's latest checkpoint (`training.checkpoints.restore_run`).
2. Draws `num_samples` latents from the run's latent distribution with the stateless
   seed `(seed, SAMPLE_SEED_SALT)` and generates the samples `batch_size` at a time
   exactly as the training run draws its sample grids (`sampling.generate_samples`:
   batch statistics in G, G's non-trainable state restored afterwards). Samples are
   mapped to pixels in [0, 255] (float32, not rounded; `sampling.generate_run_samples`).
3. Scores them against the run's dataset's real test split:
   - MNIST / Fashion-MNIST: the dataset classifier score (the Inception Score formula on
     a small CNN's predictions, 10 splits) and the classifier FD (Fréchet distance of its
     128-d features, samples vs. the test split), plus the real test split's classifier
     score and accuracy as the ceiling. The classifier is `classifier` if it exists;
     otherwise it is trained with `train_dataset_classifier` (default epochs; the
     README gives the time it takes) into `classifier` or, when none is given, into the user cache
     `$IMPROVED_GAN_CACHE` (default `~/.cache/improved_gan_tf`)
     `/classifiers/<dataset>_classifier.keras`, and reused from there next time.
   - CIFAR-10 / SVHN: the Inception Score of the samples and of the real test split,
     and the FID between them, with `InceptionScorer(inception_weights or "imagenet")`;
     samples are streamed batch by batch, so 50,000 fit in little memory. Offline with
     no weights this raises `MissingWeightsError` (naming the file to put where).
   - Goodfellow et al. (2014) MNIST runs (`model.architecture == "goodfellow2014"`, or
     `parzen="yes"` on any MNIST run): the Parzen-window log-likelihood with their
     protocol (`mnist_parzen_protocol`: the first 10,000 samples, sigma from
     logspace(-1, 0, 10) chosen on training images 50,000-50,999, mean over the 10,000
     test images and its standard error), next to the paper's 225 +- 2. Read
     `improved_gan_tf.evaluation.parzen`'s docstring for the estimator's weaknesses.
   MNIST-like samples are scored batch by batch as they are generated too (the
   running split scores and float64 feature sums; only the first `parzen_samples`
   are kept, for Parzen), so memory does not grow with `num_samples`.
   Each of these scores carries its metric card (`"card"`: the network or classifier
   file and its SHA-256, splits, shuffle, number of samples, the reference set, its
   size and the hash of its statistics, small-sample warnings).
4. Stores the figures as the scores section of the run's report
   (`improved_gan_tf.report.write_scores`: report.json's "scores", report.md's
   "## Scores"), which a resumed training keeps.

Progress goes to an optional `progress(message)` callback; nothing is printed.
"""

from __future__ import annotations

import json
import os
import pathlib
import time
from collections.abc import Callable

import numpy as np

from improved_gan_tf import registry
from improved_gan_tf import report as report_lib
from improved_gan_tf.errors import UserInputError
from improved_gan_tf.rundir import RunDir
from improved_gan_tf.sampling import SAMPLE_SEED_SALT
from improved_gan_tf.sampling import generate_run_samples

__all__ = [
    "CLASSIFIER_DATASETS",
    "INCEPTION_DATASETS",
    "NoClassifierError",
    "PAPER_PARZEN_MNIST",
    "SAMPLE_SEED_SALT",
    "ScoringError",
    "default_cache_dir",
    "default_classifier_path",
    "generate_run_samples",
    "load_or_train_classifier",
    "score_run",
]

#: Goodfellow et al. (2014), Table 1: Parzen log-likelihood of the MNIST test set.
PAPER_PARZEN_MNIST = (225.0, 2.0)
CLASSIFIER_DATASETS = ("mnist", "fashion_mnist")
INCEPTION_DATASETS = ("cifar10", "svhn_cropped")
PARZEN_CHOICES = ("auto", "yes", "no")

Progress = Callable[[str], None]


class ScoringError(UserInputError, ValueError):
    """A scoring option that does not fit the run (e.g. Parzen on a CIFAR-10 run)."""


class NoClassifierError(UserInputError, FileNotFoundError):
    """No dataset classifier at the path, and no data directory to train one."""


def default_cache_dir() -> pathlib.Path:
    """`$IMPROVED_GAN_CACHE`, else `$XDG_CACHE_HOME/improved_gan_tf`, else
    `~/.cache/improved_gan_tf`."""
    if os.environ.get("IMPROVED_GAN_CACHE"):
        return pathlib.Path(os.environ["IMPROVED_GAN_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "improved_gan_tf"


def default_classifier_path(dataset: str, cache_dir=None) -> pathlib.Path:
    """Where an automatically trained dataset classifier is cached."""
    root = pathlib.Path(cache_dir) if cache_dir else default_cache_dir()
    return root / "classifiers" / f"{dataset}_classifier.keras"


def _progress(iterable, total: int, label: str, progress: Progress | None,
              every_seconds: float = 15.0):
    """Passes batches through, reporting `label: done/total (s)` to `progress` every
    `every_seconds` and at the end."""
    done, started = 0, time.time()
    last = started
    for batch in iterable:
        done += len(batch)
        now = time.time()
        if progress is not None and (done >= total or now - last >= every_seconds):
            last = now
            progress(f"{label}: {done}/{total} ({now - started:.0f} s)")
        yield batch


def _positive_int(name: str, value, *, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ScoringError(f"{name} must be a positive integer. Received: {value!r}")
    return int(value)


def _check_counts(num_samples, batch_size, splits, parzen_samples, reference_examples):
    """Refuses counts that make no sense, before anything is restored or generated.

    A score of N samples in `splits` splits needs N >= 2 * splits (a split of one
    sample always scores 1; the old behaviour of quietly lowering `splits` to N
    reported 5 samples in 10 splits as "1.000 +- 0.000").
    """
    num_samples = _positive_int("num_samples", num_samples)
    batch_size = _positive_int("batch_size", batch_size, allow_none=True)
    splits = _positive_int("splits", splits)
    _positive_int("parzen_samples", parzen_samples)
    reference_examples = _positive_int("reference_examples", reference_examples, allow_none=True)
    for name, count in (("num_samples", num_samples), ("reference_examples", reference_examples)):
        if count is not None and count < 2 * splits:
            raise ScoringError(
                f"{name}={count} is too few for splits={splits}: each split needs at least 2 "
                f"samples ({name} >= {2 * splits}); lower --splits or raise --{name}"
            )
    return num_samples, batch_size, splits


def load_or_train_classifier(dataset: str, data_dir=None, classifier_path=None, cache_dir=None,
                             *, verbose: int = 0, progress: Progress | None = None):
    """The dataset classifier at `classifier_path` (default: the cache), trained there
    first if it does not exist.

    Returns:
        `(classifier, info)`: the Keras model and `{"path", "trained_now",
        "test_accuracy", "epochs"}`.

    Raises:
        NoClassifierError: no classifier at the path and no `data_dir` to train one.
        ScoringError: the classifier was trained on another dataset.
    """
    from improved_gan_tf.evaluation import dataset_classifier as dc

    path = pathlib.Path(classifier_path) if classifier_path else default_classifier_path(
        dataset, cache_dir
    )
    info_path = path.with_suffix(".json")
    if path.is_file():
        classifier = dc.load_dataset_classifier(path)
        info = json.loads(info_path.read_text()) if info_path.is_file() else {}
        trained = False
    else:
        if not data_dir:
            raise NoClassifierError(
                f"no dataset classifier at {path}, and no data directory to train one "
                "(pass --classifier PATH to an existing one or --data_dir DIR)"
            )
        if progress is not None:
            progress(f"training the {dataset} classifier into {path} (this takes a while; "
                     "it is cached for next time)")
        classifier, info = dc.train_dataset_classifier(
            dataset, data_dir, path, verbose=2 if verbose else 0
        )
        trained = True
    if info.get("dataset") not in (None, dataset):
        raise ScoringError(f"classifier {path} was trained on {info['dataset']!r}, not {dataset!r}")
    return classifier, {
        "path": str(path),
        "trained_now": trained,
        "test_accuracy": info.get("test_accuracy"),
        "epochs": info.get("epochs"),
    }


def score_run(
    workdir,
    *,
    num_samples: int = 50000,
    classifier=None,
    classifier_cache_dir=None,
    inception_weights=None,
    batch_size: int | None = None,
    data_dir=None,
    seed: int = 0,
    splits: int = 10,
    parzen: str = "auto",
    parzen_samples: int = 10000,
    reference_examples: int | None = None,
    write_report: bool = True,
    verbose: int = 0,
    progress: Progress | None = None,
) -> dict:
    """Scores a run directory's generator (see the module docstring); returns the scores.

    Args:
      workdir: the run directory of `improved-gan train`.
      num_samples: generated samples to score (the paper: 50,000).
      classifier: MNIST-like runs: path of the dataset classifier (`.keras`); trained
        into that path if missing. None: the user cache (`default_classifier_path`).
      classifier_cache_dir: cache root instead of `default_cache_dir()`.
      inception_weights: CIFAR/SVHN runs: Keras InceptionV3 `.h5` weights or the 2015
        `classify_image_graph_def.pb`; None means "imagenet" (Keras cache or download).
      batch_size: generator batch size (default: the run's training batch size); also
        the scorers' forward-pass batch size.
      data_dir: the dataset directory (default: the run's `config.data.dir`).
      seed: first word of the latents' stateless seed.
      splits: splits of the classifier / Inception score; `num_samples` and the
        reference set need at least 2 per split.
      parzen: "auto" (goodfellow2014 MNIST runs), "yes" (any MNIST run) or "no".
      parzen_samples: samples used for the Parzen estimate (the paper: 10,000).
      reference_examples: use only the first test images as the reference (and as the
        Parzen test set); None (default) uses the whole test split. For quick checks.
      write_report: store the scores in the run's report.
      verbose: Keras progress output of the scoring networks (0: none).
      progress: called with one-line progress messages (None: silent).

    Returns:
      The dict stored under "scores" in report.json.

    Raises:
      ScoringError: `parzen` not one of "auto"/"yes"/"no", or "yes" on a non-MNIST run,
        or a dataset without a scorer; `num_samples`, `batch_size`, `splits`,
        `parzen_samples` or `reference_examples` not a positive integer, or fewer
        samples (or reference images) than 2 per split. Checked before anything
        is restored or generated; nothing is replaced by a value that fits.
      NotARunDirectoryError, NoCheckpointError, NoClassifierError, MissingWeightsError:
        a missing input (all `FileNotFoundError`s).
    """
    from improved_gan_tf import data as data_lib
    from improved_gan_tf.training.checkpoints import restore_run

    started = time.time()
    num_samples, batch_size, splits = _check_counts(
        num_samples, batch_size, splits, parzen_samples, reference_examples)
    run = RunDir(workdir)
    if parzen not in PARZEN_CHOICES:
        raise ScoringError(f"parzen must be one of {PARZEN_CHOICES}; got {parzen!r}")
    restored = restore_run(run.path)
    config, model = restored.config, restored.model
    dataset = registry.data_facts(config).name
    if parzen == "yes" and dataset != "mnist":
        raise ScoringError(f"the Parzen protocol is for MNIST runs; this run is {dataset!r}")
    if dataset not in CLASSIFIER_DATASETS + INCEPTION_DATASETS:
        raise ScoringError(
            f"no scorer for dataset {dataset!r}; scored are {CLASSIFIER_DATASETS + INCEPTION_DATASETS}"
        )
    data_dir = str(data_dir or config.data.dir or "") or None
    batch_size = int(batch_size or config.train.batch_size)
    scores = {
        "dataset": dataset,
        "checkpoint": restored.checkpoint,
        "global_step": restored.step,
        "num_samples": num_samples,
        "sample_seed": [int(seed), SAMPLE_SEED_SALT],
        "batch_size": batch_size,
    }

    def samples():
        return _progress(
            generate_run_samples(model, config, num_samples, batch_size=batch_size, seed=seed),
            num_samples, "generating", progress,
        )

    test_x, test_y = data_lib.load_arrays(dataset, "test", data_dir)
    test_x, test_y = np.asarray(test_x)[:reference_examples], np.asarray(test_y)[:reference_examples]
    if len(test_x) < 2 * splits:
        raise ScoringError(
            f"the {dataset} test split has {len(test_x)} images, too few for splits={splits} "
            f"(at least {2 * splits})"
        )
    scores["reference_examples"] = int(len(test_x))
    use_parzen = (dataset == "mnist") and (
        parzen == "yes" or (parzen == "auto" and config.model.architecture == "goodfellow2014")
    )

    if dataset in CLASSIFIER_DATASETS:
        from improved_gan_tf.evaluation import dataset_classifier as dc
        from improved_gan_tf.evaluation.metrics import RunningInceptionScore
        from improved_gan_tf.evaluation.metrics import RunningStatistics
        from improved_gan_tf.evaluation.metrics import activation_statistics
        from improved_gan_tf.evaluation.metrics import frechet_distance

        net, net_info = load_or_train_classifier(
            dataset, data_dir, classifier, classifier_cache_dir, verbose=verbose, progress=progress
        )
        # Generated and scored batch by batch: one batch of images is alive at a time;
        # what is kept is the running score of the current split, the float64 feature
        # sums and, for Parzen, its first `parzen_samples` samples.
        running, statistics = RunningInceptionScore(num_samples, splits), RunningStatistics()
        kept, kept_count = [], 0
        for batch in samples():
            probs, feats = dc.classifier_predict(net, batch, batch_size=batch_size)
            running.update(probs)
            statistics.update(feats)
            if use_parzen and kept_count < parzen_samples:
                kept.append(batch[: parzen_samples - kept_count])
                kept_count += len(kept[-1])
        real_probs, real_feats = dc.classifier_predict(net, test_x, batch_size=batch_size)
        scores["classifier"] = {
            **net_info,
            "classifier_score": list(running.result()),
            "classifier_fd": float(frechet_distance(
                *statistics.result(), *activation_statistics(real_feats))),
            "real_test_classifier_score": list(dc.classifier_score(real_probs, splits)),
            "real_test_accuracy": float(np.mean(np.argmax(real_probs, 1) == test_y)),
            "card": _classifier_run_card(
                net, net_info["path"], splits, statistics.count, f"{dataset} test", real_feats,
            ),
        }
        if use_parzen:
            scores["parzen"] = _parzen(np.concatenate(kept), data_dir, reference_examples, progress)
    else:
        from improved_gan_tf.evaluation.inception import InceptionScorer

        scorer = InceptionScorer(
            inception_weights or "imagenet", batch_size=min(batch_size, 50), verbose=verbose
        )
        reference = scorer.score(test_x, splits=splits)
        # A small-sample FID warns, and its card keeps the message (card["warnings"]).
        result = scorer.score(
            samples(), splits=splits,
            reference=(reference["mu"], reference["sigma"]), num_images=num_samples,
            reference_name=f"{dataset} test", reference_num_examples=int(len(test_x)),
        )
        scores["inception"] = {
            "weights": str(inception_weights or "imagenet"),
            "network": scorer.source,
            "inception_score": list(result["inception_score"]),
            "fid": float(result["fid"]),
            "real_test_inception_score": list(reference["inception_score"]),
            "card": result["card"],
        }

    scores["seconds"] = round(time.time() - started, 1)
    if write_report:
        report_lib.write_scores(run, scores)
    return scores


def _classifier_run_card(net, path, splits, num_samples, reference_name, reference_feats) -> dict:
    """The metric card of a classifier score / FD (as `ClassifierScorer.score` gives)."""
    from improved_gan_tf.evaluation.classifier_scorer import classifier_card
    from improved_gan_tf.evaluation.classifier_scorer import small_sample_messages
    from improved_gan_tf.evaluation.metrics import activation_statistics
    from improved_gan_tf.evaluation.statistics import statistics_sha256

    card = classifier_card(net, path)
    messages = small_sample_messages(card["feature_dim"], num_samples, len(reference_feats))
    return {
        **card,
        "splits": int(splits),
        "shuffle_seed": None,
        "split_convention": "authors (rows in the order given)",
        "num_samples": int(num_samples),
        "value_range": [0.0, 255.0],
        "reference": {
            "name": reference_name,
            "num_examples": int(len(reference_feats)),
            "sha256": statistics_sha256(*activation_statistics(reference_feats)),
        },
        "warnings": messages,
    }


def _parzen(pixels, data_dir, num_test, progress):
    from improved_gan_tf.evaluation.parzen import mnist_parzen_protocol

    if progress is not None:
        progress(f"Parzen window estimate on {len(pixels)} samples")
    result = mnist_parzen_protocol(pixels, data_dir, value_range=(0.0, 255.0), num_test=num_test)
    result["paper"] = list(PAPER_PARZEN_MNIST)
    return result
