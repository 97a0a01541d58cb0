"""Error rates of a visual Turing test and their bootstrapped confidence intervals.

Pure functions on arrays of judgments: `evaluator` and `image` (integer codes),
`is_real` (the truth) and `said_real` (the answer). A judgment is an error when the
answer is not the truth; the HYPE-infinity score (Zhou et al. 2019) is the error rate
over all judgments (50% = indistinguishable from real, for a balanced study).

The 95% interval is HYPE's bootstrap over evaluators *and* images: each replicate draws
`n_evaluators` evaluators and `n_images` images with replacement (`rng.integers`, the
evaluators first), and weights each judgment (e, i) by (times e was drawn) x (times i
was drawn); the replicate's error rate is the weighted mean of the errors. A replicate
that drew no judged (evaluator, image) pair is left out. The interval is the 2.5th and
97.5th percentiles of the replicates.
"""

from __future__ import annotations

import numpy as np

DEFAULT_REPLICATES = 2000


def errors(is_real, said_real) -> np.ndarray:
    return np.asarray(is_real, bool) != np.asarray(said_real, bool)


def error_rate(is_real, said_real) -> float:
    """Fraction of wrong answers (nan for no judgments)."""
    wrong = errors(is_real, said_real)
    return float(wrong.mean()) if wrong.size else float("nan")


def _codes(values) -> tuple[np.ndarray, int]:
    _, codes = np.unique(np.asarray(values), return_inverse=True)
    return codes.reshape(-1), int(codes.max()) + 1 if codes.size else 0


def bootstrap_error_rates(evaluator, image, is_real, said_real, *, replicates=DEFAULT_REPLICATES,
                          rng=None, resample_evaluators=True) -> np.ndarray:
    """The error rate of each bootstrap replicate (see the module docstring)."""
    rng = np.random.default_rng(0) if rng is None else rng
    wrong = errors(is_real, said_real).astype(np.float64)
    if wrong.size == 0:
        return np.full(replicates, np.nan)
    e_codes, n_e = _codes(evaluator)
    i_codes, n_i = _codes(image)
    if resample_evaluators:
        e_draws = rng.integers(0, n_e, size=(replicates, n_e))
    else:
        e_draws = np.tile(np.arange(n_e), (replicates, 1))
    i_draws = rng.integers(0, n_i, size=(replicates, n_i))
    e_counts = np.stack([np.bincount(row, minlength=n_e) for row in e_draws])
    i_counts = np.stack([np.bincount(row, minlength=n_i) for row in i_draws])
    weights = e_counts[:, e_codes].astype(np.float64) * i_counts[:, i_codes]
    total = weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = (weights @ wrong) / total
    rates[total == 0] = np.nan
    return rates


def confidence_interval(replicate_rates, level=0.95) -> list[float]:
    rates = np.asarray(replicate_rates, np.float64)
    rates = rates[~np.isnan(rates)]
    if rates.size == 0:
        return [float("nan"), float("nan")]
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(rates, [tail, 100 - tail])
    return [float(low), float(high)]


def summarize(evaluator, image, is_real, said_real, *, replicates=DEFAULT_REPLICATES,
              seed=0, resample_evaluators=True) -> dict:
    """`{"judgments", "error_rate", "error_rate_ci95"}` of a set of judgments."""
    rates = bootstrap_error_rates(
        evaluator, image, is_real, said_real, replicates=replicates,
        rng=np.random.default_rng(seed), resample_evaluators=resample_evaluators,
    )
    return {
        "judgments": int(np.asarray(is_real).size),
        "error_rate": error_rate(is_real, said_real),
        "error_rate_ci95": confidence_interval(rates),
    }


def analyze(evaluator, image, is_real, said_real, *, replicates=DEFAULT_REPLICATES, seed=0) -> dict:
    """Overall, real-only, generated-only and per-evaluator error rates with 95% CIs.

    `error_rate_real` is the fraction of real images judged generated;
    `error_rate_generated` the fraction of generated images judged real (the rate at
    which the generator fools people). Per evaluator, only images are resampled.
    """
    evaluator = np.asarray(evaluator)
    image = np.asarray(image)
    is_real = np.asarray(is_real, bool)
    said_real = np.asarray(said_real, bool)
    overall = summarize(evaluator, image, is_real, said_real, replicates=replicates, seed=seed)
    result = dict(overall)
    for name, mask in (("real", is_real), ("generated", ~is_real)):
        part = summarize(evaluator[mask], image[mask], is_real[mask], said_real[mask],
                         replicates=replicates, seed=seed)
        result[f"error_rate_{name}"] = part["error_rate"]
        result[f"error_rate_{name}_ci95"] = part["error_rate_ci95"]
        result[f"judgments_{name}"] = part["judgments"]
    per_evaluator = []
    for who in sorted(set(evaluator.tolist()), key=str):
        mask = evaluator == who
        part = summarize(evaluator[mask], image[mask], is_real[mask], said_real[mask],
                         replicates=replicates, seed=seed, resample_evaluators=False)
        part["evaluator"] = who
        part["error_rate_real"] = error_rate(is_real[mask & is_real], said_real[mask & is_real])
        part["error_rate_generated"] = error_rate(is_real[mask & ~is_real], said_real[mask & ~is_real])
        per_evaluator.append(part)
    result["evaluators"] = per_evaluator
    return result


def most_taken_for_real(image, is_real, said_real, top=16) -> list[tuple]:
    """Generated images by how often they were judged real: `(image, times judged real,
    times judged)`, most fooling first (ties: more judgments first, then image)."""
    image = np.asarray(image)
    is_real = np.asarray(is_real, bool)
    said_real = np.asarray(said_real, bool)
    rows = []
    for who in np.unique(image[~is_real]):
        mask = (image == who) & ~is_real
        rows.append((who.item(), int(said_real[mask].sum()), int(mask.sum())))
    rows.sort(key=lambda r: (-r[1] / r[2], -r[2], r[0]))
    return [row for row in rows if row[1] > 0][:top]
