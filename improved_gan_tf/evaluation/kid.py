"""Kernel Inception Distance (Bińkowski et al. 2018) as a pure NumPy function.

KID is the squared maximum mean discrepancy (MMD²) between the feature distributions
of real and generated images under the cubic polynomial kernel
`k(x, y) = (x·y / d + 1)^3`, estimated without bias on random subsets. Unlike the FID
it has an unbiased estimator, so it can be compared across sample sizes, and it needs
no matrix square root.
"""
from __future__ import annotations

import numpy as np

from improved_gan_tf.evaluation.errors import MetricInputError

__all__ = ["kernel_inception_distance", "polynomial_kernel", "unbiased_mmd2"]


def polynomial_kernel(x, y, degree: int = 3, coef0: float = 1.0) -> np.ndarray:
    """`(x·y / d + coef0) ** degree` for all pairs of rows, in float64.

    Args:
      x: array `(n, d)`.
      y: array `(m, d)`.
      degree: the polynomial degree (3 for KID).
      coef0: the constant added to the scaled inner product (1 for KID).

    Returns:
      The `(n, m)` kernel matrix.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return (x @ y.T / x.shape[1] + coef0) ** degree


def unbiased_mmd2(k_xx, k_xy, k_yy) -> float:
    """The unbiased MMD² estimate from kernel matrices of two samples of equal size m.

        MMD²_u = sum_{i != j} k(x_i, x_j) / (m (m - 1))
               + sum_{i != j} k(y_i, y_j) / (m (m - 1))
               - 2 sum_{i, j} k(x_i, y_j) / m²

    (Bińkowski et al. 2018, eq. 3 with the cross term over all pairs, as their
    `compute_scores.py` and torch-fidelity compute it.)

    Args:
      k_xx, k_xy, k_yy: `(m, m)` kernel matrices, m >= 2.

    Returns:
      The estimate as a Python float; it can be slightly negative when the two
      distributions are close.
    """
    m = k_xx.shape[0]
    within_x = k_xx.sum() - np.trace(k_xx)
    within_y = k_yy.sum() - np.trace(k_yy)
    return float((within_x + within_y) / (m * (m - 1)) - 2.0 * k_xy.sum() / (m * m))


def _check_features(features, name):
    f = np.asarray(features)
    if f.ndim != 2 or f.shape[0] == 0 or f.shape[1] == 0:
        raise MetricInputError(f"{name} must have shape (N, D) with N, D >= 1; got {f.shape}")
    if not (np.issubdtype(f.dtype, np.floating) or np.issubdtype(f.dtype, np.integer)):
        raise MetricInputError(f"{name} must be a numeric array; got dtype {f.dtype}")
    if not np.all(np.isfinite(f)):
        raise MetricInputError(f"{name} has {int(np.sum(~np.isfinite(f)))} non-finite entries")
    return f


def kernel_inception_distance(real_features, fake_features, *, num_subsets: int = 100,
                              subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance: mean and std of the unbiased MMD² over random subsets.

    For each of `num_subsets` subsets, `subset_size` rows are drawn without replacement
    from each feature table and the unbiased MMD² (`unbiased_mmd2`) under the kernel
    `k(x, y) = (x·y / d + 1)^3` is computed; the result is the mean and the population
    standard deviation of those estimates (torch-fidelity reports the same pair; the
    paper reports KID x 10³).

    The subsets are drawn as torch-fidelity's `metric_kid.py` draws them: one
    `np.random.RandomState(seed)`, and per subset first
    `rng.choice(len(fake), subset_size, replace=False)` for the generated features
    (torch-fidelity's `input1`), then the same for the real features (`input2`). With
    `seed=2020` (torch-fidelity's default `rng_seed`) the subsets are therefore
    torch-fidelity's. torch-fidelity evaluates the kernel in float32; this function in
    float64, so the two agree to float32 rounding.

    Like torch-fidelity, a `subset_size` larger than either table is an error (not a
    silently smaller subset): pass a smaller `subset_size`.

    Args:
      real_features: `(N_real, D)` features of real images (e.g. Inception pool_3).
      fake_features: `(N_fake, D)` features of generated images.
      num_subsets: number of subsets (torch-fidelity's default 100).
      subset_size: rows per subset and table (default 1000), at least 2.
      seed: seed of the `RandomState` that draws the subsets.

    Returns:
      `(mean, std)` of the subset MMD² estimates, as Python floats.

    Raises:
      MetricInputError: (a `ValueError`) on empty, non-finite or mismatched feature
        tables, `num_subsets < 1`, `subset_size < 2`, or `subset_size` larger than
        either table.

    Examples:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(50, 8)), rng.normal(size=(60, 8)) + 1.0
    >>> mean, std = kernel_inception_distance(a, b, num_subsets=10, subset_size=40)
    >>> mean > 0.1
    True

    Reference:
      Bińkowski, Sutherland, Arbel & Gretton, "Demystifying MMD GANs", ICLR 2018
      (github.com/mbinkowski/MMD-GAN, `compute_scores.py`); torch-fidelity's
      `metric_kid.py`.
    """
    real = _check_features(real_features, "real_features")
    fake = _check_features(fake_features, "fake_features")
    if real.shape[1] != fake.shape[1]:
        raise MetricInputError(
            "real_features and fake_features have different feature dimensions: "
            f"{real.shape[1]} vs {fake.shape[1]}"
        )
    for name, value, low in (("num_subsets", num_subsets, 1), ("subset_size", subset_size, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise MetricInputError(f"{name} must be an integer >= {low}; got {value!r}")
    if subset_size > len(real) or subset_size > len(fake):
        raise MetricInputError(
            f"KID subset_size={subset_size} is larger than the number of samples "
            f"(real: {len(real)}, fake: {len(fake)}); pass subset_size <= "
            f"{min(len(real), len(fake))} (torch-fidelity refuses this case too)"
        )
    rng = np.random.RandomState(seed)
    estimates = np.empty(num_subsets)
    for i in range(num_subsets):
        x = fake[rng.choice(len(fake), subset_size, replace=False)]
        y = real[rng.choice(len(real), subset_size, replace=False)]
        estimates[i] = unbiased_mmd2(
            polynomial_kernel(x, x), polynomial_kernel(x, y), polynomial_kernel(y, y)
        )
    return float(estimates.mean()), float(estimates.std())
