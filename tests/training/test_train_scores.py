"""Scores during training: `evaluation.*` config keys -> a ScoreCallback -> metrics files.

A tiny MNIST run (2 epochs of 2 steps) with `evaluation.score_every_epochs=2` scores its
generator after epoch 2 only, with a narrow dataset classifier trained here on 1,000
MNIST images; the recorded scores must equal a NumPy/SciPy computation of the classifier
score (Salimans et al. 2016's formula) and the Fréchet distance (Heusel et al. 2017) on
the same samples. The same run without scores keeps the metrics columns it had.
"""

import csv
import json

import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf

from improved_gan_tf import training
from improved_gan_tf.config import ConfigError
from improved_gan_tf.config import validate_config
from improved_gan_tf.evaluation import classifier_predict
from improved_gan_tf.evaluation import load_dataset_classifier
from improved_gan_tf.evaluation import load_dataset_split
from improved_gan_tf.evaluation import make_score_callback
from improved_gan_tf.latents import sample_latents
from tests.train_utils import load_config
from tests.train_utils import tiny

NUM_SAMPLES = 40
SPLITS = 2
BATCH = 8
TEST_EXAMPLES = 64


def two_epochs(**evaluation):
    config = tiny(load_config("quickstart"), steps=2, batch_size=BATCH, test_examples=TEST_EXAMPLES)
    config.train.epochs = 2
    for key, value in evaluation.items():
        config.evaluation[key] = value
    return config


@pytest.fixture(scope="module")
def scored_run(classifier_path, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("scored")
    config = two_epochs(score_every_epochs=2, score_num_samples=NUM_SAMPLES, score_splits=SPLITS,
                        scorer="classifier", classifier_path=str(classifier_path))
    training.train(config, workdir, score_callback_factory=make_score_callback)
    return workdir


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("plain")
    training.train(two_epochs(), workdir)
    return workdir


def numpy_classifier_score(probs, splits):
    """exp(E_x KL(p(y|x) || p(y))) per split of consecutive rows; mean and std."""
    values = []
    for part in np.array_split(probs.astype(np.float64), splits):
        marginal = part.mean(axis=0, keepdims=True)
        kl = np.sum(part * (np.log(part) - np.log(marginal)), axis=1)
        values.append(np.exp(kl.mean()))
    return np.mean(values), np.std(values)


def numpy_frechet_distance(a, b):
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(s_a @ s_b).real
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(s_a + s_b - 2 * root))


def read_rows(workdir):
    with (workdir / "metrics.csv").open() as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


SCORE_KEYS = ("score_classifier_score", "score_classifier_score_std", "score_classifier_fd")


def test_scores_land_in_the_scored_epochs_record_only(scored_run):
    history = json.loads((scored_run / "metrics.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2]
    assert not any(key.startswith("score_") for key in history[0])
    for key in SCORE_KEYS:
        assert np.isfinite(history[1][key]), key
    columns, rows = read_rows(scored_run)
    assert set(SCORE_KEYS) <= set(columns)
    assert all(rows[0][key] == "" for key in SCORE_KEYS)
    assert float(rows[1]["score_classifier_fd"]) == pytest.approx(history[1]["score_classifier_fd"])


def test_recorded_scores_equal_a_numpy_computation_on_the_same_samples(scored_run, classifier_path,
                                                                         mnist_dir):
    record = json.loads((scored_run / "metrics.json").read_text())[1]
    config, model = training.restore_models(scored_run)
    # The callback's latents: batches of train.batch_size, seeds [config.seed, batch index].
    batches = []
    for index, start in enumerate(range(0, NUM_SAMPLES, BATCH)):
        z = sample_latents(config.model.latent_distribution,
                           (min(BATCH, NUM_SAMPLES - start), model.latent_dim),
                           seed=tf.constant([config.seed, index], tf.int32))
        batches.append(np.asarray(model.generator(z, training=False)))
    # quickstart's generator: sigmoid outputs in [0, 1], flat 784 -> pixels x 255.
    pixels = np.clip(np.concatenate(batches), 0, 1).reshape(-1, 28, 28) * 255.0
    classifier = load_dataset_classifier(classifier_path)
    probs, feats = classifier_predict(classifier, pixels)
    test_images, _ = load_dataset_split("mnist", mnist_dir, "test")
    _, real_feats = classifier_predict(classifier, test_images[:TEST_EXAMPLES])
    mean, std = numpy_classifier_score(probs, SPLITS)
    assert record["score_classifier_score"] == pytest.approx(mean, rel=1e-4)
    assert record["score_classifier_score_std"] == pytest.approx(std, rel=1e-3, abs=1e-6)
    assert record["score_classifier_fd"] == pytest.approx(
        numpy_frechet_distance(feats, real_feats), rel=1e-3)


def test_a_run_without_scores_keeps_its_metrics_columns(scored_run, plain_run):
    scored_columns, _ = read_rows(scored_run)
    plain_columns, _ = read_rows(plain_run)
    assert not any(c.startswith("score_") for c in plain_columns)
    assert plain_columns == [c for c in scored_columns if not c.startswith("score_")]


def test_tensorboard_has_the_score_scalars(scored_run):
    from tensorboard.backend.event_processing import event_accumulator

    tags = set()
    for path in (scored_run / "tensorboard").rglob("events.out.tfevents.*"):
        accumulator = event_accumulator.EventAccumulator(str(path))
        accumulator.Reload()
        tags |= set(accumulator.Tags().get("tensors", []))
    assert "epoch/score_classifier_fd" in tags


def test_scoring_without_a_classifier_path_is_a_config_error():
    config = two_epochs(score_every_epochs=1, scorer="classifier")
    with pytest.raises(ConfigError, match="classifier_path"):
        validate_config(config)


def test_inception_scoring_needs_exactly_one_network_file():
    config = tiny(load_config("cifar10_feature_matching"))
    config.evaluation.score_every_epochs = 1
    config.evaluation.scorer = "inception"
    with pytest.raises(ConfigError, match="exactly one"):
        validate_config(config)
    config.evaluation.inception_graph = "graph.pb"
    config.evaluation.inception_weights = "weights.h5"
    with pytest.raises(ConfigError, match="exactly one"):
        validate_config(config)


def test_an_unknown_scorer_and_too_few_samples_are_config_errors():
    config = two_epochs(scorer="fid")
    with pytest.raises(ConfigError, match="evaluation.scorer='fid'"):
        validate_config(config)
    config = two_epochs(score_every_epochs=1, classifier_path="c.keras", score_num_samples=10)
    with pytest.raises(ConfigError, match="score_num_samples=10"):
        validate_config(config)


def test_a_missing_classifier_file_is_a_config_error_naming_it(tmp_path):
    config = two_epochs(score_every_epochs=1, classifier_path=str(tmp_path / "none.keras"))
    with pytest.raises(ConfigError, match="none.keras"):
        training.train(config, tmp_path / "run", score_callback_factory=make_score_callback)


def test_scoring_without_the_callback_factory_is_a_config_error_not_a_silent_run(
        classifier_path, tmp_path):
    config = two_epochs(score_every_epochs=1, classifier_path=str(classifier_path))
    with pytest.raises(ConfigError, match="score_callback_factory"):
        training.train(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_an_inception_scored_cifar_run_records_is_and_fid_of_its_samples(tmp_path):
    from improved_gan_tf.evaluation import InceptionScorer
    from improved_gan_tf.sampling import to_pixels
    from tests.evaluation.synthetic_inception import build_tiny_inception_graph

    graph_path = tmp_path / "classify_image_graph_def.pb"
    build_tiny_inception_graph(graph_path)
    config = tiny(load_config("cifar10_feature_matching"), test_examples=24)
    config.evaluation.score_every_epochs = 1
    config.evaluation.score_num_samples = 20
    config.evaluation.score_splits = 2
    config.evaluation.scorer = "inception"
    config.evaluation.inception_graph = str(graph_path)
    workdir = tmp_path / "run"
    training.train(config, workdir, score_callback_factory=make_score_callback)
    record = json.loads((workdir / "metrics.json").read_text())[0]

    config, model = training.restore_models(workdir)
    batches = []
    for index, start in enumerate(range(0, 20, BATCH)):
        z = sample_latents(config.model.latent_distribution, (min(BATCH, 20 - start), model.latent_dim),
                           seed=tf.constant([config.seed, index], tf.int32))
        batches.append(np.asarray(model.generator(z, training=False)))
    pixels = to_pixels(np.concatenate(batches), (32, 32, 3), "symmetric")
    from improved_gan_tf.data import load_arrays

    test_x, _ = load_arrays("cifar10", "test", config.data.dir)
    scorer = InceptionScorer(graph_path, verbose=0)
    direct = scorer.score(pixels, splits=2, reference=test_x[:24])
    assert record["score_inception_score"] == pytest.approx(direct["inception_score"][0], rel=1e-4)
    assert record["score_inception_score_std"] == pytest.approx(
        direct["inception_score"][1], rel=1e-3, abs=1e-7)
    assert record["score_fid"] == pytest.approx(direct["fid"], rel=1e-3, abs=1e-6)
