"""Losses against independent numpy computations of the papers' formulas."""

import numpy as np
import pytest
import tensorflow as tf

from improved_gan_tf import losses

RNG = np.random.default_rng(0)


def np_log_sigmoid(l):
    # log(1 / (1 + exp(-l))), evaluated in float64 with the two-branch stable form
    l = np.asarray(l, np.float64)
    return np.where(l >= 0, -np.log1p(np.exp(-np.abs(l))), l - np.log1p(np.exp(-np.abs(l))))


def np_logsumexp(x, axis=-1):
    x = np.asarray(x, np.float64)
    m = x.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def np_d_of_x_k_plus_one(logits):
    """D(x) = Z / (Z + 1) with Z = sum_k exp(l_k), computed directly (finite inputs only)."""
    z = np.exp(np.asarray(logits, np.float64)).sum(-1)
    return z / (z + 1.0)


@pytest.mark.parametrize("batch", [1, 7])
def test_discriminator_loss_matches_formula(batch):
    real = RNG.normal(size=(batch, 1)) * 3
    fake = RNG.normal(size=(batch, 1)) * 3
    d_real = 1 / (1 + np.exp(-real[:, 0]))
    d_fake = 1 / (1 + np.exp(-fake[:, 0]))
    for alpha in (1.0, 0.9):
        expected = -np.mean(alpha * np.log(d_real) + (1 - alpha) * np.log(1 - d_real)) - np.mean(
            np.log(1 - d_fake)
        )
        got = losses.discriminator_loss(tf.constant(real), tf.constant(fake), real_label=alpha)
        np.testing.assert_allclose(float(got), expected, rtol=1e-6)


def test_generator_losses_match_formula():
    fake = RNG.normal(size=(9, 1)) * 2
    d_fake = 1 / (1 + np.exp(-fake[:, 0]))
    np.testing.assert_allclose(
        float(losses.minimax_generator_loss(tf.constant(fake))), np.mean(np.log(1 - d_fake)), rtol=1e-6
    )
    np.testing.assert_allclose(
        float(losses.non_saturating_generator_loss(tf.constant(fake))), -np.mean(np.log(d_fake)), rtol=1e-6
    )


def test_losses_are_finite_for_huge_logits():
    huge = np.array([[1e4], [-1e4]], np.float32)
    for value in (
        losses.discriminator_loss(huge, huge, real_label=0.9),
        losses.minimax_generator_loss(huge),
        losses.non_saturating_generator_loss(huge),
    ):
        assert np.isfinite(float(value))
    # -log sigmoid(1e4) ~ 0, -log(1 - sigmoid(-1e4)) ~ 0: only the confident-wrong terms count
    np.testing.assert_allclose(
        float(losses.discriminator_loss(np.array([[1e4]]), np.array([[-1e4]]))), 0.0, atol=1e-6
    )
    np.testing.assert_allclose(
        float(losses.discriminator_loss(np.array([[-1e4]]), np.array([[1e4]]))), 2e4, rtol=1e-6
    )


@pytest.mark.parametrize("norm", ["l2", "l1"])
def test_feature_matching_matches_formula(norm):
    real = RNG.normal(size=(13, 6))
    fake = RNG.normal(size=(5, 6))
    difference = real.mean(0) - fake.mean(0)
    expected = np.mean(difference**2) if norm == "l2" else np.mean(np.abs(difference))
    got = losses.feature_matching_loss(tf.constant(real), tf.constant(fake), norm=norm)
    np.testing.assert_allclose(float(got), expected, rtol=1e-6)


def test_feature_matching_of_a_collapsed_batch_is_distance_to_the_single_point():
    real = RNG.normal(size=(10, 4))
    point = RNG.normal(size=(1, 4))
    collapsed = np.repeat(point, 10, axis=0)
    expected = np.mean((real.mean(0) - point[0]) ** 2)
    np.testing.assert_allclose(float(losses.feature_matching_loss(real, collapsed)), expected, rtol=1e-6)


def test_feature_matching_rejects_unknown_norm():
    with pytest.raises(ValueError, match="norm='l3'"):
        losses.feature_matching_loss(np.ones((2, 2)), np.ones((2, 2)), norm="l3")


@pytest.mark.parametrize("batch", [1, 8])
def test_semi_supervised_losses_match_paper_formula(batch):
    k = 10
    labeled = RNG.normal(size=(batch, k)) * 2
    labels = RNG.integers(0, k, size=batch)
    unlabeled = RNG.normal(size=(batch, k)) * 2
    fake = RNG.normal(size=(batch, k)) * 2
    # p(y | x, y < K+1) = softmax over the K real logits (the fake logit is 0 in both Z and Z + 1)
    p = np.exp(labeled) / np.exp(labeled).sum(-1, keepdims=True)
    expected_supervised = -np.mean(np.log(p[np.arange(batch), labels]))
    expected_unsupervised = -np.mean(np.log(np_d_of_x_k_plus_one(unlabeled))) - np.mean(
        np.log(1 - np_d_of_x_k_plus_one(fake))
    )
    supervised, unsupervised = losses.semi_supervised_discriminator_loss(
        tf.constant(labeled), tf.constant(labels), tf.constant(unlabeled), tf.constant(fake)
    )
    np.testing.assert_allclose(float(supervised), expected_supervised, rtol=1e-6)
    np.testing.assert_allclose(float(unsupervised), expected_unsupervised, rtol=1e-6)


def test_semi_supervised_loss_is_stable_for_logits_of_1e4():
    labeled = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]], np.float32)
    labels = np.array([0, 0])
    unlabeled = np.array([[1e4, 1e4, -1e4], [-1e4, -1e4, -1e4]], np.float32)
    fake = np.array([[1e4, -1e4, -1e4], [-1e4, -1e4, -1e4]], np.float32)
    supervised, unsupervised = losses.semi_supervised_discriminator_loss(labeled, labels, unlabeled, fake)
    # by hand: example 2 puts label 0 at -1e4 vs 1e4 -> CE 2e4; average 1e4
    np.testing.assert_allclose(float(supervised), 1e4, rtol=1e-6)
    # unlabeled: -log D = softplus(-lse) -> [0, 1e4 - log 3]; fake: softplus(lse) -> [1e4, 0]
    expected = np.mean([0.0, 1e4 - np.log(3.0)]) + np.mean([1e4, 0.0])
    np.testing.assert_allclose(float(unsupervised), expected, rtol=1e-6)
    with tf.GradientTape() as tape:
        variables = [tf.Variable(labeled), tf.Variable(unlabeled), tf.Variable(fake)]
        total = tf.add_n(losses.semi_supervised_discriminator_loss(variables[0], labels, variables[1], variables[2]))
    for gradient in tape.gradient(total, variables):
        assert np.all(np.isfinite(gradient.numpy()))


def test_unsupervised_gradient_matches_naive_formula_where_finite():
    k = 4
    unlabeled = RNG.normal(size=(3, k))
    fake = RNG.normal(size=(3, k))

    def naive(u, f):
        zu = tf.reduce_sum(tf.exp(u), -1)
        zf = tf.reduce_sum(tf.exp(f), -1)
        return -tf.reduce_mean(tf.math.log(zu / (zu + 1))) - tf.reduce_mean(tf.math.log(1 - zf / (zf + 1)))

    u, f = tf.Variable(unlabeled), tf.Variable(fake)
    with tf.GradientTape(persistent=True) as tape:
        stable = losses.semi_supervised_discriminator_loss(u[:1], [0], u, f)[1]
        reference = naive(u, f)
    np.testing.assert_allclose(float(stable), float(reference), rtol=1e-9)
    for a, b in zip(tape.gradient(stable, [u, f]), tape.gradient(reference, [u, f])):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-7, atol=1e-12)


def test_unsupervised_logit_is_logsumexp():
    logits = RNG.normal(size=(5, 3))
    np.testing.assert_allclose(losses.unsupervised_logit(tf.constant(logits)).numpy(), np_logsumexp(logits), rtol=1e-9)
    d = 1 / (1 + np.exp(-np_logsumexp(logits)))
    np.testing.assert_allclose(d, np_d_of_x_k_plus_one(logits), rtol=1e-9)


def test_historical_averaging_penalty_matches_formula():
    thetas = [RNG.normal(size=(3, 2)), RNG.normal(size=(4,))]
    history = [[RNG.normal(size=t.shape) for t in thetas] for _ in range(5)]
    means = [np.mean([h[i] for h in history], axis=0) for i in range(2)]
    expected = 0.3 * sum(np.sum((t - m) ** 2) for t, m in zip(thetas, means))
    got = losses.historical_averaging_penalty([tf.constant(t) for t in thetas], [tf.constant(m) for m in means], 0.3)
    np.testing.assert_allclose(float(got), expected, rtol=1e-9)
