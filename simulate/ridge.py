r"""Ridge / ridgeless regression at finite (n, p): one replicate with the exact estimator.

Design: X = Z diag(sqrt(s)), Z n x p iid N(0, 1), s = ``model.spectrum.for_dimension(p)``. Sigma is taken
diagonal without loss of generality: the signal prior is isotropic (E beta beta^T = (r2/p) I), so rotating
the features to the eigenbasis of Sigma changes neither the law of the data nor any metric.
Estimator (same conventions as the theory): beta_hat = (X^T X/n + lam I)^{-1} X^T y/n, lam = 0 being the
minimum-norm least-squares solution pinv(X) y.

Default mode ``"rb"`` (Rao-Blackwellised): one eigendecomposition of the smaller Gram matrix serves the
whole lam grid, and the metrics are the exact expectations over beta and eps given X. With e_j the r
nonzero eigenvalues of X^T X/n (e_j <= max(e) max(n, p) eps counts as 0), v_j their eigenvectors,
f_j = e_j/(e_j + lam) (1 at lam = 0) and w_j = v_j^T Sigma v_j (:math:`\lambda` = ``lam``,
:math:`r_2` = ``r2``, :math:`\sigma^2` = ``sigma2``):

.. math::

    \mathrm{bias} = \frac{r_2}{p} \left[ \mathrm{tr}\,\Sigma - \sum_j w_j + \sum_j (1 - f_j)^2 w_j \right]

    \mathrm{variance} = \frac{\sigma^2}{n} \sum_j \frac{w_j e_j}{(e_j + \lambda)^2}

    \mathrm{excess\_risk} = \mathrm{bias} + \mathrm{variance}

    \mathrm{norm2} = \frac{r_2}{p} \sum_j f_j^2 + \frac{\sigma^2}{n} \sum_j \frac{e_j}{(e_j + \lambda)^2}

    \mathrm{train\_error} = \frac{r_2}{p} \sum_j (1 - f_j)^2 e_j
    + \frac{\sigma^2}{n} \left[ n - r + \sum_j (1 - f_j)^2 \right]

(tr Sigma - sum_j w_j = 0 exactly when r = p and is set so). These have the same means as the metrics of
one realised (beta, eps) and a much smaller spread. Mode ``"plain"`` is the check: one beta ~ N(0, (r2/p) I)
and one eps per X, the ridge solved for each lam (lstsq for lam = 0), and the realised
excess_risk = (beta_hat - beta)^T Sigma (beta_hat - beta), bias (eps = 0), variance (beta = 0),
train_error = ||y - X beta_hat||^2/n and norm2 = ||beta_hat||^2.

No numba: the cost is the Gram product and its eigendecomposition (LAPACK/BLAS); the per-lam work is a
(lam grid x r) array expression.
"""
from __future__ import annotations

import numpy as np
from scipy import linalg

from overparam.models import Ridge

METRICS = Ridge.METRICS


def design(model: Ridge, sizes: dict[str, int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(X, s): a Gaussian design with diagonal covariance diag(s)."""
    n, p = sizes["n"], sizes["p"]
    s = model.spectrum.for_dimension(p)
    return rng.standard_normal((n, p)) * np.sqrt(s), s


def gram_spectrum(X: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(e, w): nonzero eigenvalues e_j of X^T X/n and w_j = v_j^T diag(s) v_j, from the smaller Gram matrix."""
    n, p = X.shape
    isotropic = np.all(s == s[0])
    if p <= n:
        e, V = linalg.eigh(X.T @ X / n, driver="evr") if not isotropic else (linalg.eigvalsh(X.T @ X / n), None)
        w = np.full(p, s[0]) if isotropic else (V * V).T @ s
    else:
        G = X @ X.T / n
        if isotropic:
            e, w = linalg.eigvalsh(G), np.full(n, s[0])
        else:
            e, U = linalg.eigh(G, driver="evr")
            Y = U.T @ X  # rows: sqrt(n e_j) v_j^T
            with np.errstate(divide="ignore", invalid="ignore"):
                w = (Y * Y) @ s / (n * e)
    keep = e > e.max() * max(n, p) * np.finfo(float).eps
    return e[keep], w[keep]


def rb_metrics(e: np.ndarray, w: np.ndarray, s: np.ndarray, n: int, lam: np.ndarray, r2: float,
               sigma2: float) -> dict[str, np.ndarray]:
    """Expectations over beta and eps given X (module docstring), for every lam of the 1-D array ``lam``."""
    lam = np.asarray(lam, dtype=float)[:, None]
    den = e + lam
    f = np.where(lam > 0, e / den, 1.0)
    g = np.where(lam > 0, lam / den, 0.0)  # 1 - f without cancellation
    return filter_metrics(e, w, s, n, f, g, r2, sigma2)


def filter_metrics(e: np.ndarray, w: np.ndarray, s: np.ndarray, n: int, f: np.ndarray, phi: np.ndarray,
                   r2: float, sigma2: float) -> dict[str, np.ndarray]:
    """The module docstring's expectations for any spectral-filter estimator b = Sh^+ f(Sh) X^T y/n: f and
    phi = 1 - f (rows: grid points, columns: the eigenvalues e; phi computed without cancellation)."""
    p, r = s.size, e.size
    missing = 0.0 if r == p else s.sum() - w.sum()
    phi2 = phi * phi
    bias = r2 / p * (missing + phi2 @ w)
    f2_over_e = f * f / e
    variance = sigma2 / n * (f2_over_e @ w)
    norm2 = r2 / p * np.sum(f * f, axis=1) + sigma2 / n * np.sum(f2_over_e, axis=1)
    train = r2 / p * (phi2 @ e) + sigma2 / n * (n - r + np.sum(phi2, axis=1))
    return {"excess_risk": bias + variance, "bias": bias, "variance": variance, "train_error": train,
            "norm2": norm2}


def ridge_solve(X: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """beta_hat = (X^T X/n + lam I)^{-1} X^T y/n (dual form when p > n); lam = 0: pinv(X) y via lstsq."""
    n, p = X.shape
    if lam == 0:
        return np.linalg.lstsq(X, y, rcond=None)[0]
    if p <= n:
        return np.linalg.solve(X.T @ X / n + lam * np.eye(p), X.T @ y / n)
    return X.T @ np.linalg.solve(X @ X.T / n + lam * np.eye(n), y / n)


def plain_metrics(X: np.ndarray, s: np.ndarray, lam: np.ndarray, beta: np.ndarray,
                  eps: np.ndarray) -> dict[str, np.ndarray]:
    """Realised metrics of one (beta, eps) for every lam (actual ridge solves)."""
    n = X.shape[0]
    out = {m: [] for m in METRICS}
    for la in np.atleast_1d(lam):
        b_signal, b_noise = ridge_solve(X, X @ beta, la), ridge_solve(X, eps, la)
        err = b_signal + b_noise - beta
        resid = X @ beta + eps - X @ (b_signal + b_noise)
        out["excess_risk"].append(err @ (s * err))
        out["bias"].append((b_signal - beta) @ (s * (b_signal - beta)))
        out["variance"].append(b_noise @ (s * b_noise))
        out["train_error"].append(resid @ resid / n)
        out["norm2"].append((b_signal + b_noise) @ (b_signal + b_noise))
    return {m: np.array(v) for m, v in out.items()}


def replicate(model: Ridge, sizes: dict[str, int], rng: np.random.Generator, mode: str = "rb") -> dict[str, np.ndarray]:
    """One replicate at sizes {n, p}: metrics for every lam of ``model.lam`` (the shared parameter, a 1-D
    array or scalar) from one draw of X; ``mode`` is ``"rb"`` (default) or ``"plain"``."""
    X, s = design(model, sizes, rng)
    lam = np.atleast_1d(np.asarray(model.lam, dtype=float))
    r2, sigma2 = float(model.r2), float(model.sigma2)
    if mode == "rb":
        e, w = gram_spectrum(X, s)
        return rb_metrics(e, w, s, X.shape[0], lam, r2, sigma2)
    if mode == "plain":
        beta = rng.standard_normal(X.shape[1]) * np.sqrt(r2 / X.shape[1])
        eps = rng.standard_normal(X.shape[0]) * np.sqrt(sigma2)
        return plain_metrics(X, s, lam, beta, eps)
    raise ValueError(f"mode = {mode!r} is invalid: must be 'rb' or 'plain'")


__all__ = ["replicate", "design", "gram_spectrum", "rb_metrics", "filter_metrics", "plain_metrics", "ridge_solve",
           "METRICS"]
