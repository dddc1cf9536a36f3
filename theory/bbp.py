"""BBP spectral transitions: n, p -> infinity limits (formulas/bbp.md, sections A-D).

Common conventions. ``top_eigenvalue`` is the eigenvalue whose eigenvector is the estimator; ``overlap_sq``
is the squared cosine between that unit eigenvector and the planted direction (sign-free; 0 below the
transition). ``threshold``/``alpha_bbp``/``transition`` depend on the parameters only (limits, not
finite-size observables).

spiked-wigner  Y = theta v v^T + W, W = (A + A^T)/sqrt(2N) (semicircle on [-2, 2]), |v| = 1.
    top_eigenvalue = theta + 1/theta and overlap_sq = 1 - 1/theta^2 for theta > 1; (2, 0) otherwise
    (Baik-Ben Arous-Peche 2005; Benaych-Georges & Nadakuditi 2011, arXiv 0910.2120).

spiked-covariance  x_i ~ N(0, I_p + (ell - 1) u u^T), S = X^T X / n, gamma = p/n.
    threshold = 1 + sqrt(gamma); above it top_eigenvalue = ell (1 + gamma/(ell - 1)) and
    overlap_sq = (1 - gamma/(ell - 1)^2)/(1 + gamma/(ell - 1)); below: the Marchenko-Pastur edge
    (1 + sqrt(gamma))^2 and 0 (Baik & Silverstein 2006; Paul 2007).

spectral-pr  y_i = <x_i, beta*>^2, D = (1/n) sum_i T(y_i) x_i x_i^T, alpha = n/p, estimator = top
    eigenvector of D (Lu & Li, arXiv 1702.06435; Mondelli & Montanari, arXiv 1708.05932). For T bounded
    above, tau = sup T, lam > tau, kappa = lam - tau and expectations over y = G^2:
        psi(lam) = lam (1/alpha + E[T/(lam - T)]),  psi'(lam) = 1/alpha - E[T^2/(lam - T)^2],
        h(lam) = E[T (y - 1)/(lam - T)].
    Bulk edge lam_bar: root of E[T^2/(lam - T)^2] = 1/alpha (soft) or tau (hard, when that expectation at
    tau is <= 1/alpha). Outlier iff h = 1/alpha has a root above lam_bar; lam* = the largest one,
    top_eigenvalue = psi(lam*), overlap_sq = psi'/(psi' + E[T^2 y/(lam* - T)^2]); otherwise
    top_eigenvalue = psi(lam_bar) (right bulk edge) and overlap_sq = 0. threshold = weak-recovery alpha_c
    of this T: 1/h(tau) for a hard edge, else 1/E[T^2/(lam - T)^2] at the last kappa where h crosses
    E[T^2/(lam - T)^2] upwards. mondelli-montanari: threshold 1/2 exactly (its defining property).
    identity (T unbounded): documented singularity top_eigenvalue = +inf, overlap_sq = 0, threshold = +inf.
    A user callable T must be finite on y > 0 and bounded above; tau = sup T is taken over a dense grid of
    y in (0, 1e12] (a T still rising there is rejected as unbounded), and its moments at the solution are
    recomputed with twice the nodes (ConvergenceError unless they agree to 1e-8: kinks or a peak at sup T).
    A T with E[T (y - 1)] <= 0 never has an outlier (threshold = +inf, e.g. truncated:1). When
    T (y - 1) >= 0 (mondelli-montanari, luo-alghamdi-lu) h is decreasing and has at most one root.
    Expectations: Gauss-Legendre panels in G on (0, 13); for truncated:c the piece y in [c/2, c] uses
    w = log(lam - y) (C4), so the jump of T at c is integrated exactly.

hessian-init  Hessian of L(W) = (1/2) sum_mu (yhat_mu - y_mu)^2/(a + y_mu) at a random initialisation of a
    quadratic student of width p (teacher width p*), y = (1/p*) sum_j nu_j^2, yhat = (1/p) sum_k lam_k^2,
    alpha = M/N (formulas/bbp.md D; our derivation - Annesi, Bocchi & Cammarota, arXiv 2510.18435, for the
    setting). With gamma = -p u/2, u in (0, 1], q ~ chi2_p, y ~ chi2_{p*}/p*:
        r_par = (2/p)(3q/p - y)/(a + (1-u) y + 3u q/p),  r_perp = (2/p)(q/p - y)/(a + (1-u) y + u q/p),
        R1 = E[r_par + (p-1) r_perp], R2 = E[r_par^2 + (p-1) r_perp^2], Ry = E[(y-1)(...)], R2y = E[y(...^2)],
        z(u) = -2/(p u) + (alpha/p) R1,  z_g(u) = -4/(p^2 u^2) + (alpha/p) R2.
    Left edge u_e: first zero of z_g in (0, 1] (soft) else 1 (hard). Teacher outlier: smallest root u* in
    (0, u_e) of F(u) = 2 + alpha u Ry(u); min_eigenvalue = z(u*), overlap_sq = |z_g|/(|z_g| + (alpha/p) R2y)
    at u*; otherwise z(u_e) and 0. alpha_bbp: alpha_hard = p p*/(2 E_q[1/(a+3q/p) + (p-1)/(a+q/p)]) when the
    edge is still hard there ("discontinuous"), else 4/(p u_c^2 R2(u_c)) with 2 Ry(u_c) + p u_c R2(u_c) = 0
    ("continuous"). cluster_eigenvalue/cluster_overlap_sq (mean over the p p* lowest eigenpairs, the
    finite-N observables of the p p*-fold outlier) have the same limits as min_eigenvalue/overlap_sq.
    Expectations: tensor Gauss-Legendre in the chi variables; the u-dependence through Chebyshev
    interpolants (exact to ~1e-12). p -> inf: alpha_bbp -> p*(1 + a)/2 = the threshold of the spectral
    method with T_a(y) = (y - 1)/(y + a); ``alpha_bbp_table`` tabulates the approach.

Root finding is vectorised over the grid (bisection on brackets from a scan shared by all points); a
bracket without a sign change raises :class:`~overparam.errors.ConvergenceError`.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy import fft, stats

from overparam.errors import ConvergenceError, ParameterError
from overparam.models import HessianInit, SpectralPR, SpikedCovariance, SpikedWigner

Array = np.ndarray


def _arrays(*values) -> list[Array]:
    return [np.asarray(v, dtype=float) for v in np.broadcast_arrays(*values)]


# ------------------------------------------------------------------------------------- spiked models
def spiked_wigner(model: SpikedWigner) -> dict[str, Array]:
    """top_eigenvalue and overlap_sq of the rank-one spiked GOE (section A2)."""
    theta = np.asarray(model.theta, dtype=float)
    above = theta > 1
    t = np.where(above, theta, 2.0)
    return {"top_eigenvalue": np.where(above, t + 1 / t, 2.0),
            "overlap_sq": np.where(above, 1 - 1 / t**2, 0.0)}


def spiked_covariance(model: SpikedCovariance) -> dict[str, Array]:
    """top_eigenvalue, overlap_sq and threshold ell_c = 1 + sqrt(gamma) of the spiked covariance (B2)."""
    ell, gamma = _arrays(model.ell, model.gamma)
    threshold = 1 + np.sqrt(gamma)
    above = ell > threshold
    l = np.where(above, ell - 1, 1.0)  # spike strength, only used above the threshold
    return {"top_eigenvalue": np.where(above, (1 + l) * (1 + gamma / l), threshold**2),
            "overlap_sq": np.where(above, (1 - gamma / l**2) / (1 + gamma / l), 0.0),
            "threshold": threshold}


# -------------------------------------------------------------------------------------- spectral PR
def _panels(edges, n: int) -> tuple[Array, Array]:
    """Gauss-Legendre nodes and weights on consecutive panels [edges[i], edges[i+1]], n per panel."""
    x, w = _leggauss(n)
    nodes, weights = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        if hi > lo:
            nodes.append((lo + hi) / 2 + (hi - lo) / 2 * x)
            weights.append((hi - lo) / 2 * w)
    return np.concatenate(nodes), np.concatenate(weights)


_G_MAX = 13.0  # |G| cut: P(|G| > 13) ~ 1e-38
_PR_NODES = 32  # per smooth panel: built-in T converged to ~1e-14 (checked against 64 and 200 nodes)
_LEG_X, _LEG_W = leggauss(96)
_leggauss = lru_cache(maxsize=None)(leggauss)


def _chi2_1_pdf(y: Array) -> Array:
    return np.exp(-y / 2) / np.sqrt(2 * np.pi * y)


class _PRQuadrature:
    """Expectations over y = G^2 of the T-weighted integrands, as functions of kappa = lam - tau.

    ``y, w`` are nodes/weights of the smooth part (G in (0, g_max), weights include 2 phi(G)); ``t`` and
    ``gap = tau - T`` may carry leading axes (one row per alpha). For ``truncated:c`` (``jump = c``) T jumps
    from c to 0 at y = c: the smooth part stops at y = c/2 and [c/2, c] uses w = log(lam - y) (C4), which
    makes every 1/(lam - y)^k smooth; beyond c every integrand (all carry a factor T) vanishes.
    """

    def __init__(self, y: Array, w: Array, t: Array, gap: Array, tau: Array, jump: float | None = None):
        self.y, self.w, self.t, self.gap, self.tau, self.jump = y, w, t, gap, tau, jump
        self._numerators: dict[str, tuple[Array, int]] = {}

    def _numerator(self, key: str) -> tuple[Array, int]:
        """(kappa-free numerator, power of 1/d) of moment ``key``, computed once."""
        if key not in self._numerators:
            w, t, y = self.w, self.t, self.y
            self._numerators[key] = {"A1": lambda: (w * t, 1), "A2": lambda: (w * t * t, 2),
                                     "B1": lambda: (w * t * (y - 1), 1), "B2": lambda: (w * t * t * y, 2)}[key]()
        return self._numerators[key]

    @classmethod
    def of(cls, prep, alpha: Array, nodes: int = _PR_NODES) -> "_PRQuadrature":
        """The rule of preprocessing ``prep`` for the 1-D alpha array (rows only when T depends on alpha),
        ``nodes`` Gauss-Legendre nodes on each of the four smooth panels in G."""
        if prep.kind == "truncated":
            g, w = _panels([0.0, min(np.sqrt(prep.c / 2), _G_MAX)], 96)
            y = g**2
            return cls(y, 2 * w * stats.norm.pdf(g), y, prep.c - y, np.array(prep.c), jump=prep.c)
        g, w = _panels([0.0, 1.0, 3.0, 6.0, _G_MAX], nodes)
        y, w = g**2, 2 * w * stats.norm.pdf(g)
        if prep.kind == "luo-alghamdi-lu":
            return cls(y, w, 1 - 1 / y, 1 / y, np.array(1.0))
        if prep.kind == "mondelli-montanari":  # alpha <= 1/2: its alpha = 1/2 member 1 - 1/y
            s = np.sqrt(np.maximum(2 * alpha, 1.0))[:, None]
            return cls(y, w, (y - 1) / (y + s - 1), s / (y + s - 1), np.array(1.0))
        t = prep(y, 1.0)
        if not np.all(np.isfinite(t)):
            raise ParameterError("preprocessing", prep.label, "a function T(y) finite for every y > 0")
        # sup T over y in (0, inf): a dense linear grid over the bulk and a geometric one up to 1e12
        probe = np.concatenate([np.linspace(0, _G_MAX**2, 20001)[1:], np.geomspace(1e-12, 1e12, 2001)])
        tau = max(float(np.max(t)), float(np.max(prep(probe, 1.0))))
        far = prep(np.array([1e9, 1e12]), 1.0)
        if not np.all(np.isfinite(far)) or far[1] - far[0] > 1e-6 * (1 + abs(tau)):  # still rising: unbounded
            raise ParameterError("preprocessing", prep.label, "a function T(y) bounded above (sup T reached "
                                 "to 1e-6 by y = 1e12); use identity for T(y) = y")
        return cls(y, w, t, tau - t, np.array(tau))

    def moments(self, kappa: Array, keys: str = "A1 A2 B1 B2") -> dict[str, Array]:
        """A1 = E[T/d], A2 = E[T^2/d^2], B1 = E[T(y-1)/d], B2 = E[T^2 y/d^2], d = lam - T = kappa + gap
        (only those named in ``keys``). kappa has shape (m, J); rows of t/gap (if any) match m. The
        kappa-free numerators w T, w T^2, w T (y-1), w T^2 y are contracted with 1/d or 1/d^2."""
        k = kappa[..., None]
        rows = np.ndim(self.t) == 2
        gap = self.gap[:, None, :] if rows else self.gap
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1 / (k + gap)
            powers = {1: inv}
            out = {}
            for key in keys.split():
                num, power = self._numerator(key)
                if power not in powers:
                    powers[power] = inv * inv
                out[key] = (np.einsum("mjn,mn->mj", powers[power], num) if rows
                            else powers[power] @ num)
        if self.jump is not None:  # y in [c/2, c]: nodes in w = log(lam - y), dy = d dw cancels one 1/d
            c = self.jump
            lo, hi = np.log(k), np.log(k + c / 2)
            d = np.exp(lo + (hi - lo) * (_LEG_X + 1) / 2)
            y = c + k - d
            wr, r = (hi - lo) / 2 * _LEG_W * _chi2_1_pdf(y) * y, y / d  # weight x T/d and T/d (T = y)
            piece = {"A1": lambda: wr, "A2": lambda: wr * r, "B1": lambda: wr * (y - 1), "B2": lambda: wr * r * y}
            for key in out:
                out[key] = out[key] + piece[key]().sum(-1)
        return out

    def bound(self, f: Callable[[Array, Array], Array]) -> float:
        """A generous upper bound of E[f(T, y)] (for brackets); truncated T uses E[y^2] = 3."""
        if self.jump is not None:
            return 3.0
        return float(np.max((self.w * f(self.t, self.y)).sum(-1)))


def _bisect(f: Callable[[Array], Array], lo: Array, hi: Array, what: str = "root", rtol: float = 1e-15,
            maxiter: int = 200) -> Array:
    """Vectorised bracketing root finder (Illinois regula falsi; f(lo), f(hi) of opposite signs): every
    iterate stays in the bracket, convergence is superlinear. Raises ConvergenceError on a bad bracket or
    when the brackets do not shrink below rtol (relative) within maxiter evaluations."""
    a, b = np.asarray(lo, dtype=float).copy(), np.asarray(hi, dtype=float).copy()
    fa, fb = f(a), f(b)
    ok = (np.sign(fa) * np.sign(fb) <= 0) & np.isfinite(fa) & np.isfinite(fb)
    if not np.all(ok):
        raise ConvergenceError(f"{what}: bracket without a sign change",
                               float(np.max(np.abs(np.where(ok, 0.0, np.nan_to_num(fa, nan=np.inf))))), 0)
    for it in range(maxiter):
        done = (np.abs(b - a) <= rtol * np.maximum(np.abs(a), np.abs(b)) + 1e-300) | (fb == 0)
        if np.all(done):
            return b
        with np.errstate(invalid="ignore", divide="ignore"):
            c = b - fb * (b - a) / (fb - fa)
        c = np.where(np.isfinite(c) & (c > np.minimum(a, b)) & (c < np.maximum(a, b)), c, (a + b) / 2)
        c = np.where(done, b, c)
        fc = f(c)
        flip = np.sign(fc) * np.sign(fb) < 0
        a, fa = np.where(flip, b, a), np.where(flip, fb, fa / 2)
        b, fb = c, fc
    raise ConvergenceError(what, float(np.max(np.abs(b - a))), maxiter)


def _pr_edge(quad: _PRQuadrature, alpha: Array) -> Array:
    """kappa_bar = lam_bar - tau per alpha: root of A2(kappa) = 1/alpha, or 0 for a hard edge."""
    m = alpha.size
    if quad.jump is None:
        a2_tau = quad.moments(np.zeros((m, 1)))["A2"][:, 0]
        hard = a2_tau <= 1 / alpha
    else:
        hard = np.zeros(m, bool)  # the jump makes A2 diverge at tau: always a soft edge
    lo = np.full(m, np.log(1e-250 if quad.jump is not None else 1e-15))  # a jump at a large c: tiny kappa_bar
    hi = np.log(np.sqrt(alpha * quad.bound(lambda t, y: t**2)) * 1.1 + 1e-9)
    soft = ~hard & (quad.moments(np.exp(lo)[:, None])["A2"][:, 0] > 1 / alpha)
    if not soft.any():
        return np.zeros(m)
    sub = quad if np.ndim(quad.t) == 1 else _PRQuadrature(quad.y, quad.w, quad.t[soft], quad.gap[soft],
                                                           quad.tau, quad.jump)
    al = alpha[soft]
    logk = _bisect(lambda x: sub.moments(np.exp(x)[:, None], "A2")["A2"][:, 0] - 1 / al, lo[soft], hi[soft],
                   what="spectral-pr bulk edge")
    out = np.zeros(m)
    out[soft] = np.exp(logk)
    return out


def _pr_outlier(quad: _PRQuadrature, alpha: Array, kbar: Array) -> tuple[Array, Array]:
    """(kappa*, has_outlier): the largest root of h(kappa) = B1 = 1/alpha above kappa_bar (scan + bisection)."""
    top = alpha * quad.bound(lambda t, y: np.abs(t * (y - 1))) * 1.1 + 1e-9  # |h| < 1/alpha beyond
    if quad.jump is None and np.all(quad.t * (quad.y - 1) >= 0):  # h decreasing (mm, lal): one root at most
        grid = kbar[:, None] + top[:, None] * np.array([0.0, 1.0])
        h = quad.moments(grid, "B1")["B1"]
    elif np.ndim(quad.t) == 1:  # T fixed: one scan of h on a common kappa grid serves every alpha
        common = np.max(top) * np.geomspace(1e-14, 1.0, 200)
        h_bar = quad.moments(kbar[:, None], "B1")["B1"]
        grid = np.concatenate([kbar[:, None], np.maximum(common, kbar[:, None])], axis=1)
        h = np.concatenate([h_bar, np.where(common > kbar[:, None], quad.moments(common[None, :], "B1")["B1"], h_bar)],
                           axis=1)
    else:
        grid = kbar[:, None] + top[:, None] * np.concatenate([[0.0], np.geomspace(1e-10, 1.0, 24)])
        h = quad.moments(grid, "B1")["B1"]
    excess = h - 1 / alpha[:, None]  # (m, J), negative at the last point
    has = np.any(excess > 0, axis=1)
    j = excess.shape[1] - 1 - np.argmax((excess > 0)[:, ::-1], axis=1)  # last point above 1/alpha
    j = np.minimum(j, excess.shape[1] - 2)
    rows = np.arange(alpha.size)
    lo, hi = grid[rows, j], grid[rows, j + 1]
    if not has.any():
        return kbar, has
    sub = quad if np.ndim(quad.t) == 1 else _PRQuadrature(quad.y, quad.w, quad.t[has], quad.gap[has],
                                                           quad.tau, quad.jump)
    al = alpha[has]
    kstar = _bisect(lambda k: sub.moments(k[:, None], "B1")["B1"][:, 0] - 1 / al, lo[has], hi[has],
                    what="spectral-pr outlier")
    out = kbar.copy()
    out[has] = kstar
    return out, has


def _pr_threshold(prep) -> float:
    """Weak-recovery threshold alpha_c of a fixed T (section C2)."""
    quad = _PRQuadrature.of(prep, np.array([1.0]))
    if quad.jump is None:
        at_tau = quad.moments(np.zeros((1, 1)))
        if at_tau["A2"][0, 0] <= at_tau["B1"][0, 0] * (1 + 1e-12):  # hard edge at alpha_c = 1/h(tau)
            # (the tolerance keeps an exactly marginal T such as luo-alghamdi-lu on the closed form)
            return float(1 / at_tau["B1"][0, 0])
    # soft edge: h(kappa) = A2(kappa) = 1/alpha_c; take the last upward crossing of h - A2
    kappa = np.geomspace(1e-12, 1e4, 400)[None, :]
    mom = quad.moments(kappa)
    diff = (mom["B1"] - mom["A2"])[0]
    if diff[-1] <= 0:
        return float("inf")
    neg = np.nonzero(diff <= 0)[0]
    if neg.size == 0:
        return float(1 / mom["B1"][0, 0])
    j = neg[-1]
    logk = _bisect(lambda x: (lambda m: m["B1"] - m["A2"])(quad.moments(np.exp(x)[:, None]))[:, 0],
                   np.log(kappa[:, j]), np.log(kappa[:, j + 1]), what="spectral-pr threshold")
    return float(1 / quad.moments(np.exp(logk)[:, None])["A2"][0, 0])


def _check_rule(prep, alpha: Array, kappa: Array, mom: dict[str, Array]) -> None:
    """A user T may have kinks or a peak at sup T that the fixed rule does not resolve: recompute the
    moments at the solution with twice the nodes and raise ConvergenceError unless they agree to 1e-8."""
    fine = _PRQuadrature.of(prep, alpha, 2 * _PR_NODES).moments(kappa[:, None])
    err = max(float(np.max(np.abs(fine[k][:, 0] - mom[k]) / (1 + np.abs(fine[k][:, 0])))) for k in mom)
    if not err <= 1e-8:
        raise ConvergenceError("spectral-pr quadrature of a user preprocessing (kink or peak at sup T?)",
                               err, 2 * _PR_NODES)


def spectral_pr(model: SpectralPR) -> dict[str, Array]:
    """top_eigenvalue, overlap_sq and threshold of the spectral estimator with preprocessing T (C2)."""
    alpha = np.asarray(model.alpha, dtype=float)
    prep = model.preprocessing
    shape = alpha.shape
    if prep.kind == "identity":  # unbounded T: documented singularity (C2)
        return {"top_eigenvalue": np.full(shape, np.inf), "overlap_sq": np.zeros(shape),
                "threshold": np.full(shape, np.inf)}
    flat = alpha.ravel()
    top, overlap = np.empty(flat.size), np.empty(flat.size)
    chunk = 1024 if prep.kind == "mondelli-montanari" else flat.size  # bounds (points x scan x nodes) arrays
    for start in range(0, flat.size, chunk):
        al = flat[start:start + chunk]
        quad = _PRQuadrature.of(prep, al)
        kbar = _pr_edge(quad, al)
        kstar, has = _pr_outlier(quad, al, kbar)
        mom = {k: v[:, 0] for k, v in quad.moments(kstar[:, None]).items()}
        if prep.kind == "callable":
            _check_rule(prep, al, kstar, mom)
        lam = kstar + quad.tau
        dpsi = 1 / al - mom["A2"]
        top[start:start + al.size] = lam * (1 / al + mom["A1"])
        with np.errstate(invalid="ignore", divide="ignore"):
            overlap[start:start + al.size] = np.where(has, dpsi / (dpsi + mom["B2"]), 0.0)
    threshold = 0.5 if prep.kind == "mondelli-montanari" else _pr_threshold(prep)
    return {"top_eigenvalue": top.reshape(shape), "overlap_sq": np.maximum(overlap, 0.0).reshape(shape),
            "threshold": np.full(shape, threshold)}


# ------------------------------------------------------------------------------------- hessian-init
_U_GRID = np.linspace(0.0, 1.0, 401)[1:]  # scan of the physical branch u in (0, 1]


def _chi_rule(k: int, n: int = 40) -> tuple[Array, Array]:
    """Nodes/weights for E over chi_k (four Gauss-Legendre panels covering the mass up to ~1e-17)."""
    c = np.sqrt(max(k - 1.0, 0.0))
    lo, hi = max(0.0, c - 9.0), c + 9.0
    r, w = _panels(np.linspace(lo, hi, 5), n)
    w = w * np.exp(stats.chi.logpdf(r, k))
    return r, w / w.sum()


class _HessianQuadrature:
    """Expectations over q ~ chi2_p (r = sqrt q ~ chi_p) and y ~ chi2_{p*}/p* (s = sqrt(p* y) ~ chi_{p*}),
    tensor-product Gauss-Legendre in (r, s) (formulas/bbp.md D4)."""

    def __init__(self, p_star: int, p: int, a: float):
        self.p_star, self.p, self.a = p_star, p, a
        r, wr = _chi_rule(p)
        s, ws = _chi_rule(p_star)
        self.q1, self.w1 = r**2, wr  # 1-D rule in q (hard-edge integrals)
        self.q = np.repeat(r**2, s.size)
        self.y = np.tile(s**2 / p_star, r.size)
        self.w = np.outer(wr, ws).ravel()

    def moments(self, u: Array) -> dict[str, Array]:
        """R1, R2, Ry, R2y at the points u (any shape)."""
        p, a, q, y = self.p, self.a, self.q, self.y
        u = np.asarray(u, dtype=float)[..., None]
        r_par = (2 / p) * (3 * q / p - y) / (a + (1 - u) * y + 3 * u * q / p)
        r_perp = (2 / p) * (q / p - y) / (a + (1 - u) * y + u * q / p)
        one = r_par + (p - 1) * r_perp
        two = r_par**2 + (p - 1) * r_perp**2
        def e(f: Array) -> Array:  # einsum: BLAS gemv is slow here on a busy multi-threaded machine
            return np.einsum("...k,k->...", f, self.w)
        return {"R1": e(one), "R2": e(two), "Ry": e(one * (y - 1)), "R2y": e(two * y)}

    def interpolant(self, tol: float = 1e-12) -> Callable[[Array], dict[str, Array]]:
        """The R's as Chebyshev interpolants on u in [0, 1] (analytic there: every denominator is >= a),
        so root finding costs no quadrature. Coefficients by a DCT of the values at the Chebyshev points
        u = (1 + cos theta_j)/2; the degree doubles from 128 until the last 16 coefficients are below
        tol times the largest (small a and p = 1 need more: poles at u ~ -a p/(3q) just left of 0)."""
        for degree in (128, 256, 512, 1024, 2048):
            n = degree + 1
            theta = np.pi * (np.arange(n) + 0.5) / n
            vals = self.moments((1 + np.cos(theta)) / 2)
            names = list(vals)
            coef = fft.dct(np.stack([vals[k] for k in names]), type=2, axis=-1) / n
            coef[:, 0] /= 2
            tail = float(np.max(np.abs(coef[:, -16:]) / np.max(np.abs(coef), axis=1, keepdims=True)))
            if tail < tol:
                break
        else:
            raise ConvergenceError("hessian-init Chebyshev interpolant in u", tail, degree)
        k = np.arange(n)

        def evaluate(u: Array) -> dict[str, Array]:
            t = np.arccos(np.clip(2 * np.asarray(u, dtype=float) - 1, -1.0, 1.0))
            series = np.einsum("...k,mk->m...", np.cos(t[..., None] * k), coef)
            return dict(zip(names, series))
        return evaluate

    def alpha_hard(self) -> float:
        """alpha with F(1) = 0: p p*/(2 E_q[1/(a + 3q/p) + (p-1)/(a + q/p)])."""
        p, a, q = self.p, self.a, self.q1
        return float(p * self.p_star / (2 * (self.w1 @ (1 / (a + 3 * q / p) + (p - 1) / (a + q / p)))))

    def alpha_soft(self) -> float:
        """alpha with z_g(1) = 0 (the edge turns soft at u = 1): p / E_q[...] (section D2)."""
        p, a, q, v = self.p, self.a, self.q1, 2 / self.p_star
        s = ((3 * q / p - 1) ** 2 + v) / (a + 3 * q / p) ** 2 + (p - 1) * ((q / p - 1) ** 2 + v) / (a + q / p) ** 2
        return float(p / (self.w1 @ s))


def _first_crossing(values: Array) -> tuple[Array, Array]:
    """Per row: (found, index of the first grid point where values <= 0)."""
    hit = values <= 0
    return hit.any(axis=-1), np.argmax(hit, axis=-1)


def _transition(quad: _HessianQuadrature, moments: Callable, scan: dict[str, Array]) -> tuple[float, str]:
    """alpha_bbp and the transition type of one (p*, p, a) (section D2)."""
    p, u = quad.p, _U_GRID
    alpha_hard = quad.alpha_hard()
    if np.all(alpha_hard * p * u**2 * scan["R2"] / 4 < 1):  # z_g < 0 on (0, 1] at alpha_hard: hard edge
        return alpha_hard, "discontinuous"
    k = 2 * scan["Ry"] + p * u * scan["R2"]  # both z_g = 0 and F = 0: eliminate alpha
    found, j = _first_crossing(-k)
    if not found:
        raise ConvergenceError("hessian-init alpha_bbp: no continuous threshold in (0, 1)", float(k[-1]), u.size)
    lo = u[j - 1] if j > 0 else 1e-9
    uc = _bisect(lambda x: (lambda m: 2 * m["Ry"] + p * x * m["R2"])(moments(x)), np.array(lo),
                 np.array(u[j]), what="hessian-init alpha_bbp")
    return float(4 / (p * uc**2 * moments(uc)["R2"])), "continuous"


def _hessian_point(p: int, moments: Callable, alpha: Array, scan: dict[str, Array]) -> tuple[Array, Array]:
    """min_eigenvalue and overlap_sq for the alphas of one (p*, p, a)."""
    u = _U_GRID
    # left edge: first u with alpha E(u) >= 1, E = p u^2 R2 / 4 (z_g = 0)
    e = p * u**2 * scan["R2"] / 4
    soft, j = _first_crossing(1 - alpha[:, None] * e[None, :])
    lo = np.where(j > 0, u[np.maximum(j - 1, 0)], 1e-9)
    ue = np.ones_like(alpha)
    if soft.any():
        al = alpha[soft]
        ue[soft] = _bisect(lambda x: al * p * x**2 * moments(x)["R2"] / 4 - 1, lo[soft], u[j[soft]],
                           what="hessian-init edge")
    # teacher outlier: smallest root of F(u) = 2 + alpha u Ry(u) in (0, u_e)
    f_grid = 2 + alpha[:, None] * u * scan["Ry"]
    f_grid = np.where(u[None, :] < ue[:, None], f_grid, np.inf)
    f_edge = 2 + alpha * ue * moments(ue)["Ry"]
    found, j = _first_crossing(f_grid)
    hi = np.where(found, u[j], ue)
    has = found | (f_edge <= 0)
    j_last = np.where(found, j, np.sum(u[None, :] < ue[:, None], axis=1))
    lo = np.where(j_last > 0, u[np.maximum(j_last - 1, 0)], 1e-9)
    ustar = ue.copy()
    if has.any():
        al = alpha[has]
        ustar[has] = _bisect(lambda x: 2 + al * x * moments(x)["Ry"], lo[has], hi[has],
                             what="hessian-init outlier")
    mom = moments(ustar)
    z = -2 / (p * ustar) + alpha / p * mom["R1"]
    zg = np.abs(-4 / (p**2 * ustar**2) + alpha / p * mom["R2"])
    overlap = np.where(has, zg / (zg + alpha / p * mom["R2y"]), 0.0)
    return z, overlap


def hessian_init(model: HessianInit) -> dict[str, Array]:
    """min_eigenvalue, overlap_sq, alpha_bbp, transition (and the cluster_* limits) of hessian-init (D2)."""
    p_star, p, a, alpha = _arrays(model.p_star, model.p, model.a, model.alpha)
    shape = alpha.shape
    keys = np.stack([p_star.ravel(), p.ravel(), a.ravel()], axis=1)
    out = {k: np.empty(alpha.size) for k in ("min_eigenvalue", "overlap_sq", "alpha_bbp")}
    transition = np.empty(alpha.size, dtype=object)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    for g, (ps, pp, aa) in enumerate(uniq):
        idx = np.nonzero(inverse.ravel() == g)[0]
        quad = _HessianQuadrature(int(ps), int(pp), float(aa))
        moments = quad.interpolant()
        scan = moments(_U_GRID)
        out["alpha_bbp"][idx], transition[idx] = _transition(quad, moments, scan)
        out["min_eigenvalue"][idx], out["overlap_sq"][idx] = _hessian_point(quad.p, moments, alpha.ravel()[idx],
                                                                            scan)
    res = {k: v.reshape(shape) for k, v in out.items()}
    res["transition"] = transition.astype(str).reshape(shape)
    res["cluster_eigenvalue"], res["cluster_overlap_sq"] = res["min_eigenvalue"], res["overlap_sq"]
    return res


def alpha_bbp_table(p_star: int = 1, widths: tuple[int, ...] | Array = (1, 2, 3, 4, 8, 16, 50),
                    a: float = 0.7) -> dict[str, Array]:
    """alpha_bbp and the transition type against the student width p, with the p -> inf limit
    p*(1 + a)/2 (the spectral threshold of T_a(y) = (y - 1)/(y + a)) and the weak-recovery value p*/2."""
    widths = np.asarray(widths, dtype=int)
    res = hessian_init(HessianInit(p_star=p_star, p=widths, a=a, alpha=1.0))
    return {"p": widths, "alpha_bbp": res["alpha_bbp"], "transition": res["transition"],
            "alpha_bbp_inf": np.full(widths.shape, p_star * (1 + a) / 2),
            "weak_recovery": np.full(widths.shape, p_star / 2)}


def theory(model: SpikedWigner | SpikedCovariance | SpectralPR | HessianInit) -> dict[str, Array]:
    """Dispatch on the model type (the family's single entry point)."""
    return {SpikedWigner: spiked_wigner, SpikedCovariance: spiked_covariance, SpectralPR: spectral_pr,
            HessianInit: hessian_init}[type(model)](model)
