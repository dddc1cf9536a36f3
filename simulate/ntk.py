r"""One finite-size replicate of ``ntk-init``: the NTK Gram matrix at random initialisation, exactly.

Model and metric definitions: :mod:`overparam.theory.ntk` (same conventions). Sizes n (samples), d (input
dimension) and, at finite width, k (hidden units): x_i = z_i/|z_i| with z_i ~ N(0, I_d); K is formed without the
n x kd Jacobian:

* width inf: Sigma_ij = g(<x_i, x_j>), g(t) = t h(t) entrywise with h(t) = E phi'(u) phi'(v) (corr t), for
  relu, erf, phi = z^2/2, Hermite coefficients c_r, and tanh (its Hermite series; |t| < 1 off the diagonal):

  .. math::

      h_{\mathrm{relu}}(t) = \frac{\pi - \arccos t}{2 \pi}, \qquad
      h_{\mathrm{erf}}(t) = \frac{4/\pi}{\sqrt{9 - 4 t^2}}, \qquad
      h_{z^2/2}(t) = t, \qquad
      h_c(t) = \sum_r c_r^2 t^r, \qquad
      h_{\tanh}(t) = \sum_{r < 120} \mu_r^2 t^r

  the diagonal is set to E phi'(G)^2 exactly;
* finite width, with W (k x d) standard Gaussian:

  .. math::

      K = \frac{D D^\top}{k} \circ (X X^\top), \qquad D = \phi'(X W^\top)

One symmetric eigendecomposition K = U diag(lam) U^T then gives every metric exactly (no training loop): with
f_i = (1 - lam_i/lam_max)^{2t} and q_i = |X^T u_i|^2 (sum_i q_i = n), train_loss = mean(f) and
train_loss_signal = sum_i f_i q_i / n. ``steps`` may be an array (all served by one decomposition).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from overparam.choices import NtkActivation
from overparam.models import NtkInit

_TANH_TERMS = 120


@lru_cache(maxsize=None)
def _tanh_series() -> tuple[np.ndarray, float]:
    """(mu_r^2 for r < _TANH_TERMS, E phi'(G)^2) of phi' = sech^2 by 240-node Gauss-Hermite quadrature with the
    orthonormal Hermite recurrence h_{r+1} = (z h_r - sqrt(r) h_{r-1})/sqrt(r + 1), h_r = He_r/sqrt(r!)."""
    z, w = np.polynomial.hermite_e.hermegauss(240)
    w = w / w.sum()
    f = w / np.cosh(z) ** 2
    prev, cur = np.zeros_like(z), np.ones_like(z)
    mu = np.empty(_TANH_TERMS)
    for r in range(_TANH_TERMS):
        mu[r] = f @ cur
        prev, cur = cur, (z * cur - np.sqrt(r) * prev) / np.sqrt(r + 1)
    return mu**2, float(w @ np.cosh(z) ** -4)


def _horner(coefficients: np.ndarray, t: np.ndarray) -> np.ndarray:
    """sum_r coefficients[r] t^r, elementwise."""
    out = np.full_like(t, coefficients[-1])
    for c in coefficients[-2::-1]:
        out *= t
        out += c
    return out


def _kernel(act: NtkActivation, t: np.ndarray) -> np.ndarray:
    """Sigma(X) from the Gram matrix t = X X^T (overwrites t)."""
    np.clip(t, -1.0, 1.0, out=t)
    diag = np.diag_indices_from(t)
    if act.kind == "relu":
        out = t * (np.pi - np.arccos(t)) / (2 * np.pi)
        second = 0.5
    elif act.kind == "erf":
        out = t * (4 / np.pi) / np.sqrt(9 - 4 * t * t)
        second = 4 / (np.pi * np.sqrt(5))
    elif act.kind == "quadratic":
        out, second = t * t, 1.0
    elif act.kind == "tanh":  # sech^2 is even: h(t) = sum_j mu_{2j}^2 (t^2)^j
        c2, second = _tanh_series()
        out = t * _horner(c2[::2], t * t)
    else:
        c2 = np.asarray(act.coefficients) ** 2
        out, second = t * _horner(c2, t), float(np.sum(c2))
    out[diag] = second
    return out


def gram(model: NtkInit, sizes: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, X X^T, K): the data (n x d, unit rows), its Gram matrix and the NTK Gram matrix."""
    n, d = sizes["n"], sizes["d"]
    x = rng.standard_normal((n, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    t = x @ x.T
    if "k" not in sizes:
        return x, t, _kernel(model.activation, t.copy())
    w = rng.standard_normal((sizes["k"], d))
    dd = model.activation.dphi(x @ w.T)
    k = dd @ dd.T
    k *= t
    k /= sizes["k"]
    return x, t, k


def replicate(model: NtkInit, sizes: dict, rng: np.random.Generator) -> dict[str, np.ndarray | float]:
    """Every metric of one replicate (``steps`` scalar or 1-D array)."""
    x, t, k = gram(model, sizes, rng)
    lam, u = np.linalg.eigh(k)
    lam_min, lam_max = float(lam[0]), float(lam[-1])
    # q_i = |X^T u_i|^2 = u_i^T (X X^T) u_i, by the cheaper product (n^2 d or n^3 flops)
    q = np.sum((u.T @ x) ** 2, axis=1) if x.shape[1] <= x.shape[0] else np.sum(u * (t @ u), axis=0)
    steps = np.asarray(model.steps)
    f = np.clip(1 - lam / lam_max, 0.0, None) ** (2 * steps.reshape(-1, 1))
    loss, signal = f.mean(axis=1), f @ q / len(lam)
    shape = steps.shape
    return {"min_eigenvalue": lam_min, "max_eigenvalue": lam_max, "gd_rate": (1 - lam_min / lam_max) ** 2,
            "train_loss": loss.reshape(shape) if shape else float(loss[0]),
            "train_loss_signal": signal.reshape(shape) if shape else float(signal[0])}
