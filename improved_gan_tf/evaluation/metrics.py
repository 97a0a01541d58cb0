"""Sample-quality metrics as pure NumPy functions: Inception Score and Fréchet distance.

(The Kernel Inception Distance is in `kid.py`, reference statistics files in
`statistics.py`.)

These functions take class probabilities or feature activations that some network has
already produced (`InceptionScorer`, the dataset classifier of `dataset_classifier`, or
any other), so they can be tested, and reused, without a network in the loop. All of
them compute in float64.
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

from improved_gan_tf.evaluation.errors import MetricInputError

__all__ = [
    "inception_score",
    "frechet_distance",
    "fid_from_activations",
    "activation_statistics",
    "RunningInceptionScore",
    "RunningStatistics",
]


def _check_probability_rows(p: np.ndarray, first_row: int = 0) -> None:
    """Refuses rows that are not probability vectors (`first_row`: the index of `p[0]`
    in the whole sample, for the message)."""
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise MetricInputError("probabilities must be finite and non-negative")
    row_sums = p.sum(axis=1)
    if not np.allclose(row_sums, 1.0, atol=1e-3):
        worst = int(np.argmax(np.abs(row_sums - 1.0)))
        raise MetricInputError(
            "each row of probabilities must sum to 1 (pass softmax outputs, not "
            f"logits); row {first_row + worst} sums to {row_sums[worst]:.6g}"
        )


def inception_score(probabilities, splits: int = 10,
                    shuffle_seed: int | None = None) -> tuple[float, float]:
    """Inception Score of a table of class probabilities, split by split.

    The rows are cut into `splits` consecutive parts, rows
    `[j * N // splits, (j + 1) * N // splits)` for part j (so every row is used, and
    parts differ in size by at most one row), as the authors' `inception_score/model.py`
    and torch-fidelity's `metric_isc.py` do. For each part,

        IS_j = exp( mean_{x in part j} KL( p(y|x) || p_j(y) ) ),
        KL(p || q) = sum_k p_k (log p_k - log q_k),

    where p_j(y) = mean_{x in part j} p(y|x) is that part's marginal. The result is the
    mean and the (population) standard deviation of the `IS_j`, which is what the paper
    reports as "score +- std" over 50,000 samples in 10 splits. Terms with p_k = 0
    contribute 0 (the limit of p log p).

    Two published conventions differ only in the order of the rows:

    * `shuffle_seed=None` (default): rows in the order given, as the authors' scorer
      (the paper's 11.24 +- .12 for the CIFAR-10 training set).
    * `shuffle_seed=2020`: rows permuted by `np.random.RandomState(2020).permutation(N)`
      before splitting, as torch-fidelity does by default (its 11.23678 +- 0.0951).
      Any other integer gives that permutation with another seed.

    The score lies in [1, K] for K classes: 1 when every sample gets the same
    prediction, K when each prediction is one-hot and the classes are used equally often.

    Args:
      probabilities: array-like of shape `(N, K)`, rows are probability vectors
        (non-negative, summing to 1 up to float error), e.g. a softmax output.
      splits: number of parts; each part needs at least 2 rows (`N >= 2 * splits`),
        since a part of one row always scores exactly 1.
      shuffle_seed: `None`, or the `RandomState` seed of the row permutation.

    Returns:
      `(mean, std)` of the per-split scores, as Python floats.

    Raises:
      MetricInputError: (a `ValueError`) if `probabilities` is not 2-D, has negative
        or non-finite entries, rows that do not sum to 1 (tolerance 1e-3), or fewer
        than 2 rows per split; or if `splits` is not a positive integer.

    Examples:

    >>> import numpy as np
    >>> inception_score(np.tile(np.eye(4), (5, 1)), splits=5)
    (4.0, 0.0)

    Reference:
      Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016, section 4;
      the authors' released `inception_score/model.py` (github.com/openai/improved-gan);
      torch-fidelity's `metric_isc.py` (github.com/toshas/torch-fidelity).
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2:
        raise MetricInputError(
            f"probabilities must have shape (N, K); got shape {p.shape}"
        )
    n = p.shape[0]
    _check_splits(n, splits)
    _check_shuffle_seed(shuffle_seed)
    if p.shape[1] < 1:
        raise MetricInputError(f"probabilities has no columns; got shape {p.shape}")
    _check_probability_rows(p)
    if shuffle_seed is not None:
        p = p[np.random.RandomState(int(shuffle_seed)).permutation(n)]
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


def _check_splits(n, splits):
    if (isinstance(splits, bool) or not isinstance(splits, (int, np.integer))
            or splits < 1):
        raise MetricInputError(f"splits must be a positive integer; got {splits!r}")
    if n < 2 * splits:
        raise MetricInputError(
            f"probabilities has {n} rows, too few for splits={splits}: each split "
            f"needs at least 2 samples (N >= {2 * splits}); a split of one sample "
            "always scores 1"
        )


def _check_shuffle_seed(shuffle_seed):
    if shuffle_seed is not None and (
        isinstance(shuffle_seed, bool) or not isinstance(shuffle_seed, (int, np.integer))
    ):
        raise MetricInputError(f"shuffle_seed must be None or an integer; got {shuffle_seed!r}")


class RunningInceptionScore:
    """`inception_score` of `num_samples` rows given batch by batch, in O(splits x K) memory.

    Uses KL(p || q) = sum p log p - sum p log q and mean_x p = q within a split, so

        IS_j = exp( mean_{x in j} sum_k p_k log p_k  -  sum_k q_k log q_k ),

    which needs only each split's row count, sum of `p log p` and sum of `p`. The
    split of each row is known in advance from its index (rows
    `[j N // splits, (j + 1) N // splits)`, after the `RandomState(shuffle_seed)`
    permutation when one is given), so the result equals `inception_score` of all rows
    (to float64 rounding) in both conventions, without keeping them.

    Args:
      num_samples: the total number of rows that will be given (needed up front to
        place the split boundaries).
      splits: as in `inception_score` (`num_samples >= 2 * splits`).
      shuffle_seed: as in `inception_score`.

    Raises:
      MetricInputError: on bad `splits` or `shuffle_seed`, too few samples for the
        splits, a batch that is not probabilities, more rows than `num_samples`, or
        (in `result`) fewer.

    Examples:

    >>> import numpy as np
    >>> running = RunningInceptionScore(20, splits=5)
    >>> for batch in np.array_split(np.tile(np.eye(4), (5, 1)), 3):
    ...     running.update(batch)
    >>> running.result()
    (4.0, 0.0)
    """

    def __init__(self, num_samples: int, splits: int = 10, shuffle_seed: int | None = None):
        if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)):
            raise MetricInputError(f"num_samples must be an integer; got {num_samples!r}")
        _check_splits(int(num_samples), splits)
        _check_shuffle_seed(shuffle_seed)
        self.num_samples = int(num_samples)
        self.splits = int(splits)
        n = self.num_samples
        position = np.arange(n)
        if shuffle_seed is not None:
            # Row i of the input lands at position inverse[i] of the permuted table.
            permutation = np.random.RandomState(int(shuffle_seed)).permutation(n)
            position = np.empty(n, dtype=np.int64)
            position[permutation] = np.arange(n)
        bounds = np.array([j * n // self.splits for j in range(self.splits + 1)])
        self._split_of_row = np.searchsorted(bounds, position, side="right") - 1
        self.count = 0
        self._rows = np.zeros(self.splits)
        self._plogp = np.zeros(self.splits)
        self._marginal_sums = None

    def update(self, probabilities) -> None:
        """Adds the next rows (an `(n, K)` batch of probability vectors)."""
        p = np.asarray(probabilities, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] < 1:
            raise MetricInputError(f"probabilities must have shape (N, K); got shape {p.shape}")
        if len(p) == 0:
            return
        if self.count + len(p) > self.num_samples:
            raise MetricInputError(
                f"more than num_samples={self.num_samples} rows were given "
                f"({self.count} + {len(p)})"
            )
        _check_probability_rows(p, first_row=self.count)
        if self._marginal_sums is None:
            self._marginal_sums = np.zeros((self.splits, p.shape[1]))
        elif p.shape[1] != self._marginal_sums.shape[1]:
            raise MetricInputError(
                f"probabilities have {p.shape[1]} columns, earlier ones had "
                f"{self._marginal_sums.shape[1]}"
            )
        split = self._split_of_row[self.count:self.count + len(p)]
        with np.errstate(divide="ignore", invalid="ignore"):
            plogp = np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
        np.add.at(self._rows, split, 1.0)
        np.add.at(self._plogp, split, plogp)
        np.add.at(self._marginal_sums, split, p)
        self.count += len(p)

    def result(self) -> tuple[float, float]:
        """`(mean, std)` over the splits, as `inception_score` returns them."""
        if self.count != self.num_samples:
            raise MetricInputError(
                f"{self.count} rows were given, but num_samples={self.num_samples}"
            )
        q = self._marginal_sums / self._rows[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            qlogq = np.where(q > 0, q * np.log(q), 0.0).sum(axis=1)
        scores = np.exp(self._plogp / self._rows - qlogq)
        return float(scores.mean()), float(scores.std())


def _check_gaussian(mu, sigma, which: str):
    """`mu`, `sigma` as float64 arrays, refused unless they can be a Gaussian's."""
    try:
        mu = np.asarray(mu, dtype=np.float64)
        sigma = np.asarray(sigma, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise MetricInputError(f"mu{which} and sigma{which} must be numeric arrays: {err}") from err
    # TTUR accepts scalars for one-dimensional Gaussians (np.atleast_1d / _2d).
    mu = np.atleast_1d(mu)
    sigma = np.atleast_2d(sigma)
    if mu.ndim != 1:
        raise MetricInputError(f"mu{which} must be a vector; got shape {mu.shape}")
    if mu.shape[0] == 0:
        raise MetricInputError(f"mu{which} is empty (shape {mu.shape})")
    if sigma.shape != (mu.shape[0], mu.shape[0]):
        raise MetricInputError(
            f"sigma{which} must have shape {(mu.shape[0], mu.shape[0])} to match "
            f"mu{which}; got shape {sigma.shape}"
        )
    if not np.all(np.isfinite(mu)):
        raise MetricInputError(
            f"mu{which} has {int(np.sum(~np.isfinite(mu)))} non-finite entries"
        )
    if not np.all(np.isfinite(sigma)):
        raise MetricInputError(
            f"sigma{which} has {int(np.sum(~np.isfinite(sigma)))} non-finite entries"
        )
    asymmetry = float(np.max(np.abs(sigma - sigma.T)))
    scale = float(np.max(np.abs(sigma)))
    # Rounding in a float32 or BLAS-computed covariance stays far below 1e-5 relative.
    if asymmetry > 1e-5 * scale:
        raise MetricInputError(
            f"sigma{which} is not symmetric (largest |sigma - sigma^T| is "
            f"{asymmetry:.3g}, largest |sigma| {scale:.3g}); is it a covariance matrix?"
        )
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
            raise MetricInputError(
                "frechet_distance: the square root of the covariance product is not "
                f"finite even after adding eps={eps} to the diagonals"
            )
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0.0, atol=1e-3):
            largest = float(np.max(np.abs(covmean.imag)))
            raise MetricInputError(
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
        raise MetricInputError(
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
      MetricInputError: (a `ValueError`) on empty, non-finite, asymmetric (beyond
        1e-5 of the largest entry) or mismatched inputs, an unknown method, or inputs
        that are not PSD (a large imaginary component with "sqrtm").

    Reference:
      Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local
      Nash Equilibrium", NeurIPS 2017 (github.com/bioinf-jku/TTUR, `fid.py`);
      Dowson & Landau, "The Fréchet distance between multivariate normal
      distributions", J. Multivariate Analysis 1982.
    """
    mu1, sigma1 = _check_gaussian(mu1, sigma1, "1")
    mu2, sigma2 = _check_gaussian(mu2, sigma2, "2")
    if mu1.shape != mu2.shape:
        raise MetricInputError(
            f"mu1 and mu2 have different dimensions: {mu1.shape} vs {mu2.shape}"
        )
    if method == "sqrtm":
        tr_covmean = _trace_sqrt_product_sqrtm(sigma1, sigma2, eps)
    elif method == "eigh":
        tr_covmean = _trace_sqrt_product_eigh(sigma1, sigma2)
    else:
        raise MetricInputError(f"method must be 'sqrtm' or 'eigh'; got {method!r}")
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)


def activation_statistics(activations) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance of a `(N, D)` activation table, as TTUR fits them.

    `mu = mean(a, axis=0)` and `sigma = np.cov(a, rowvar=False)` (normalised by N - 1),
    both float64.

    Args:
      activations: array-like of shape `(N, D)` with `N >= 2`, finite.

    Returns:
      `(mu, sigma)` of shapes `(D,)` and `(D, D)`.

    Raises:
      MetricInputError: if the table is not 2-D, has no columns, fewer than 2 rows or
        non-finite entries.
    """
    a = np.asarray(activations, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] == 0:
        raise MetricInputError(f"activations must have shape (N, D), D >= 1; got shape {a.shape}")
    if a.shape[0] < 2:
        raise MetricInputError(
            f"at least 2 activation rows are needed for a covariance; got {a.shape[0]}"
        )
    if not np.all(np.isfinite(a)):
        raise MetricInputError(
            f"activations have {int(np.sum(~np.isfinite(a)))} non-finite entries"
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
        raise MetricInputError(
            "activations1 and activations2 have different feature dimensions: "
            f"{mu1.shape[0]} vs {mu2.shape[0]}"
        )
    return frechet_distance(mu1, sigma1, mu2, sigma2, eps=eps, method=method)


class RunningStatistics:
    """Streaming mean and covariance of feature rows, in float64.

    Fits the FID Gaussian to 50,000 x 2048 features batch by batch, holding only a
    `(D, D)` float64 sum (32 MB for D = 2048) instead of the features. Accumulates the
    sums of `x - shift` and of its outer products, where `shift` is the first batch's
    mean; shifting avoids the cancellation of the naive `E[x x^T] - mu mu^T` when
    features have a large mean. The result equals `activation_statistics` of all rows
    (`np.cov`, N - 1) up to float64 rounding.

    Examples:

    >>> import numpy as np
    >>> stats = RunningStatistics()
    >>> for batch in np.array_split(np.arange(12.0).reshape(6, 2), 3):
    ...     stats.update(batch)
    >>> mu, sigma = stats.result()
    >>> mu.tolist(), stats.count
    ([5.0, 6.0], 6)
    """

    def __init__(self):
        self.count = 0
        self._shift = None
        self._sum = None
        self._outer = None

    def update(self, batch) -> None:
        """Adds the rows of a `(n, D)` batch (an empty batch changes nothing).

        Raises:
          MetricInputError: if the batch is not 2-D, has non-finite entries, or a
            different number of columns than earlier batches.
        """
        x = np.asarray(batch, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] == 0:
            raise MetricInputError(f"feature batch must have shape (N, D), D >= 1; got {x.shape}")
        if x.shape[0] == 0:
            return
        if not np.all(np.isfinite(x)):
            raise MetricInputError(
                f"feature batch has {int(np.sum(~np.isfinite(x)))} non-finite entries "
                f"(after {self.count} rows)"
            )
        if self._shift is None:
            self._shift = x.mean(axis=0)
            self._sum = np.zeros_like(self._shift)
            self._outer = np.zeros((x.shape[1], x.shape[1]))
        elif x.shape[1] != self._shift.shape[0]:
            raise MetricInputError(
                f"feature batch has {x.shape[1]} columns, earlier ones had "
                f"{self._shift.shape[0]}"
            )
        centered = x - self._shift
        self._sum += centered.sum(axis=0)
        self._outer += centered.T @ centered
        self.count += x.shape[0]

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """Returns `(mean, covariance)`, the covariance normalised by N - 1 like `np.cov`.

        Raises:
          MetricInputError: if fewer than 2 rows were added.
        """
        if self.count < 2:
            raise MetricInputError(
                f"at least 2 feature rows are needed for a covariance; got {self.count}"
            )
        mean_c = self._sum / self.count
        cov = (self._outer - self.count * np.outer(mean_c, mean_c)) / (self.count - 1)
        # Exactly symmetric, like np.cov, so frechet_distance's symmetry check is moot.
        cov = (cov + cov.T) / 2.0
        return self._shift + mean_c, cov
