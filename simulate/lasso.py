r"""Finite-size LASSO, minimum-l1 interpolation, AMP and basis-pursuit experiments.

One replicate draws X in R^{n x p} with iid N(0, 1/n) entries, beta with iid coordinates
B ~ (1 - eps) delta_0 + eps P (P = N(0, 1) for ``gauss``, uniform{+-1} for ``rademacher``) and
y = X beta + w, w ~ N(0, sigma2 I_n); every lam of the shared grid uses this one draw.

Estimators (exact, never a stand-in):
* lam > 0: beta_hat = argmin (1/2)||y - X b||^2 + lam ||b||_1 by :func:`lasso_path`: a working-set coordinate
  descent with gap-safe screening and an exact solve on the support, from zero or the previous lam of the
  decreasing grid (sparse grids, one lam), or the exact LARS-lasso homotopy (dense grids, supports beyond
  n/2, near interpolation where coordinate descent stalls). Each point is certified by the relative duality
  gap: with r = y - X b and the dual point u = r min(1, lam / ||X^T r||_inf), gap = P(b) - (u.y - u.u/2)
  <= tol * P(b). The two small Numba kernels compile on first use (one stderr line on a terminal).
* lam = 0, n < p: minimum-l1 interpolation min ||b||_1 s.t. X b = y, a linear program solved by HiGHS
  (:func:`min_l1`); its equality duals are the basis-pursuit dual v (max y.v s.t. ||X^T v||_inf <= 1).
* lam = 0, n >= p (a delta sweep across 1): least squares, the lam -> 0+ limit.

Metrics (the same conventions as ``overparam.theory.lasso``), r = y - X beta_hat, df = ||beta_hat||_0:

.. math::

    \mathrm{mse} = \frac{\|\hat\beta - \beta\|^2}{p}, \qquad \mathrm{frac\_nonzero} = \frac{\mathrm{df}}{p}

    \mathrm{tau\_star} = \frac{\|r\|}{\sqrt{n}\,(1 - \mathrm{df}/n)}

    \mathrm{threshold} = \frac{\lambda \sqrt{n}}{\|r\|} = \frac{\hat\theta}{\hat\tau}, \qquad
    \hat\theta = \frac{\lambda}{1 - \mathrm{df}/n}

with :math:`\lambda` = ``lam``; tau_star (tau_hat) is the AMP residual estimate of tau_*.
When the support fills the sample (df = n, possible for small lam > 0 at finite n) the residual r != 0
is divided by zero degrees of freedom: tau_star = inf (a genuine singularity of the estimate), while
threshold stays finite (r = lam X_S^{-T} sign(b_S): threshold = sqrt(n) / ||X_S^{-T} sign(b_S)||, the lam = 0
value below on the same support). If y = 0 (sigma2 = 0, beta = 0), b = 0 and threshold = inf.
At lam = 0 with n < p (r = 0, df = n): threshold = sqrt(n) / ||v|| from the dual, and tau_star = NaN
(the residual estimate is 0/0 and there is no other finite-n estimate of tau_* independent of mse); at
n = p, threshold = 0 and tau_star = NaN. Also returned: ``gap``, the certified relative duality gap
(0 for the LP/least-squares points, whose feasibility is checked to 1e-8 instead).

Second estimator: :func:`amp` runs approximate message passing with the Onsager term at a fixed
normalised threshold alpha; its fixed point is the LASSO solution at lam_N = alpha tau (1 - df/n).
:func:`bp_success` is the basis-pursuit success experiment behind the ``l1-transition`` figure.
"""
from __future__ import annotations

import sys
import threading

import numpy as np
from numba import njit
from scipy import linalg, optimize, sparse

from overparam.errors import ConvergenceError
from overparam.models import Lasso

__all__ = ["draw", "lasso_path", "duality_gap", "kkt_residual", "min_l1", "amp", "amp_metrics",
           "bp_success", "replicate"]

#: Absolute rounding floor of the duality gap in units of y.y/2 (P(b) - D(u) is a difference of O(y.y) terms).
ROUNDING = 1e-13
ROUNDING_FACTOR = 10  # slack on the rounding floor of the gap evaluated at a given b (_rounding)
#: Basis pursuit certificate: primal residual relative to max_i (|X| |b| + |y|)_i, and relative duality gap.
FEAS_TOL, GAP_TOL = 1e-9, 1e-7
_HIGHS = {"primal_feasibility_tolerance": 1e-9, "dual_feasibility_tolerance": 1e-9}


# ------------------------------------------------------------------------------------- data
def draw(model: Lasso, sizes: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, beta, y) of one replicate at scalar delta, eps, sigma2."""
    n, p = sizes["n"], sizes["p"]
    X = rng.standard_normal((n, p)) / np.sqrt(n)
    support = rng.random(p) < float(model.eps)
    values = rng.standard_normal(p) if model.prior == "gauss" else rng.choice([-1.0, 1.0], p)
    beta = np.where(support, values, 0.0)
    y = X @ beta + np.sqrt(float(model.sigma2)) * rng.standard_normal(n)
    return X, beta, y


# ------------------------------------------------------------------------------- exact LASSO
# Two exact solvers share one certificate (the relative duality gap):
# * a working-set coordinate descent with gap-safe screening (Fercoq, Gramfort & Salmon 2015; the
#   working-set priority of Massias, Gramfort & Salmon 2018) from zero or the previous lam's solution,
#   finished by an exact solve on the support (`_polish`) - the method for sparse lam grids;
# * the LARS-lasso homotopy (Osborne, Presnell & Turlach 2000; Efron et al. 2004), which follows the path
#   exactly: from the first lam where the support exceeds _HOMOTOPY_DF * n, where the estimated number of
#   events to the next lam (1.5 x the last change of the support size; an event costs one X^T v, n p) is
#   below the cost of a working-set solve (polish n df^2 / 2 + ~20 X^T r) - dense grids -, or where
#   coordinate descent exceeds its epoch budget (near interpolation, lam -> 0: X_S^T X_S ill-conditioned).
# Only two small Numba kernels (`_cd`, `_homotopy` with helpers), compiled on first use (cache=True).
_HOMOTOPY_DF = 0.5  # support fraction of n beyond which the path continues by the homotopy
_CD_EPOCHS = 400  # epoch budget of a coordinate-descent attempt before falling back to the homotopy
_REFRESH = 400  # homotopy events between recomputations of the inverse Gram matrix and the residual


@njit(cache=True, fastmath=True)
def _dot(XT, j, r):
    z = 0.0
    for i in range(r.size):
        z += XT[j, i] * r[i]
    return z


@njit(cache=True, fastmath=True)
def _cd(XT, norms, b, r, y, ws, lam, target, max_epochs):
    """Cyclic coordinate descent on the working set ws until the duality gap of the problem restricted to ws
    is <= target (checked every 5 epochs) or max_epochs; b and r = y - X b are updated in place. Returns the
    number of epochs."""
    n = r.size
    for epoch in range(1, max_epochs + 1):
        for j in ws:
            old = b[j]
            z = _dot(XT, j, r) + norms[j] * old
            new = max(abs(z) - lam, 0.0) / norms[j]
            if z < 0:
                new = -new
            if new != old:
                d = new - old
                for i in range(n):
                    r[i] -= d * XT[j, i]
                b[j] = new
        if epoch % 5 == 0:
            cmax, l1, rr, ry = 0.0, 0.0, 0.0, 0.0
            for j in ws:
                cmax = max(cmax, abs(_dot(XT, j, r)))
                l1 += abs(b[j])
            for i in range(n):
                rr += r[i] * r[i]
                ry += r[i] * y[i]
            s = min(1.0, lam / cmax) if cmax > 0 else 1.0
            if 0.5 * rr + lam * l1 - (s * ry - 0.5 * s * s * rr) <= target:
                return epoch
    return max_epochs


def _gap(XT: np.ndarray, y: np.ndarray, b: np.ndarray, r: np.ndarray, lam: float) -> tuple[float, np.ndarray, float]:
    """(absolute duality gap, X^T r, primal objective) at b with residual r; dual point r min(1, lam/||X^T r||_inf)."""
    c = XT @ r
    cmax = np.max(np.abs(c))
    s = min(1.0, lam / cmax) if cmax > 0 else 1.0
    rr = r @ r
    primal = 0.5 * rr + lam * np.sum(np.abs(b))
    return primal - (s * (r @ y) - 0.5 * s * s * rr), c, primal


def _polish(XT: np.ndarray, y: np.ndarray, b: np.ndarray, r: np.ndarray, lam: float) -> bool:
    """Feature-sign step on the support S of b (signs s): the exact solve X_S^T X_S c = X_S^T y - lam s (by a QR
    factorisation X_S = Q R: c = R^{-1}(Q^T y - lam R^{-T} s), accurate up to a full square support), then
    the best objective among c and the points where the segment b_S -> c crosses zero (those coordinates
    become exact zeros). The objective never increases; returns whether c itself (all signs kept) was taken."""
    S = np.flatnonzero(b)
    if S.size == 0 or S.size > XT.shape[1]:
        return False
    XS, bS = XT[S], b[S]
    s = np.sign(bS)
    Q, R = linalg.qr(XS.T, mode="economic", check_finite=False)  # X_S = Q R: cond(X_S), not its square
    d = np.abs(np.diag(R))
    if d.min() <= 1e-12 * d.max():  # (near-)singular active Gram matrix: keep the iterate
        return False
    c = linalg.solve_triangular(R, Q.T @ y - lam * linalg.solve_triangular(R, s, trans="T", check_finite=False),
                                check_finite=False)
    d = c - bS
    Xd = XS.T @ d
    with np.errstate(divide="ignore", invalid="ignore"):
        cross = -bS / d
    ts = np.concatenate([[1.0], cross[s * c < 0]])
    f = -ts * (r @ Xd) + 0.5 * ts * ts * (Xd @ Xd) + lam * np.abs(bS + ts[:, None] * d).sum(axis=1)
    k = int(np.argmin(f))
    if not f[k] < lam * np.sum(np.abs(bS)):  # f relative to the objective at t = 0
        return False
    t = ts[k]
    new = bS + t * d
    new[(s * new <= 0) | ((t < 1.0) & (np.abs(t - cross) < 1e-15 * t))] = 0.0
    b[S] = new
    r[:] = y - XS.T @ new
    return t == 1.0 and np.all(np.sign(c) == s)


def _rounding(XT: np.ndarray, y: np.ndarray, b: np.ndarray, sq: np.ndarray) -> float:
    """Rounding floor of the gap at b: r = y - X b carries an error dr ~ eps sqrt(n) max_i (|X| |b| + |y|)_i,
    which moves the dual scale min(1, lam/||X^T r||_inf) and so the gap by ~ ||b||_1 ||X^T dr||_inf (binding
    at a full, ill-conditioned support where r ~ lam is tiny); ROUNDING_FACTOR of slack."""
    dr = np.finfo(float).eps * np.sqrt(y.size) * float(np.max(np.abs(XT.T) @ np.abs(b) + np.abs(y)))
    return ROUNDING_FACTOR * float(np.sum(np.abs(b))) * float(np.max(sq)) * dr


def _cd_solve(XT, norms, y, b, r, lam, tol, max_rounds, max_epochs):
    """Working-set rounds at one lam from the current (b, r): full gradient and gap (stop when certified),
    gap-safe screening (discarded coordinates are zero at the solution), working set = support + the
    least-violating coordinates, CD on it to 0.3 x the gap; an exact polish once the support repeats.
    Returns (relative gap, certified, rounds); gives up after max_rounds rounds or max_epochs epochs."""
    p = XT.shape[0]
    floor = ROUNDING * 0.5 * (y @ y)
    sq = np.sqrt(norms)
    prev, epochs, rel = None, 0, np.inf
    for rnd in range(max_rounds):
        gap, c, primal = _gap(XT, y, b, r, lam)
        rel = gap / max(primal, 1e-300)
        if gap <= max(tol * primal, floor, _rounding(XT, y, b, sq)):
            return rel, True, rnd
        if epochs >= max_epochs:
            break
        S = np.flatnonzero(b)
        if prev is not None and np.array_equal(S, prev) and _polish(XT, y, b, r, lam):
            prev = None
            continue
        prev = S
        corr = np.abs(c) / max(lam, np.max(np.abs(c)))  # |x_j . theta| at the dual point theta
        keep = corr + sq * np.sqrt(2 * max(gap, 0.0)) / lam >= 1  # gap-safe sphere test
        drop = ~keep & (b != 0)
        if drop.any():
            r += XT[drop].T @ b[drop]
            b[drop] = 0.0
        priority = np.where(b != 0, -1.0, (1 - corr) / sq)
        priority[~keep] = np.inf
        size = min(max(2 * np.count_nonzero(b), 100), np.count_nonzero(keep))
        ws = np.sort(np.argpartition(priority, size - 1)[:size]) if size < p else np.arange(p)
        epochs += _cd(XT, norms, b, r, y, ws, lam, 0.3 * gap, min(_CD_EPOCHS, max_epochs - epochs))  # then re-check
    return rel, False, max_rounds


@njit(cache=True, fastmath=True)
def _matvec(G, x, m):
    """G[:m, :m] @ x[:m] (explicit loops: no BLAS binding to compile)."""
    out = np.zeros(m)
    for i in range(m):
        for k in range(m):
            out[i] += G[i, k] * x[k]
    return out


@njit(cache=True, fastmath=True)
def _add(XT, A, m, j, Ginv):
    """Append column j to the active set (bordered inverse); returns False if it is collinear."""
    g = np.empty(m)
    for k in range(m):
        g[k] = _dot(XT, A[k], XT[j])
    u = _matvec(Ginv, g, m)
    xx = _dot(XT, j, XT[j])
    schur = xx
    for k in range(m):
        schur -= g[k] * u[k]
    if schur <= 1e-12 * xx:
        return False
    for i in range(m):
        for k in range(m):
            Ginv[i, k] += (u[i] / schur) * u[k]
        Ginv[i, m] = -u[i] / schur
        Ginv[m, i] = -u[i] / schur
    Ginv[m, m] = 1.0 / schur
    A[m] = j
    return True


@njit(cache=True)
def _remove(A, m, k, Ginv):
    """Remove position k of the active set (swap with the last, then the Schur complement of the inverse)."""
    last = m - 1
    A[k], A[last] = A[last], A[k]
    for i in range(m):
        Ginv[k, i], Ginv[last, i] = Ginv[last, i], Ginv[k, i]
    for i in range(m):
        Ginv[i, k], Ginv[i, last] = Ginv[i, last], Ginv[i, k]
    for i in range(last):
        f = Ginv[i, last] / Ginv[last, last]
        for k2 in range(last):
            Ginv[i, k2] -= f * Ginv[last, k2]


@njit(cache=True)
def _homotopy(XT, b, r, lam, target, A, m, Ginv, max_events):
    """Follow the exact LASSO path (LARS-lasso homotopy) from the solution b at lam towards target, for at
    most max_events events. Along a segment with active set A and signs s: b_A(lam - g) = b_A + g G^{-1} s_A;
    a column joins when its correlation reaches the shrinking lam, an active one leaves when it crosses zero.
    Returns (m, lam reached, stuck): stuck when a column cannot join (m = n or collinear)."""
    p, n = XT.shape
    dropped = -1
    c, a = np.empty(p), np.empty(p)
    for j in range(p):
        c[j] = _dot(XT, j, r)
    s = np.zeros(n + 1)
    for k in range(m):
        s[k] = np.sign(c[A[k]])
    active = np.zeros(p, np.bool_)
    active[A[:m]] = True
    v = np.empty(n)
    for _ in range(max_events):
        if lam <= target:
            break
        d = _matvec(Ginv, s, m)
        v[:] = 0.0
        for k in range(m):
            for i in range(n):
                v[i] += d[k] * XT[A[k], i]
        for j in range(p):
            a[j] = _dot(XT, j, v)
        step, event, which = lam - target, 0, -1
        for j in range(p):
            if active[j] or j == dropped:  # a column that just left cannot rejoin at once
                continue
            for sj in (1.0, -1.0):  # c_j - g a_j = sj (lam - g)
                den = sj - a[j]
                if den != 0.0:
                    g = (sj * lam - c[j]) / den
                    if 1e-14 * lam < g < step:
                        step, event, which = g, 1, j
        for k in range(m):
            if d[k] != 0.0:
                g = -b[A[k]] / d[k]
                if 1e-14 * lam < g < step:
                    step, event, which = g, 2, k
        for k in range(m):
            b[A[k]] += step * d[k]
        for i in range(n):
            r[i] -= step * v[i]
        for j in range(p):
            c[j] -= step * a[j]
        lam -= step
        dropped = -1
        if event == 1:
            if m >= n or not _add(XT, A, m, which, Ginv):
                return m, lam, True
            s[m] = np.sign(c[which])
            active[which] = True
            m += 1
        elif event == 2:
            dropped = A[which]
            b[dropped] = 0.0
            active[dropped] = False
            _remove(A, m, which, Ginv)
            s[which], s[m - 1] = s[m - 1], s[which]
            m -= 1
    return m, lam, False


class _Homotopy:
    """State of the homotopy: active set A[:m] (buffer of n + 1) and the inverse Gram matrix of X_A."""

    def __init__(self, XT: np.ndarray, b: np.ndarray, c: np.ndarray):
        """From a solution b; an empty support starts with the most correlated column (b = 0 at lam_max)."""
        n = XT.shape[1]
        S = np.flatnonzero(b) if b.any() else np.array([np.argmax(np.abs(c))])
        self.A = np.zeros(n + 1, np.int64)
        self.m = min(S.size, n)
        self.A[:self.m] = S[:self.m]
        self.Ginv = np.zeros((n + 1, n + 1))
        self.refresh(XT)

    def refresh(self, XT: np.ndarray) -> None:
        XA = XT[self.A[:self.m]]
        self.Ginv[:self.m, :self.m] = np.linalg.inv(XA @ XA.T)

    def walk(self, XT, y, b, r, lam, target):
        """Move (b, r) from the solution at lam down to target (or until stuck), refreshing the inverse and
        the residual every _REFRESH events to limit drift."""
        while lam > target:
            self.m, lam, stuck = _homotopy(XT, b, r, lam, target, self.A, self.m, self.Ginv, _REFRESH)
            if stuck:
                return
            if lam > target:
                self.refresh(XT)
                r[:] = y - XT[self.A[:self.m]].T @ b[self.A[:self.m]]


def _path(XT, y, lams, tol, max_rounds):
    """LASSO solutions along decreasing lams, each certified by the duality gap: working-set coordinate
    descent from the previous solution, the homotopy from the first lam where the rule of the comment above
    picks it on. Returns (B, gaps, rounds, ok)."""
    p, n = XT.shape
    _first_call(_cd, np.ones((1, 1)), np.ones(1), np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1, np.int64),
                1.0, 0.0, 1)
    norms = np.einsum("ij,ij->i", XT, XT)
    b, r = np.zeros(p), y.copy()
    lam = float(np.max(np.abs(XT @ y)))  # b = 0 solves every lam >= lam_max
    hom = None
    B, gaps = np.zeros((lams.size, p)), np.empty(lams.size)
    rounds, ok = np.zeros(lams.size, np.int64), np.zeros(lams.size, bool)
    events = np.inf  # estimated homotopy events to the next lam: 1.5 x the last change of the support size
    for k, lam_k in enumerate(lams):
        df = np.count_nonzero(b)
        if hom is None and df <= _HOMOTOPY_DF * n and events * p >= df * df / 2 + 20 * p:
            b0, r0 = b.copy(), r.copy()
            gaps[k], ok[k], rounds[k] = _cd_solve(XT, norms, y, b, r, lam_k, tol, max_rounds, _CD_EPOCHS)
            if not ok[k]:  # stalled: continue exactly from the last solution
                b, r = b0, r0
        if not ok[k]:
            if hom is None:
                _first_call(_homotopy, np.ones((1, 1)), np.zeros(1), np.zeros(1), 1.0, 0.0,
                            np.zeros(2, np.int64), 0, np.zeros((2, 2)), 0)
                hom = _Homotopy(XT, b, XT @ r)
            if lam_k < lam:
                hom.walk(XT, y, b, r, lam, lam_k)
            gaps[k], ok[k], rounds[k] = _cd_solve(XT, norms, y, b, r, lam_k, tol, max_rounds, 10**9)
            if rounds[k] > 0:
                hom = _Homotopy(XT, b, XT @ r)
        lam = min(lam, lam_k)
        events = 1.5 * abs(np.count_nonzero(b) - df)
        B[k] = b
    return B, gaps, rounds, ok


_NOTICE = "compiling the lasso kernels (first run only)..."
_noticed: list[bool] = []


def _notice() -> None:
    if not _noticed:
        _noticed.append(True)
        print(_NOTICE, file=sys.stderr, flush=True)


def _first_call(kernel, *args) -> None:
    """Call a Numba kernel once on a 1 x 1 problem (argument types as in the real calls): it is loaded from
    the cache, or compiled on a first run; on a terminal one stderr line says so when that takes longer than
    half a second (once per process)."""
    if getattr(kernel, "signatures", True):  # compiled already (or NUMBA_DISABLE_JIT: a plain function)
        return
    timer = threading.Timer(0.5, _notice)
    if sys.stderr.isatty():
        timer.start()
    try:
        kernel(*args)
    finally:
        timer.cancel()


def lasso_path(X: np.ndarray, y: np.ndarray, lams, tol: float = 1e-10,
               max_rounds: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Exact LASSO argmin (1/2)||y - Xb||^2 + lam ||b||_1 for every lam > 0 (any order).

    Returns (B, gaps): B[k] the solution at lams[k], gaps[k] its certified relative duality gap gap/P(b),
    <= tol, or below the rounding floor of the gap's evaluation, the larger of ROUNDING (y.y/2) / P(b) and
    :func:`_rounding` / P(b) (reached only near interpolation, where P(b) << y.y). Raises ConvergenceError if a gap stays above that after
    max_rounds working-set rounds."""
    lams = np.atleast_1d(np.asarray(lams, dtype=float))
    if np.any(lams <= 0):
        raise ValueError("lasso_path needs lam > 0 (use min_l1 for lam = 0)")
    order = np.argsort(-lams, kind="stable")
    B, gaps, rounds, ok = _path(np.ascontiguousarray(X.T), np.ascontiguousarray(y, dtype=float), lams[order],
                            tol, max_rounds)
    if not ok.all():
        k = int(np.argmin(ok))
        raise ConvergenceError(f"LASSO coordinate descent at lam = {lams[order][k]:g}", gaps[k], int(rounds[k]))
    out_B, out_g = np.empty_like(B), np.empty_like(gaps)
    out_B[order], out_g[order] = B, gaps
    return out_B, out_g


def duality_gap(X: np.ndarray, y: np.ndarray, b: np.ndarray, lam: float) -> float:
    """Relative duality gap of b for (1/2)||y - Xb||^2 + lam ||b||_1 (dual point r min(1, lam/||X^T r||_inf))."""
    gap, _, primal = _gap(np.ascontiguousarray(X.T), y.astype(float), b.astype(float), y - X @ b, float(lam))
    return float(gap / primal)



def kkt_residual(X: np.ndarray, y: np.ndarray, b: np.ndarray, lam: float) -> float:
    """max(|X_S^T r - lam sign b_S|, (|X_j^T r| - lam)_+) / lam: 0 exactly at the LASSO solution."""
    c = X.T @ (y - X @ b)
    on = b != 0
    res_on = np.abs(c[on] - lam * np.sign(b[on]))
    res_off = np.maximum(np.abs(c[~on]) - lam, 0.0)
    return float(np.max(np.concatenate([res_on, res_off, [0.0]])) / lam)


# ------------------------------------------------------------------- minimum-l1 interpolation
def min_l1(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Basis pursuit min ||b||_1 s.t. X b = y as the LP min 1.(u + v), X(u - v) = y, u, v >= 0 (HiGHS).

    Returns (b, v): the solution and the dual v (max y.v s.t. ||X^T v||_inf <= 1). HiGHS meets its
    feasibility tolerances only absolutely (1e-9 here, on its scaled model), so the vertex is re-solved on
    its support S (X_S b_S = y, least squares) and v is scaled onto the dual feasible set. Certified, relative to the problem's scale, by the primal residual
    max|X b - y| <= FEAS_TOL max_i (|X| |b| + |y|)_i and the relative duality gap | ||b||_1 - y.v | / ||b||_1
    <= GAP_TOL; a failed certificate raises ConvergenceError with the larger of the two."""
    n, p = X.shape
    res = optimize.linprog(np.ones(2 * p), A_eq=sparse.csr_array(np.hstack([X, -X])), b_eq=y,
                           bounds=(0, None), method="highs", options=_HIGHS)
    if res.status != 0:
        raise ConvergenceError(f"basis pursuit LP ({res.message})", np.nan, int(res.nit))
    b, v = _on_support(X, y, res.x[:p] - res.x[p:], res.eqlin.marginals)
    scale = float(np.max(np.abs(X) @ np.abs(b) + np.abs(y)))
    infeas = float(np.max(np.abs(X @ b - y))) / max(scale, 1e-300)
    l1 = np.sum(np.abs(b))
    gap = abs(l1 - y @ v) / max(l1, 1e-300)
    if infeas > FEAS_TOL or gap > GAP_TOL:
        raise ConvergenceError("basis pursuit LP (primal feasibility, duality gap)", max(infeas, gap), int(res.nit))
    return b, v


def _on_support(X: np.ndarray, y: np.ndarray, b: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(b, v) of an LP vertex polished: b_S re-solved from X_S b_S = y on its support S = {b != 0} (least
    squares; kept if X_S has full rank and the signs are kept) and v / max(1, ||X^T v||_inf)."""
    S = np.flatnonzero(b)
    if not 0 < S.size <= len(y):
        return b, v
    sol, _, rank, _ = linalg.lstsq(X[:, S], y, check_finite=False)
    if rank == S.size and np.all(np.sign(sol) == np.sign(b[S])):
        b = np.zeros_like(b)
        b[S] = sol
    return b, v / max(1.0, float(np.max(np.abs(X.T @ v))))


# ---------------------------------------------------------------------------------------- AMP
def amp(X: np.ndarray, y: np.ndarray, alpha: float, iterations: int = 500, tol: float = 1e-10,
        damping: float = 1.0) -> dict:
    r"""AMP for the LASSO at normalised threshold alpha (Donoho-Maleki-Montanari 2009):

    .. math::

        u = x + X^\top z, \qquad \tau = \frac{\|z\|}{\sqrt{n}}, \qquad x' = \eta(u; \alpha \tau)

        z' = y - X x' + \frac{1}{\delta} \operatorname{mean}(\eta'(u))\, z

    (the last term is the Onsager term, delta = n/p); x' optionally damped (x <- (1 - damping) x + damping x').
    Stops when ||x' - x|| <= tol ||x'||.
    Returns {beta, tau, lam (= alpha tau (1 - df/n), the LASSO penalty of the fixed point), iterations,
    converged}."""
    n, p = X.shape
    x, z = np.zeros(p), y.astype(float).copy()
    tau = np.linalg.norm(z) / np.sqrt(n)
    it, step = 0, np.inf
    for it in range(1, iterations + 1):
        tau = np.linalg.norm(z) / np.sqrt(n)
        u = x + X.T @ z
        new = np.sign(u) * np.maximum(np.abs(u) - alpha * tau, 0.0)
        new = (1 - damping) * x + damping * new
        onsager = np.count_nonzero(np.abs(u) > alpha * tau) / n
        step = np.linalg.norm(new - x) / max(np.linalg.norm(new), 1e-300)
        x = new
        z = y - X @ x + onsager * z
        if step <= tol:
            break
    df = np.count_nonzero(x)
    return {"beta": x, "tau": tau, "lam": alpha * tau * (1 - df / n), "iterations": it,
            "converged": bool(step <= tol)}


def amp_metrics(model: Lasso, sizes: dict, rng: np.random.Generator, alpha: float, **kw) -> dict:
    """One replicate of AMP at threshold alpha: mse, tau_star (= ||z||/sqrt n at the fixed point),
    frac_nonzero, threshold (= alpha) and lam (the penalty lam_N the fixed point solves)."""
    X, beta, y = draw(model, sizes, rng)
    out = amp(X, y, alpha, **kw)
    if not out["converged"]:
        raise ConvergenceError(f"AMP at alpha = {alpha:g}", np.nan, out["iterations"])
    p = sizes["p"]
    return {"mse": float(np.sum((out["beta"] - beta) ** 2) / p), "tau_star": out["tau"],
            "frac_nonzero": np.count_nonzero(out["beta"]) / p, "threshold": float(alpha), "lam": out["lam"]}


# ------------------------------------------------------------------------ basis-pursuit success
def bp_success(n: int, p: int, k: int, trials: int, rng: np.random.Generator) -> np.ndarray:
    """Success indicators of basis pursuit on ``trials`` draws: x0 with k entries +-1 on a random support,
    y = X x0 (X iid N(0, 1/n)); success iff max|x_hat - x0| < 1e-6."""
    out = np.zeros(trials, dtype=bool)
    for t in range(trials):
        X = rng.standard_normal((n, p)) / np.sqrt(n)
        x0 = np.zeros(p)
        x0[rng.choice(p, size=k, replace=False)] = rng.choice([-1.0, 1.0], k)
        try:
            xh, _ = min_l1(X, X @ x0)
        except ConvergenceError:
            continue  # an LP that fails is not a success
        out[t] = np.max(np.abs(xh - x0)) < 1e-6
    return out


# ---------------------------------------------------------------------------------- replicate
def _metrics(X, y, beta, b, lam, dual=None):
    n, p = X.shape
    r = y - X @ b
    df = np.count_nonzero(b)
    mse = np.sum((b - beta) ** 2) / p
    if lam > 0 or n > p:
        rn, left = np.linalg.norm(r), 1 - df / n
        tau = rn / (np.sqrt(n) * left) if left > 0 else np.inf  # df = n, lam > 0: r != 0 over zero dof
        thr = lam * np.sqrt(n) / rn if rn > 0 else (np.inf if lam > 0 else 0.0)  # rn = 0 < lam only if y = 0
    else:  # interpolation: r = 0, no finite-n estimate of tau_* (the SE identity would repeat mse)
        tau = np.nan
        thr = np.sqrt(n) / np.linalg.norm(dual) if dual is not None else 0.0
    return mse, tau, df / p, thr


def replicate(model: Lasso, sizes: dict, rng: np.random.Generator, tol: float = 1e-10) -> dict:
    """One replicate over the shared lam grid (module docstring): {metric: array over lam}."""
    X, beta, y = draw(model, sizes, rng)
    n, p = X.shape
    lams = np.atleast_1d(np.asarray(model.lam, dtype=float))
    rows = np.zeros((lams.size, 5))
    pos = lams > 0
    if pos.any():
        B, gaps = lasso_path(X, y, lams[pos], tol)
        rows[pos] = [(*_metrics(X, y, beta, b, lam), g) for b, lam, g in zip(B, lams[pos], gaps)]
    if (~pos).any():
        if n < p:
            b, v = min_l1(X, y)
            b = np.where(np.abs(b) > 1e-9, b, 0.0)
        else:
            b, v = np.linalg.lstsq(X, y, rcond=None)[0], None
        rows[~pos] = (*_metrics(X, y, beta, b, 0.0, v), 0.0)
    return dict(zip(("mse", "tau_star", "frac_nonzero", "threshold", "gap"), rows.T))
