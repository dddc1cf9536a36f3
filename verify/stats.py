"""Comparison statistics of ``overparam check``: Student-t z-scores, Holm's step-down rule with the decision
threshold of every comparison, the finite-size extrapolation a + b r(n), and detection limits.

A comparison of an estimate m (standard error se, ``dof`` degrees of freedom) with an expected value t has
z = (m - t)/se and two-sided p-value p = 2 P(T_dof > |z|). Holm's step-down over m comparisons sorts the
p-values p_(1) <= ... <= p_(m) and rejects while p_(j) <= alpha/(m - j + 1); it stops at the first rank s
that is not rejected, and accepts that one and every later one. The family-wise false-alarm rate is at most
alpha whatever the dependence between the comparisons.

Decision threshold of a row (in |z| units, so that a row fails exactly when |z| > threshold): a rejected row
at rank j has threshold t_dof^{-1}(1 - alpha/(2 (m - j + 1))); every accepted row has the threshold of the
stop rank s, t_dof^{-1}(1 - alpha/(2 (m - s + 1))) (its p-value exceeds alpha/(m - s + 1)).

Detection limit of a row: the smallest relative error e of the expected value t that the row flags with
probability ``POWER`` = 0.8 at the family-wise level, i.e. at the first Holm step (level alpha/m):
e = delta se/|t|, where delta solves P(|T'_{dof, delta}| > t_dof^{-1}(1 - alpha/(2m))) = 0.8 for the
non-central t distribution T', computed as delta = c + z_0.8 sqrt(1 + c^2/(2 dof)) with
c = t_dof^{-1}(1 - alpha/(2m)) and z_0.8 = 0.8416 (the normal approximation of the non-central t).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

#: Family-wise false-alarm rate of ``overparam check``.
ALPHA = 0.01
#: Relative floor of a standard error, relative to the simulated mean (deterministic metrics: se ~ 1e-17).
SE_FLOOR = 1e-12
#: Probability with which a detection limit is flagged.
POWER = 0.8
#: Finite-size rates r(n) of the extrapolation a + b r(n) (registry.RATES).
RATE_FUNCTIONS = {
    "1/n": lambda n: 1.0 / n,
    "1/sqrt(n)": lambda n: 1.0 / np.sqrt(n),
    "n^-2/3": lambda n: n ** (-2.0 / 3.0),
    "1/log(n)": lambda n: 1.0 / np.log(n),
}


def _t():
    from scipy import stats as st  # scipy.stats is slow to import: only when a check runs
    return st.t


def p_values(z: Sequence[float], dof: Sequence[float]) -> np.ndarray:
    """Two-sided Student-t p-values of |z| with ``dof`` degrees of freedom (inf = normal)."""
    return 2 * _t().sf(np.abs(np.asarray(z, float)), np.asarray(dof, float))


def critical(level: Sequence[float] | float, dof: Sequence[float] | float) -> np.ndarray:
    """|z| exceeded with probability ``level`` (two-sided) by a Student-t variable with ``dof``."""
    return _t().isf(np.asarray(level, float) / 2, np.asarray(dof, float))


def holm(p: Sequence[float], alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down test of p-values. Returns (reject, level): ``level`` is the p-value line each
    comparison was held to (its own rank's alpha/(m - j + 1) if rejected, the stop rank's otherwise)."""
    p = np.asarray(p, dtype=float)
    m = p.size
    order = np.argsort(p, kind="stable")
    rank_level = alpha / (m - np.arange(m))
    passed = np.logical_and.accumulate(p[order] <= rank_level)
    stop = int(passed.sum())  # 0-based rank of the first acceptance (m if all rejected)
    level = np.empty(m)
    reject = np.zeros(m, dtype=bool)
    reject[order] = passed
    level[order] = np.where(passed, rank_level, rank_level[min(stop, m - 1)])
    return reject, level


def rate_values(rate: str, ns: Sequence[int]) -> np.ndarray:
    return RATE_FUNCTIONS[rate](np.asarray(ns, dtype=float))


def _wls(x: np.ndarray, se: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares of mean = a + b x (weights 1/se^2): (coefficient rows giving a and b as
    linear combinations of the means, their covariance)."""
    w = 1.0 / np.maximum(se, 1e-300) ** 2
    A = np.column_stack([np.ones_like(x), x])
    cov = np.linalg.inv(A.T @ (A * w[:, None]))
    return cov @ (A.T * w), cov


def fit_rate(ns: Sequence[int], means: Sequence[float], ses: Sequence[float], dofs: Sequence[float],
             rate: str = "1/n") -> tuple[float, float, float, float]:
    """Weighted least-squares fit mean(n) = a + b r(n) (weights 1/se^2) over >= 2 sizes.

    The intercept is a linear combination a = sum_k c_k mean_k of independent means, so se_a^2 =
    sum_k c_k^2 se_k^2, with Welch-Satterthwaite degrees of freedom
    dof = se_a^4 / sum_k (c_k^2 se_k^2)^2/dof_k. Returns (a, se_a, b, dof)."""
    se = np.asarray(ses, dtype=float)
    coef, _ = _wls(rate_values(rate, ns), se)
    a, b = coef @ np.asarray(means, dtype=float)
    parts = coef[0] ** 2 * se**2
    var_a = float(parts.sum())
    denominator = float(np.sum(parts**2 / np.asarray(dofs, dtype=float)))
    dof = var_a**2 / denominator if denominator > 0 else math.inf
    return float(a), math.sqrt(var_a), float(b), dof


def fit_inverse_n(ns, means, ses) -> tuple[float, float, float, float]:
    """Weighted least-squares fit mean(n) = a + b/n (weights 1/se^2). Returns (a, se_a, b, se_b)."""
    coef, cov = _wls(rate_values("1/n", ns), np.asarray(ses, dtype=float))
    a, b = coef @ np.asarray(means, dtype=float)
    return float(a), float(np.sqrt(cov[0, 0])), float(b), float(np.sqrt(cov[1, 1]))


def detectable_shift(dof: float, m: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """delta (in standard errors) flagged with probability ``power`` by a two-sided t test at level alpha/m:
    delta = c + z_power sqrt(1 + c^2/(2 dof)), c = t_dof^{-1}(1 - alpha/(2m)) (the normal approximation of
    the non-central t, P(T' > c) ~ Phi((delta - c)/sqrt(1 + c^2/(2 dof))); the far tail is neglected)."""
    from scipy.special import ndtri
    c = float(critical(alpha / m, dof))
    return c + float(ndtri(power)) * math.sqrt(1 + c * c / (2 * dof))


def detection_limit(se: float, expected: float, dof: float, m: int, alpha: float = ALPHA) -> float:
    """Smallest relative error of ``expected`` flagged with probability POWER (module docstring)."""
    if not (math.isfinite(se) and math.isfinite(expected)) or expected == 0:
        return math.inf
    return detectable_shift(dof, m, alpha) * se / abs(expected)
