"""Inception Score and Fréchet distance against independent NumPy/SciPy computations."""
import warnings

import numpy as np
import pytest
import scipy.linalg
import scipy.special

from improved_gan_tf.evaluation import MetricInputError
from improved_gan_tf.evaluation import metrics
from improved_gan_tf.evaluation.metrics import (
    RunningInceptionScore,
    RunningStatistics,
    activation_statistics,
    fid_from_activations,
    frechet_distance,
    inception_score,
)


def _random_probabilities(rng, n, k, concentration=0.3):
    return rng.dirichlet(np.full(k, concentration), size=n)


def _reference_is(p, splits):
    """exp(mean KL(p(y|x) || p(y))) per split; KL summed from scipy.special.rel_entr."""
    n = len(p)
    scores = []
    for j in range(splits):
        part = p[j * n // splits:(j + 1) * n // splits]
        marginal = part.mean(axis=0)
        kls = [np.sum(scipy.special.rel_entr(row, marginal)) for row in part]
        scores.append(np.exp(np.mean(kls)))
    return np.mean(scores), np.std(scores)


@pytest.mark.parametrize("n,k,splits", [(100, 10, 10), (257, 7, 4), (30, 1008, 1)])
def test_inception_score_matches_scipy_entropy(n, k, splits):
    rng = np.random.default_rng(n + k)
    p = _random_probabilities(rng, n, k)
    mean, std = inception_score(p, splits=splits)
    ref_mean, ref_std = _reference_is(p, splits)
    assert isinstance(mean, float) and isinstance(std, float)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-10)
    np.testing.assert_allclose(std, ref_std, rtol=1e-8, atol=1e-12)
    assert 1.0 <= mean <= k


def test_inception_score_float32_input_computed_in_float64():
    rng = np.random.default_rng(0)
    p = _random_probabilities(rng, 200, 10)
    p32 = p.astype(np.float32)
    p32 /= p32.sum(axis=1, keepdims=True)
    mean32, _ = inception_score(p32, splits=5)
    ref, _ = _reference_is(p32.astype(np.float64), 5)
    np.testing.assert_allclose(mean32, ref, rtol=1e-9)


@pytest.mark.parametrize("k", [2, 10, 1000])
def test_confident_uniformly_spread_predictions_score_k(k):
    p = np.tile(np.eye(k), (10, 1))  # each split holds every class once
    mean, std = inception_score(p, splits=10)
    assert mean == pytest.approx(k, rel=1e-12)
    assert std == pytest.approx(0.0, abs=1e-9)


def test_constant_prediction_scores_one():
    rng = np.random.default_rng(1)
    row = _random_probabilities(rng, 1, 10)[0]
    p = np.tile(row, (100, 1))
    mean, std = inception_score(p, splits=10)
    assert mean == pytest.approx(1.0, abs=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_drops_remainder_rows_like_the_authors():
    # 12 rows in 5 splits: parts are rows [0:2], [2:4], [4:7], [7:9], [9:12].
    p = np.zeros((12, 3))
    p[np.arange(12), np.arange(12) % 3] = 1.0
    mean, _ = inception_score(p, splits=5)
    bounds = [(j * 12 // 5, (j + 1) * 12 // 5) for j in range(5)]
    assert bounds == [(0, 2), (2, 4), (4, 7), (7, 9), (9, 12)]
    expected = np.mean([np.exp(np.log(len(set(np.arange(a, b) % 3)))) for a, b in bounds])
    assert mean == pytest.approx(expected)


@pytest.mark.parametrize(
    "bad,match",
    [
        (np.ones(10) / 10, "shape"),
        (np.full((20, 4), 0.5), "sum to 1"),
        (-np.eye(20), "non-negative"),
        (np.eye(5), "too few for splits"),
        (np.eye(19), "at least 2 samples"),
    ],
)
def test_inception_score_rejects_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        inception_score(bad, splits=10)


def _random_gaussian(rng, d, n=None):
    a = rng.normal(size=(n or 3 * d, d)) @ rng.normal(size=(d, d))
    return a.mean(axis=0) + rng.normal(size=d), np.atleast_2d(np.cov(a, rowvar=False))


def _reference_fd_sqrtm(mu1, s1, mu2, s2):
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real))


def _reference_fd_eigvals(mu1, s1, mu2, s2):
    """Tr((s1 s2)^1/2) = sum sqrt(eigvals(s1 s2)): the product's eigenvalues are real
    and >= 0 for PSD s1, s2 (general nonsymmetric eigensolver, LAPACK geev)."""
    lam = np.linalg.eigvals(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2)
                 - 2 * np.sum(np.sqrt(np.clip(lam, 0, None))))


@pytest.mark.parametrize("d", [1, 5, 64])
def test_frechet_distance_matches_direct_sqrtm_formula(d):
    rng = np.random.default_rng(d)
    mu1, s1 = _random_gaussian(rng, d)
    mu2, s2 = _random_gaussian(rng, d)
    fd = frechet_distance(mu1, s1, mu2, s2)
    assert isinstance(fd, float)
    np.testing.assert_allclose(fd, _reference_fd_sqrtm(mu1, s1, mu2, s2), rtol=1e-8)
    np.testing.assert_allclose(fd, _reference_fd_eigvals(mu1, s1, mu2, s2), rtol=1e-6)
    fd_eigh = frechet_distance(mu1, s1, mu2, s2, method="eigh")
    np.testing.assert_allclose(fd_eigh, _reference_fd_sqrtm(mu1, s1, mu2, s2), rtol=1e-8)


def test_frechet_distance_of_identical_gaussians_is_zero_and_symmetric():
    rng = np.random.default_rng(3)
    mu, s = _random_gaussian(rng, 16)
    assert frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-8)
    mu2, s2 = _random_gaussian(rng, 16)
    assert frechet_distance(mu, s, mu2, s2) == pytest.approx(frechet_distance(mu2, s2, mu, s))


def test_frechet_distance_closed_form_for_diagonal_covariances():
    mu1, mu2 = np.array([0.0, 1.0]), np.array([3.0, -1.0])
    s1, s2 = np.diag([4.0, 9.0]), np.diag([1.0, 16.0])
    expected = 9 + 4 + (2 - 1) ** 2 + (3 - 4) ** 2  # ||dmu||^2 + sum (sqrt a - sqrt b)^2
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected)


def test_frechet_distance_singular_covariance():
    rng = np.random.default_rng(4)
    d = 32
    a = rng.normal(size=(10, d))  # 10 samples in 32 dimensions: rank 9
    b = rng.normal(size=(12, d)) + 0.5
    mu1, s1 = a.mean(0), np.cov(a, rowvar=False)
    mu2, s2 = b.mean(0), np.cov(b, rowvar=False)
    assert np.linalg.matrix_rank(s1) < d
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the eps fallback may warn
        fd = frechet_distance(mu1, s1, mu2, s2)
        via_activations = fid_from_activations(a, b)
    reference = _reference_fd_eigvals(mu1, s1, mu2, s2)
    assert np.isfinite(fd)
    np.testing.assert_allclose(fd, reference, rtol=1e-4)
    assert via_activations == pytest.approx(fd)
    fd_eigh = frechet_distance(mu1, s1, mu2, s2, method="eigh")
    np.testing.assert_allclose(fd_eigh, reference, rtol=1e-6)
    assert fid_from_activations(a, b, method="eigh") == pytest.approx(fd_eigh)
    # Identical singular statistics are at distance 0.
    assert frechet_distance(mu1, s1, mu1, s1, method="eigh") == pytest.approx(0.0, abs=1e-7 * np.trace(s1))


def test_frechet_distance_eps_fallback_when_sqrtm_not_finite(monkeypatch):
    """The TTUR rule: a non-finite root is recomputed with eps on both diagonals."""
    rng = np.random.default_rng(5)
    mu1, s1 = _random_gaussian(rng, 6)
    mu2, s2 = _random_gaussian(rng, 6)
    real_sqrtm = scipy.linalg.sqrtm
    calls = []

    def flaky_sqrtm(m, *args, **kwargs):
        calls.append(m.copy())
        if len(calls) == 1:
            return np.full_like(m, np.nan)
        return real_sqrtm(m, *args, **kwargs)

    monkeypatch.setattr(metrics.scipy.linalg, "sqrtm", flaky_sqrtm)
    eps = 1e-3
    with pytest.warns(RuntimeWarning, match="singular"):
        fd = frechet_distance(mu1, s1, mu2, s2, eps=eps)
    assert len(calls) == 2
    offset = eps * np.eye(6)
    np.testing.assert_allclose(calls[1], (s1 + offset) @ (s2 + offset))
    expected = float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2)
                     - 2 * np.trace(real_sqrtm((s1 + offset) @ (s2 + offset)).real))
    assert fd == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_discards_small_imaginary_part(monkeypatch):
    s = np.diag([4.0, 1.0])
    real_sqrtm = scipy.linalg.sqrtm
    monkeypatch.setattr(
        metrics.scipy.linalg, "sqrtm", lambda m, *a, **k: real_sqrtm(m) + 1e-6j
    )
    assert frechet_distance(np.zeros(2), s, np.zeros(2), s) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_raises_on_large_imaginary_component():
    # Not a covariance: the product has a negative eigenvalue, so its root is imaginary.
    s1 = np.diag([1.0, -4.0])
    s2 = np.eye(2)
    with pytest.raises(ValueError, match="imaginary component"):
        frechet_distance(np.zeros(2), s1, np.zeros(2), s2)


def test_frechet_distance_eigh_rejects_non_psd_input():
    with pytest.raises(ValueError, match="sigma1 is not positive semi-definite"):
        frechet_distance(np.zeros(2), np.diag([1.0, -4.0]), np.zeros(2), np.eye(2), method="eigh")
    with pytest.raises(ValueError, match="method"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(2), method="svd")


def test_frechet_distance_shape_errors_name_the_argument():
    with pytest.raises(ValueError, match="sigma2"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(2))
    with pytest.raises(ValueError, match="mu1 and mu2"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="feature dimensions"):
        fid_from_activations(np.zeros((5, 3)), np.zeros((5, 4)))


def test_fid_from_activations_matches_formula():
    rng = np.random.default_rng(6)
    a = rng.normal(size=(200, 8))
    b = rng.normal(size=(150, 8)) * 1.5 + 0.3
    expected = _reference_fd_sqrtm(a.mean(0), np.cov(a.T), b.mean(0), np.cov(b.T))
    assert fid_from_activations(a, b) == pytest.approx(expected, rel=1e-8)


def test_running_statistics_matches_numpy_cov():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(1000, 12)) * 3 + 1e4  # large mean: the shifted sums must cope
    stats = RunningStatistics()
    for chunk in np.array_split(x, [1, 64, 500, 777]):
        stats.update(chunk.astype(np.float32))
    mu, sigma = stats.result()
    x32 = x.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(mu, x32.mean(0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(x32, rowvar=False), rtol=1e-8, atol=1e-8)
    mu2, sigma2 = activation_statistics(x32)
    np.testing.assert_allclose(sigma2, np.cov(x32, rowvar=False))
    with pytest.raises(ValueError, match="columns"):
        stats.update(np.zeros((2, 3)))


# ---------------------------------------------------------------- torch-fidelity's shuffle


def _torch_fidelity_is_from_logits(logits, splits, seed):
    """torch-fidelity's procedure written out: permute the logit rows with
    RandomState(seed).permutation(N), then softmax / log-softmax in float64 and
    exp(mean KL) per consecutive split."""
    n = len(logits)
    x = np.asarray(logits, np.float64)[np.random.RandomState(seed).permutation(n)]
    log_p = x - scipy.special.logsumexp(x, axis=1, keepdims=True)
    p = np.exp(log_p)
    scores = []
    for j in range(splits):
        lo, hi = j * n // splits, (j + 1) * n // splits
        q = p[lo:hi].mean(axis=0, keepdims=True)
        scores.append(np.exp(np.mean(np.sum(p[lo:hi] * (log_p[lo:hi] - np.log(q)), axis=1))))
    return np.mean(scores), np.std(scores)


@pytest.mark.parametrize("n,splits,seed", [(1000, 10, 2020), (37, 3, 2020), (200, 10, 7)])
def test_shuffle_seed_reproduces_torch_fidelity_procedure(n, splits, seed):
    rng = np.random.default_rng(n)
    logits = rng.normal(scale=3.0, size=(n, 12))
    logits[: n // 2, 0] += 5.0  # ordered rows: splits in order differ from shuffled ones
    probs = scipy.special.softmax(logits, axis=1)
    mean, std = inception_score(probs, splits=splits, shuffle_seed=seed)
    ref_mean, ref_std = _torch_fidelity_is_from_logits(logits, splits, seed)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-10)
    np.testing.assert_allclose(std, ref_std, rtol=1e-8, atol=1e-12)
    unshuffled = inception_score(probs, splits=splits)
    np.testing.assert_allclose(unshuffled, _reference_is(probs, splits), rtol=1e-10, atol=1e-12)


def test_shuffle_turns_class_sorted_splits_into_mixed_ones():
    # Rows sorted by class: each in-order split holds one class (IS = 1); shuffled
    # splits hold all four classes (IS close to 4).
    p = np.repeat(np.eye(4), 50, axis=0)
    assert inception_score(p, splits=4) == pytest.approx((1.0, 0.0), abs=1e-12)
    mean, _ = inception_score(p, splits=4, shuffle_seed=2020)
    assert mean > 3.5


@pytest.mark.parametrize("seed", [1.5, "2020", True])
def test_shuffle_seed_must_be_an_integer(seed):
    with pytest.raises(MetricInputError, match="shuffle_seed"):
        inception_score(np.tile(np.eye(2), (10, 1)), splits=2, shuffle_seed=seed)


@pytest.mark.parametrize("splits", [0, -1, 2.0, True])
def test_inception_score_rejects_bad_splits(splits):
    with pytest.raises(MetricInputError, match="splits"):
        inception_score(np.tile(np.eye(2), (10, 1)), splits=splits)


def test_inception_score_of_twice_the_splits_is_accepted_and_one_less_is_refused():
    p = _random_probabilities(np.random.default_rng(2), 20, 5)
    inception_score(p, splits=10)
    with pytest.raises(MetricInputError, match=r"N >= 20"):
        inception_score(p[:19], splits=10)


# ---------------------------------------------------------------- strict FID inputs


def _good():
    return np.zeros(3), np.eye(3)


@pytest.mark.parametrize(
    "mu1,sigma1,match",
    [
        (np.zeros(0), np.zeros((0, 0)), "empty"),
        (np.array([0.0, np.nan, 0.0]), np.eye(3), "mu1 has 1 non-finite"),
        (np.zeros(3), np.diag([1.0, np.inf, 1.0]), "sigma1 has 1 non-finite"),
        (np.zeros(3), np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), "not symmetric"),
        (np.zeros(3), np.eye(4), r"sigma1 must have shape \(3, 3\)"),
        (np.zeros((3, 1)), np.eye(3), "mu1 must be a vector"),
    ],
)
def test_frechet_distance_refuses_bad_statistics(mu1, sigma1, match):
    mu2, sigma2 = _good()
    with pytest.raises(MetricInputError, match=match):
        frechet_distance(mu1, sigma1, mu2, sigma2)
    with pytest.raises(ValueError, match=match):  # also a ValueError, for old callers
        frechet_distance(mu1, sigma1, mu2, sigma2, method="eigh")


def test_frechet_distance_accepts_rounding_level_asymmetry():
    rng = np.random.default_rng(8)
    mu, s = _random_gaussian(rng, 8)
    s32 = s.astype(np.float32)
    s32[0, 1] = np.nextafter(s32[0, 1], np.float32(np.inf))  # one ulp off
    assert frechet_distance(mu, s32, mu, s) == pytest.approx(0.0, abs=1e-4 * np.trace(s))


def test_frechet_distance_refuses_mismatched_dimensions():
    with pytest.raises(MetricInputError, match="different dimensions"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))


def test_statistics_of_bad_activations_are_refused():
    with pytest.raises(MetricInputError, match="non-finite"):
        activation_statistics(np.array([[0.0, 1.0], [np.nan, 2.0], [1.0, 1.0]]))
    with pytest.raises(MetricInputError, match="at least 2"):
        fid_from_activations(np.ones((1, 4)), np.ones((5, 4)))
    with pytest.raises(MetricInputError, match="D >= 1"):
        activation_statistics(np.zeros((5, 0)))
    stats = RunningStatistics()
    with pytest.raises(MetricInputError, match="non-finite"):
        stats.update(np.array([[1.0, np.inf]]))
    with pytest.raises(MetricInputError, match="at least 2"):
        stats.result()


def test_running_statistics_covariance_is_exactly_symmetric():
    rng = np.random.default_rng(9)
    stats = RunningStatistics()
    for _ in range(5):
        stats.update(rng.normal(size=(33, 20)) * 7 + 3)
    _, sigma = stats.result()
    np.testing.assert_array_equal(sigma, sigma.T)


@pytest.mark.parametrize("n,splits,seed", [(100, 10, None), (100, 10, 2020), (257, 4, 3), (20, 10, 2020)])
def test_running_inception_score_equals_the_one_shot_score(n, splits, seed):
    p = _random_probabilities(np.random.default_rng(n), n, 9)
    p[:, 0] = 0.0  # zero probabilities: the 0 log 0 = 0 convention in both routes
    p /= p.sum(axis=1, keepdims=True)
    running = RunningInceptionScore(n, splits=splits, shuffle_seed=seed)
    for chunk in np.array_split(p, [1, 2, 50, 51]):
        running.update(chunk)
    np.testing.assert_allclose(running.result(), inception_score(p, splits=splits, shuffle_seed=seed),
                               rtol=1e-10, atol=1e-12)
    if seed is not None:
        perm = np.random.RandomState(seed).permutation(n)
        np.testing.assert_allclose(running.result(), _reference_is(p[perm], splits), rtol=1e-10, atol=1e-12)


def test_running_inception_score_refuses_a_wrong_count_or_bad_rows():
    p = np.tile(np.eye(3), (4, 1))
    running = RunningInceptionScore(12, splits=2)
    running.update(p[:5])
    with pytest.raises(MetricInputError, match="5 rows were given, but num_samples=12"):
        running.result()
    with pytest.raises(MetricInputError, match="more than num_samples=12"):
        running.update(p)
    with pytest.raises(MetricInputError, match="sum to 1"):
        running.update(np.full((2, 3), 0.5))
    with pytest.raises(MetricInputError, match="2 columns, earlier ones had 3"):
        running.update(np.full((2, 2), 0.5))
    with pytest.raises(MetricInputError, match="too few for splits=10"):
        RunningInceptionScore(19, splits=10)


def _ttur_procedure(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """TTUR's calculate_frechet_distance as its fid.py documents it: sqrtm of the
    product; if not finite, eps on both diagonals; imaginary parts dropped when the
    diagonal's are within atol 1e-3 of 0."""
    covmean = scipy.linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        assert np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3)
        covmean = covmean.real
    diff = mu1 - mu2
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)


@pytest.mark.parametrize("n1,n2,d", [(200, 150, 12), (10, 12, 32), (40, 40, 64)])
def test_default_fid_is_ttur_computation_on_float64_np_cov_statistics(n1, n2, d):
    rng = np.random.default_rng(d)
    a = rng.normal(size=(n1, d)).astype(np.float32)
    b = (rng.normal(size=(n2, d)) * 1.2 + 0.1).astype(np.float32)
    mu1, s1 = np.mean(a.astype(np.float64), axis=0), np.cov(a.astype(np.float64), rowvar=False)
    mu2, s2 = np.mean(b.astype(np.float64), axis=0), np.cov(b.astype(np.float64), rowvar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = _ttur_procedure(mu1, s1, mu2, s2)
        assert fid_from_activations(a, b) == pytest.approx(expected, rel=1e-12)
        assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-12)
    # The exact eigh route agrees to rounding (singular cases included).
    assert fid_from_activations(a, b, method="eigh") == pytest.approx(expected, rel=1e-6)
