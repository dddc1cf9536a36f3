r"""Finite-size max-margin classification: one exact replicate of the hard-margin SVM without intercept.

Data: X (n x p) with iid N(0, 1) entries, teacher beta* = e_1 (by rotation
invariance the same law as a uniform unit teacher), G = X[:, 0], labels y drawn from ``model.labels``
(noiseless sign(G); flip:q sign(G) flipped with probability q; logistic:beta P(y = 1) = 1/(1 + exp(-beta G));
purenoise +-1 with probability 1/2). With A = diag(y) X the estimator is the exact hard-margin solution

.. math::

    \hat{w} = \operatorname{argmin}_w \|w\|^2 \quad \mathrm{s.t.} \quad A w \geq 1, \qquad
    \hat\theta = \frac{\hat{w}}{\|\hat{w}\|},

computed as the least-distance programme of Lawson and Hanson: u = argmin_{u >= 0} ||E u - f||, E = [R; 1^T],
f = (0, ..., 0, 1), R^T R = A A^T (R = A^T when p < n, else the triangular factor of a QR of A^T);
den = 1 - sum(u) = kappa^2/(1 + kappa^2); den <= 1e-9 certifies that the sample is not separable (u/sum(u) is
then a Gordan certificate: A^T u ~ 0 with u >= 0), otherwise alpha = u/den, w = A^T alpha. For p >= n a block
principal pivoting solve of the dual min 1/2 a^T A A^T a - 1^T a, a >= 0 is tried first (faster, falls back to
the NNLS path). Every solution must pass the KKT certificate (alpha >= 0, A w >= 1, complementary
slackness, zero duality gap ||w||^2 = sum(alpha)) to KKT_TOL or, when larger, the rounding floor
~eps max_i ||a_i|| ||w|| of the slacks; a solution that misses it is re-solved exactly on the support of alpha
(near the separability threshold alpha = u/den amplifies the NNLS rounding by 1/den) and certified again,
else ConvergenceError is raised.

Metrics of one replicate, with the conventions of ``overparam.theory.max_margin``:
``margin`` = min_i y_i <x_i, theta_hat> = 1/||w_hat||; ``cos_angle`` = theta_hat[0] = <theta_hat, beta*>;
``test_error`` = the exact conditional error P(y_new != sign <x_new, theta_hat>) of a fresh draw of the same label
model, a function of rho = cos_angle only (E[Phi(-t Y G)], t = rho/sqrt(1 - rho^2), no test sample);
``separable`` = 1 or 0. When the sample is not separable the other three metrics are NaN (the runner averages
them over separable replicates only). ``separability_threshold`` is a property of the limit and is not simulated.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import integrate, linalg, optimize, special

from overparam.choices import Labels
from overparam.errors import ConvergenceError
from overparam.models import MaxMargin

INFEASIBLE = 1e-9  # den = kappa^2/(1 + kappa^2) below this: not separable (kappa < 3e-5)
KKT_TOL = 1e-7  # relative KKT residual of a certified solution (or the rounding floor, kkt_tolerance)
ROUNDING = 100  # the slacks a_i.w - 1 are computed to ~ROUNDING * eps * ||a_i|| ||w||


@dataclass(frozen=True)
class HardMargin:
    """Solution of min ||w||^2 s.t. A w >= 1: ``w``, dual ``alpha`` (w = A^T alpha) and the KKT residual."""

    w: np.ndarray
    alpha: np.ndarray
    kkt: float

    @property
    def margin(self) -> float:
        return 1.0 / float(np.linalg.norm(self.w))


def kkt_residual(A: np.ndarray, w: np.ndarray, alpha: np.ndarray) -> float:
    """Worst relative violation of the hard-margin KKT conditions: primal feasibility max(1 - A w)_+, dual
    feasibility max(-alpha)_+/max(alpha), stationarity ||w - A^T alpha||/||w||, complementary slackness
    sum alpha_i |(A w)_i - 1| / sum alpha, duality gap | ||w||^2 - sum alpha | / ||w||^2."""
    slack = A @ w - 1
    scale = max(float(np.max(alpha)), 1e-300)
    return float(max(np.max(-slack, initial=0.0), np.max(-alpha, initial=0.0) / scale,
                     np.linalg.norm(w - A.T @ alpha) / np.linalg.norm(w),
                     np.sum(alpha * np.abs(slack)) / max(np.sum(alpha), 1e-300),
                     abs(w @ w - np.sum(alpha)) / (w @ w)))


def _bpp(K: np.ndarray, eps: float = 1e-12) -> np.ndarray | None:
    """Block principal pivoting (Kim and Park 2011) for min 1/2 a^T K a - 1^T a, a >= 0, K positive definite.
    Returns a, or None when the pivoting does not terminate (the caller then uses the NNLS path).

    Every free-set solve reuses ONE Cholesky factor K = L L^T: with a_C = 0 on the complement C and
    K a = 1 + E_C mu (mu = the gradient on C), a = L^{-T}(w0 + Z mu), Z = L^{-1} E_C, w0 = L^{-1} 1 and
    (Z^T Z) mu = -Z^T w0; the columns of Z are computed once per index that ever leaves the free set."""
    n = len(K)
    try:
        L = linalg.cholesky(K, lower=True, check_finite=False)
    except linalg.LinAlgError:
        return None
    w0 = linalg.solve_triangular(L, np.ones(n), lower=True, check_finite=False)
    Z = np.empty((n, 0))  # column pos[j] = L^{-1} e_j for every index j that has left the free set
    pos = np.full(n, -1)
    free = np.ones(n, dtype=bool)
    best, backup = n + 1, 3
    for _ in range(5 * n):
        C = np.flatnonzero(~free)
        new = C[pos[C] < 0]
        if new.size:
            E = np.zeros((n, new.size))
            E[new, np.arange(new.size)] = 1.0
            pos[new] = Z.shape[1] + np.arange(new.size)
            Z = np.hstack([Z, linalg.solve_triangular(L, E, lower=True, check_finite=False)])
        rhs = w0
        if C.size:
            ZC = Z[:, pos[C]]
            try:
                mu = -linalg.cho_solve(linalg.cho_factor(ZC.T @ ZC, check_finite=False), ZC.T @ w0,
                                       check_finite=False)
            except linalg.LinAlgError:
                return None
            rhs = w0 + ZC @ mu
        a = linalg.solve_triangular(L, rhs, lower=True, trans="T", check_finite=False)
        a[C] = 0.0
        grad = K @ a - 1
        bad = (free & (a < -eps)) | (~free & (grad < -eps))
        count = int(bad.sum())
        if count == 0:
            return np.maximum(a, 0.0)
        if count < best:
            best, backup = count, 3
            free ^= bad
        elif backup > 0:
            backup -= 1
            free ^= bad
        else:
            j = np.flatnonzero(bad)[-1]
            free[j] = not free[j]
    return None


def _ldp(A: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-distance programme: (u, den) with u = argmin_{u >= 0} ||[R; 1^T] u - e_last||."""
    n, p = A.shape
    R = A.T if p < n else linalg.qr(A.T, mode="r", check_finite=False)[0][:n]
    E = np.vstack([R, np.ones(n)])
    f = np.zeros(len(E))
    f[-1] = 1.0
    u, _ = optimize.nnls(E, f, maxiter=50 * n)
    return u, 1.0 - float(np.sum(u))


def kkt_tolerance(A: np.ndarray, w: np.ndarray) -> float:
    """The KKT residual a certified solution must meet: KKT_TOL, or the rounding floor of the slacks
    a_i.w - 1 when it is larger, ROUNDING * eps * max_i ||a_i|| ||w|| (the size of the terms summed in A w;
    ||w|| = 1/kappa grows without bound near the separability threshold)."""
    scale = float(np.max(np.linalg.norm(A, axis=1))) * float(np.linalg.norm(w))
    return max(KKT_TOL, ROUNDING * np.finfo(float).eps * scale)


def _on_support(A: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(w, alpha) solved exactly on the support S of alpha: the minimum-norm w with A_S w = 1, alpha_S =
    (A_S A_S^T)^{-1} 1 from a QR factorisation A_S^T = Q R (R^T z = 1, w = Q z, R alpha_S = z). Recovers the
    digits an iterative solve loses when alpha is large (small margin); None if A_S is rank deficient."""
    S = np.flatnonzero(alpha > 0)
    if S.size == 0 or S.size > A.shape[1]:
        return None
    Q, R = linalg.qr(A[S].T, mode="economic", check_finite=False)
    d = np.abs(np.diag(R))
    if d.min() <= 1e3 * np.finfo(float).eps * d.max():
        return None
    z = linalg.solve_triangular(R, np.ones(S.size), trans="T", check_finite=False)
    out = np.zeros(len(A))
    out[S] = linalg.solve_triangular(R, z, check_finite=False)
    return Q @ z, out


def _certified(A: np.ndarray, alpha: np.ndarray) -> HardMargin | None:
    """The solution with dual alpha if it passes its KKT certificate (after one exact re-solve on the support
    of alpha when it does not at first); None otherwise."""
    w = A.T @ alpha
    res = kkt_residual(A, w, alpha)
    if res <= kkt_tolerance(A, w):
        return HardMargin(w, alpha, res)
    exact = _on_support(A, alpha)
    if exact is not None:
        w, alpha = exact
        res = kkt_residual(A, w, alpha)
        if res <= kkt_tolerance(A, w):
            return HardMargin(w, alpha, res)
    return None


def hard_margin(A: np.ndarray) -> HardMargin | None:
    """Exact hard-margin SVM without intercept on the rows of A = diag(y) X; None if not separable.
    Raises ConvergenceError if the solution fails its KKT certificate (:func:`kkt_tolerance`)."""
    n, p = A.shape
    if p >= n:  # Gaussian rows in general position: always separable, A A^T positive definite
        alpha = _bpp(A @ A.T)
        if alpha is not None and (sol := _certified(A, alpha)) is not None:
            return sol
    u, den = _ldp(A)
    if den <= INFEASIBLE:
        return None
    sol = _certified(A, u / den)
    if sol is None:
        alpha = u / den
        raise ConvergenceError("hard-margin SVM (KKT certificate)", kkt_residual(A, A.T @ alpha, alpha), 2)
    return sol


def separable_lp(A: np.ndarray) -> bool:
    """LP (HiGHS): are the rows strictly separable? Feasibility of A theta >= 1; should HiGHS return no
    verdict on it, the bounded form max t s.t. A theta >= t, |theta_j| <= 1, t <= 1 decides (separable iff
    t > 0, up to the same INFEASIBLE floor as the least-distance programme)."""
    n, p = A.shape
    res = optimize.linprog(np.zeros(p), A_ub=-A, b_ub=-np.ones(n), bounds=[(None, None)] * p, method="highs")
    if res.status in (0, 2):
        return res.status == 0
    c = np.zeros(p + 1)
    c[-1] = -1.0
    box = optimize.linprog(c, A_ub=np.hstack([-A, np.ones((n, 1))]), b_ub=np.zeros(n),
                           bounds=[(-1, 1)] * p + [(0, 1)], method="highs")
    if box.status != 0:
        raise ConvergenceError(f"separability LP ({box.message})", np.nan, int(box.nit))
    return -box.fun > INFEASIBLE


def draw_labels(labels: Labels, G: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """y in {-1, +1} given the teacher projections G."""
    if labels.kind == "purenoise":
        return rng.choice(np.array([-1.0, 1.0]), size=len(G))
    if labels.kind == "logistic":
        return np.where(rng.random(len(G)) < special.expit(labels.value * G), 1.0, -1.0)
    y = np.sign(G)
    if labels.kind == "flip":
        y = np.where(rng.random(len(G)) < labels.value, -y, y)
    return y


def conditional_test_error(labels: Labels, rho: float) -> float:
    """P(y_new != sign <x_new, theta>) for <theta, beta*> = rho, ||theta|| = 1:
    noiseless arccos(rho)/pi, flip q + (1 - 2q) arccos(rho)/pi, purenoise 1/2, logistic
    2 int_0^inf phi(g) [sigmoid(beta g) Phi(-t g) + sigmoid(-beta g) Phi(t g)] dg (adaptive quadrature)."""
    if labels.kind == "purenoise":
        return 0.5
    if labels.kind in ("noiseless", "flip"):
        q = labels.value if labels.kind == "flip" else 0.0
        return q + (1 - 2 * q) * float(np.arccos(np.clip(rho, -1, 1))) / np.pi
    rho = float(np.clip(rho, -1.0, 1.0))
    t = np.clip(rho / max(np.sqrt(1 - rho * rho), 1e-300), -1e15, 1e15)  # rho = +-1: the limit t = +-inf
    b = labels.value

    def integrand(g: float) -> float:
        return 2 * np.exp(-0.5 * g * g) / np.sqrt(2 * np.pi) * (
            special.expit(b * g) * special.ndtr(-t * g) + special.expit(-b * g) * special.ndtr(t * g))

    return float(integrate.quad(integrand, 0, np.inf, epsabs=1e-13, epsrel=1e-12, limit=200)[0])


def replicate(model: MaxMargin, sizes: dict[str, int], rng: np.random.Generator) -> dict[str, float]:
    """One replicate: margin, cos_angle, test_error (NaN when not separable) and separable (0/1)."""
    n, p = sizes["n"], sizes["p"]
    X = rng.standard_normal((n, p))
    y = draw_labels(model.labels, X[:, 0], rng)
    sol = hard_margin(y[:, None] * X)
    if sol is None:
        return {"margin": np.nan, "cos_angle": np.nan, "test_error": np.nan, "separable": 0.0}
    rho = float(sol.w[0] / np.linalg.norm(sol.w))
    return {"margin": sol.margin, "cos_angle": rho, "test_error": conditional_test_error(model.labels, rho),
            "separable": 1.0}


__all__ = ["replicate", "hard_margin", "HardMargin", "kkt_residual", "kkt_tolerance", "separable_lp",
           "draw_labels", "conditional_test_error"]
