"""Sample-quality metrics as pure NumPy functions: Inception Score and Fréchet distance.

These functions take class probabilities or feature activations that some network has
already produced (`InceptionScorer`, the dataset classifier of `dataset_classifier`, or
any other), so they can be tested, and reused, without a network in the loop. All of
them compute in float64.
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

__all__ = [
    "inception_score",
    "frechet_distance",
    "fid_from_activations",
    "activation_statistics",
    "RunningStatistics",
]


def inception_score(probabilities, splits: int = 10) -> tuple[float, float]:
    """Inception Score of a table of class probabilities, split by split.

    For each of `splits` consecutive, equal-sized parts of the rows (the last rows are
    dropped when `N` is not a multiple of `splits`, as in the authors' code),

        IS_j = exp( mean_{x in part j} KL( p(y|x) || p_j(y) ) ),
        KL(p || q) = sum_k p_k (log p_k - log q_k),

    where p_j(y) = mean_{x in part j} p(y|x) is that part's marginal. The result is the
    mean and the (population) standard deviation of the `IS_j`, which is what the paper
    reports as "score +- std" over 50,000 samples in 10 splits. Terms with p_k = 0
    contribute 0 (the limit of p log p).

    The score lies in [1, K] for K classes: 1 when every sample gets the same
    prediction, K when each prediction is one-hot and the classes are used equally often.

    Args:
      probabilities: array-like of shape `(N, K)`, rows are probability vectors
        (non-negative, summing to 1 up to float error), e.g. a softmax output.
      splits: number of parts; `N >= splits` is required.

    Returns:
      `(mean, std)` of the per-split scores, as Python floats.

    Raises:
      ValueError: if `probabilities` is not 2-D, has negative or non-finite entries,
        rows that do not sum to 1 (tolerance 1e-3), or fewer rows than `splits`.

    Reference:
      Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016, section 4;
      the authors' released `inception_score/model.py` (github.com/openai/improved-gan).
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(
            f"probabilities must have shape (N, K); got shape {p.shape}"
        )
    if not isinstance(splits, (int, np.integer)) or splits < 1:
        raise ValueError(f"splits must be a positive integer; got {splits!r}")
    n = p.shape[0]
    if n < splits:
        raise ValueError(
            f"probabilities has {n} rows, fewer than splits={splits}"
        )
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError("probabilities must be finite and non-negative")
    row_sums = p.sum(axis=1)
    if not np.allclose(row_sums, 1.0, atol=1e-3):
        worst = int(np.argmax(np.abs(row_sums - 1.0)))
        raise ValueError(
            "each row of probabilities must sum to 1 (pass softmax outputs, not "
            f"logits); row {worst} sums to {row_sums[worst]:.6g}"
        )
    scores = []
    for j in range(splits):
        part = p[j * n // splits:(j + 1) * n // splits]
        marginal = part.mean(axis=0, keepdims=True)
        # p log(p / q) with the convention 0 log 0 = 0; q > 0 wherever p > 0.
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(part > 0, part * (np.log(part) - np.log(marginal)), 0.0)
        scores.append(np.exp(terms.sum(axis=1).mean()))
    scores = np.asarray(scores)
    return float(scores.mean()), float(scores.std())


def _check_gaussian(mu, sigma, which: str):
    mu = np.atleast_1d(np.asarray(mu, dtype=np.float64))
    sigma = np.atleast_2d(np.asarray(sigma, dtype=np.float64))
    if mu.ndim != 1:
        raise ValueError(f"mu{which} must be a vector; got shape {mu.shape}")
    if sigma.shape != (mu.shape[0], mu.shape[0]):
        raise ValueError(
            f"sigma{which} must have shape {(mu.shape[0], mu.shape[0])} to match "
            f"mu{which}; got shape {sigma.shape}"
        )
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(sigma))):
        raise ValueError(f"mu{which} and sigma{which} must be finite")
    return mu, sigma


def _trace_sqrt_product_sqrtm(sigma1, sigma2, eps):
    """Tr((sigma1 sigma2)^1/2) with scipy's sqrtm, following TTUR's fid.py."""
    with warnings.catch_warnings():
        # sqrtm's own "singular matrix" chatter; finiteness is checked below.
        warnings.simplefilter("ignore", RuntimeWarning)
        covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if not np.all(np.isfinite(covmean)):
        warnings.warn(
            "frechet_distance: the product of the covariances is singular; adding "
            f"{eps} to the diagonal of both covariance estimates",
            RuntimeWarning,
            stacklevel=3,
        )
        offset = np.eye(sigma1.shape[0]) * eps
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
        if not np.all(np.isfinite(covmean)):
            raise ValueError(
                "frechet_distance: the square root of the covariance product is not "
                f"finite even after adding eps={eps} to the diagonals"
            )
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0.0, atol=1e-3):
            largest = float(np.max(np.abs(covmean.imag)))
            raise ValueError(
                "frechet_distance: the square root of sigma1 @ sigma2 has an imaginary "
                f"component of {largest:.3g}; are both covariances symmetric PSD?"
            )
        covmean = covmean.real
    return float(np.trace(covmean))


def _psd_eigenvalues(matrix, name):
    """Eigenvalues of a symmetric matrix, tiny negative ones (rounding) set to 0."""
    w, v = np.linalg.eigh((matrix + matrix.T) / 2.0)
    scale = max(float(np.max(np.abs(w))), np.finfo(np.float64).tiny)
    if w.min() < -1e-6 * scale:
        raise ValueError(
            f"frechet_distance: {name} is not positive semi-definite (eigenvalue "
            f"{w.min():.3g}, largest magnitude {scale:.3g})"
        )
    return np.clip(w, 0.0, None), v


def _trace_sqrt_product_eigh(sigma1, sigma2):
    """Tr((sigma1 sigma2)^1/2) = sum_i sqrt(lambda_i(S1^1/2 sigma2 S1^1/2)).

    sigma1 sigma2 is similar to the symmetric PSD matrix S1^1/2 sigma2 S1^1/2 (for
    singular sigma1 they share the non-zero eigenvalues), so two symmetric
    eigendecompositions give the trace exactly, with no complex arithmetic and no
    eps offset, also for singular covariances.
    """
    w1, v1 = _psd_eigenvalues(sigma1, "sigma1")
    root1 = (v1 * np.sqrt(w1)) @ v1.T
    inner, _ = _psd_eigenvalues(root1 @ sigma2 @ root1, "sigma1^1/2 sigma2 sigma1^1/2")
    return float(np.sum(np.sqrt(inner)))


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6,
                     method: str = "sqrtm") -> float:
    """Fréchet distance between two Gaussians N(mu1, sigma1) and N(mu2, sigma2).

        d^2 = ||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2)).

    With Inception pool_3 features this is the FID of Heusel et al. (2017).

    `method="sqrtm"` (default) computes the matrix square root as their reference
    implementation (TTUR `fid.py`) does, so numbers match theirs:

    * `scipy.linalg.sqrtm(sigma1 @ sigma2)`;
    * if the result is not finite (the product is numerically singular, e.g. fewer
      samples than feature dimensions), a `RuntimeWarning` is issued and the root is
      recomputed as `sqrtm((sigma1 + eps I) @ (sigma2 + eps I))`;
    * the product of two PSD matrices has real, non-negative eigenvalues, so an
      imaginary part of the root is numerical noise: it is discarded when the
      imaginary parts of the diagonal are all within 1e-3 of 0, and a `ValueError`
      naming the largest imaginary component is raised otherwise.

    `method="eigh"` uses Tr((sigma1 sigma2)^1/2) = sum_i sqrt(lambda_i), the
    eigenvalues of the symmetric PSD matrix sigma1^1/2 sigma2 sigma1^1/2 (similar to
    sigma1 sigma2): two symmetric eigendecompositions, exact for singular covariances,
    and much faster than `sqrtm` at 2048 dimensions (which takes a minute or more
    on 2 CPU cores when the product is singular and `sqrtm` goes complex). Rounding
    makes tiny negative eigenvalues, which are set to 0; an eigenvalue below
    -1e-6 x the largest magnitude raises `ValueError` (the input is not PSD). The two
    methods agree to rounding error on PSD inputs; `eps` is unused here.

    Args:
      mu1, mu2: mean vectors of shape `(D,)`.
      sigma1, sigma2: covariance matrices of shape `(D, D)` (symmetric PSD).
      eps: the diagonal offset used by "sqrtm" when the product is singular.
      method: "sqrtm" (TTUR reference) or "eigh".

    Returns:
      The squared Fréchet distance as a Python float (>= 0 up to rounding).

    Raises:
      ValueError: on mismatched shapes, non-finite inputs, an unknown method, or
        inputs that are not PSD (a large imaginary component with "sqrtm").

    Reference:
      Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local
      Nash Equilibrium", NeurIPS 2017 (github.com/bioinf-jku/TTUR, `fid.py`);
      Dowson & Landau, "The Fréchet distance between multivariate normal
      distributions", J. Multivariate Analysis 1982.
    """
    mu1, sigma1 = _check_gaussian(mu1, sigma1, "1")
    mu2, sigma2 = _check_gaussian(mu2, sigma2, "2")
    if mu1.shape != mu2.shape:
        raise ValueError(
            f"mu1 and mu2 have different dimensions: {mu1.shape} vs {mu2.shape}"
        )
    if method == "sqrtm":
        tr_covmean = _trace_sqrt_product_sqrtm(sigma1, sigma2, eps)
    elif method == "eigh":
        tr_covmean = _trace_sqrt_product_eigh(sigma1, sigma2)
    else:
        raise ValueError(f"method must be 'sqrtm' or 'eigh'; got {method!r}")
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)


def activation_statistics(activations) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance (`np.cov`, N - 1) of a `(N, D)` activation table."""
    a = np.asarray(activations, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"activations must have shape (N, D); got shape {a.shape}")
    if a.shape[0] < 2:
        raise ValueError(
            f"at least 2 activation rows are needed for a covariance; got {a.shape[0]}"
        )
    return a.mean(axis=0), np.cov(a, rowvar=False)


def fid_from_activations(activations1, activations2, eps: float = 1e-6,
                         method: str = "sqrtm") -> float:
    """Fréchet distance between Gaussians fitted to two activation tables.

    Fits `mu_i = mean(a_i)`, `sigma_i = cov(a_i)` (unbiased, N - 1) and returns
    `frechet_distance(mu1, sigma1, mu2, sigma2, eps, method)`; see that function for
    the formula, the handling of singular products and the two methods.

    Args:
      activations1, activations2: arrays of shape `(N1, D)` and `(N2, D)`, e.g. the
        2048-d average-pool features of Inception-v3 (giving the FID), or the
        penultimate features of the dataset classifier.
      eps: diagonal offset for singular covariance products ("sqrtm").
      method: "sqrtm" (TTUR reference, default) or "eigh" (fast, symmetric).

    Returns:
      The squared Fréchet distance as a Python float.

    Reference:
      Heusel et al., NeurIPS 2017.
    """
    mu1, sigma1 = activation_statistics(activations1)
    mu2, sigma2 = activation_statistics(activations2)
    if mu1.shape != mu2.shape:
        raise ValueError(
            "activations1 and activations2 have different feature dimensions: "
            f"{mu1.shape[0]} vs {mu2.shape[0]}"
        )
    return frechet_distance(mu1, sigma1, mu2, sigma2, eps=eps, method=method)


class RunningStatistics:
    """Streaming mean and covariance of feature rows, in float64.

    Used to fit the FID Gaussian to 50,000 x 2048 features without keeping them all.
    Accumulates the sums of `x - shift` and of its outer products, where `shift` is the
    first batch's mean; shifting avoids the cancellation of the naive
    `E[x x^T] - mu mu^T` when features have a large mean.
    """

    def __init__(self):
        self.count = 0
        self._shift = None
        self._sum = None
        self._outer = None

    def update(self, batch) -> None:
        x = np.asarray(batch, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"feature batch must have shape (N, D); got {x.shape}")
        if x.shape[0] == 0:
            return
        if self._shift is None:
            self._shift = x.mean(axis=0)
            self._sum = np.zeros_like(self._shift)
            self._outer = np.zeros((x.shape[1], x.shape[1]))
        elif x.shape[1] != self._shift.shape[0]:
            raise ValueError(
                f"feature batch has {x.shape[1]} columns, earlier ones had "
                f"{self._shift.shape[0]}"
            )
        centered = x - self._shift
        self._sum += centered.sum(axis=0)
        self._outer += centered.T @ centered
        self.count += x.shape[0]

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """Returns `(mean, covariance)`, the covariance normalised by N - 1 like `np.cov`."""
        if self.count < 2:
            raise ValueError(
                f"at least 2 feature rows are needed for a covariance; got {self.count}"
            )
        mean_c = self._sum / self.count
        cov = (self._outer - self.count * np.outer(mean_c, mean_c)) / (self.count - 1)
        return self._shift + mean_c, cov
