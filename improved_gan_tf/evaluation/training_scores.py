"""Scores during training: the `evaluation.ScoreCallback` a config's `evaluation.*` asks for.

`make_score_callback(config, data)` is the `score_callback_factory` of
`training.train` / `training.Trainer` (the training package never imports this one;
`improved-gan train` passes it). It returns None when `evaluation.score_every_epochs`
is 0 (the default), so a run without scores builds no scorer and loads no network.
Otherwise it builds the scorer once, before `fit`:

- `evaluation.scorer="classifier"` (MNIST-like data): `evaluation.ClassifierScorer`
  over the classifier at `evaluation.classifier_path`, with the run's test images as
  the reference;
- `evaluation.scorer="inception"`: `evaluation.InceptionScorer` over
  `evaluation.inception_graph` or `evaluation.inception_weights`, against
  `evaluation.reference_statistics` (a TTUR `.npz`) or, when empty, the run's test
  images;

and a `ScoreCallback` that scores `evaluation.score_num_samples` samples every
`score_every_epochs` epochs. Its log entries are named `SCORE_LOG_PREFIX + name`
(`score_classifier_fd`, `score_fid`, `score_inception_score_std`, ...); the
`EpochRecorder` keeps them in the epoch's record (metrics.json / metrics.csv and the
TensorBoard scalars `epoch/score_*`), so it must run after the score callback.
"""

from __future__ import annotations

import pathlib

from improved_gan_tf.config import ConfigError
from improved_gan_tf.sampling import to_pixels
from improved_gan_tf.training.callbacks import SCORE_LOG_PREFIX

__all__ = ["PixelScorer", "SCORE_LOG_PREFIX", "make_score_callback"]


class PixelScorer:
    """A scorer that first maps generator outputs to pixels in [0, 255].

    The generator's outputs are in the model's input range (`data.preprocess`) and,
    for the MLP generators, flat (`[N, 784]`); `sampling.to_pixels` (the preprocess's
    inverse, unrounded) makes `[N, H, W, C]` pixels of them, batch by batch, as
    `improved-gan score` does.

    Args:
      scorer: an object with `score(images, *, num_images, value_range, ...)` and
        `card()`, e.g. `InceptionScorer` or `ClassifierScorer`.
      image_shape: `(H, W, C)` of the dataset.
      preprocess: the run's `registry.PREPROCESSES` name.
    """

    def __init__(self, scorer, image_shape, preprocess: str):
        self.scorer = scorer
        self.image_shape = tuple(image_shape)
        self.preprocess = preprocess

    def card(self) -> dict:
        return self.scorer.card()

    def score(self, images, **kwargs) -> dict:
        pixels = (to_pixels(batch, self.image_shape, self.preprocess) for batch in images)
        return self.scorer.score(pixels, value_range=(0, 255), **kwargs)


def _existing(path: str, key: str) -> str:
    resolved = pathlib.Path(path).expanduser()
    if not resolved.is_file():
        raise ConfigError(f"config.evaluation.{key}={path!r}: no such file.")
    return str(resolved)


def _build_scorer(config, data):
    e = config.evaluation
    if data.test_images is None:
        raise ConfigError(
            f"config.evaluation.score_every_epochs={e.score_every_epochs} needs the test "
            f"images of {data.name!r} in memory; this dataset streams."
        )
    reference_name = f"{data.name} {config.data.test_split} (first {len(data.test_images)})"
    if e.scorer == "classifier":
        from improved_gan_tf.evaluation.classifier_scorer import ClassifierScorer
        from improved_gan_tf.evaluation.dataset_classifier import load_dataset_classifier

        path = _existing(e.classifier_path, "classifier_path")
        scorer = ClassifierScorer(
            load_dataset_classifier(path), data.test_images, reference_name=reference_name,
            classifier_path=path, batch_size=max(config.train.batch_size, 100),
        )
        return scorer, {"splits": e.score_splits}
    from improved_gan_tf.evaluation.inception import InceptionScorer

    key = "inception_graph" if e.inception_graph else "inception_weights"
    scorer = InceptionScorer(_existing(e[key], key), batch_size=50, verbose=0)
    if e.reference_statistics:
        reference = _existing(e.reference_statistics, "reference_statistics")
        kwargs = {"reference": reference, "reference_name": pathlib.Path(reference).name}
    else:
        kwargs = {"reference": scorer.activation_statistics(data.test_images),
                  "reference_name": reference_name,
                  "reference_num_examples": int(len(data.test_images))}
    return scorer, {"splits": e.score_splits, **kwargs}


def make_score_callback(config, data):
    """The run's `ScoreCallback`, or None when `evaluation.score_every_epochs` is 0.

    Args:
      config: the run's validated config.
      data: its `data.experiment.TrainingData`.

    Returns:
      An `evaluation.ScoreCallback` (scores logged as `SCORE_LOG_PREFIX + name`), or None.

    Raises:
      ConfigError: a scorer file that does not exist, or a dataset without test images
        in memory.
    """
    e = config.evaluation
    if not e.score_every_epochs:
        return None
    from improved_gan_tf.evaluation.callback import ScoreCallback

    scorer, score_kwargs = _build_scorer(config, data)
    return ScoreCallback(
        PixelScorer(scorer, data.image_shape, data.preprocess),
        every_n_epochs=e.score_every_epochs, num_samples=e.score_num_samples,
        batch_size=config.train.batch_size, seed=config.seed,
        latent_distribution=config.model.latent_distribution,
        score_kwargs=score_kwargs, prefix=SCORE_LOG_PREFIX,
    )
