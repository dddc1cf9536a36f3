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
#   It walks the rest of the grid in one kernel call, with a Cholesky factor of X_A^T X_A updated at every
#   event (a bordered column when a variable joins, Givens rotations when one leaves) and the correlations
#   c = X^T r updated by a = X^T X_A d; the Gram matrix X^T X is formed (one BLAS-3 product) once the events
#   so far would have paid for it, after which an event costs (p - |A|) |A| instead of n p. The solutions at
#   the grid points are re-solved on the active set, then certified all at once (`_gaps`, two matrix
#   products); a point that is not goes to the exact QR solve on its support and the working-set solver.
# Only two small Numba kernels (`_cd`, `_homotopy` with helpers), compiled on first use (cache=True).
_HOMOTOPY_DF = 0.5  # support fraction of n beyond which the path continues by the homotopy
_CD_EPOCHS = 400  # epoch budget of a coordinate-descent attempt before falling back to the homotopy
_REFRESH = 1000  # homotopy events between recomputations of the Cholesky factor and the correlations
_GRAM_PAYS = 0.02  # X^T X is formed once the events so far would have saved _GRAM_PAYS p products X^T v
_GRAM_MAX = 2**24  # ... if p^2 <= _GRAM_MAX (128 MB)


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
    S = np.flatnonzero(b)
    dr = np.finfo(float).eps * np.sqrt(y.size) * float(np.max(np.abs(b[S]) @ np.abs(XT[S]) + np.abs(y)))
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
def _combine(M, rows, coef, m, out):
    """out = sum_k coef[k] M[rows[k]] over k < m (four rows per pass over out)."""
    out[:] = 0.0
    k = 0
    while k + 4 <= m:
        r0, r1, r2, r3 = M[rows[k]], M[rows[k + 1]], M[rows[k + 2]], M[rows[k + 3]]
        c0, c1, c2, c3 = coef[k], coef[k + 1], coef[k + 2], coef[k + 3]
        for i in range(out.size):
            out[i] += c0 * r0[i] + c1 * r1[i] + c2 * r2[i] + c3 * r3[i]
        k += 4
    for k in range(k, m):
        row, ck = M[rows[k]], coef[k]
        for i in range(out.size):
            out[i] += ck * row[i]


@njit(cache=True, fastmath=True)
def _forward(R, m, x):
    """x[:m] <- R^{-T} x[:m] for the upper-triangular R[:m, :m] (column-oriented, rows of R contiguous)."""
    for i in range(m):
        xi = x[i] / R[i, i]
        x[i] = xi
        row, tail = R[i, i + 1:m], x[i + 1:m]  # slices: the loops vectorise
        for k in range(row.size):
            tail[k] -= xi * row[k]


@njit(cache=True, fastmath=True)
def _backward(R, m, x):
    """x[:m] <- R^{-1} x[:m] for the upper-triangular R[:m, :m]."""
    for i in range(m - 1, -1, -1):
        row, tail = R[i, i + 1:m], x[i + 1:m]
        z = 0.0
        for k in range(row.size):
            z += row[k] * tail[k]
        x[i] = (x[i] - z) / R[i, i]


@njit(cache=True, fastmath=True)
def _add(XT, G, A, m, j, R, w):
    """Append column j to the active set: the new column of the Cholesky factor R (X_A^T X_A = R^T R) solves
    R^T w = X_A^T x_j (Gram rows from G when given); returns False if x_j is collinear with X_A."""
    if G.shape[0]:
        for k in range(m):
            w[k] = G[j, A[k]]
        xx = G[j, j]
    else:
        for k in range(m):
            w[k] = _dot(XT, A[k], XT[j])
        xx = _dot(XT, j, XT[j])
    _forward(R, m, w)
    rest = xx
    for k in range(m):
        rest -= w[k] * w[k]
    if rest <= 1e-12 * xx:
        return False
    for k in range(m):
        R[k, m] = w[k]
    R[m, m] = np.sqrt(rest)
    A[m] = j
    return True


@njit(cache=True, fastmath=True)
def _remove(A, s, m, k, R, z):
    """Remove position k of the active set (A and the signs s shift down): delete column k of R and restore
    the triangle with Givens rotations of the rows k, k + 1, ..., applied to z = R^{-T} s as well."""
    for i in range(m):
        dst, src = R[i, k:m - 1], R[i, k + 1:m]
        for col in range(dst.size):
            dst[col] = src[col]
    for i in range(k, m - 1):
        top, low = R[i, i:m - 1], R[i + 1, i:m - 1]
        h = np.hypot(top[0], low[0])
        cs, sn = top[0] / h, low[0] / h
        for col in range(top.size):
            t, u = top[col], low[col]
            top[col] = cs * t + sn * u
            low[col] = cs * u - sn * t
        low[0] = 0.0
        z[i], z[i + 1] = cs * z[i] + sn * z[i + 1], cs * z[i + 1] - sn * z[i]
    for i in range(k, m - 1):
        A[i], s[i] = A[i + 1], s[i + 1]


@njit(cache=True, fastmath=True)
def _slopes(XT, G, H, slot, A, m, d, ds, v, a, active):
    """a_j = x_j . X_A d for the inactive j: from the Gram columns H (column slot[k] holds G[:, A[k]]) when G is
    given, else X^T v with v = X_A d (ds, v: work buffers)."""
    if G.shape[0]:
        for k in range(m):
            ds[slot[k]] = d[k]
        for j in range(a.size):
            if not active[j]:
                row, z0 = H[j, :m], 0.0
                for k in range(m):
                    z0 += row[k] * ds[k]
                a[j] = z0
    else:
        _combine(XT, A, d, m, v)
        for j in range(a.size):
            if not active[j]:
                a[j] = _dot(XT, j, v)


@njit(cache=True, fastmath=True)
def _solve_active(R, A, s, m, xty, lam, b, w):
    """b_A = (X_A^T X_A)^{-1} (X_A^T y - lam s_A) with the factor R (w: work buffer)."""
    for k in range(m):
        w[k] = xty[A[k]] - lam * s[k]
    _forward(R, m, w)
    _backward(R, m, w)
    for k in range(m):
        b[A[k]] = w[k]


@njit(cache=True, fastmath=True)
def _homotopy(XT, G, H, slot, xty, b, c, lam, targets, out, A, m, R, max_events):
    """Follow the exact LASSO path (LARS-lasso homotopy) from the solution b at lam (c = X^T (y - X b)) down the
    decreasing targets, writing the solution at targets[k] to out[k] (re-solved there on the active set with R,
    xty = X^T y, which clears the rounding accumulated by the steps), for at most max_events events. Along a
    segment with active set A and signs s: b_A(lam - g) = b_A + g d, d = R^{-1} z with z = R^{-T} s_A updated
    with R (X_A^T X_A = R^T R), and c(lam - g) = c - g a; a column joins when its correlation reaches the
    shrinking lam, an active one leaves when it crosses zero; only the inactive a_j are needed (`_slopes`). A
    column that just left can re-enter in the next segment only with the other sign.
    Returns (m, lam, targets reached, events, stuck): stuck when a column cannot join (m = n or collinear)."""
    p, n = XT.shape
    active = np.zeros(p, np.bool_)
    s, d, w, ds = np.zeros(n + 1), np.empty(n + 1), np.empty(n + 1), np.empty(n + 1)
    v, a = np.empty(n), np.empty(p)
    for k in range(m):
        active[A[k]] = True
        s[k] = np.sign(c[A[k]])
    z = s.copy()
    _forward(R, m, z)
    reached, dropped, side, events, moved = 0, -1, 0.0, 0, True
    while True:
        while reached < targets.size and lam <= targets[reached]:
            _solve_active(R, A, s, m, xty, lam, b, w)
            out[reached] = b
            reached += 1
        if reached == targets.size or events == max_events:
            return m, lam, reached, events, False
        events += 1
        if moved:  # else the last event was a target: same active set, same d and a
            d[:m] = z[:m]
            _backward(R, m, d)
            _slopes(XT, G, H, slot, A, m, d, ds, v, a, active)
        step, event, which = lam - targets[reached], 0, -1
        for j in range(p):
            if active[j]:
                continue
            for sj in (1.0, -1.0):  # c_j - g a_j = sj (lam - g)
                if j == dropped and sj == side:  # it just left at c_j = sj lam: no re-entry on that side
                    continue
                den = sj - a[j]
                if den != 0.0:
                    gj = (sj * lam - c[j]) / den
                    if 1e-14 * lam < gj < step:
                        step, event, which = gj, 1, j
        for k in range(m):
            a[A[k]] = s[k]  # X_A^T X_A d = s
            if d[k] != 0.0:
                gk = -b[A[k]] / d[k]
                if 1e-14 * lam < gk < step:
                    step, event, which = gk, 2, k
        for k in range(m):
            b[A[k]] += step * d[k]
        for j in range(p):
            c[j] -= step * a[j]
        lam = targets[reached] if event == 0 else lam - step
        dropped, moved = -1, event != 0
        if event == 1:
            if m >= n or not _add(XT, G, A, m, which, R, w):
                return m, lam, reached, events, True
            s[m] = np.sign(c[which])
            z[m] = s[m]
            for k in range(m):
                z[m] -= w[k] * z[k]
            z[m] /= R[m, m]
            if G.shape[0]:
                slot[m] = m
                for j in range(p):
                    H[j, m] = G[which, j]
            active[which] = True
            m += 1
        elif event == 2:
            dropped, side = A[which], s[which]
            b[dropped] = 0.0
            active[dropped] = False
            if G.shape[0]:  # free slot[which]: the column in slot m - 1 moves there
                free = slot[which]
                for k in range(m):
                    if slot[k] == m - 1:
                        slot[k] = free
                for j in range(p):
                    H[j, free] = H[j, m - 1]
                for k in range(which, m - 1):
                    slot[k] = slot[k + 1]
            _remove(A, s, m, which, R, z)
            m -= 1


class _Homotopy:
    """State of the homotopy: active set A[:m] (buffer of n + 1), the Cholesky factor R of X_A^T X_A, the
    correlations c = X^T (y - X b) of the current point b, and the Gram matrix X^T X once it pays off."""

    def __init__(self, XT: np.ndarray, y: np.ndarray, b: np.ndarray, G: np.ndarray = np.zeros((0, 0))):
        """From a solution b (and X^T X if formed already); an empty support starts with the most correlated
        column (b = 0 at lam_max)."""
        p, n = XT.shape
        self.xty = XT @ y
        self.c = self.xty - XT @ (XT.T @ b)
        S = np.flatnonzero(b) if b.any() else np.array([np.argmax(np.abs(self.c))])
        self.A = np.zeros(n + 1, np.int64)
        self.m = min(S.size, n)
        self.A[:self.m] = S[:self.m]
        self.R = np.zeros((n + 1, n + 1))
        self.G, self.H, self.slot = np.zeros((0, 0)), np.zeros((0, 0)), np.zeros(0, np.int64)
        if G.size:
            self._use_gram(G)
        self.factored = self._factor(XT)
        self.since = 0  # events since the factor was formed
        self.saved = 0.0  # what the Gram matrix would have saved so far, in units of one X^T v product

    def _use_gram(self, G: np.ndarray) -> None:
        """Switch to the Gram matrix: H holds its columns of the active set (slot k for A[k])."""
        self.G = G
        self.H = np.empty((G.shape[0], self.R.shape[0]))
        self.H[:, :self.m] = G[:, self.A[:self.m]]
        self.slot = np.arange(self.R.shape[0])

    def _factor(self, XT: np.ndarray) -> bool:
        """R[:m, :m] = the Cholesky factor of X_A^T X_A; False if that is not numerically positive definite."""
        A = self.A[:self.m]
        try:
            L = np.linalg.cholesky(self.G[np.ix_(A, A)] if self.G.size else XT[A] @ XT[A].T)
        except np.linalg.LinAlgError:
            return False
        self.R[:self.m, :self.m] = L.T
        return True

    def walk(self, XT: np.ndarray, y: np.ndarray, b: np.ndarray, lam: float, targets: np.ndarray,
             out: np.ndarray) -> tuple[float, int, bool]:
        """Move b from the solution at lam down the decreasing targets (writing out[k] at targets[k]) or until
        stuck (also when X_A^T X_A cannot be factored); every _REFRESH events the factor and the correlations are
        recomputed to limit drift. Without the Gram matrix an event costs ~ (p - m) n + m n, with it ~ (p - m) m;
        forming it (BLAS-3, p^2 n / 2) costs about p / 4 products X^T v (measured), and is done once the events
        so far would have saved _GRAM_PAYS p of them. Returns (lam reached, number of targets reached, stuck)."""
        p, n = XT.shape
        done = 0
        while self.factored:
            m0 = self.m
            chunk = _REFRESH - self.since if self.G.size else min(_REFRESH - self.since, max(1, p // 50))
            self.m, lam, reached, events, stuck = _homotopy(XT, self.G, self.H, self.slot, self.xty, b, self.c, lam,
                                                            targets[done:], out[done:], self.A, self.m, self.R, chunk)
            done += reached
            if stuck or done == targets.size:
                return lam, done, stuck
            self.since += events
            if self.since >= _REFRESH:
                self.factored = self._factor(XT)
                self.c = XT @ (y - XT.T @ b)
                self.since = 0
            self.saved += events * (1 - (m0 + self.m) / (2 * n))
            if not self.G.size and self.saved > _GRAM_PAYS * p and p * p <= _GRAM_MAX:
                self._use_gram(XT @ XT.T)
        return lam, done, True


def _gaps(XT: np.ndarray, y: np.ndarray, B: np.ndarray, lams: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(absolute duality gaps, primal objectives) of the rows of B at lams, all at once (as :func:`_gap`)."""
    R = y - B @ XT
    cmax = np.max(np.abs(R @ XT.T), axis=1)
    s = np.minimum(1.0, lams / np.where(cmax > 0, cmax, lams))
    rr = np.einsum("ij,ij->i", R, R)
    primal = 0.5 * rr + lams * np.sum(np.abs(B), axis=1)
    return primal - (s * (R @ y) - 0.5 * s * s * rr), primal


def _certified(XT, norms, y, B, lams, tol):
    """(relative duality gaps, certified) of the rows of B at lams, all at once, with the thresholds of
    :func:`_cd_solve` (:func:`_rounding` only for the rows above the others)."""
    gap, primal = _gaps(XT, y, B, lams)
    ok = gap <= np.maximum(tol * primal, ROUNDING * 0.5 * (y @ y))
    for k in np.flatnonzero(~ok):
        ok[k] = gap[k] <= _rounding(XT, y, B[k], np.sqrt(norms))
    return gap / np.maximum(primal, 1e-300), ok


def _path(XT, y, lams, tol, max_rounds):
    """LASSO solutions along decreasing lams, each certified by the duality gap: working-set coordinate
    descent from the previous solution, the homotopy from the first lam where the rule of the comment above
    picks it on. Returns (B, gaps, rounds, ok)."""
    p, n = XT.shape
    _first_call(_cd, np.ones((1, 1)), np.ones(1), np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1, np.int64),
                1.0, 0.0, 1)
    norms = np.einsum("ij,ij->i", XT, XT)
    b, r = np.zeros(p), y.copy()
    lam = lam_max = float(np.max(np.abs(XT @ y)))  # b = 0 solves every lam >= lam_max
    B, gaps = np.zeros((lams.size, p)), np.empty(lams.size)
    rounds, ok = np.zeros(lams.size, np.int64), np.zeros(lams.size, bool)
    events = np.inf  # estimated homotopy events to the next lam: 1.5 x the last change of the support size
    k = 0
    while k < lams.size:  # coordinate descent while the rule picks it
        df = np.count_nonzero(b)
        if df > _HOMOTOPY_DF * n or events * p < df * df / 2 + 20 * p:
            break
        b0, r0 = b.copy(), r.copy()
        gaps[k], ok[k], rounds[k] = _cd_solve(XT, norms, y, b, r, lams[k], tol, max_rounds, _CD_EPOCHS)
        if not ok[k]:  # stalled: continue exactly from the last solution
            b, r = b0, r0
            break
        lam = min(lam, lams[k])
        events = 1.5 * abs(np.count_nonzero(b) - df)
        B[k] = b
        k += 1
    if k == lams.size:
        return B, gaps, rounds, ok
    _first_call(_homotopy, np.ones((1, 1)), np.zeros((0, 0)), np.zeros((0, 0)), np.zeros(0, np.int64), np.zeros(1),
                np.zeros(1), np.zeros(1), 1.0, np.zeros(1), np.zeros((1, 1)), np.zeros(2, np.int64), 0,
                np.zeros((2, 2)), 0)
    # the homotopy down the rest of the grid, from lam_max (b = 0): started from the certified point of coordinate
    # descent (inexact at ~sqrt(gap)) near interpolation it can lose the path (250 x 500, seed 11 of the tests)
    b, lam = np.zeros(p), lam_max
    gram = np.zeros((0, 0))
    while k < lams.size:
        hom = _Homotopy(XT, y, b, gram)
        lam, reached, stuck = hom.walk(XT, y, b, lam, lams[k:], B[k:])
        gram = hom.G
        gaps[k:k + reached], ok[k:k + reached] = _certified(XT, norms, y, B[k:k + reached], lams[k:k + reached], tol)
        bad = k + int(np.argmin(ok[k:k + reached])) if not ok[k:k + reached].all() else k + reached
        if bad == lams.size:
            break
        # the first point not certified (or where the walk got stuck): the working-set solver from there, after
        # the exact QR solve on the support of the homotopy's point; the homotopy restarts from its solution
        if bad < k + reached:
            b = B[bad].copy()
        r = y - XT.T @ b
        if bad < k + reached:
            _polish(XT, y, b, r, lams[bad])
        gaps[bad], ok[bad], rounds[bad] = _cd_solve(XT, norms, y, b, r, lams[bad], tol, max_rounds, 10**9)
        B[bad], lam, k = b, min(lam, lams[bad]), bad + 1
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
