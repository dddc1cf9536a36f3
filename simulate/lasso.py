"""Finite-size LASSO, minimum-l1 interpolation, AMP and basis-pursuit experiments (formulas/lasso.md).

One replicate draws X in R^{n x p} with iid N(0, 1/n) entries, beta with iid coordinates
B ~ (1 - eps) delta_0 + eps P (P = N(0, 1) for ``gauss``, uniform{+-1} for ``rademacher``) and
y = X beta + w, w ~ N(0, sigma2 I_n); every lam of the shared grid uses this one draw.

Estimators (exact, never a stand-in):
* lam > 0: beta_hat = argmin (1/2)||y - X b||^2 + lam ||b||_1 by :func:`lasso_path`, coordinate descent
  in Numba on a working set with warm starts down the decreasing lam path, polished by the exact solve
  on the active set, stopped by a certified relative duality gap: with r = y - X b and the dual point
  u = r min(1, lam / ||X^T r||_inf), gap = P(b) - (u.y - u.u/2) <= tol * P(b).
* lam = 0, n < p: minimum-l1 interpolation min ||b||_1 s.t. X b = y, a linear program solved by HiGHS
  (:func:`min_l1`); its equality duals are the basis-pursuit dual v (max y.v s.t. ||X^T v||_inf <= 1).
* lam = 0, n >= p (a delta sweep across 1): least squares, the lam -> 0+ limit.

Metrics (the same conventions as ``overparam.theory.lasso``), r = y - X beta_hat, df = ||beta_hat||_0:
  mse = ||beta_hat - beta||^2 / p;  frac_nonzero = df / p;
  tau_star = ||r|| / (sqrt(n) (1 - df/n))  (the AMP residual estimate of tau_*);
  threshold = lam sqrt(n) / ||r||  (= theta_hat / tau_hat with theta_hat = lam / (1 - df/n)).
  At lam = 0 with n < p (r = 0, df = n): threshold = sqrt(n) / ||v|| from the dual, and
  tau_star = sqrt(sigma2 + (p/n) mse) (the state-evolution identity with the known sigma2); at n = p,
  threshold = 0 and the same tau_star. Also returned: ``gap``, the certified relative duality gap
  (0 for the LP/least-squares points, whose feasibility is checked to 1e-8 instead).

Second estimator: :func:`amp` runs approximate message passing with the Onsager term at a fixed
normalised threshold alpha; its fixed point is the LASSO solution at lam_N = alpha tau (1 - df/n).
:func:`bp_success` is the basis-pursuit success experiment behind the ``l1-transition`` figure.
"""
from __future__ import annotations

import numpy as np
from numba import njit
from scipy import optimize, sparse

from overparam.errors import ConvergenceError
from overparam.models import Lasso

__all__ = ["draw", "lasso_path", "duality_gap", "kkt_residual", "min_l1", "amp", "amp_metrics",
           "bp_success", "replicate"]

#: Absolute rounding floor of the duality gap in units of y.y/2 (P(b) - D(u) is a difference of O(y.y) terms).
ROUNDING = 1e-13


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


# ------------------------------------------------------------------------ exact LASSO (Numba)
@njit(cache=True)
def _gap(XT, y, b, r, lam):
    """(relative duality gap, X^T r, primal objective) at b with residual r."""
    c = XT @ r
    cmax = np.max(np.abs(c))
    s = min(1.0, lam / cmax) if cmax > 0 else 1.0
    primal = 0.5 * r @ r + lam * np.sum(np.abs(b))
    dual = s * (r @ y) - 0.5 * s * s * (r @ r)
    return (primal - dual) / max(primal, 1e-300), c, primal


@njit(cache=True)
def _cd_sweeps(XT, norms, b, r, ws, lam, tol, max_sweeps):
    """Cyclic coordinate descent on the working set ws until the largest step |db_j| ||x_j|| < tol."""
    for _ in range(max_sweeps):
        step = 0.0
        for j in ws:
            old = b[j]
            z = XT[j] @ r + norms[j] * old
            new = np.sign(z) * max(abs(z) - lam, 0.0) / norms[j]
            if new != old:
                r -= (new - old) * XT[j]
                b[j] = new
                step = max(step, abs(new - old) * np.sqrt(norms[j]))
        if step < tol:
            return


@njit(cache=True)
def _polish(XT, y, b, r, lam):
    """Feature-sign step on the support S of b (signs s): the exact solve X_S^T X_S c = X_S^T y - lam s, then
    the best objective among c and the points where the segment b_S -> c crosses zero (those coordinates
    become exact zeros). The objective never increases; returns whether c itself (all signs kept) was taken."""
    S = np.flatnonzero(b)
    if S.size == 0 or S.size > XT.shape[1]:
        return False
    XS = XT[S]
    s = np.sign(b[S])
    try:
        c = np.linalg.solve(XS @ XS.T, XS @ y - lam * s)
    except Exception:  # singular active Gram matrix: keep the CD iterate
        return False
    d = c - b[S]
    Xd = XS.T @ d
    best_t, best_f = 0.0, 0.5 * r @ r + lam * np.sum(np.abs(b[S]))
    ts = [1.0]
    for i in range(S.size):
        if s[i] * c[i] < 0:
            ts.append(-b[S[i]] / d[i])
    for t in ts:
        rt = r - t * Xd
        f = 0.5 * rt @ rt + lam * np.sum(np.abs(b[S] + t * d))
        if f < best_f:
            best_t, best_f = t, f
    if best_t == 0.0:
        return False
    new = b[S] + best_t * d
    for i in range(S.size):
        if s[i] * new[i] <= 0 or (best_t < 1.0 and abs(best_t + b[S[i]] / d[i]) < 1e-15 * best_t):
            new[i] = 0.0
    b[S] = new
    r[:] = y - XS.T @ new
    return best_t == 1.0 and np.all(np.sign(c) == s)


@njit(cache=True)
def _inverse(XT, A, m):
    """(X_A^T X_A)^{-1} for the first m indices of A (in an (n+1) x (n+1) buffer)."""
    Ginv = np.zeros((XT.shape[1] + 1, XT.shape[1] + 1))
    if m > 0:
        XA = XT[A[:m]]
        Ginv[:m, :m] = np.linalg.inv(XA @ XA.T)
    return Ginv


@njit(cache=True)
def _matvec(G, x, m):
    """G[:m, :m] @ x[:m] row by row (contiguous rows of the buffer)."""
    out = np.empty(m)
    for i in range(m):
        out[i] = G[i, :m] @ x[:m]
    return out


@njit(cache=True)
def _add(XT, A, m, j, Ginv):
    """Append column j to the active set (bordered inverse); returns False if it is collinear."""
    xj = XT[j]
    g = np.empty(m)
    for k in range(m):
        g[k] = XT[A[k]] @ xj
    u = _matvec(Ginv, g, m)
    schur = xj @ xj - g @ u
    if schur <= 1e-12 * (xj @ xj):
        return False
    for i in range(m):
        Ginv[i, :m] += (u[i] / schur) * u
    Ginv[:m, m] = -u / schur
    Ginv[m, :m] = -u / schur
    Ginv[m, m] = 1.0 / schur
    A[m] = j
    return True


@njit(cache=True)
def _remove(A, m, k, Ginv):
    """Remove position k of the active set (swap with the last, then the Schur complement of the inverse)."""
    last = m - 1
    A[k], A[last] = A[last], A[k]
    tmp = Ginv[k, :m].copy()
    Ginv[k, :m] = Ginv[last, :m]
    Ginv[last, :m] = tmp
    tmp = Ginv[:m, k].copy()
    Ginv[:m, k] = Ginv[:m, last]
    Ginv[:m, last] = tmp
    col = Ginv[:last, last].copy()
    for i in range(last):
        Ginv[i, :last] -= (col[i] / Ginv[last, last]) * col


@njit(cache=True)
def _homotopy(XT, y, b, r, lam, target, A, m, Ginv):
    """Follow the exact LASSO path (LARS-lasso homotopy) from the solution b at lam down to target.

    Along a segment with active set A and signs s: b_A(lam - g) = b_A + g G^{-1} s_A; a column joins when
    its correlation reaches the shrinking lam, an active one leaves when it crosses zero. Returns m."""
    p, n = XT.shape
    refresh, dropped = 0, -1
    c = XT @ r
    s = np.zeros(n + 1)
    for k in range(m):
        s[k] = np.sign(c[A[k]])
    active = np.zeros(p, np.bool_)
    active[A[:m]] = True
    v = np.empty(n)
    while lam > target:
        d = _matvec(Ginv, s, m)
        v[:] = 0.0
        for k in range(m):
            v += d[k] * XT[A[k]]
        a = XT @ v
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
        r -= step * v
        c -= step * a
        lam -= step
        dropped = -1
        if event == 1:
            if m >= n or not _add(XT, A, m, which, Ginv):
                return m
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
        refresh += 1
        if refresh % 400 == 0:  # limit the drift of the updated inverse
            Ginv[:, :] = _inverse(XT, A, m)
            r[:] = y
            for k in range(m):
                r -= b[A[k]] * XT[A[k]]
            c = XT @ r
    return m


@njit(cache=True)
def _sync(XT, b):
    """Active set (buffer), size and inverse Gram matrix of the support of b."""
    A = np.zeros(XT.shape[1] + 1, np.int64)
    S = np.flatnonzero(b)
    m = min(S.size, XT.shape[1])
    A[:m] = S[:m]
    return A, m, _inverse(XT, A, m)


@njit(cache=True)
def _path(XT, y, lams, tol, max_rounds):
    """LASSO solutions along decreasing lams: homotopy from the previous solution, then certified by the
    duality gap (coordinate descent + exact polish rounds while it exceeds tol). Returns (B, gaps, rounds)."""
    p, n = XT.shape
    norms = np.empty(p)
    for j in range(p):
        norms[j] = XT[j] @ XT[j]
    b = np.zeros(p)
    r = y.copy()
    c = XT @ r
    lam = np.max(np.abs(c))
    A = np.zeros(n + 1, np.int64)
    A[0] = np.argmax(np.abs(c))
    m = 1
    Ginv = _inverse(XT, A, m)
    B = np.zeros((lams.size, p))
    gaps = np.empty(lams.size)
    rounds = np.zeros(lams.size, np.int64)
    ok = np.zeros(lams.size, np.bool_)
    for k in range(lams.size):
        if lams[k] < lam:
            m = _homotopy(XT, y, b, r, lam, lams[k], A, m, Ginv)
            lam = lams[k]
        lam_k = lams[k]
        cd_tol = 1e-3 * np.sqrt(r @ r / n)
        gap = np.inf
        floor = ROUNDING * 0.5 * (y @ y)
        for it in range(max_rounds):
            gap, c, primal = _gap(XT, y, b, r, lam_k)
            rounds[k] = it
            ok[k] = gap <= max(tol, floor / primal)
            if ok[k]:
                break
            ws = np.flatnonzero((b != 0) | (np.abs(c) > lam_k))
            _cd_sweeps(XT, norms, b, r, ws, lam_k, cd_tol, 50)
            if not _polish(XT, y, b, r, lam_k):
                cd_tol *= 0.1
        if rounds[k] > 0:
            A, m, Ginv = _sync(XT, b)
        B[k] = b
        gaps[k] = gap
    return B, gaps, rounds, ok


def lasso_path(X: np.ndarray, y: np.ndarray, lams, tol: float = 1e-10,
               max_rounds: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Exact LASSO argmin (1/2)||y - Xb||^2 + lam ||b||_1 for every lam > 0 (any order).

    Returns (B, gaps): B[k] the solution at lams[k], gaps[k] its certified relative duality gap gap/P(b),
    <= tol, or below the rounding floor ROUNDING (y.y/2) / P(b) of the gap's evaluation (reached only
    near interpolation, where P(b) << y.y). Raises ConvergenceError if a gap stays above that after
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
    return float(_gap(np.ascontiguousarray(X.T), y.astype(float), b.astype(float), y - X @ b, float(lam))[0])



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

    Returns (b, v): the solution and the dual v (max y.v s.t. ||X^T v||_inf <= 1); feasibility of both
    is checked to 1e-8."""
    n, p = X.shape
    res = optimize.linprog(np.ones(2 * p), A_eq=sparse.csr_array(np.hstack([X, -X])), b_eq=y,
                           bounds=(0, None), method="highs")
    if res.status != 0:
        raise ConvergenceError(f"basis pursuit LP ({res.message})", np.nan, int(res.nit))
    b = res.x[:p] - res.x[p:]
    v = res.eqlin.marginals
    infeas = max(np.max(np.abs(X @ b - y)), np.max(np.abs(X.T @ v)) - 1.0)
    if infeas > 1e-8:
        raise ConvergenceError("basis pursuit LP (feasibility)", infeas, int(res.nit))
    return b, v


# ---------------------------------------------------------------------------------------- AMP
def amp(X: np.ndarray, y: np.ndarray, alpha: float, iterations: int = 500, tol: float = 1e-10,
        damping: float = 1.0) -> dict:
    """AMP for the LASSO at normalised threshold alpha (Donoho-Maleki-Montanari 2009):

        u = x + X^T z,  tau = ||z|| / sqrt(n),  x' = eta(u; alpha tau),
        z' = y - X x' + (1/delta) mean(eta'(u)) z          (Onsager term, delta = n/p),

    x' optionally damped (x <- (1 - damping) x + damping x'). Stops when ||x' - x|| <= tol ||x'||.
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
def _metrics(X, y, beta, b, lam, sigma2, dual=None):
    n, p = X.shape
    r = y - X @ b
    df = np.count_nonzero(b)
    mse = np.sum((b - beta) ** 2) / p
    if lam > 0 or n > p:
        rn = np.linalg.norm(r)
        tau = rn / (np.sqrt(n) * (1 - df / n))
        thr = lam * np.sqrt(n) / rn
    else:  # interpolation: r = 0
        tau = np.sqrt(sigma2 + mse * p / n)
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
        rows[pos] = [(*_metrics(X, y, beta, b, lam, model.sigma2), g) for b, lam, g in zip(B, lams[pos], gaps)]
    if (~pos).any():
        if n < p:
            b, v = min_l1(X, y)
            b = np.where(np.abs(b) > 1e-9, b, 0.0)
        else:
            b, v = np.linalg.lstsq(X, y, rcond=None)[0], None
        rows[~pos] = (*_metrics(X, y, beta, b, 0.0, model.sigma2, v), 0.0)
    return dict(zip(("mse", "tau_star", "frac_nonzero", "threshold", "gap"), rows.T))
