r"""Random-features ridge regression at finite d: one exact replicate.

Draw (all from the given generator): inputs X (n x d) and weights Theta (N x d) uniform on the sphere of
radius sqrt(d) (normalised Gaussian rows); beta1 uniform on the sphere of radius sqrt(r2); the nonlinear
target part f_NL(x) = sqrt(fstar2) (<u, x>^2 - 1)/c_d with u a uniform unit vector and
c_d^2 = 2(d - 1)/(d + 2), which on the sphere has mean 0, energy exactly fstar2 and no linear component;
labels y = <beta1, x> + f_NL(x) + eps, eps ~ N(0, sigma2).

Estimator: features Z = s(X Theta^T/sqrt(d)) with the raw activation (mu0 kept, no intercept: MM's
estimator), and for every lam of the grid, with rho = N lam/d,

.. math::

    \hat a = \left(\frac{Z^\top Z}{n} + \rho I\right)^{-1} \frac{Z^\top y}{n}
    = Z^\top \left(\frac{Z Z^\top}{n} + \rho I\right)^{-1} \frac{y}{n},

computed from ONE symmetric eigendecomposition of the smaller of Z^T Z/n (N <= n) and Z Z^T/n (N > n)
that serves the whole lam grid. lam = 0 is the minimum-norm least-squares solution pinv(Z) y (eigenvalues
below 1e-12 of the largest are dropped).

Metrics, with the conventions of :mod:`overparam.theory.random_features`:
* ``test_error``: mean of (f(x) - f_hat(x))^2 over ``TEST_POINTS`` fresh noiseless test points on the
  same sphere (an unbiased estimate of E_x; its Monte Carlo error is part of the replicate spread).
* ``train_error``: (1/n) ||y - Z a_hat||^2 on the noisy training labels, penalty excluded.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from overparam.models import RandomFeatures

__all__ = ["TEST_POINTS", "Problem", "draw", "coefficients", "replicate"]

#: Fresh test points per replicate.
TEST_POINTS = 3000
_PINV_CUTOFF = 1e-12


@dataclass(frozen=True)
class Problem:
    """One random draw: training inputs/labels, weights, test inputs and their noiseless targets."""

    X: np.ndarray
    y: np.ndarray
    theta: np.ndarray
    X_test: np.ndarray
    f_test: np.ndarray


def _sphere(rng: np.random.Generator, rows: int, d: int) -> np.ndarray:
    """rows points uniform on the sphere of radius sqrt(d) in R^d."""
    g = rng.standard_normal((rows, d))
    return g * (np.sqrt(d) / np.linalg.norm(g, axis=1, keepdims=True))


def draw(model: RandomFeatures, sizes: dict[str, int], rng: np.random.Generator,
         test_points: int = TEST_POINTS) -> Problem:
    """The random draw of one replicate (scalar r2, fstar2, sigma2 in ``model``)."""
    d, N, n = sizes["d"], sizes["N"], sizes["n"]
    X, theta = _sphere(rng, n, d), _sphere(rng, N, d)
    beta = _sphere(rng, 1, d)[0] * np.sqrt(float(model.r2) / d)
    u = _sphere(rng, 1, d)[0] / np.sqrt(d)
    c_d = np.sqrt(2 * (d - 1) / (d + 2))

    def target(x: np.ndarray) -> np.ndarray:
        return x @ beta + np.sqrt(float(model.fstar2)) * ((x @ u) ** 2 - 1) / c_d

    y = target(X) + np.sqrt(float(model.sigma2)) * rng.standard_normal(n)
    X_test = _sphere(rng, test_points, d)
    return Problem(X, y, theta, X_test, target(X_test))


def _features(model: RandomFeatures, X: np.ndarray, theta: np.ndarray) -> np.ndarray:
    return model.activation.func(X @ theta.T / np.sqrt(X.shape[1]))


def coefficients(Z: np.ndarray, y: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """a_hat for every rho (columns, shape N x len(rho)) from one eigendecomposition of the smaller Gram.
    rho = 0: minimum-norm least squares."""
    n, N = Z.shape
    small_n = n < N
    gram = (Z @ Z.T if small_n else Z.T @ Z) / n
    s, U = np.linalg.eigh(gram)
    keep = s > _PINV_CUTOFF * s[-1]
    with np.errstate(divide="ignore"):
        inv = np.where(keep[:, None], 1.0 / (s[:, None] + rho[None, :]), 0.0)  # (k, L)
    if small_n:  # a = Z^T U diag(1/(s + rho)) U^T y/n
        return Z.T @ (U @ (inv * (U.T @ y)[:, None])) / n
    return U @ (inv * (U.T @ (Z.T @ y))[:, None]) / n  # a = U diag(1/(s + rho)) U^T Z^T y/n


def replicate(model: RandomFeatures, sizes: dict[str, int], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One replicate: ``test_error`` and ``train_error`` for every lam of ``model.lam`` (a scalar or a 1-D
    array, all served by the same draw); the other numeric parameters are scalars."""
    lam = np.atleast_1d(np.asarray(model.lam, dtype=float))
    prob = draw(model, sizes, rng)
    Z = _features(model, prob.X, prob.theta)
    A = coefficients(Z, prob.y, sizes["N"] / sizes["d"] * lam)
    train = np.mean((prob.y[:, None] - Z @ A) ** 2, axis=0)
    test = np.mean((prob.f_test[:, None] - _features(model, prob.X_test, prob.theta) @ A) ** 2, axis=0)
    return {"test_error": test, "train_error": train}
