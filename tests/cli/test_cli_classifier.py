"""`improved-gan classifier train|evaluate`: a short real training run, then its
evaluation; every mistake one line with exit status 2."""

import json

import pytest

from train_utils import SHARED_DATA

MNIST = SHARED_DATA / "mnist"


def test_train_writes_the_classifier_and_evaluate_measures_it(improved_gan, tmp_path):
    trained = improved_gan(
        "classifier", "train", "--dataset", "mnist", "--data_dir", MNIST, "--output", "clf.keras",
        "--epochs", "1", "--max_train_examples", "512", "--max_test_examples", "256",
        "--width", "8", "--fit_verbose", "0", "--noaugment")
    assert trained.returncode == 0, trained.stderr
    info = json.loads((tmp_path / "clf.json").read_text())
    assert info["dataset"] == "mnist" and info["epochs"] == 1
    assert info["train_examples"] == 512 and info["test_examples"] == 256
    assert f"saved clf.keras (mnist test accuracy {100 * info['test_accuracy']:.2f}%)" in trained.stdout
    evaluated = improved_gan("classifier", "evaluate", "--dataset", "mnist", "--data_dir", MNIST,
                             "--classifier", "clf.keras")
    assert evaluated.returncode == 0, evaluated.stderr
    result = json.loads(evaluated.stdout[evaluated.stdout.index("{"):])
    assert result["examples"] == 10000
    assert 0.0 <= result["accuracy"] <= 1.0 and len(result["classifier_score"]) == 2


@pytest.mark.parametrize("args, fragments", [
    (["train", "--dataset", "mnist", "--output", "c.keras"], ["--data_dir"]),
    (["train", "--dataset", "cifar10", "--data_dir", "d", "--output", "c.keras"],
     ["--dataset", "mnist", "fashion_mnist"]),
    (["train", "--dataset", "mnist", "--data_dir", "d", "--output", "c.h5"], ["must end in .keras"]),
    (["train", "--dataset", "mnist", "--data_dir", "d", "--output", "c.keras", "--dropout_rates", "0.3"],
     ["--dropout_rates must be two numbers"]),
    (["train", "--dataset", "mnist", "--data_dir", "{tmp}/nowhere", "--output", "c.keras"],
     ["{tmp}/nowhere"]),
    (["train", "--dataset", "mnist", "--data_dir", "{mnist}", "--output", "c.keras", "--fit_verbose", "3"],
     ["--fit_verbose=3"]),
    (["evaluate", "--dataset", "mnist", "--data_dir", "{mnist}"], ["--classifier"]),
    (["evaluate", "--dataset", "mnist", "--data_dir", "{mnist}", "--classifier", "{tmp}/none.keras"],
     ["{tmp}/none.keras not found", "improved-gan classifier train"]),
], ids=["no data_dir", "unknown dataset", "not a .keras output", "one dropout rate",
        "missing data directory", "fit_verbose out of range", "no classifier", "missing classifier"])
def test_a_classifier_mistake_is_one_line(improved_gan, tmp_path, args, fragments):
    names = {"tmp": tmp_path, "mnist": MNIST}
    args = [arg.format(**names) for arg in args]
    fragments = [fragment.format(**names) for fragment in fragments]
    improved_gan("classifier", *args).assert_one_line_user_error(
        f"improved-gan classifier {args[0]}", *fragments)
    assert not (tmp_path / "c.keras").exists()


def test_a_damaged_data_file_is_one_line_naming_it(improved_gan, tmp_path, damaged_mnist):
    improved_gan("classifier", "train", "--dataset", "mnist", "--data_dir", damaged_mnist,
                 "--output", "c.keras").assert_one_line_user_error(
        "improved-gan classifier train", "train-images-idx3-ubyte.gz")
    assert not (tmp_path / "c.keras").exists()
