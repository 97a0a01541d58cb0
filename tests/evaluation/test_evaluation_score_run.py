"""`improved-gan score` (`evaluation.scoring`) on a 2-step goodfellow2014 MNIST run made by the training CLI.

A narrow dataset classifier is trained here on 1,000 MNIST images (1 epoch); the scores
written into report.json / report.md must equal a direct computation with the
evaluation functions on the same samples.
"""

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from improved_gan_tf import report as report_lib
from improved_gan_tf import training
from improved_gan_tf.evaluation import classifier_frechet_distance
from improved_gan_tf.evaluation import classifier_predict
from improved_gan_tf.evaluation import classifier_score
from improved_gan_tf.evaluation import load_dataset_classifier
from improved_gan_tf.evaluation import load_dataset_split
from improved_gan_tf.evaluation import mnist_parzen_protocol
from improved_gan_tf.evaluation import scoring as score_lib
from improved_gan_tf.latents import sample_latents
from tests.train_utils import REPO_ROOT

NUM_SAMPLES = 120
REFERENCE = 500  # first test images used as the reference
SCORE_BATCH = 50  # the score command's --batch_size in these tests


@pytest.fixture(scope="module")
def run_dir(mnist_dir, tmp_path_factory):
    """A 2-step goodfellow2014_mnist run directory, made by `improved-gan train`."""
    workdir = tmp_path_factory.mktemp("gf_run")
    overrides = dict(
        epochs=1, steps_per_epoch=2, batch_size=8, run_eagerly=True, num_samples=4, verbose=0,
    )
    args = [sys.executable, "-m", "improved_gan_tf.cli", "train",
            "--config", str(REPO_ROOT / "configs" / "goodfellow2014_mnist.py"),
            "--workdir", str(workdir), f"--config.data.dir={mnist_dir}",
            "--config.data.test_examples=16", "--config.checkpoint.every_steps=0",
            "--config.distribute.strategy=none"]
    args += [f"--config.train.{key}={value}" for key, value in overrides.items()]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(args, capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (workdir / "report.json").exists() and (workdir / "report.md").exists()
    return workdir


@pytest.fixture(scope="module")
def scored(run_dir, classifier_path):
    before_md = (run_dir / "report.md").read_text()
    before_json = json.loads((run_dir / "report.json").read_text())
    result = score_command(
        "--workdir", str(run_dir), "--num_samples", str(NUM_SAMPLES),
        "--classifier", str(classifier_path), "--batch_size", str(SCORE_BATCH), "--quiet",
        "--reference_examples", str(REFERENCE),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    scores = json.loads((run_dir / "report.json").read_text())["scores"]
    assert result.stdout.startswith(f"scores of {scores['checkpoint']} ({NUM_SAMPLES} samples):")
    assert f"classifier FD {scores['classifier']['classifier_fd']:.3f}" in result.stdout
    assert "[score]" not in result.stderr  # --quiet
    return scores, before_md, before_json


def one_error_line(stderr):
    """The command's own error line; TensorFlow's native start-up log lines (printed
    whatever TF_CPP_MIN_LOG_LEVEL says) are not the command's."""
    assert "Traceback" not in stderr, stderr[-3000:]
    ours = [line for line in stderr.splitlines() if line.startswith("improved-gan score:")]
    assert len(ours) == 1 and stderr.rstrip("\n").endswith(ours[0]), stderr[-3000:]
    return ours[0]


def score_command(*flags):
    """`improved-gan score FLAGS` in a fresh process (absl flags are process-wide)."""
    return subprocess.run(
        [sys.executable, "-m", "improved_gan_tf.cli", "score", *flags], capture_output=True,
        text=True, cwd=REPO_ROOT, timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )


def direct_samples(run_dir, batch_size=SCORE_BATCH):
    config, model = training.restore_models(run_dir)
    latents = sample_latents(
        config.model.latent_distribution, (NUM_SAMPLES, model.latent_dim),
        seed=tf.constant([0, score_lib.SAMPLE_SEED_SALT], tf.int64),
    )
    batches = [training.generate_samples(model, latents[i:i + batch_size])
               for i in range(0, NUM_SAMPLES, batch_size)]
    return np.concatenate(batches).reshape(-1, 28, 28, 1)  # sigmoid output in [0, 1]


def test_report_files_get_the_scores(run_dir, scored):
    scores, before_md, before_json = scored
    report = json.loads((run_dir / "report.json").read_text())
    assert report["scores"] == scores
    # Everything training wrote is still there.
    assert {k: v for k, v in report.items() if k != "scores"} == before_json
    md = (run_dir / "report.md").read_text()
    assert md.count("## Scores") == 1 and "## Config" in md
    assert md.index("## Scores") < md.index("## Config")
    assert md.replace(md[md.index("## Scores"):md.index("## Config")], "") == before_md
    c, p = scores["classifier"], scores["parzen"]
    assert f"{c['classifier_fd']:.3f}" in md
    assert f"{p['log_likelihood']:.1f} ± {p['standard_error']:.1f}" in md and "225 ± 2" in md
    assert scores["global_step"] == 2 and scores["num_samples"] == NUM_SAMPLES
    assert scores["reference_examples"] == REFERENCE
    assert not list(run_dir.glob(".report*tmp*"))  # temporary files replaced


def test_scores_equal_a_direct_computation(run_dir, scored, classifier_path, mnist_dir):
    scores = scored[0]
    samples = direct_samples(run_dir)
    classifier = load_dataset_classifier(classifier_path)
    probs, _ = classifier_predict(classifier, samples, value_range=(0, 1))
    test_x, test_y = load_dataset_split("mnist", mnist_dir, "test")
    test_x, test_y = test_x[:REFERENCE], test_y[:REFERENCE]
    c = scores["classifier"]
    np.testing.assert_allclose(c["classifier_score"], classifier_score(probs, 10), rtol=1e-5)
    fd = classifier_frechet_distance(classifier, samples, test_x, value_range=(0, 1))
    assert c["classifier_fd"] == pytest.approx(fd, rel=1e-4)
    real_probs, _ = classifier_predict(classifier, test_x)
    np.testing.assert_allclose(c["real_test_classifier_score"], classifier_score(real_probs, 10),
                               rtol=1e-5)
    assert c["real_test_accuracy"] == pytest.approx(np.mean(real_probs.argmax(1) == test_y))
    assert c["real_test_classifier_score"][0] > c["classifier_score"][0]  # 2 steps of training

    parzen = mnist_parzen_protocol(samples, mnist_dir, value_range=(0, 1), num_test=REFERENCE)
    p = scores["parzen"]
    assert p["num_samples"] == NUM_SAMPLES and p["num_test"] == REFERENCE
    assert p["sigma"] == parzen["sigma"]
    assert p["log_likelihood"] == pytest.approx(parzen["log_likelihood"], rel=1e-5)
    assert p["standard_error"] == pytest.approx(parzen["standard_error"], rel=1e-4)
    assert p["paper"] == [225.0, 2.0]


def ttur_statistics_sha256(features):
    """SHA-256 of "D;D,D;" + float64 mu bytes + float64 sigma bytes (np.cov, rowvar=False)."""
    features = np.asarray(features, np.float64)
    mu, sigma = features.mean(0), np.cov(features, rowvar=False)
    d = mu.shape[0]
    return hashlib.sha256(f"{d};{d},{d};".encode() + mu.astype("<f8").tobytes()
                          + sigma.astype("<f8").tobytes()).hexdigest()


def test_the_classifier_score_carries_its_metric_card(run_dir, scored, classifier_path, mnist_dir):
    card = scored[0]["classifier"]["card"]
    report = json.loads((run_dir / "report.json").read_text())
    assert report["scores"]["classifier"]["card"] == card
    assert card["scorer"] == "dataset classifier"
    assert card["classifier_path"] == str(classifier_path)
    assert card["classifier_sha256"] == hashlib.sha256(classifier_path.read_bytes()).hexdigest()
    assert card["splits"] == 10 and card["shuffle_seed"] is None
    assert card["num_samples"] == NUM_SAMPLES and card["num_classes"] == 10
    test_x, _ = load_dataset_split("mnist", mnist_dir, "test")
    # The hash is of the float64 statistics' bytes: the features come in the command's
    # batches, as the last bit of a float32 product may depend on the batch size.
    _, real_feats = classifier_predict(load_dataset_classifier(classifier_path), test_x[:REFERENCE],
                                       batch_size=SCORE_BATCH)
    assert card["reference"] == {"name": "mnist test", "num_examples": REFERENCE,
                                 "sha256": ttur_statistics_sha256(real_feats)}
    # 120 generated samples < 128 feature dimensions: the card says the FD is biased.
    assert len(card["warnings"]) == 1 and "120 generated samples" in card["warnings"][0]
    md = (run_dir / "report.md").read_text()
    scores_md = md[md.index("## Scores"):md.index("## Config")]
    assert "| metric card | |" in scores_md
    assert f"| sha256 | `{card['classifier_sha256']}` |" in scores_md
    assert "| splits | 10, authors (rows in the order given) |" in scores_md
    assert "| shuffle seed | None |" in scores_md
    assert f"| N (samples) | {NUM_SAMPLES} |" in scores_md
    assert f"mnist test, N = {REFERENCE}; statistics sha256 `{card['reference']['sha256']}`" in scores_md
    assert "| **warning** | classifier FD from 120 generated samples" in scores_md


def test_scoring_again_replaces_the_section(run_dir, scored, classifier_path):
    scores = score_lib.score_run(
        run_dir, num_samples=30, classifier=classifier_path, parzen="no", seed=1, verbose=0,
        reference_examples=100,
    )
    assert "parzen" not in scores and scores["sample_seed"][0] == 1
    report = json.loads((run_dir / "report.json").read_text())
    assert report["scores"]["num_samples"] == 30
    md = (run_dir / "report.md").read_text()
    assert md.count("## Scores") == 1 and "30 samples" in md and "Parzen" not in md


def test_missing_classifier_without_data_is_a_clear_error(run_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match="--classifier"):
        score_lib.load_or_train_classifier("mnist", None, tmp_path / "none.keras")


def test_score_command_reports_user_errors_in_one_line_with_status_2(run_dir, tmp_path):
    missing = score_command("--workdir", str(tmp_path / "no_run"))
    assert missing.returncode == 2, missing.stderr[-3000:]
    assert one_error_line(missing.stderr).startswith("improved-gan score: ")
    assert "config.json not found" in one_error_line(missing.stderr)
    bad_flag = score_command("--workdir", str(run_dir), "--num_sample", "3")
    assert bad_flag.returncode == 2, bad_flag.stderr[-3000:]
    assert "num_sample" in one_error_line(bad_flag.stderr)


# ---------------------------------------------------------------- CIFAR-10: Inception


@pytest.fixture(scope="module")
def cifar_run(tmp_path_factory):
    """A 2-step cifar10_feature_matching run directory (in process, eager)."""
    from tests.train_utils import load_config
    from tests.train_utils import tiny

    workdir = tmp_path_factory.mktemp("cifar_run")
    training.train(tiny(load_config("cifar10_feature_matching")), workdir)
    return workdir


def test_cifar_run_gets_inception_score_and_fid(cifar_run, tmp_path):
    from improved_gan_tf.data import load_arrays
    from improved_gan_tf.evaluation import InceptionScorer
    from tests.evaluation.synthetic_inception import build_tiny_inception_graph

    graph_path = tmp_path / "classify_image_graph_def.pb"
    build_tiny_inception_graph(graph_path)  # the 2015 graph's interface, tiny
    scores = score_lib.score_run(
        cifar_run, num_samples=20, inception_weights=graph_path, batch_size=10,
        reference_examples=20, splits=2, verbose=0,
    )
    assert "classifier" not in scores and "parzen" not in scores
    i = scores["inception"]
    assert i["network"] == "graph_def" and i["weights"] == str(graph_path)

    config, model = training.restore_models(cifar_run)
    latents = sample_latents(config.model.latent_distribution, (20, model.latent_dim),
                             seed=tf.constant([0, score_lib.SAMPLE_SEED_SALT], tf.int64))
    samples = np.concatenate([training.generate_samples(model, latents[k:k + 10])
                              for k in (0, 10)]).reshape(-1, 32, 32, 3)
    test_x, _ = load_arrays("cifar10", "test", config.data.dir)
    scorer = InceptionScorer(graph_path, verbose=0)
    real = scorer.score(test_x[:20], splits=2)
    direct = scorer.score(samples * 128.0 + 127.5, splits=2, reference=test_x[:20])
    np.testing.assert_allclose(i["inception_score"], direct["inception_score"], rtol=1e-4)
    np.testing.assert_allclose(i["real_test_inception_score"], real["inception_score"], rtol=1e-4)
    assert i["fid"] == pytest.approx(direct["fid"], rel=1e-3, abs=1e-6)
    md = (cifar_run / "report.md").read_text()
    assert "Inception score" in md and f"{i['fid']:.3f}" in md


def test_cifar_run_without_inception_weights_is_a_clear_error(cifar_run, tmp_path):
    from improved_gan_tf.evaluation import MissingWeightsError

    with pytest.raises(MissingWeightsError, match="missing.h5"):
        score_lib.score_run(cifar_run, num_samples=10, inception_weights=tmp_path / "missing.h5",
                            reference_examples=10, splits=2, verbose=0)
    result = score_command("--workdir", str(cifar_run), "--num_samples", "10", "--quiet",
                           "--splits", "2", "--inception_weights", str(tmp_path / "missing.h5"))
    assert result.returncode == 2, result.stderr[-3000:]
    assert "missing.h5" in one_error_line(result.stderr)


def test_the_inception_score_carries_the_graphs_card(cifar_run, tmp_path):
    from tests.evaluation.synthetic_inception import build_tiny_inception_graph

    graph_path = tmp_path / "classify_image_graph_def.pb"
    build_tiny_inception_graph(graph_path)
    with pytest.warns(UserWarning, match="fewer than the 16 feature dimensions"):
        scores = score_lib.score_run(
            cifar_run, num_samples=12, inception_weights=graph_path, batch_size=6,
            reference_examples=20, splits=2, verbose=0,
        )
    card = scores["inception"]["card"]
    assert json.loads((cifar_run / "report.json").read_text())["scores"]["inception"]["card"] == card
    assert card["weights"] == str(graph_path)
    assert card["weights_sha256"] == hashlib.sha256(graph_path.read_bytes()).hexdigest()
    assert card["splits"] == 2 and card["shuffle_seed"] is None and card["num_samples"] == 12
    assert card["reference"]["name"] == "cifar10 test" and card["reference"]["num_examples"] == 20
    assert len(card["reference"]["sha256"]) == 64
    assert "without the bias" in card["logits"] and len(card["warnings"]) == 1
    md = (cifar_run / "report.md").read_text()
    assert f"| sha256 | `{card['weights_sha256']}` |" in md
    assert f"| network file | `{graph_path}` |" in md
    assert "| N (samples) | 12 |" in md and "cifar10 test, N = 20" in md
    assert "| logits | pool_3 @ softmax/logits/MatMul weights, without the bias; 1008 classes |" in md


def test_resumed_training_keeps_the_scores(run_dir, scored, mnist_dir):
    """Runs last in this module: it trains run_dir further."""
    scores = json.loads((run_dir / "report.json").read_text())["scores"]
    args = [sys.executable, "-m", "improved_gan_tf.cli", "train",
            "--config", str(REPO_ROOT / "configs" / "goodfellow2014_mnist.py"),
            "--workdir", str(run_dir), f"--config.data.dir={mnist_dir}",
            "--config.data.test_examples=16", "--config.checkpoint.every_steps=0",
            "--config.distribute.strategy=none", "--config.train.epochs=2", "--config.train.steps_per_epoch=2",
            "--config.train.batch_size=8", "--config.train.run_eagerly=True", "--config.train.num_samples=4",
            "--config.train.verbose=0"]
    result = subprocess.run(args, capture_output=True, text=True, cwd=REPO_ROOT, timeout=300,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((run_dir / "report.json").read_text())
    assert report["global_step"] == 4
    assert report["scores"] == scores
    assert report_lib.SCORES_HEADING in (run_dir / "report.md").read_text().splitlines()


def test_score_help_names_every_flag():
    result = score_command("--help")
    assert result.returncode == 0, result.stderr[-3000:]
    for flag in ("workdir", "num_samples", "classifier", "inception_weights", "batch_size",
                 "data_dir", "seed", "splits", "parzen", "parzen_samples",
                 "reference_examples", "quiet", "verbose"):
        assert f"--{flag}" in result.stdout or f"--[no]{flag}" in result.stdout, flag


# ---------------------------------------------------------------- bounded and strict

_COUNTING_SCORE = """
import json, sys
from improved_gan_tf import sampling
from improved_gan_tf.evaluation import dataset_classifier
calls = {"generator": [], "classifier": []}
generate, predict = sampling.generate_samples, dataset_classifier.classifier_predict

def counting_generate(model, latents, *args, **kwargs):
    calls["generator"].append(int(latents.shape[0]))
    return generate(model, latents, *args, **kwargs)

def counting_predict(classifier, images, *args, **kwargs):
    calls["classifier"].append(int(len(images)))
    return predict(classifier, images, *args, **kwargs)

sampling.generate_samples = counting_generate
dataset_classifier.classifier_predict = counting_predict
from improved_gan_tf.cli import score
try:
    score.run(["improved-gan score", *sys.argv[2:]])
finally:
    with open(sys.argv[1], "w") as handle:
        json.dump(calls, handle)
"""


def test_score_command_generates_and_scores_batch_by_batch(run_dir, classifier_path, tmp_path):
    # `improved-gan score` (the CLI path) with the generator and the classifier counted:
    # no call ever holds more than --batch_size generated images, so the samples alive
    # at once do not grow with --num_samples (before, all were concatenated and the
    # classifier ran once on all of them).
    calls_file = tmp_path / "calls.json"
    num_samples, batch_size = 130, 20
    result = subprocess.run(
        [sys.executable, "-c", _COUNTING_SCORE, str(calls_file), "--workdir", str(run_dir),
         "--num_samples", str(num_samples), "--batch_size", str(batch_size), "--splits", "5",
         "--classifier", str(classifier_path), "--reference_examples", "40", "--parzen", "no",
         "--quiet"],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    calls = json.loads(calls_file.read_text())
    assert calls["generator"] == [20] * 6 + [10]
    generated, reference = calls["classifier"][:-1], calls["classifier"][-1:]
    assert generated == [20] * 6 + [10] and reference == [40]
    scores = json.loads((run_dir / "report.json").read_text())["scores"]
    assert scores["num_samples"] == num_samples and scores["classifier"]["card"]["splits"] == 5


def test_streamed_classifier_scores_equal_the_whole_array_computation(run_dir, classifier_path, mnist_dir):
    from improved_gan_tf.evaluation import fid_from_activations

    scores = score_lib.score_run(
        run_dir, num_samples=NUM_SAMPLES, classifier=classifier_path, batch_size=SCORE_BATCH, splits=4,
        parzen="no", reference_examples=REFERENCE, write_report=False, verbose=0,
    )
    samples = direct_samples(run_dir)
    classifier = load_dataset_classifier(classifier_path)
    probs, feats = classifier_predict(classifier, samples, value_range=(0, 1))
    test_x, _ = load_dataset_split("mnist", mnist_dir, "test")
    _, real_feats = classifier_predict(classifier, test_x[:REFERENCE])
    np.testing.assert_allclose(scores["classifier"]["classifier_score"], classifier_score(probs, 4), rtol=1e-5)
    assert scores["classifier"]["classifier_fd"] == pytest.approx(fid_from_activations(feats, real_feats), rel=1e-4)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"num_samples": 5, "splits": 10}, "num_samples=5 is too few for splits=10"),
    ({"num_samples": 19, "splits": 10}, "num_samples=19 is too few for splits=10"),
    ({"num_samples": 100, "reference_examples": 7}, "reference_examples=7 is too few for splits=10"),
    ({"num_samples": 0}, "num_samples must be a positive integer. Received: 0"),
    ({"num_samples": 2.5}, "num_samples must be a positive integer. Received: 2.5"),
    ({"batch_size": 0}, "batch_size must be a positive integer. Received: 0"),
    ({"batch_size": -8}, "batch_size must be a positive integer. Received: -8"),
    ({"splits": 0}, "splits must be a positive integer. Received: 0"),
    ({"splits": True}, "splits must be a positive integer. Received: True"),
    ({"parzen_samples": 0}, "parzen_samples must be a positive integer. Received: 0"),
    ({"reference_examples": 0}, "reference_examples must be a positive integer. Received: 0"),
])
def test_score_run_refuses_counts_that_make_no_sense(run_dir, classifier_path, kwargs, fragment):
    before = (run_dir / "report.json").read_bytes()
    with pytest.raises(score_lib.ScoringError) as error:
        score_lib.score_run(run_dir, classifier=classifier_path, verbose=0, **kwargs)
    assert fragment in str(error.value)
    assert (run_dir / "report.json").read_bytes() == before


def test_a_reference_set_too_small_for_the_splits_is_refused(run_dir, classifier_path, mnist_dir):
    # The real test split's own score needs 2 images per split as well.
    with pytest.raises(score_lib.ScoringError, match="reference_examples=30 is too few for splits=20"):
        score_lib.score_run(run_dir, num_samples=40, splits=20, reference_examples=30,
                            classifier=classifier_path, verbose=0)


@pytest.mark.parametrize("flags, fragments", [
    (["--num_samples", "5", "--splits", "10"], ["num_samples=5 is too few for splits=10"]),
    (["--batch_size", "0"], ["--batch_size=0"]),
    (["--splits", "0"], ["--splits=0"]),
    (["--num_samples", "0"], ["--num_samples=0"]),
    (["--num_samples", "-3"], ["--num_samples=-3"]),
], ids=["5 samples in 10 splits", "batch size 0", "splits 0", "num_samples 0", "num_samples negative"])
def test_score_command_refuses_nonsense_counts_in_one_line_with_status_2(run_dir, classifier_path, flags, fragments):
    before = (run_dir / "report.json").read_bytes()
    result = score_command("--workdir", str(run_dir), "--classifier", str(classifier_path), "--quiet", *flags)
    assert result.returncode == 2, result.stderr[-3000:]
    line = one_error_line(result.stderr)
    for fragment in fragments:
        assert fragment in line, line
    assert "1.000 ± 0.000" not in result.stdout and not result.stdout.strip()
    assert (run_dir / "report.json").read_bytes() == before
