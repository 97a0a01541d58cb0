"""verify_inception's plumbing on the synthetic graph and the local CIFAR-10 subset.

The real 2015 graph and the full CIFAR-10 are not available here, so the published
figures cannot be reproduced; these tests check that every figure is computed as its
definition says, and that a subset is reported as not comparable.
"""
import warnings

import numpy as np
import pytest
import scipy.linalg
import scipy.special

from improved_gan_tf import data as data_lib
from improved_gan_tf.evaluation import PUBLISHED_FIGURES, UnsafeGraphError, verify_inception
from synthetic_inception import CLASSES, FEATURES, authors_forward, build_tiny_inception_graph


def _is(p, splits, permutation=None):
    p = p if permutation is None else p[permutation]
    n = len(p)
    scores = [np.exp(scipy.special.rel_entr(part, part.mean(0, keepdims=True)).sum(1).mean())
              for part in (p[j * n // splits:(j + 1) * n // splits] for j in range(splits))]
    return np.mean(scores), np.std(scores)


@pytest.fixture(scope="module")
def verified(tmp_path_factory, cifar10_dir):
    path = tmp_path_factory.mktemp("graph") / "classify_image_graph_def.pb"
    graph, weights = build_tiny_inception_graph(path)
    report = verify_inception(path, cifar10_dir, batch_size=500, chunk_size=1500)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train, _ = data_lib.load_arrays("cifar10", "train", cifar10_dir)
        test, _ = data_lib.load_arrays("cifar10", "test", cifar10_dir)
    return report, graph, weights, train, test


def test_inception_scores_follow_both_conventions(verified):
    report, graph, weights, train, _ = verified
    probs, _, _ = authors_forward(graph, weights, train)
    authors = report["inception_score_train"]
    shuffled = report["inception_score_train_torch_fidelity"]
    np.testing.assert_allclose((authors["mean"], authors["std"]), _is(probs, 10), rtol=1e-4)
    permutation = np.random.RandomState(2020).permutation(len(probs))
    np.testing.assert_allclose((shuffled["mean"], shuffled["std"]), _is(probs, 10, permutation), rtol=1e-4)
    assert authors["published"] == 11.24 and authors["published_std"] == 0.12
    assert shuffled["published"] == 11.23678 and shuffled["shuffle_seed"] == 2020
    assert authors["difference"] == pytest.approx(authors["mean"] - 11.24)


def test_fid_of_first_train_and_test_images_follows_ttur(verified):
    report, graph, weights, train, test = verified
    _, f_train, _ = authors_forward(graph, weights, train[:5000])
    _, f_test, _ = authors_forward(graph, weights, test[:5000])
    s1, s2 = np.cov(f_train, rowvar=False), np.cov(f_test, rowvar=False)
    d = f_train.mean(0) - f_test.mean(0)
    expected = d @ d + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
    fid = report["fid_train5k_test5k"]
    assert fid["value"] == pytest.approx(expected, rel=1e-4)
    assert fid["published"] == PUBLISHED_FIGURES["fid_train5k_test5k"]["value"] == 10.3233274
    assert (fid["num_train"], fid["num_test"]) == (4000, 4000)


def test_a_subset_is_reported_as_not_comparable(verified):
    report = verified[0]
    for name in ("inception_score_train", "inception_score_train_torch_fidelity", "fid_train5k_test5k"):
        assert report[name]["comparable"] is False
        assert report[name]["within_tolerance"] is None
    assert report["inception_score_train"]["num_images"] == 4000
    assert any("fewer than the official 50000" in note for note in report["notes"])


def test_pool3_checks_and_card(verified):
    report = verified[0]
    pool3 = report["pool_3"]
    assert pool3["feature_shape"] == [8, FEATURES] and pool3["num_classes"] == CLASSES
    assert pool3["features_finite"] and pool3["features_non_negative"]
    assert pool3["probabilities_sum_to_one"] and pool3["batch_independent"]
    assert pool3["expected_feature_dim"] == 2048  # the synthetic graph has 16: visible
    assert len(report["card"]["weights_sha256"]) == 64


def test_an_unsafe_graph_is_refused_before_any_image_is_read(tmp_path):
    import tensorflow as tf

    with tf.Graph().as_default() as graph:
        tf.io.write_file(str(tmp_path / "x"), "y", name="w")
    path = tmp_path / "evil.pb"
    path.write_bytes(graph.as_graph_def().SerializeToString())
    with pytest.raises(UnsafeGraphError, match="WriteFile"):
        verify_inception(path, tmp_path / "no-cifar-here")
