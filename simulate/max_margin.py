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
then a Gordan certificate: A^T u ~ 0 with u >= 0), otherwise alpha = u/den, w = A^T alpha. For p >= n the dual
min 1/2 a^T K a - 1^T a, a >= 0, K = A A^T, is solved first by block principal pivoting (Kim and Park 2011) on
ONE Cholesky factor of K formed in float32 (half the cost of the float64 Gram matrix, which dominates): every
free-set system K_FF a_F = 1 is solved through Schur complements of that factor, pivoting on the float32 gradient
while the number of violations falls, then each free-set solution is refined with float64 products
r = A (A^T a) - 1 until r is at rounding level and the exact gradient decides the last pivots. If the float32
factor is too inaccurate (K badly conditioned, p close to n) the same solve runs on a float64 Gram matrix, and
the NNLS path is the last resort. Every solution must pass the KKT certificate (alpha >= 0, A w >= 1, complementary
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
PIVOT_TOL = 1e-10  # block pivoting: a_i < -PIVOT_TOL max(a) or (K a - 1)_i < -PIVOT_TOL is a violation
REFINED = 1e-14  # iterative refinement stops once the predicted max |(K a - 1)_F| is below REFINED


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
    return _kkt(A @ w - 1, w, alpha, float(np.linalg.norm(w - A.T @ alpha)))


def _kkt(slack: np.ndarray, w: np.ndarray, alpha: np.ndarray, stationarity: float) -> float:
    """:func:`kkt_residual` from the slacks A w - 1 and the absolute stationarity residual ||w - A^T alpha||."""
    scale = max(float(np.max(alpha)), 1e-300)
    return float(max(np.max(-slack, initial=0.0), np.max(-alpha, initial=0.0) / scale,
                     stationarity / np.linalg.norm(w),
                     np.sum(alpha * np.abs(slack)) / max(np.sum(alpha), 1e-300),
                     abs(w @ w - np.sum(alpha)) / (w @ w)))


class _DualFactor:
    """Solves the dual restricted to a free set F (complement C): K a = b + E_C mu with a_C = 0, from ONE
    Cholesky factor P K P^T = L L^T in the precision of K (float32 for speed; float64 corrections refine it).

    With P the elimination ``order``: a = P^T L^{-T}(v + Z_C mu), v = L^{-1} P b, Z = L^{-1} P E_C and
    (Z_C^T Z_C) mu = -Z_C^T v. A column L^{-1} e_r vanishes above row r: ordering the indices likely to
    leave the free set last makes every column a solve with the trailing block of L only. A column of Z and
    its products with the other columns (Z^T Z = (K^{-1})_{CC}) are computed once per index that ever
    enters C, so a solve costs two triangular solves and O(n |C|). LAPACK is called directly (the scipy.linalg
    wrappers' argument checks cost as much as the solves at n = 400)."""

    def __init__(self, K: np.ndarray, order: np.ndarray):
        n = len(K)
        self.potrf, self.potrs, self.trtrs = linalg.get_lapack_funcs(("potrf", "potrs", "trtrs"), (K,))
        self.order, self.rank = order, np.empty(n, dtype=int)
        self.rank[order] = np.arange(n)
        self.L = self._cholesky(K.take(order, 0).take(order, 1))
        self.Z = np.zeros((n, 0), K.dtype)  # rows in elimination order, zero above row `top`
        self.ZZ = np.zeros((0, 0), K.dtype)  # Z^T Z
        self.top = n
        self.pos = np.full(n, -1)  # column of Z of index j, -1 if none yet
        self._schur: tuple[np.ndarray, np.ndarray] | None = None  # (C, Cholesky factor of Z_C^T Z_C)

    def _cholesky(self, M: np.ndarray) -> np.ndarray:
        L, info = self.potrf(M.T, lower=1, overwrite_a=1)  # M: a symmetric scratch copy, M.T column-major
        if info != 0:
            raise linalg.LinAlgError("not positive definite")
        return L

    def _add_columns(self, C: np.ndarray) -> None:
        new = C[self.pos[C] < 0]
        if not new.size:
            return
        n, k, m = len(self.L), self.Z.shape[1], new.size
        rows = self.rank[new]
        top = self.top = min(self.top, int(rows.min()))
        E = np.zeros((n - top, m), self.L.dtype, order="F")
        E[rows - top, np.arange(m)] = 1.0
        Zn = np.zeros((n, m), self.L.dtype)
        Zn[top:] = self.trtrs(self.L[top:, top:], E, lower=1)[0]
        cross = self.Z[top:].T @ Zn[top:]
        self.ZZ = np.vstack([np.hstack([self.ZZ, cross]), np.hstack([cross.T, Zn[top:].T @ Zn[top:]])])
        self.Z = np.hstack([self.Z, Zn])
        self.pos[new] = k + np.arange(m)

    def _schur_factor(self, C: np.ndarray) -> np.ndarray:
        if self._schur is None or not np.array_equal(self._schur[0], C):
            idx = self.pos[C]
            self._schur = C, self._cholesky(self.ZZ[np.ix_(idx, idx)])
        return self._schur[1]

    def solve(self, b: np.ndarray, C: np.ndarray) -> np.ndarray:
        """a with a_C = 0 and (K a)_F = b_F (float64); LinAlgError if Z_C^T Z_C is not positive definite."""
        v = self.trtrs(self.L, b[self.order].astype(self.L.dtype), lower=1)[0]
        if C.size:
            self._add_columns(C)
            Z, idx = self.Z[self.top:], self.pos[C]
            mu = np.zeros(Z.shape[1], self.L.dtype)
            mu[idx] = -self.potrs(self._schur_factor(C), (Z.T @ v[self.top:])[idx], lower=1)[0]
            v[self.top:] += Z @ mu
        a = np.empty(len(b))
        a[self.order] = self.trtrs(self.L, v, lower=1, trans=1)[0]
        a[C] = 0.0
        return a


def _elimination_order(K: np.ndarray, steps: int = 12) -> np.ndarray:
    """Indices by decreasing a few conjugate-gradient steps towards the unconstrained dual K^{-1} 1: those
    with a negative entry (most of the final C) come last."""
    x, r = np.zeros(len(K), K.dtype), np.ones(len(K), K.dtype)
    d, rr = r.copy(), r @ r
    for _ in range(min(steps, len(K))):  # CG is exact after n steps
        q = K @ d
        step = rr / (d @ q)
        x += step * d
        r -= step * q
        rr, previous = r @ r, rr
        if rr == 0:
            break
        d = r + rr / previous * d
    return np.argsort(-x, kind="stable")


def _refine(A: np.ndarray, factor: _DualFactor, a: np.ndarray, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Iterative refinement of the free-set solution in float64: with grad = A (A^T a) - 1 (exact products)
    and r = max |grad_F|, a -= the factor's solve of K_FF d = grad_F. Each step multiplies r by a contraction
    rho ~ cond(K) eps(dtype) (measured as the ratio of successive r, the first against r = 1 at a = 0); the
    loop stops after the step whose predicted residual r rho is below REFINED, or when rho > 1/2 (rounding
    floor reached; LinAlgError if r is then above KKT_TOL: the factor is too inaccurate). Returns (a, grad),
    grad evaluated before the last step (accurate to r)."""
    free = np.ones(len(a), dtype=bool)
    free[C] = False
    previous = 1.0
    while True:
        grad = A @ (A.T @ a) - 1
        residual = float(np.max(np.abs(grad[free]), initial=0.0))
        rho = residual / previous
        if rho > 0.5:
            if residual > KKT_TOL:
                raise linalg.LinAlgError("iterative refinement does not converge")
            return a, grad
        a = a - factor.solve(np.where(free, grad, 0.0), C)  # grad_C = O(1) would swamp a float32 solve
        if residual * rho <= REFINED:
            return a, grad
        previous = residual


def _pivot(free: np.ndarray, bad: np.ndarray, state: list[int]) -> None:
    """Block principal pivoting rule (Kim and Park 2011), in place: exchange every violating index while their
    number decreases (or for up to 3 more rounds), otherwise only the last one; state = [best, backup]."""
    count = int(bad.sum())
    if count < state[0]:
        state[0], state[1] = count, 3
        free ^= bad
    elif state[1] > 0:
        state[1] -= 1
        free ^= bad
    else:
        j = np.flatnonzero(bad)[-1]
        free[j] = not free[j]


def _violations(a: np.ndarray, grad: np.ndarray, free: np.ndarray, tol: float) -> np.ndarray:
    """Free indices with a_i < -tol max(a) and fixed ones (a_i = 0) with gradient (K a - 1)_i < -tol."""
    return (free & (a < -tol * np.max(a))) | (~free & (grad < -tol))


def _bpp(A: np.ndarray, dtype: type = np.float32) -> np.ndarray | None:
    """Block principal pivoting for the dual min 1/2 a^T K a - 1^T a, a >= 0, K = A A^T positive definite
    (p >= n), with K formed and factorised in ``dtype``. Returns a >= 0, or None when the factorisation, the
    refinement or the pivoting fails (the caller then tries float64, then the NNLS path).

    Phase 1 pivots on the ``dtype`` solution and gradient K a - 1 (violations above 100 eps(dtype)) while
    their number decreases; phase 2 goes on from that free set with each solution refined in float64
    (:func:`_refine`) and the exact gradient (violations above PIVOT_TOL) until there is none."""
    n = len(A)
    Al = A.astype(dtype, copy=False)
    K = Al @ Al.T
    del Al  # the copies below reuse its memory (fresh pages cost up to 1/3 of the time at n = 400)
    free = np.ones(n, dtype=bool)
    exact, state = False, [n + 1, 3]
    tol = max(PIVOT_TOL, 100 * float(np.finfo(dtype).eps))
    try:
        factor = _DualFactor(K, _elimination_order(K))
        for _ in range(5 * n):
            C = np.flatnonzero(~free)
            a = factor.solve(np.ones(n), C)
            a, grad = _refine(A, factor, a, C) if exact else (a, K @ a.astype(dtype) - 1)
            bad = _violations(a, grad, free, tol)
            if not exact and (not bad.any() or bad.sum() >= state[0]):  # phase 2 from this free set
                exact, state, tol = True, [n + 1, 3], PIVOT_TOL
                a, grad = _refine(A, factor, a, C)
                bad = _violations(a, grad, free, tol)
            if not bad.any():
                return np.maximum(a, 0.0)
            _pivot(free, bad, state)
    except linalg.LinAlgError:
        pass
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
    scale = float(np.sqrt(np.max(np.einsum("ij,ij->i", A, A)))) * float(np.linalg.norm(w))
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
    res = _kkt(A @ w - 1, w, alpha, 0.0)  # w = A^T alpha: stationarity holds by construction
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
        for dtype in (np.float32, np.float64):
            alpha = _bpp(A, dtype)
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
