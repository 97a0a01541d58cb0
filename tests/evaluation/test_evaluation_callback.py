"""ScoreCallback on a tiny real Keras model: scores exactly every N epochs, into the logs."""
import csv

import keras
import numpy as np
import pytest
import tensorflow as tf

from improved_gan_tf.evaluation import InceptionScorer, MetricInputError, ScoreCallback
from improved_gan_tf.latents import sample_latents
from synthetic_inception import build_tiny_inception_graph

LATENT_DIM = 4


class TinyGAN(keras.Model):
    """A model with a `generator` attribute (like ImprovedGAN), trained by plain `fit`."""

    def __init__(self, image_size=8):
        super().__init__()
        self.latent_dim = LATENT_DIM
        self.latent_distribution = "uniform"
        self.generator = keras.Sequential([
            keras.Input((LATENT_DIM,)),
            keras.layers.Dense(image_size * image_size * 3, activation="tanh"),
            keras.layers.Reshape((image_size, image_size, 3)),
        ])

    def call(self, latents):
        return self.generator(latents)


class CountingScorer:
    """Records every call; returns scalars, a (mean, std) pair, arrays and a card."""

    def __init__(self):
        self.calls = []

    def score(self, images, *, num_images, **kwargs):
        batches = [np.array(batch) for batch in images]
        self.calls.append({"batches": batches, "num_images": num_images, "kwargs": kwargs})
        k = len(self.calls)
        return {"inception_score": (2.0 + k, 0.5), "fid": 10.0 * k, "num_images": num_images,
                "mu": np.zeros(3), "card": {"scorer": "counting"}}


class RecordLogs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.logs = {}

    def on_epoch_end(self, epoch, logs=None):
        self.logs[epoch] = dict(logs)


def _fit(model, callbacks, epochs, learning_rate=0.01):
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="mse")
    rng = np.random.default_rng(0)
    z = rng.uniform(size=(16, LATENT_DIM)).astype(np.float32)
    x = rng.uniform(-1, 1, size=(16,) + model.generator.output_shape[1:]).astype(np.float32)
    return model.fit(z, x, epochs=epochs, batch_size=8, verbose=0, callbacks=callbacks)


def test_scores_exactly_every_n_epochs_and_later_callbacks_see_them():
    scorer, recorder = CountingScorer(), RecordLogs()
    callback = ScoreCallback(scorer, every_n_epochs=2, num_samples=7, batch_size=3,
                             score_kwargs={"splits": 1})
    history = _fit(TinyGAN(), [callback, recorder], epochs=5)
    assert callback.scored_epochs == [1, 3]
    assert len(scorer.calls) == 2
    for epoch, logs in recorder.logs.items():
        scored = epoch in (1, 3)
        assert ("fid" in logs) == scored and ("inception_score_std" in logs) == scored
    assert recorder.logs[1]["fid"] == 10.0 and recorder.logs[3]["fid"] == 20.0
    assert recorder.logs[3]["inception_score"] == 4.0
    assert recorder.logs[3]["inception_score_std"] == 0.5
    assert "mu" not in recorder.logs[3] and "card" not in recorder.logs[3]
    assert history.history["fid"] == [10.0, 20.0]
    call = scorer.calls[0]
    assert call["num_images"] == 7 and call["kwargs"] == {"splits": 1}
    assert [len(b) for b in call["batches"]] == [3, 3, 1]
    assert call["batches"][0].shape == (3, 8, 8, 3)
    assert callback.last_result["card"] == {"scorer": "counting"}


def test_nothing_happens_between_scoring_epochs():
    scorer = CountingScorer()
    callback = ScoreCallback(scorer, every_n_epochs=10, num_samples=4)
    history = _fit(TinyGAN(), [callback], epochs=3)
    assert scorer.calls == [] and callback.scored_epochs == []
    assert "fid" not in history.history and callback.last_result is None


def test_the_same_latents_are_scored_every_time_without_touching_model_streams():
    scorer = CountingScorer()
    callback = ScoreCallback(scorer, every_n_epochs=1, num_samples=5, batch_size=2, seed=3)
    model = TinyGAN()
    numpy_state = np.random.get_state()[1].copy()
    _fit(model, [callback], epochs=2, learning_rate=0.0)  # the generator stays as it is
    first, second = (np.concatenate(c["batches"]) for c in scorer.calls)
    np.testing.assert_array_equal(first, second)
    expected = np.concatenate([
        model.generator(sample_latents("uniform", (n, LATENT_DIM), seed=tf.constant([3, i])))
        for i, n in enumerate([2, 2, 1])
    ])
    np.testing.assert_allclose(first, expected, rtol=1e-6)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)


def test_scores_reach_a_csv_logger_placed_after_it(tmp_path):
    path = tmp_path / "log.csv"
    callback = ScoreCallback(CountingScorer(), every_n_epochs=1, num_samples=2)
    _fit(TinyGAN(), [callback, keras.callbacks.CSVLogger(str(path))], epochs=2)
    rows = list(csv.DictReader(path.open()))
    assert [float(r["fid"]) for r in rows] == [10.0, 20.0]


def test_with_an_inception_scorer_the_logs_hold_is_and_fid(tmp_path):
    graph_path = tmp_path / "classify_image_graph_def.pb"
    build_tiny_inception_graph(graph_path)
    scorer = InceptionScorer(graph_path, batch_size=4, verbose=0)
    rng = np.random.default_rng(5)
    real = rng.integers(0, 256, size=(40, 12, 12, 3), dtype=np.uint8)
    mu, sigma = scorer.activation_statistics(real)
    model = TinyGAN(image_size=12)
    callback = ScoreCallback(scorer, every_n_epochs=1, num_samples=20, batch_size=8,
                             score_kwargs={"splits": 2, "value_range": (-1, 1),
                                           "reference": (mu, sigma)})
    recorder = RecordLogs()
    _fit(model, [callback, recorder], epochs=1, learning_rate=0.0)
    samples = np.concatenate([
        model.generator(sample_latents("uniform", (n, LATENT_DIM), seed=tf.constant([0, i])))
        for i, n in enumerate([8, 8, 4])
    ])
    direct = scorer.score(samples, splits=2, value_range=(-1, 1), reference=(mu, sigma))
    logs = recorder.logs[0]
    assert logs["fid"] == pytest.approx(direct["fid"], rel=1e-6)
    assert logs["inception_score"] == pytest.approx(direct["inception_score"][0], rel=1e-6)
    assert logs["inception_score_std"] == pytest.approx(direct["inception_score"][1], rel=1e-5, abs=1e-9)
    assert callback.last_result["card"]["num_samples"] == 20


@pytest.mark.parametrize("kwargs,match", [
    ({"every_n_epochs": 0}, "every_n_epochs"),
    ({"num_samples": -1}, "num_samples"),
    ({"batch_size": 2.5}, "batch_size"),
])
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(MetricInputError, match=match):
        ScoreCallback(CountingScorer(), **kwargs)
    with pytest.raises(MetricInputError, match="score"):
        ScoreCallback(object())


def test_a_model_without_a_generator_is_named():
    model = keras.Sequential([keras.Input((LATENT_DIM,)), keras.layers.Dense(1)])
    callback = ScoreCallback(CountingScorer(), every_n_epochs=1, num_samples=2)
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(MetricInputError, match="Sequential has none"):
        model.fit(np.zeros((4, LATENT_DIM)), np.zeros((4, 1)), epochs=1, verbose=0,
                  callbacks=[callback])
