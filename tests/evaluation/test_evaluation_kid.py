"""Kernel Inception Distance against a direct NumPy computation from Bińkowski et al."""
import numpy as np
import pytest

from improved_gan_tf.evaluation import MetricInputError, kernel_inception_distance


def _mmd2_by_pairs(x, y):
    """Unbiased MMD² (Bińkowski et al. 2018, eq. 3 as in their compute_scores.py),
    summing the cubic kernel (a·b/d + 1)^3 pair by pair."""
    m, d = len(x), x.shape[1]

    def k(a, b):
        return (float(np.dot(a, b)) / d + 1.0) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return xx / (m * (m - 1)) + yy / (m * (m - 1)) - 2.0 * xy / (m * m)


def _reference_kid(real, fake, num_subsets, subset_size, seed):
    """Subsets as torch-fidelity draws them: one RandomState, per subset first the
    generated features (its input1), then the real ones (input2)."""
    rng = np.random.RandomState(seed)
    values = []
    for _ in range(num_subsets):
        x = fake[rng.choice(len(fake), subset_size, replace=False)]
        y = real[rng.choice(len(real), subset_size, replace=False)]
        values.append(_mmd2_by_pairs(x.astype(np.float64), y.astype(np.float64)))
    return np.mean(values), np.std(values)


@pytest.mark.parametrize("seed", [0, 2020])
def test_kid_matches_pairwise_unbiased_mmd_on_torch_fidelity_subsets(seed):
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(40, 6)).astype(np.float32)
    fake = (rng.normal(size=(35, 6)) * 1.3 + 0.4).astype(np.float32)
    mean, std = kernel_inception_distance(real, fake, num_subsets=7, subset_size=15, seed=seed)
    ref_mean, ref_std = _reference_kid(real, fake, 7, 15, seed)
    assert isinstance(mean, float) and isinstance(std, float)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-10)
    np.testing.assert_allclose(std, ref_std, rtol=1e-8)
    assert mean > 0


def test_kid_of_the_same_distribution_is_near_zero_and_grows_with_the_shift():
    rng = np.random.default_rng(3)
    real = rng.normal(size=(600, 16))
    same = rng.normal(size=(600, 16))
    near, near_std = kernel_inception_distance(real, same, num_subsets=20, subset_size=200)
    # Unbiased: centred on 0 for equal distributions (may be slightly negative).
    assert abs(near) < 3 * near_std + 1e-3
    shifts = [kernel_inception_distance(real, same + s, num_subsets=5, subset_size=200)[0]
              for s in (0.25, 0.5, 1.0)]
    assert near < shifts[0] < shifts[1] < shifts[2]


def test_kid_draw_order_and_seed_matter():
    rng = np.random.default_rng(4)
    real, fake = rng.normal(size=(50, 4)), rng.normal(size=(50, 4)) + 0.3
    a = kernel_inception_distance(real, fake, num_subsets=3, subset_size=10, seed=1)
    b = kernel_inception_distance(real, fake, num_subsets=3, subset_size=10, seed=1)
    c = kernel_inception_distance(real, fake, num_subsets=3, subset_size=10, seed=2)
    assert a == b and a != c
    # With all rows in every subset the draws no longer matter: std 0, one value.
    full = kernel_inception_distance(real, fake, num_subsets=3, subset_size=50)
    assert full[1] == pytest.approx(0.0, abs=1e-12)
    assert full[0] == pytest.approx(_mmd2_by_pairs(fake, real), rel=1e-10)


def test_kid_subset_larger_than_the_samples_is_an_error_like_torch_fidelity():
    real, fake = np.ones((30, 4)), np.ones((20, 4))
    with pytest.raises(MetricInputError, match=r"subset_size=21 .*real: 30, fake: 20.*<= 20"):
        kernel_inception_distance(real, fake, subset_size=21)


@pytest.mark.parametrize(
    "real,fake,kwargs,match",
    [
        (np.ones((10, 4)), np.ones((10, 3)), {}, "different feature dimensions"),
        (np.zeros((0, 4)), np.ones((10, 4)), {}, "real_features must have shape"),
        (np.ones((10, 4)), np.full((10, 4), np.nan), {}, "fake_features has 40 non-finite"),
        (np.ones((10, 4)), np.ones((10, 4)), {"subset_size": 1}, "subset_size must be an integer >= 2"),
        (np.ones((10, 4)), np.ones((10, 4)), {"num_subsets": 0}, "num_subsets"),
    ],
)
def test_kid_refuses_bad_input(real, fake, kwargs, match):
    kwargs = {"subset_size": 5, **kwargs}
    with pytest.raises(MetricInputError, match=match):
        kernel_inception_distance(real, fake, **kwargs)
