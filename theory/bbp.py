r"""BBP spectral transitions: n, p -> infinity limits.

Common conventions. ``top_eigenvalue`` is the eigenvalue whose eigenvector is the estimator; ``overlap_sq``
is the squared cosine between that unit eigenvector and the planted direction (sign-free; 0 below the
transition). ``threshold``/``alpha_bbp``/``transition`` depend on the parameters only (limits, not
finite-size observables).

*   spiked-wigner: Y = theta v v^T + W, W = (A + A^T)/sqrt(2N) (semicircle on [-2, 2]), |v| = 1. For theta > 1

    .. math::

        \mathrm{top\_eigenvalue} = \theta + \frac{1}{\theta}, \qquad \mathrm{overlap\_sq} = 1 - \frac{1}{\theta^2},

    and (2, 0) otherwise (Baik-Ben Arous-Peche 2005; Benaych-Georges & Nadakuditi 2011, arXiv 0910.2120).

*   spiked-covariance: x_i ~ N(0, I_p + (ell - 1) u u^T), S = X^T X / n, gamma = p/n (ell = ``ell``).
    threshold = 1 + sqrt(gamma); above it

    .. math::

        \mathrm{top\_eigenvalue} = \ell \left(1 + \frac{\gamma}{\ell - 1}\right), \qquad
        \mathrm{overlap\_sq} = \frac{1 - \gamma/(\ell - 1)^2}{1 + \gamma/(\ell - 1)};

    below: the Marchenko-Pastur edge (1 + sqrt(gamma))^2 and 0 (Baik & Silverstein 2006; Paul 2007).

*   spectral-pr: y_i = <x_i, beta*>^2, D = (1/n) sum_i T(y_i) x_i x_i^T, alpha = n/p, estimator = top
    eigenvector of D (Lu & Li, arXiv 1702.06435; Mondelli & Montanari, arXiv 1708.05932). For T bounded
    above, tau = sup T, lam > tau, kappa = lam - tau and expectations over y = G^2:

    .. math::

        \psi(\lambda) = \lambda \left( \frac{1}{\alpha} + \mathbb{E}\left[ \frac{T}{\lambda - T} \right] \right),
        \qquad \psi'(\lambda) = \frac{1}{\alpha} - \mathbb{E}\left[ \frac{T^2}{(\lambda - T)^2} \right]

        h(\lambda) = \mathbb{E}\left[ \frac{T\,(y - 1)}{\lambda - T} \right]

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

*   hessian-init: Hessian of L(W) = (1/2) sum_mu (yhat_mu - y_mu)^2/(a + y_mu) at a random initialisation of
    a quadratic student of width p (teacher width p*), y = (1/p*) sum_j nu_j^2, yhat = (1/p) sum_k lam_k^2,
    alpha = M/N (our derivation - Annesi, Bocchi & Cammarota, arXiv 2510.18435, for the setting). With gamma = -p u/2, u in (0, 1], q ~ chi2_p, y ~ chi2_{p*}/p*:

    .. math::

        r_{\mathrm{par}} = \frac{2}{p}\,\frac{3q/p - y}{a + (1-u)\,y + 3u\,q/p}, \qquad
        r_{\mathrm{perp}} = \frac{2}{p}\,\frac{q/p - y}{a + (1-u)\,y + u\,q/p}

        R_1 = \mathbb{E}\left[ r_{\mathrm{par}} + (p-1)\, r_{\mathrm{perp}} \right], \qquad
        R_2 = \mathbb{E}\left[ r_{\mathrm{par}}^2 + (p-1)\, r_{\mathrm{perp}}^2 \right]

        R_y = \mathbb{E}\left[ (y-1) \left( r_{\mathrm{par}} + (p-1)\, r_{\mathrm{perp}} \right) \right], \qquad
        R_{2y} = \mathbb{E}\left[ y \left( r_{\mathrm{par}}^2 + (p-1)\, r_{\mathrm{perp}}^2 \right) \right]

        z(u) = -\frac{2}{p u} + \frac{\alpha}{p} R_1, \qquad z_g(u) = -\frac{4}{p^2 u^2} + \frac{\alpha}{p} R_2

    Left edge u_e: first zero of z_g in (0, 1] (soft) else 1 (hard). Teacher outlier: smallest root u* in
    (0, u_e) of F(u) = 2 + alpha u Ry(u); min_eigenvalue = z(u*), overlap_sq = |z_g|/(|z_g| + (alpha/p) R2y)
    at u*; otherwise z(u_e) and 0. alpha_bbp: alpha_hard = p p*/(2 E_q[1/(a+3q/p) + (p-1)/(a+q/p)]) when the
    edge is still hard there ("discontinuous"), else 4/(p u_c^2 R2(u_c)) with 2 Ry(u_c) + p u_c R2(u_c) = 0
    ("continuous"). cluster_eigenvalue/cluster_overlap_sq (mean over the p p* lowest eigenpairs, the
    finite-N observables of the p p*-fold outlier) have the same limits as min_eigenvalue/overlap_sq.
    Expectations in polar variables t = q + p* y ~ chi2_{p+p*}, B = q/t ~ Beta(p/2, p*/2) (independent): with
    N_k = k B/p - (1-B)/p*, D_k = (1-u)(1-B)/p* + k u B/p (k = 3, 1), r = (2/p) N_k t/(a + t D_k), so the
    t-part is E[t^j/(a + t D)^m] = exp(phi_jm(log(a/D)))/(a + D)^m with phi tabulated once per p + p*
    (Chebyshev panels, ~1e-14), and B by Gauss-Legendre in theta (B = sin^2 theta) graded towards both ends:
    ~1e-13 for every a > 0 and u in [0, 1], evaluated directly at each u (~30-60 ms per (p*, p, a)).
    a -> 0 is a regular limit: at a = 0 r = (2/p) N_k/D_k depends on B only, finite for u in (0, 1), and the
    roots stay inside; e.g. p = p* = 1: D_3 = 3/4 at u = 1/4, so u_c = 1/4, alpha_bbp -> 3 and the edge at
    threshold -> 0 (approach ~ a^(1/2)). p -> inf: alpha_bbp -> p*(1 + a)/2 = the threshold of the spectral
    method with T_a(y) = (y - 1)/(y + a); ``alpha_bbp_table`` tabulates the approach.
    alpha -> inf: min_eigenvalue = alpha T - O(1), T = (2/p)[(1 + 2/p) E y/(a+y) - E y^2/(a+y)] the curvature of
    alpha E[H] in the teacher directions (its lowest; T -> 4/p^2 as a -> 0): at large alpha every eigenvalue
    is positive, e.g. min_eigenvalue ~ 4e6 at p = p* = 1, a -> 0, alpha = 1e6 (tests: an mpmath T).

Root finding is vectorised over the grid (bisection on brackets from a scan shared by all points); a
bracket without a sign change raises :class:`~overparam.errors.ConvergenceError`.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy import fft, special

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


def _normal_pdf(g: Array) -> Array:
    return np.exp(-g * g / 2) / np.sqrt(2 * np.pi)


def _chi_logpdf(r: Array, k: int) -> Array:
    """log density of the chi distribution with k degrees of freedom at r > 0."""
    return (k - 1) * np.log(r) - r * r / 2 - (k / 2 - 1) * np.log(2.0) - special.gammaln(k / 2)


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
            return cls(y, 2 * w * _normal_pdf(g), y, prep.c - y, np.array(prep.c), jump=prep.c)
        g, w = _panels([0.0, 1.0, 3.0, 6.0, _G_MAX], nodes)
        y, w = g**2, 2 * w * _normal_pdf(g)
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
            wr = (hi - lo) / 2 * _LEG_W * _chi2_1_pdf(y) * y  # weight x T/d (T = y)
            r = np.divide(y, d, out=np.zeros_like(d), where=wr != 0)  # T/d; 0 where the density underflowed
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
    # a jump's edge below 1e-250 (large c: the chi2 density at c underflows) is taken at 1e-250, never at
    # kappa = 0 where the log-divergent piece is 0 * inf
    out = np.exp(lo) if quad.jump is not None else np.zeros(m)
    if not soft.any():
        return out
    sub = quad if np.ndim(quad.t) == 1 else _PRQuadrature(quad.y, quad.w, quad.t[soft], quad.gap[soft],
                                                           quad.tau, quad.jump)
    al = alpha[soft]
    logk = _bisect(lambda x: sub.moments(np.exp(x)[:, None], "A2")["A2"][:, 0] - 1 / al, lo[soft], hi[soft],
                   what="spectral-pr bulk edge")
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
_JM = ((1, 1), (2, 2), (2, 1), (3, 2))  # (j, m) of the t-expectations E[t^j/(a + t D)^m] of r, r^2, y r, y r^2
_S_LO, _S_STEP, _S_DEG = -45.0, 0.5, 9  # phi tables: panels of width _S_STEP in s = log c, Chebyshev degree


def _t_rule(n: int, c_min: float) -> tuple[Array, Array]:
    """(t, weights) for E over t ~ chi2_n of t^j/(c + t)^m, c >= c_min: Gauss-Legendre in v = log sqrt(t) on
    unit panels up to sqrt(t) = 1 where the mass reaches 0 (resolves the pole at sqrt(t) = i sqrt(c) for
    any c), then in sqrt(t) on panels of width <= 2 over the chi_n mass (up to ~1e-17)."""
    centre = np.sqrt(max(n - 1.0, 0.0))
    lo, hi = max(0.0, centre - 9.0), centre + 9.0
    rho, w = np.empty(0), np.empty(0)
    if lo < 1.0:
        v_lo = 0.5 * np.log(c_min) - 40.0 / n - 1.0
        v, wv = _panels(np.linspace(v_lo, 0.0, int(np.ceil(-v_lo)) + 1), 16)
        rho, w, lo = np.exp(v), wv * np.exp(v), 1.0
    r, wr = _panels(np.linspace(lo, hi, int(np.ceil((hi - lo) / 2)) + 1), 24)
    rho, w = np.concatenate([rho, r]), np.concatenate([w, wr])
    return rho**2, w * np.exp(_chi_logpdf(rho, n))


@lru_cache(maxsize=None)
def _phi_table(n: int) -> tuple[float, Array, Array]:
    """phi_jm(s) = log E[t^j/(c + t)^m] + m log(1 + c), c = e^s, t ~ chi2_n, (j, m) in _JM (bounded, analytic
    in |Im s| < pi): Chebyshev coefficients on panels of s in [_S_LO, s_hi], s_hi = 45 + log n, and the limits
    log E[t^(j-m)] (c -> 0) and log E[t^j] (c -> inf) used outside (errors < c log(1/c), m (n + 4)/c: < 1e-17)."""
    s_hi = float(np.ceil(45.0 + np.log(n)))
    panels = int(round((s_hi - _S_LO) / _S_STEP))
    x = np.cos(np.pi * (np.arange(_S_DEG + 1) + 0.5) / (_S_DEG + 1))
    c = np.exp(_S_LO + _S_STEP * (np.arange(panels)[:, None] + (x + 1) / 2)).ravel()
    t, w = _t_rule(n, float(c.min()))
    vals = np.stack([np.log(((t**j * w) / (c[:, None] + t) ** m).sum(1)) + m * np.log1p(c) for j, m in _JM])
    coef = fft.dct(vals.reshape(len(_JM), panels, _S_DEG + 1), type=2, axis=-1) / (_S_DEG + 1)
    coef[..., 0] /= 2
    moment = np.cumprod([1.0, n, n + 2.0, n + 4.0])  # E t^k, k = 0..3
    return s_hi, coef, np.array([[np.log(moment[j - m]), np.log(moment[j])] for j, m in _JM])


def _t_moments(n: int, a: float, d: Array) -> Array:
    """K_jm = E[t^j/(a + t d)^m] = exp(phi_jm(log(a/d)))/(a + d)^m, t ~ chi2_n, for (j, m) in _JM (leading
    axis), d >= 0 of any shape: no cancellation, finite for every a > 0 (d -> 0: K -> E[t^j]/a^m)."""
    s_hi, coef, limits = _phi_table(n)
    with np.errstate(divide="ignore"):
        s = np.log(a) - np.log(d)
    sc = np.clip(s, _S_LO, s_hi - 1e-9)
    i = np.floor((sc - _S_LO) / _S_STEP).astype(np.intp)
    x = 2.0 * ((sc - _S_LO) / _S_STEP - i) - 1.0
    b1, b2 = np.zeros((len(_JM),) + d.shape), np.zeros((len(_JM),) + d.shape)
    for k in range(_S_DEG, 0, -1):  # Clenshaw
        b1, b2 = coef[:, i, k] + 2 * x * b1 - b2, b1
    phi = coef[:, i, 0] + x * b1 - b2
    axes = (-1,) + (1,) * d.ndim
    phi = np.where(s <= _S_LO, limits[:, 0].reshape(axes), np.where(s >= s_hi, limits[:, 1].reshape(axes), phi))
    return np.exp(phi) / (a + d) ** np.array([m for _, m in _JM], dtype=float).reshape(axes)


@lru_cache(maxsize=None)
def _theta_rule(p: int, p_star: int, a: float) -> tuple[Array, Array]:
    """(B, weights) for E over B = sin^2 theta ~ Beta(p/2, p*/2): Gauss-Legendre in theta on panels graded
    geometrically (ratio 0.3) towards both ends down to 0.05 sqrt(a) (u near 0 or 1 puts the zero of D
    within ~sqrt(max(u, 1 - u, a)) of an end), uniform panels of width <= min(0.2, 2/sqrt(p + p*)) between."""
    g = (np.pi / 4) * 0.3 ** np.arange(int(np.ceil(np.log(0.05 * np.sqrt(min(a, 1.0))) / np.log(0.3))) + 1)
    h = min(0.2, 2.0 / np.sqrt(p + p_star))
    edges = np.unique(np.concatenate([[0.0, np.pi / 2], g, np.pi / 2 - g,
                                      np.linspace(0.0, np.pi / 2, int(np.ceil(np.pi / 2 / h)) + 1)]))
    theta, w = _panels(edges, 12)
    logw = (p - 1) * np.log(np.sin(theta)) + (p_star - 1) * np.log(np.cos(theta))
    w = w * np.exp(logw - logw.max())
    keep = w > 1e-30 * w.max()
    return np.sin(theta[keep]) ** 2, w[keep] / w[keep].sum()


class _HessianQuadrature:
    """Expectations over q ~ chi2_p, y ~ chi2_{p*}/p* in polar variables t = q + p* y ~ chi2_{p+p*} and
    B = q/t ~ Beta(p/2, p*/2) (independent): with N_k = k B/p - (1-B)/p*, D_k = (1-u)(1-B)/p* + k u B/p
    (k = 3: r_par, k = 1: r_perp), r_k = (2/p) N_k t/(a + t D_k), so every t-expectation is one of the
    tabulated K_jm(a, D_k) (exact in a, including a -> 0) and B is integrated by the theta rule."""

    def __init__(self, p_star: int, p: int, a: float):
        self.p_star, self.p, self.a = p_star, p, a
        self.b, self.wb = _theta_rule(p, p_star, a)

    def moments(self, u: Array) -> dict[str, Array]:
        """R1, R2, Ry, R2y at the points u (any shape)."""
        p, ps, a, b = self.p, self.p_star, self.a, self.b
        u = np.asarray(u, dtype=float)[..., None]
        y = (1 - b) / ps  # E[y | B] = t (1 - B)/p*: the factor of K_21, K_32 besides t
        out = dict.fromkeys(("R1", "R2", "Ry", "R2y"), 0.0)
        for k, mult in ((3, 1), (1, p - 1)):
            if mult:
                num = (2 / p) * (k * b / p - (1 - b) / ps)
                k11, k22, k21, k32 = _t_moments(p + ps, a, (1 - u) * (1 - b) / ps + k * u * b / p)
                out["R1"] = out["R1"] + mult * num * k11
                out["R2"] = out["R2"] + mult * num**2 * k22
                out["Ry"] = out["Ry"] + mult * num * (y * k21 - k11)
                out["R2y"] = out["R2y"] + mult * num**2 * y * k32
        return {key: v @ self.wb for key, v in out.items()}

    def alpha_hard(self) -> float:
        """alpha with F(1) = 0: -2/Ry(1) = p p*/(2 E_q[1/(a + 3q/p) + (p-1)/(a + q/p)])."""
        return float(-2 / self.moments(1.0)["Ry"])

    def alpha_soft(self) -> float:
        """alpha with z_g(1) = 0 (the edge turns soft at u = 1): 4/(p R2(1)) (section D2)."""
        return float(4 / (self.p * self.moments(1.0)["R2"]))


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
    lo = np.where(j > 0, u[np.maximum(j - 1, 0)], 0.0)  # u = 0: alpha E - 1 = -1 (large alpha: u_e << 1e-9)
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
    lo = np.where(j_last > 0, u[np.maximum(j_last - 1, 0)], 0.0)  # F(0) = 2 > 0
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
        moments = quad.moments
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
