r"""Finite-size logistic regression: one exact replicate of the unregularised MLE and its likelihood-ratio tests.

Data (the conventions of ``overparam.theory.logistic``): X (n x p) with iid N(0, 1) entries, beta* = e_1 (by
rotation invariance the same law as any unit vector), labels from max-margin's label model (logistic:beta,
purenoise for beta = 0) drawn by ``overparam.simulate.max_margin.draw_labels``. With A = diag(y) X the MLE is

.. math::

    b = \operatorname{argmin}_b f(b), \qquad f(b) = \sum_i \log\left(1 + \exp(-(A b)_i)\right)

computed by damped Newton from b = 0 (Cholesky of the Hessian H = A^T diag(s (1 - s)) A, s = sigmoid(A b),
Armijo backtracking on f). Certificate: H positive definite, the Newton decrement g^T H^-1 g (~ 2 (f - min f))
below 1e-10 max(1, f) followed by one full Newton step (quadratic convergence: the gradient is then at rounding
level), and the relative gradient ||A^T u||/(sum(u) max_i ||a_i||), u = sigmoid(-A b) > 0, below 1e-6 (a
Gordan certificate that the sample is not separable: on a separable sample f and g -> 0 along a diverging b
while this ratio stays near the max-margin margin). Without a certificate (or when ||b|| exceeds 1e6, or
Newton stalls) the sample is tested for separability through the origin by max-margin's LP (``separable_lp``):
separable means there is no MLE (``mle_exists`` = 0, the other metrics NaN); a non-separable sample without a
certified minimiser raises ConvergenceError.

Metrics of one replicate with an MLE (beta = ``model.beta``): ``bias_inflation`` = b_1/beta (NaN for beta = 0);
``sigma_perp2`` = sum_{j>1} b_j^2 (beta = 0: ||b||^2); ``cos_angle`` = b_1/||b||; ``test_error`` = the exact
conditional error P(y_new != sign <x_new, b>) of a fresh draw (label noise included), a function of cos_angle
(max-margin's ``conditional_test_error``); ``lrt_scale`` = the mean over the last k = min(10, p - 1) coordinates
(all null) of 2 Lambda_j = 2 (min f without feature j - min f), each refit to a decrement <= 1e-14 max(1, f)
(iterations preconditioned by the MLE's inverse Hessian, Schur-reduced, with Armijo steps, from the MLE
without feature j; Newton from 0 if that fails, as on nearly separable samples); ``mle_exists`` = 1.
Diagnostics: ``newton_iterations`` (of the MLE) and ``grad_norm``, its relative gradient (the certificate).
``separability_threshold`` is a property of the limit and is not simulated.
"""
from __future__ import annotations

import numpy as np
from scipy import linalg, special

from overparam.errors import ConvergenceError
from overparam.models import LogisticMLE

from .max_margin import conditional_test_error, draw_labels, separable_lp

NULL_COORDINATES = 10  # likelihood-ratio tests per replicate: the last min(10, p - 1) coordinates
DIVERGED = 1e6  # ||b|| beyond this: test separability
CERTIFICATE = 1e-20  # Newton decrement g^T H^-1 g <= CERTIFICATE max(1, f) (or a last full step from 1e-10)
REFIT = 1e-14  # the same for refits with a fixed preconditioner (linear convergence)
GORDAN = 1e-6  # relative gradient (gordan_residual) of a certified MLE
_MAXIT = 200


def objective(A: np.ndarray, b: np.ndarray) -> float:
    """f(b) = sum_i log(1 + exp(-(A b)_i)), the negative log-likelihood."""
    return float(np.sum(np.logaddexp(0.0, -(A @ b))))


def _gradient(A: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(g, w): gradient -A^T sigmoid(-A b) and Hessian weights sigmoid(A b) sigmoid(-A b)."""
    m = A @ b
    s = special.expit(-m)
    return -(A.T @ s), s * special.expit(m)


def fit(A: np.ndarray, b: np.ndarray | None = None, hinv: np.ndarray | None = None) -> tuple[np.ndarray, int] | None:
    """Certified minimiser of f from b (default 0): (b, iterations), or None if ||b|| passed DIVERGED or the
    iteration stalled (the caller tests separability). Directions: Newton (Cholesky of the Hessian), or
    -hinv g with a fixed positive-definite ``hinv`` (a nearby inverse Hessian); Armijo backtracking."""
    b = np.zeros(A.shape[1]) if b is None else b.astype(float)
    f = objective(A, b)
    for it in range(_MAXIT):
        g, w = _gradient(A, b)
        if hinv is None:
            try:
                chol = linalg.cho_factor((A.T * w) @ A, check_finite=False)
            except linalg.LinAlgError:
                return None
            step = -linalg.cho_solve(chol, g, check_finite=False)
        else:
            step = -hinv @ g
        decrement = -float(g @ step)
        if decrement <= (CERTIFICATE if hinv is None else REFIT) * max(1.0, f):
            return b, it
        if hinv is None and decrement <= 1e-10 * max(1.0, f):  # quadratic regime: the full step lands at
            return b + step, it + 1                            # rounding level (Armijo cannot resolve it)
        t = 1.0
        while True:
            trial = b + t * step
            ft = objective(A, trial)
            if ft <= f - 0.25 * t * decrement:
                break
            t *= 0.5
            if t < 1e-12:  # no decrease: at the rounding floor of f, or stalled
                return (b, it) if decrement <= 1e-10 * max(1.0, f) else None
        b, f = trial, ft
        if np.linalg.norm(b) > DIVERGED:
            return None
    return None


def gordan_residual(A: np.ndarray, b: np.ndarray) -> float:
    """||A^T u|| / (sum(u) max_i ||a_i||) with u = sigmoid(-A b) > 0: the gradient relative to its scale.
    Near 0 it certifies that no theta has A theta > 0 (Gordan: a positive u with A^T u = 0), i.e. that b is a
    minimiser, not a point far out on a separable sample (where f and g -> 0 but this ratio stays ~ the
    max-margin margin over max_i ||a_i||)."""
    u = special.expit(-(A @ b))
    return float(np.linalg.norm(A.T @ u) / (np.sum(u) * np.max(np.linalg.norm(A, axis=1))))


def _drop_inverse(hinv: np.ndarray, j: int) -> np.ndarray:
    """Inverse of H without row and column j from hinv = H^-1 (Schur complement)."""
    keep = np.arange(len(hinv)) != j
    col = hinv[keep, j]
    return hinv[np.ix_(keep, keep)] - np.outer(col, col) / hinv[j, j]


def lrt_statistics(A: np.ndarray, b: np.ndarray, coordinates: np.ndarray) -> np.ndarray:
    """2 Lambda_j = 2 (min f without feature j - f(b)) for each j in ``coordinates`` (b the certified MLE)."""
    f = objective(A, b)
    _, w = _gradient(A, b)
    hinv = linalg.inv((A.T * w) @ A, check_finite=False)
    out = np.empty(len(coordinates))
    for i, j in enumerate(coordinates):
        keep = np.arange(A.shape[1]) != j
        sol = fit(A[:, keep], b[keep], _drop_inverse(hinv, j))
        if sol is None:  # nearly separable samples (huge b): Newton from 0 instead
            sol = fit(A[:, keep])
        if sol is None:
            raise ConvergenceError(f"logistic MLE refit without feature {j}", np.nan, _MAXIT)
        out[i] = 2 * (objective(A[:, keep], sol[0]) - f)
    return out


_METRICS = ("bias_inflation", "sigma_perp2", "lrt_scale", "test_error", "cos_angle", "mle_exists",
            "newton_iterations", "grad_norm")


def replicate(model: LogisticMLE, sizes: dict[str, int], rng: np.random.Generator) -> dict[str, float]:
    """One replicate at a single point (see the module docstring)."""
    n, p = sizes["n"], sizes["p"]
    beta = float(model.beta)
    labels = LogisticMLE.labels(beta)
    X = rng.standard_normal((n, p))
    A = draw_labels(labels, X[:, 0], rng)[:, None] * X
    sol = fit(A)
    residual = gordan_residual(A, sol[0]) if sol is not None else np.inf
    if residual > GORDAN:
        if separable_lp(A):
            return {k: 0.0 if k == "mle_exists" else np.nan for k in _METRICS}
        raise ConvergenceError("logistic MLE (Newton) on a non-separable sample", residual, _MAXIT)
    b, iterations = sol
    norm2 = float(b @ b)
    cos = float(b[0] / np.sqrt(norm2))
    null = np.arange(p - min(NULL_COORDINATES, p - 1), p)
    return {"bias_inflation": b[0] / beta if beta > 0 else np.nan,  # keys in _METRICS order (the store's)
            "sigma_perp2": float(b[1:] @ b[1:]) if beta > 0 else norm2,
            "lrt_scale": float(np.mean(lrt_statistics(A, b, null))),
            "test_error": conditional_test_error(labels, cos), "cos_angle": cos, "mle_exists": 1.0,
            "newton_iterations": float(iterations), "grad_norm": residual}


__all__ = ["replicate", "fit", "objective", "gordan_residual", "lrt_statistics", "NULL_COORDINATES"]
