"""`improved-gan stats`: TTUR-layout statistics of a dataset split, through the synthetic
2015-style Inception graph, against a NumPy computation on the authors' one-image-per-run
features; every mistake one line with exit status 2."""

import json
import warnings

import numpy as np
import pytest

from improved_gan_tf import data as data_lib
from tests.evaluation.synthetic_inception import FEATURES
from tests.evaluation.synthetic_inception import authors_forward
from tests.evaluation.synthetic_inception import build_tiny_inception_graph
from train_utils import SHARED_DATA

PROGRAM = "improved-gan stats"
CIFAR10 = SHARED_DATA / "cifar10"
MNIST = SHARED_DATA / "mnist"


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    path = tmp_path_factory.mktemp("graph") / "classify_image_graph_def.pb"
    reloaded, weights = build_tiny_inception_graph(path)
    return path, reloaded, weights


def numpy_statistics(graph, weights, images):
    _, feats, _ = authors_forward(graph, weights, images)
    return feats.mean(axis=0), np.cov(feats, rowvar=False)


def first_images(dataset, split, directory, n):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the local copies are subsets
        images, _ = data_lib.load_arrays(dataset, split, directory)
    return images[:n]


def test_cifar10_statistics_load_with_numpy_and_equal_a_numpy_computation(improved_gan, graph, tmp_path):
    path, reloaded, weights = graph
    result = improved_gan("stats", "--dataset", "cifar10", "--split", "train", "--data_dir", CIFAR10,
                          "--inception_graph", path, "--num_examples", "120",
                          "--output", "cifar10_train.npz")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert printed["num_examples"] == 120 and printed["output"] == str(tmp_path / "cifar10_train.npz")
    assert printed["scorer"]["weights"] == str(path) and len(printed["sha256"]) == 64
    with np.load(tmp_path / "cifar10_train.npz") as archive:
        assert sorted(archive.files) == ["mu", "sigma"]
        mu, sigma = archive["mu"], archive["sigma"]
    assert mu.dtype == sigma.dtype == np.float64
    assert mu.shape == (FEATURES,) and sigma.shape == (FEATURES, FEATURES)
    want_mu, want_sigma = numpy_statistics(reloaded, weights, first_images("cifar10", "train", CIFAR10, 120))
    np.testing.assert_allclose(mu, want_mu, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(sigma, want_sigma, rtol=1e-4, atol=1e-6)


def test_mnist_statistics_use_the_grey_images_as_rgb(improved_gan, graph, tmp_path):
    path, reloaded, weights = graph
    result = improved_gan("stats", "--dataset", "mnist", "--split", "test", "--data_dir", MNIST,
                          "--inception_graph", path, "--num_examples", "50", "--output", "m.npz")
    assert result.returncode == 0, result.stderr
    with np.load(tmp_path / "m.npz") as archive:
        mu, sigma = archive["mu"], archive["sigma"]
    grey = first_images("mnist", "test", MNIST, 50).reshape(50, 28, 28, 1)
    want_mu, want_sigma = numpy_statistics(reloaded, weights, np.repeat(grey, 3, axis=-1))
    np.testing.assert_allclose(mu, want_mu, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(sigma, want_sigma, rtol=1e-4, atol=1e-6)


def test_an_existing_output_is_kept_unless_overwrite(improved_gan, graph, tmp_path):
    (tmp_path / "s.npz").write_bytes(b"earlier")
    args = ["stats", "--dataset", "cifar10", "--data_dir", CIFAR10, "--inception_graph", graph[0],
            "--num_examples", "20", "--output", "s.npz"]
    improved_gan(*args).assert_one_line_user_error(PROGRAM, "s.npz exists", "--overwrite")
    assert (tmp_path / "s.npz").read_bytes() == b"earlier"
    result = improved_gan(*args, "--overwrite")
    assert result.returncode == 0, result.stderr
    with np.load(tmp_path / "s.npz") as archive:
        assert archive["sigma"].shape == (FEATURES, FEATURES)


@pytest.mark.parametrize("args, fragments", [
    (["--dataset", "cifar100"], ["--dataset 'cifar100'", "cifar10"]),
    (["--dataset", "cifar10", "--split", "extra"], ["--split 'extra'", "cifar10"]),
    (["--dataset", "cifar10", "--inception_graph", "g.pb", "--inception_weights", "w.h5"],
     ["not both"]),
    (["--dataset", "cifar10", "--inception_graph", "g.h5"], ["--inception_graph", "g.h5"]),
    (["--dataset", "cifar10", "--output_name_is_missing"], ["output_name_is_missing"]),
])
def test_flag_mistakes_are_one_line_before_any_work(improved_gan, args, fragments):
    if "--output_name_is_missing" not in args:
        args = args + ["--output", "s.npz"]
    improved_gan("stats", *args).assert_one_line_user_error(PROGRAM, *fragments)


def test_an_output_that_is_not_npz_is_refused(improved_gan):
    improved_gan("stats", "--dataset", "cifar10", "--output", "s.txt").assert_one_line_user_error(
        PROGRAM, "--output must end in .npz", "s.txt")


def test_a_missing_graph_and_missing_data_are_one_line(improved_gan, graph, tmp_path):
    improved_gan("stats", "--dataset", "cifar10", "--data_dir", CIFAR10, "--inception_graph",
                 tmp_path / "none.pb", "--output", "s.npz").assert_one_line_user_error(
        PROGRAM, "none.pb")
    improved_gan("stats", "--dataset", "cifar10", "--data_dir", tmp_path / "empty",
                 "--inception_graph", graph[0], "--output", "s.npz").assert_one_line_user_error(
        PROGRAM, "empty")
    assert not (tmp_path / "s.npz").exists()
