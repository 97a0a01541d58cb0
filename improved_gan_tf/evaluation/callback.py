"""`ScoreCallback`: sample quality scores during `fit`, every N epochs, into the logs."""
from __future__ import annotations

import numbers

import keras
import numpy as np

from improved_gan_tf.evaluation.errors import MetricInputError

__all__ = ["ScoreCallback"]


def _log_entries(result: dict, prefix: str) -> dict:
    """The scalar entries of a scorer's result, as Keras log values.

    A number becomes `prefix + key`; a `(mean, std)` pair becomes `prefix + key` and
    `prefix + key + "_std"`. Arrays (`mu`, `sigma`, `features`), the card and counts
    (`num_images`) are not logged.
    """
    entries = {}
    for key, value in result.items():
        if key in ("card", "num_images"):
            continue
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            entries[prefix + key] = float(value)
        elif (isinstance(value, (tuple, list)) and len(value) == 2
              and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value)):
            entries[prefix + key] = float(value[0])
            entries[prefix + key + "_std"] = float(value[1])
    return entries


class ScoreCallback(keras.callbacks.Callback):
    """Scores the model's generator every `every_n_epochs` epochs and logs the scores.

    At the end of epochs `every_n_epochs - 1`, `2 * every_n_epochs - 1`, ... (0-based,
    i.e. after N, 2N, ... epochs) the callback draws `num_samples` latents in batches of
    `batch_size`, runs `self.model.generator(z, training=False)` on each batch and hands
    the batches, as they are produced, to `scorer.score(batches, num_images=num_samples,
    **score_kwargs)`; no more than one batch of samples exists at a time. Every scalar
    of the result is written into `logs` (a `(mean, std)` pair as `name` and
    `name_std`), so callbacks after this one in the list (`CSVLogger`, `TensorBoard`,
    `History`) see the scores of that epoch. In every other epoch nothing at all
    happens: no sampling, no scorer call, no log entry.

    The latents of a scoring run are the same every time (a stateless draw from `seed`
    and the batch index), so scores of different epochs compare the generator on the
    same inputs, and the model's own random streams are not advanced.

    The scorer is any object with `score(images, *, num_images, **score_kwargs) ->
    dict` taking an iterable of image batches, e.g. an `InceptionScorer` (FID/IS on
    CIFAR-10-like data: `score_kwargs={"reference": "stats.npz", "value_range": (-1, 1)}`),
    or a wrapper of the dataset classifier for MNIST-like data.

    Args:
      scorer: the scorer object (see above).
      every_n_epochs: score after every this many epochs (>= 1).
      num_samples: samples generated per scoring (>= 1).
      batch_size: latents per generator call.
      seed: seed of the latents (a stateless TF draw, `[seed, batch index]`).
      latent_distribution: "uniform", "uniform_signed" or "normal"; by default the
        model's `latent_distribution` attribute (as `ImprovedGAN` has), else "uniform".
      latent_dim: latent size; by default the model's `latent_dim`, else the
        generator's input width.
      score_kwargs: keyword arguments passed to `scorer.score` (splits, reference,
        value_range, ...).
      prefix: prepended to every log name (e.g. "val_" or "score/").

    Attributes:
      scored_epochs: the epochs (0-based) scored so far, in order.
      last_result: the scorer's full result of the latest scoring (card included),
        or None.

    Raises:
      MetricInputError: on a non-positive `every_n_epochs`, `num_samples` or
        `batch_size`, or (at the first scoring) a model without a `generator`.

    Examples:

      scorer = InceptionScorer("classify_image_graph_def.pb", verbose=0)
      callback = ScoreCallback(scorer, every_n_epochs=10, num_samples=5000,
                               score_kwargs={"reference": "cifar10_train.npz",
                                             "value_range": (-1, 1)})
      gan.fit(data, epochs=100, callbacks=[callback, keras.callbacks.CSVLogger(path)])
    """

    def __init__(self, scorer, *, every_n_epochs: int = 1, num_samples: int = 5000,
                 batch_size: int = 100, seed: int = 0, latent_distribution: str | None = None,
                 latent_dim: int | None = None, score_kwargs: dict | None = None,
                 prefix: str = ""):
        super().__init__()
        for name, value in (("every_n_epochs", every_n_epochs), ("num_samples", num_samples),
                            ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise MetricInputError(f"{name} must be an integer >= 1; got {value!r}")
        if not callable(getattr(scorer, "score", None)):
            raise MetricInputError(
                f"scorer must have a score(images, ...) method; got {type(scorer).__name__}"
            )
        self.scorer = scorer
        self.every_n_epochs = int(every_n_epochs)
        self.num_samples = int(num_samples)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.latent_distribution = latent_distribution
        self.latent_dim = latent_dim
        self.score_kwargs = dict(score_kwargs or {})
        self.prefix = prefix
        self.scored_epochs: list[int] = []
        self.last_result: dict | None = None

    def _generator(self):
        generator = getattr(self.model, "generator", None)
        if generator is None:
            raise MetricInputError(
                f"ScoreCallback needs a model with a `generator` attribute; "
                f"{type(self.model).__name__} has none"
            )
        return generator

    def _latent_spec(self, generator):
        distribution = self.latent_distribution or getattr(
            self.model, "latent_distribution", "uniform"
        )
        dim = self.latent_dim or getattr(self.model, "latent_dim", None)
        if not dim:
            dim = generator.inputs[0].shape[-1]
        return distribution, int(dim)

    def _sample_batches(self):
        import tensorflow as tf

        from improved_gan_tf.latents import sample_latents

        generator = self._generator()
        distribution, dim = self._latent_spec(generator)
        for index, start in enumerate(range(0, self.num_samples, self.batch_size)):
            size = min(self.batch_size, self.num_samples - start)
            latents = sample_latents(
                distribution, (size, dim), seed=tf.constant([self.seed, index], tf.int32)
            )
            yield keras.ops.convert_to_numpy(generator(latents, training=False))

    def score_now(self) -> dict:
        """Generates the samples and scores them now; returns the scorer's result."""
        return self.scorer.score(
            self._sample_batches(), num_images=self.num_samples, **self.score_kwargs
        )

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs:
            return
        result = self.score_now()
        self.scored_epochs.append(int(epoch))
        self.last_result = result
        if logs is not None:
            logs.update(_log_entries(result, self.prefix))
