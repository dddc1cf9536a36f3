"""Comparison statistics: z-scores with a documented finite-size allowance, Holm's step-down rule over
many comparisons, and the finite-size extrapolation a + b/n.

A comparison of a simulated mean m (standard error se) with an expected value t passes when

    |m - t| <= allowance + z_crit * se,

where ``allowance`` is the documented finite-size correction of that family (0 when none is known) and
z_crit is Holm's critical value for the comparison's rank at family-wise error rate ``alpha``: with m
comparisons sorted by their p-values p_(1) <= ... <= p_(m), p_(j) = 2 P(Z > (|m - t| - allowance)_+ / se),
Holm rejects while p_(j) <= alpha/(m - j + 1). This controls the chance of any false alarm at alpha.
"""
from __future__ import annotations

import numpy as np
from scipy import stats as _st

#: Family-wise false-alarm rate of ``overparam check``.
ALPHA = 0.01
#: Relative floor of a standard error (deterministic metrics have se ~ 1e-17).
SE_FLOOR = 1e-12


def effective_se(se: np.ndarray, expected: np.ndarray) -> np.ndarray:
    se = np.nan_to_num(np.asarray(se, dtype=float), nan=0.0)
    return np.maximum(se, SE_FLOOR * np.maximum(np.abs(expected), 1.0))


def excess_z(sim, se, expected, allowance) -> np.ndarray:
    """(|sim - expected| - allowance)_+ / se: the z-score left after the finite-size allowance."""
    dev = np.abs(np.asarray(sim, float) - np.asarray(expected, float)) - np.asarray(allowance, float)
    return np.maximum(dev, 0.0) / effective_se(se, expected)


def holm(z: np.ndarray, alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down test of two-sided z-scores. Returns (reject, z_crit) where z_crit is the
    critical |z| the comparison was held to (the threshold at its rank)."""
    z = np.asarray(z, dtype=float)
    m = z.size
    order = np.argsort(-z, kind="stable")
    z_crit = np.empty(m)
    z_crit[order] = _st.norm.isf(alpha / (2 * (m - np.arange(m))))
    reject = np.zeros(m, dtype=bool)
    reject[order] = np.logical_and.accumulate(z[order] > z_crit[order])
    return reject, z_crit


def fit_inverse_n(ns, means, ses) -> tuple[float, float, float, float]:
    """Weighted least-squares fit mean(n) = a + b/n (weights 1/se^2).

    Returns (a, se_a, b, se_b); with only two sizes the fit is exact and the errors propagate."""
    x = 1.0 / np.asarray(ns, dtype=float)
    y = np.asarray(means, dtype=float)
    w = 1.0 / np.maximum(np.asarray(ses, dtype=float), 1e-300) ** 2
    A = np.column_stack([np.ones_like(x), x])
    cov = np.linalg.inv(A.T @ (A * w[:, None]))
    a, b = cov @ (A.T @ (w * y))
    return float(a), float(np.sqrt(cov[0, 0])), float(b), float(np.sqrt(cov[1, 1]))
