r"""Gradient flow and early-stopped gradient descent on least squares: exact n, p -> infinity limits.

Model: ridge's (``theory.ridge``): x ~ N(0, Sigma) in R^p, Sigma with spectral measure H (``spectrum``:
atoms s, weights w, <f> = sum_i w_i f(s_i)), E beta beta^T = (r2/p) I, y = x^T beta + eps, eps ~ N(0, sigma2),
n samples, p/n -> gamma. Loss L(b) = (1/2n) ||y - X b||^2 from b_0 = 0, Sh = X^T X/n:

* gradient flow (eta = 0), db/dt = X^T (y - X b)/n:  b_t = Sh^+ (I - exp(-t Sh)) X^T y/n;
* gradient descent (eta > 0), k = t/eta steps b <- b + eta X^T (y - X b)/n:  b = Sh^+ (I - (I - eta Sh)^k) X^T y/n.

Both are spectral filters of Sh: with phi(s) = exp(-t s) (flow) or (1 - eta s)^k (GD) and f = 1 - phi (the
analogue of ridge's s/(s + lam); ridge at lam = 1/t is the classical comparison, Ali, Kolter & Tibshirani 2019,
arXiv 1810.10082, Sec. 3 for the flow iterate). Time units: a loss (1/n)||.||^2 has time t/2 for the same
iterate. GD with eta s_max(Sh) > 2 diverges; the formulas stay exact and the metrics grow like
(eta s_+ - 1)^{2k} (no error is raised; +inf beyond the float range).

Metrics (ridge's definitions; expectations over X, beta, eps, here their limits): ``excess_risk`` =
E (b - beta)^T Sigma (b - beta) (noise EXCLUDED) = ``bias`` (eps-free part) + ``variance`` (eps part);
``train_error`` = (1/n) ||y - X b||^2 (noise INCLUDED); ``norm2`` = ||b||^2; ``optimal_time`` = t*, a global
minimiser of excess_risk over t in [0, inf] (GD: over whole k, t* = k* eta), and ``optimal_risk`` = its risk;
both are constant along a t grid.

Equations (in the displays :math:`r_2` = ``r2``, :math:`\sigma^2` = ``sigma2``, :math:`\underline{\mu}` = umu).
Given X (eigenvalues e_j > 0 of Sh, eigenvectors v_j), averaging over beta and eps exactly gives
ridge's conditional formulas with e/(e + lam) replaced by f(e): bias_X = (r2/p) tr(Sigma phi(Sh)^2),
variance_X = (sigma2/n) tr(Sigma f(Sh)^2 Sh^+). In the limit two spectral measures carry every metric:
nu, the Sigma-weighted spectral measure of Sh (int g dnu = lim (1/p) tr(Sigma g(Sh)), mass <s>), and umu,
the spectral measure of the companion X X^T/n (mass 1). With K(z) the solution of ridge's effective-ridge
equation at lam = -z,

.. math::

    -z = K \left(1 - \gamma \left\langle \frac{s}{s + K} \right\rangle\right)

(K(-lam) = ridge's kappa(lam); Im K < 0 for Im z > 0),
their Stieltjes transforms are m_nu(z) = -(1 + K/z)/gamma (from the deterministic equivalent
lam (Sh + lam)^{-1} ~ kappa (Sigma + kappa)^{-1}) and m_umu(z) = 1/K (Silverstein's equation), so on (0, inf)

.. math::

    \rho_\nu(x) = -\frac{\operatorname{Im} K(x + i0)}{\pi \gamma x}, \qquad
    \rho_{\underline{\mu}}(x) = -\frac{\operatorname{Im} K(x + i0)}{\pi |K(x + i0)|^2},

with atoms nu({0}) = kappa0/gamma when gamma_eff = gamma H(s > 0) > 1 (kappa0 = ridge's ridgeless kappa) and
umu({0}) = 1 - gamma_eff when gamma_eff < 1. Then

.. math::

    \mathrm{bias} = r_2 \int \phi^2 \, d\nu

    \mathrm{variance} = \sigma^2 \gamma \int \frac{f^2}{s} \, d\nu

    \mathrm{train\_error} = \int \left(\frac{r_2 s}{\gamma} + \sigma^2\right) \phi^2 \, d\underline{\mu}

    \mathrm{norm2} = \int \left(\frac{r_2}{\gamma} + \frac{\sigma^2}{s}\right) f^2 \, d\underline{\mu}.

(bias: the atom at 0 included, phi(0) = 1.)

For Sigma = I, nu is the Marchenko-Pastur law and these are AKT's Marchenko-Pastur limits of the risk;
general Sigma follows from the same conditional formulas through nu and umu. Special cases: t = 0 gives
bias = r2 <s>, train_error = r2 <s> + sigma2, variance = norm2 = 0; t -> inf (flow, or GD with eta s_+ < 2)
gives ridge's lam = 0 values; (Sigma, sigma2, t, eta) -> (c Sigma, c sigma2, t/c, eta/c) scales
excess_risk, bias, variance and train_error by c and leaves norm2 unchanged.

Numerics (no contour, no complex polynomial): write K = u + i v on the boundary curve. Im z(K) = 0 with
v != 0 means gamma <s^2/((s + u)^2 + v^2)> = 1, a monotone equation for y = v^2 at each real u; the curve
is the boundary of the image of the upper half plane under K, so u -> x(u) = gamma <s> - 2u -
gamma <s^3/((s + u)^2 + y)> is decreasing on each of its pieces (dx/du = -2 (y P^2 + Q^2)/P < 0, _curve). The
pieces are the u-intervals where gamma <s^2/(s + u)^2> > 1 (Silverstein & Choi 1995: their ends are the
support edges, the real critical points of z(K)); they are bracketed between the poles u = -s_i and found by
vectorised safeguarded Newton. On each piece u = (a + b)/2 - (b - a)/2 cos(theta) turns the square-root
edges into smooth integrands (u and y are computed as offsets from the nearest edge, so they keep full
relative accuracy there; at gamma_eff = 1 the lowest edge is u = x = 0 exactly, a hard edge with
rho ~ x^{-1/2}, still smooth in theta); theta is integrated by adaptive panel-bisection Gauss-Legendre (each
panel's two halves must reproduce it on the masses of nu and umu to 1e-14), with panels graded geometrically
toward the lowest edge (where exp(-2 t x) concentrates at large t) until the rest holds mass <= 1e-14 (as
gamma_eff -> 1 the density is O(1) in theta down to theta ~ |u_edge|: the near-hard edge's dip). The result
is a fixed set of nodes x_i with weights rho_nu dx and rho_umu dx (masses checked: nu0 + sum = <s>,
umu0 + sum = 1), computed once per (gamma, spectrum); every t (and eta) of a grid is then one matrix product.
GD's filter is evaluated as exp(k log1p(-eta s)) (``GradientFlow.filters``), exact at any k. The optimum
scans a log grid of t and refines by brentq on d excess_risk/dt = 2 int e^{-ts}[sigma2 gamma (1 - e^{-ts}) -
r2 s e^{-ts}] dnu; GD does the same in continuous k on each parity of k ((1 - eta s)^k = sign^k
exp(-k eta L), L = -log|1 - eta s|/eta) and takes the best whole k of that parity on either side (one
flow-like search at any k). sigma2 = 0 (flow, or GD with eta s_+ < 2): t* = inf and optimal_risk = the
ridgeless bias r2 kappa0/gamma; r2 = 0: t* = 0, optimal_risk = 0.

Sources: Ali, Kolter & Tibshirani, "A continuous-time view of early stopping for least squares"
(AISTATS 2019, arXiv 1810.10082): flow iterate, Sigma = I limits, ridge comparison at lam = 1/t;
Silverstein & Bai 1995 and Silverstein & Choi 1995 (J. Multivariate Anal.): the generalised
Marchenko-Pastur equation, uniqueness of the branch and the support edges; the deterministic equivalent of
``theory.ridge``. Tested in tests/theory/test_gradient_flow.py against the Marchenko-Pastur closed forms
(independent quadrature), a contour-integral evaluation, ridge's lam = 0 limits, series at small t and
reference values.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from overparam.errors import ConvergenceError
from overparam.models import GradientFlow, Ridge

from . import ridge as _ridge

METRICS = GradientFlow.METRICS
_EPS = np.finfo(float).eps
_GAUSS = np.polynomial.legendre.leggauss(12)  # nodes and weights on [-1, 1] of every panel
_PANEL_TOL = 1e-14  # |panel - (left + right half)| allowed, relative to the measure's total mass
_GRADING = 10  # at least 10 panels shrinking 4-fold toward the lowest edge (theta = pi): x-scales to ~1e-12
_FINEST = 64 * 4 * _EPS  # the finest graded theta-panel: 128 ulp of pi
_MAX_LEVELS = 40


# --------------------------------------------------------------------------------- root finding
def _newton(fun, lo: np.ndarray, hi: np.ndarray, what: str, max_iter: int = 200) -> np.ndarray:
    """Roots of increasing functions on the brackets [lo, hi] (vectorised): ``fun(x) -> (F, dF, floor)`` with
    F(lo) <= 0 <= F(hi) and ``floor`` the rounding level of F; Newton steps, bisection when a step leaves the
    bracket; done when |F| <= floor, the step or the bracket is at the resolution of x."""
    lo, hi = lo.astype(float).copy(), hi.astype(float).copy()
    x = 0.5 * (lo + hi)
    done = np.zeros(x.shape, dtype=bool)
    for _ in range(max_iter):
        F, dF, floor = fun(x)
        lo, hi = np.where(F <= 0, x, lo), np.where(F >= 0, x, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            new = x - F / dF
        new = np.where((new >= lo) & (new <= hi), new, 0.5 * (lo + hi))
        scale = 4 * _EPS * np.maximum(np.abs(lo), np.abs(hi))
        done |= (np.abs(F) <= floor) | (np.abs(new - x) <= scale) | (hi - lo <= scale)
        x = np.where(done, x, new)
        if done.all():
            return x
    raise ConvergenceError(what, float(np.max(np.abs(F))), max_iter)


def _edges_u(gamma: float, s: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Sorted real roots u of gamma <s^2/(s + u)^2> = 1 (support edges in the K plane).

    g(u) = gamma <s^2/(s + u)^2> -> +inf at the poles u = -s_i and -> 0 at +-inf; it is convex between poles
    (0 or 2 roots) and monotone outside them (one root each side). Roots are found on G = g^{-1/2}, nearly
    linear near a pole and at infinity."""
    order = np.argsort(-s)  # the atoms of a measure are distinct
    s_desc = s[order]
    poles = -s_desc  # increasing
    gw = gamma * w

    def g_terms(u, power):
        d = s[None, :] + u[:, None]
        return (gw * s * s / d**power).sum(axis=1)

    def G(u, sign):
        with np.errstate(divide="ignore", invalid="ignore"):
            g, dg = g_terms(u, 2), -2.0 * g_terms(u, 3)
            val = 1.0 / np.sqrt(g) - 1.0
            der = -0.5 * g**-1.5 * dg
        return sign * val, sign * der, 4 * _EPS  # g^{-1/2} ~ 1 at a root

    fplus = float(w.sum())
    smax, smin = s_desc[0], s_desc[-1]
    right = _newton(lambda u: G(u, 1.0), np.array([-smin]), np.array([max(smax * (np.sqrt(gamma * fplus) - 1), 0.0)]),
                    "support edge (right)")
    excess = gamma * fplus - 1.0
    excess = 0.0 if abs(excess) <= 64 * _EPS else excess  # gamma_eff = 1 up to the rounding of the weights
    # polish on g - 1 = (gamma f+ - 1) - gamma u <(2s + u)/(s + u)^2>: exact near u = 0, where the lowest edge
    # x -> 0 as gamma_eff -> 1; its rounding (eps |gamma f+ - 1|) is below that of g - 1 itself while gamma f+ <= 2
    for _ in range(3 if abs(excess) <= 1.0 else 0):
        d = s + right[0]
        right = right - (excess - right * (gw @ ((2 * s + right[0]) / d**2))) / (-2.0 * (gw @ (s * s / d**3)))
    roots = [_newton(lambda u: G(u, -1.0), np.array([-smax * (1 + np.sqrt(gamma * fplus))]), np.array([-smax]),
                     "support edge (left)"), right]
    if poles.size > 1:
        # lower bound of g between consecutive poles from the two nearest atoms: (A^1/3 + B^1/3)^3/L^2
        A = gw[order] * s_desc**2
        bound = (np.cbrt(A[:-1]) + np.cbrt(A[1:])) ** 3 / np.diff(poles) ** 2
        cand = np.flatnonzero(bound < 1.0)
        if cand.size:
            lo, hi = poles[cand], poles[cand + 1]

            def q(u):  # -<s^2/(s+u)^3> is increasing between poles; its root is the minimum of g
                d = s[None, :] + u[:, None]
                terms = gw * s * s / d**3
                return -terms.sum(axis=1), 3.0 * (terms / d).sum(axis=1), 8 * _EPS * np.abs(terms).sum(axis=1)

            with np.errstate(divide="ignore", invalid="ignore"):
                m = _newton(q, lo, hi, "support gap (minimum)")
            low = g_terms(m, 2) < 1.0
            if low.any():
                lo, hi, m = lo[low], hi[low], m[low]
                roots += [_newton(lambda u: G(u, 1.0), lo, m, "support gap (left edge)"),
                          _newton(lambda u: G(u, -1.0), m, hi, "support gap (right edge)")]
    return np.sort(np.concatenate(roots))


def _curve(edge: np.ndarray, du: np.ndarray, gamma: float, s: np.ndarray, w: np.ndarray):
    """Points K = u - i sqrt(y) of the boundary curve at u = edge + du (du: the accurate offset from the
    nearest edge): y from g(y) = gamma <s^2/((s+u)^2 + y)> = 1, written relative to the edge,
    g(y) - g(edge) = gamma <s^2 (N - y)/(D S)> with S = (s + edge)^2, N = S - (s + u)^2, D = (s + u)^2 + y,
    so that y keeps full relative accuracy near the edges. The edge is taken as an exact root (g(edge) = 1:
    its own rounding moves the curve by O(eps |edge|), whereas 1 - g(edge) evaluated in floating point
    carries an absolute error ~eps that would shift y and x by ~eps, losing the mass ~sqrt(eps) of the
    region x < eps next to a near-hard edge, gamma_eff -> 1). Newton on the concave increasing 1/g - 1 from
    y = 0 (monotone convergence). Returns u, y, x(u) = -u + gamma <s (u (s+u) + y)/D> and
    dx/du = -2 (y P^2 + Q^2)/P, P = <a/D^2>, Q = <a (s+u)/D^2>, a = gamma w s^2 (g = <a/D> = 1 removes the
    -2 + ... cancellation of the direct derivative, ~1/sqrt(gamma) in size at small gamma)."""
    a = gamma * w * s * s
    su0 = s[None, :] + edge[:, None]
    S = su0 * su0
    N = -du[:, None] * (2.0 * su0 + du[:, None])
    rho = np.zeros(du.size)  # 1 - g(edge) = 0: the edge is taken as exact (see the docstring)
    base = S - N  # (s + u)^2
    a_over_s = a / S
    y = np.zeros_like(du)
    active = np.arange(du.size)
    for _ in range(200):
        ya = y[active, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / (base[active] + ya)
            g = inv @ a
            ratio = (N[active] - ya) * inv
            resid = rho[active] - np.einsum("ij,ij->i", ratio, a_over_s[active])  # 1 - g(y), cancellation-free
            floor = 8 * _EPS * (np.abs(rho[active]) + np.einsum("ij,ij->i", np.abs(ratio), a_over_s[active]))
            inv *= inv
            step = -resid * g / (inv @ a)  # -G/G' with G = 1/g - 1, G' = -g'/g^2
        step = np.where(np.isfinite(step), step, 0.0)
        y[active] = np.maximum(y[active] + step, 0.0)  # y = 0 only at an edge
        done = (np.abs(step) <= 8 * _EPS * y[active]) | (y[active] == 0) | (np.abs(resid) <= floor)
        active = active[~done]
        if active.size == 0:
            break
    else:
        raise ConvergenceError("boundary curve Im K", float(np.max(np.abs(step) / np.maximum(y[active], 1e-300))),
                               200)
    u = edge + du
    su = su0 + du[:, None]  # s + u to full relative accuracy next to a pole -s (the nearest: Sterbenz)
    inv = 1.0 / (base + y[:, None])
    inv2 = inv * inv
    x = -u + ((u[:, None] * su + y[:, None]) * inv) @ (gamma * w * s)
    P, Q = inv2 @ a, (su * inv2) @ a
    return u, y, x, -2.0 * (y * P * P + Q * Q) / P


@dataclass(frozen=True)
class Quadrature:
    """Nodes x > 0 with weights of rho_nu dx and rho_umu dx, plus the atoms at 0 of nu and umu."""

    gamma: float
    x: np.ndarray
    w_nu: np.ndarray
    w_umu: np.ndarray
    nu0: float
    umu0: float
    mean: float  # <s> = total mass of nu
    kappa0: float  # ridge's ridgeless kappa (0 when gamma_eff <= 1)

    @property
    def top(self) -> float:
        return float(self.x.max()) if self.x.size else 0.0

    @property
    def bottom(self) -> float:
        return float(self.x.min()) if self.x.size else 0.0


def _panel_rule(a: float, b: float, t0: np.ndarray, t1: np.ndarray, gamma, s, w):
    """Gauss-Legendre nodes of theta-panels [t0, t1] (never straddling pi/2) on the piece u in [a, b],
    u = a + (b - a) sin^2(theta/2) = b - (b - a) cos^2(theta/2): (x, W_nu, W_umu) of shape (panels, nodes).
    Nodes at an edge to rounding (y = 0 or x <= 0) get weight 0."""
    z, gw = _GAUSS
    half = 0.5 * (t1 - t0)[:, None]
    theta = (0.5 * (t0 + t1)[:, None] + half * z).ravel()
    left = theta <= np.pi / 2
    edge = np.where(left, a, b)
    du = np.where(left, (b - a) * np.sin(theta / 2) ** 2, -(b - a) * np.cos(theta / 2) ** 2)
    u, y, x, dx = _curve(edge, du, gamma, s, w)
    jac = (gw * half * 0.5 * (b - a)).ravel() * np.sin(theta) * -dx / np.pi
    inside = (y > 0) & (x > 0)
    v = np.sqrt(y)
    x = np.where(inside, x, 1.0)
    w_nu = np.where(inside, v / (gamma * x) * jac, 0.0)
    w_umu = np.where(inside, v / (u * u + y) * jac, 0.0)
    shape = half.shape[0], z.size
    return x.reshape(shape), w_nu.reshape(shape), w_umu.reshape(shape)


def _grading(a: float, b: float, last: float, gamma: float, s: np.ndarray, w: np.ndarray, scale: tuple) -> list:
    """Cuts pi - h_j, h_j = (pi - last) 4^-j, j = 1, 2, ...: at least _GRADING - 1 of them, then on until the
    rest [pi - h_j, pi] holds a mass <= _PANEL_TOL. Near a hard edge (gamma_eff -> 1) the density is O(1) in
    theta down to theta-scale |u_edge|, below which it vanishes: a dip of mass ~|u_edge| that no coarser panel
    can see, bounded here by the mass of the last panel (h_j ~ 1e-14 at worst)."""
    h = (np.pi - last) * 4.0 ** -np.arange(1, int(np.log((np.pi - last) / _FINEST) / np.log(4.0)) + 1)
    _, w_nu, w_umu = _panel_rule(a, b, np.pi - np.append(h[:-1], h[-1]), np.append(np.pi - h[1:], np.pi),
                                 gamma, s, w)
    mass = np.maximum(w_nu.sum(axis=1) / scale[0], w_umu.sum(axis=1) / scale[1])  # panel j: [pi - h_j, ...]
    rest = np.cumsum(mass[::-1])[::-1]  # rest[j]: the mass of [pi - h_j, pi]
    j = max(_GRADING - 1, int(np.argmax(rest <= _PANEL_TOL)) + 1 if (rest <= _PANEL_TOL).any() else h.size)
    return list(np.pi - h[:j])


def _piece(a: float, b: float, graded: bool, gamma: float, s: np.ndarray, w: np.ndarray, scale: tuple):
    """Adaptive panel quadrature of one piece [a, b] of the curve (u increasing = x decreasing): uniform
    theta-panels (more when the piece holds many poles -s_i, where the density has structure), graded toward
    theta = pi (the lowest edge) if ``graded``, then bisected until each panel's halves reproduce it."""
    inside = int(np.count_nonzero((-s > a) & (-s < b)))
    cuts = list(np.linspace(0.0, np.pi, 2 * int(np.clip(inside // 8, 1, 4)) + 1))
    if graded:  # theta = pi is the lowest-x edge
        cuts = cuts[:-1] + _grading(a, b, cuts[-2], gamma, s, w, scale) + [np.pi]
    t0, t1 = np.array(cuts[:-1]), np.array(cuts[1:])
    own = [r.sum(axis=1) for r in _panel_rule(a, b, t0, t1, gamma, s, w)[1:]]
    done = []
    for _ in range(_MAX_LEVELS):
        mid = 0.5 * (t0 + t1)
        left = _panel_rule(a, b, t0, mid, gamma, s, w)
        right = _panel_rule(a, b, mid, t1, gamma, s, w)
        halves = [left[k].sum(axis=1) + right[k].sum(axis=1) for k in (1, 2)]
        err = np.maximum(np.abs(halves[0] - own[0]) / scale[0], np.abs(halves[1] - own[1]) / scale[1])
        tiny = np.maximum.reduce([own[0] / scale[0], own[1] / scale[1], halves[0] / scale[0],
                                  halves[1] / scale[1]]) <= _PANEL_TOL  # the error is bounded by the mass
        ok = (err <= _PANEL_TOL) | tiny
        done += [np.concatenate([left[k][ok], right[k][ok]]).ravel() for k in range(3)],
        if ok.all():
            break
        t0, t1 = np.concatenate([t0[~ok], mid[~ok]]), np.concatenate([mid[~ok], t1[~ok]])
        own = [np.concatenate([left[k][~ok].sum(axis=1), right[k][~ok].sum(axis=1)]) for k in (1, 2)]
    else:
        raise ConvergenceError("adaptive quadrature of the spectral density", float(err.max()), _MAX_LEVELS)
    return [np.concatenate([d[k] for d in done]) for k in range(3)]


def quadrature(gamma: float, spectrum) -> Quadrature:
    """Nodes and weights of nu and umu at one gamma (module docstring, Numerics)."""
    m = _ridge._Measure.of(spectrum)
    s, w = m.s, m.w
    ge = gamma * m.fplus
    critical = abs(ge - 1.0) <= 64 * _EPS  # gamma_eff = 1 up to the rounding of the weights: kappa0 = 0
    kappa0 = float(_ridge.kappa(Ridge(gamma=gamma, lam=0.0, spectrum=spectrum))) if ge > 1 and not critical else 0.0
    nu0, umu0 = kappa0 / gamma, max(1.0 - ge, 0.0)
    edges = _edges_u(gamma, s, w)
    pieces = list(zip(edges[::2], edges[1::2]))
    parts = [_piece(a, b, k == len(pieces) - 1, gamma, s, w, (m.mean, 1.0)) for k, (a, b) in enumerate(pieces)]
    x, w_nu, w_umu = (np.concatenate([p[k] for p in parts]) for k in range(3))
    for what, total in (("nu", nu0 + w_nu.sum() - m.mean), ("umu", umu0 + w_umu.sum() - 1.0)):
        residual = abs(total) / (m.mean if what == "nu" else 1.0)
        if residual > 1e-11:
            raise ConvergenceError(f"mass of the spectral measure {what}", residual, 0)
    return Quadrature(gamma, x, w_nu, w_umu, nu0, umu0, m.mean, kappa0)


# -------------------------------------------------------------------------------------- metrics
def _times(c, v):
    """c v, with 0 where c = 0 (a zero signal or noise removes its term, even where divergent GD overflows)."""
    return np.where(c == 0, 0.0, c * v)


def _metrics(q: Quadrature, t, eta, r2, sigma2) -> dict[str, np.ndarray]:
    """Every path metric at the points (t, eta, r2, sigma2) (1-D arrays) from the nodes of q."""
    phi, f = GradientFlow(t=t, eta=eta).filters(q.x)  # the estimator's filter, shared with the simulator
    with np.errstate(over="ignore", invalid="ignore"):  # a divergent GD step grows without bound (documented)
        p2, f2 = phi * phi, f * f
        bias = _times(r2, q.nu0 + p2 @ q.w_nu)
        var = _times(sigma2, q.gamma * (f2 @ (q.w_nu / q.x)))
        train = _times(r2, p2 @ (q.x * q.w_umu) / q.gamma) + _times(sigma2, q.umu0 + p2 @ q.w_umu)
        norm2 = _times(r2, f2 @ q.w_umu / q.gamma) + _times(sigma2, f2 @ (q.w_umu / q.x))
    return {"excess_risk": bias + var, "bias": bias, "variance": var, "train_error": train, "norm2": norm2}


# ------------------------------------------------------------------------------ optimal stopping
def _scan(q: Quadrature, L: np.ndarray, sign: np.ndarray, r2: float, sigma2: float) -> tuple[float, float]:
    """Global minimiser over real t >= 0 of the excess risk with the filter phi = sign exp(-t L) at the nodes
    (flow: L = x, sign = 1): a log grid of t, extended while still descending, then brentq on
    d excess_risk/dt = 2 int L phi [sigma2 gamma (1 - phi)/s - r2 phi] dnu in the bracketing cell."""
    from scipy.optimize import brentq

    def filters(t):
        tl = np.multiply.outer(np.atleast_1d(t), L)
        e = np.exp(-tl)
        return sign * e, np.where(sign > 0, -np.expm1(-tl), 1.0 + e)

    def risk(t):
        phi, f = filters(t)
        return _times(r2, q.nu0 + (phi * phi) @ q.w_nu) + _times(sigma2, q.gamma * ((f * f) @ (q.w_nu / q.x)))

    def slope(t):
        phi, f = filters(t)
        return 2.0 * float((((L * phi) * (sigma2 * q.gamma * f / q.x - r2 * phi)) @ q.w_nu)[0])

    positive = L[L > 0]
    hi = max(1e4 / q.mean, 50.0 / max(positive.min() if positive.size else 0.0, 1e-300 + q.mean * 1e-8))
    grid = np.concatenate([[0.0], np.geomspace(1e-4 * r2 / max(r2, sigma2 * q.gamma) / q.mean, hi, 120)])
    with np.errstate(over="ignore", invalid="ignore"):  # divergent GD modes: the risk grows without bound
        values = risk(grid)
        i = int(np.nanargmin(values))
        while i == grid.size - 1 and slope(grid[-1]) < 0:  # still descending at the end of the scan
            grid = np.append(grid, grid[-1] * 10.0)
            values = np.append(values, risk(grid[-1]))
            i = int(np.argmin(values))
            if grid[-1] > 1e300:
                return np.inf, float(values[-1])
        a, b = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
        if slope(a) < 0 < slope(b):
            t_star = brentq(slope, a, b, xtol=1e-14 * b, rtol=4 * _EPS, maxiter=200)
            return t_star, float(risk(t_star)[0])
    return float(grid[i]), float(values[i])


def _flow_optimum(q: Quadrature, r2: float, sigma2: float) -> tuple[float, float]:
    if r2 == 0:
        return 0.0, 0.0
    if sigma2 == 0:
        return np.inf, r2 * q.nu0
    return _scan(q, q.x, np.ones_like(q.x), r2, sigma2)


def _gd_optimum(q: Quadrature, eta: float, r2: float, sigma2: float) -> tuple[float, float]:
    """Best whole k: (1 - eta s)^k = sign^k exp(-k eta L), L = -log|1 - eta s|/eta, is smooth in k on each parity
    of k, so the continuous minimiser of each parity class (_scan, the flow's cost at any k) is rounded to the
    nearest whole k of that parity on either side, and the exact risk picks the best candidate (and k = 0)."""
    if r2 == 0:
        return 0.0, 0.0
    if sigma2 == 0 and eta * q.top < 2:
        return np.inf, r2 * q.nu0
    ex = eta * q.x
    with np.errstate(divide="ignore"):
        L = np.minimum(-np.log(np.abs(1.0 - ex)) / eta, 1e300)  # eta s = 1: phi = 0 from the first step
    flip = ex > 1.0
    candidates = [0.0]
    for parity in ((0, 1) if flip.any() else (0,)):
        t, _ = _scan(q, L, np.where(flip, (-1.0) ** parity, 1.0), r2, sigma2)
        if not np.isfinite(t):
            return np.inf, r2 * q.nu0 if sigma2 == 0 else float(_scan(q, L, np.ones_like(L), r2, sigma2)[1])
        k = np.floor(t / eta)
        if flip.any():
            k -= (k - parity) % 2
            candidates += [k, k + 2.0]
        else:
            candidates += [k, k + 1.0]
    ks = np.unique(np.maximum(candidates, 0.0))
    values = _metrics(q, ks * eta, np.full(ks.size, eta), np.full(ks.size, r2), np.full(ks.size, sigma2))
    j = int(np.nanargmin(values["excess_risk"]))
    return float(ks[j] * eta), float(values["excess_risk"][j])


# ------------------------------------------------------------------------------------- the model
def _grid(model: GradientFlow) -> tuple[tuple[int, ...], list[np.ndarray]]:
    names = ("gamma", "t", "eta", "r2", "sigma2")
    arrays = np.broadcast_arrays(*(np.asarray(getattr(model, k), dtype=float) for k in names))
    return arrays[0].shape, [a.ravel() for a in arrays]


def theory(model: GradientFlow) -> dict[str, np.ndarray]:
    """Limits of every metric (module docstring), broadcast over the numeric parameters of ``model``.
    One quadrature per distinct gamma; the t (and eta) grid is a matrix product over its nodes."""
    shape, (gamma, t, eta, r2, sigma2) = _grid(model)
    out = {name: np.empty(gamma.size) for name in METRICS}
    for g in np.unique(gamma):
        sel = np.flatnonzero(gamma == g)
        q = quadrature(float(g), model.spectrum)
        for name, v in _metrics(q, t[sel], eta[sel], r2[sel], sigma2[sel]).items():
            out[name][sel] = v
        combos, inverse = np.unique(np.column_stack([eta[sel], r2[sel], sigma2[sel]]), axis=0, return_inverse=True)
        best = np.array([_flow_optimum(q, c[1], c[2]) if c[0] == 0 else _gd_optimum(q, *c) for c in combos])
        out["optimal_time"][sel], out["optimal_risk"][sel] = best[inverse.ravel()].T
    return {name: v.reshape(shape) for name, v in out.items()}


def optimal(model: GradientFlow) -> dict[str, np.ndarray]:
    """``optimal_time`` and ``optimal_risk`` alone (``model.t`` is ignored)."""
    out = theory(model.replace(t=np.zeros_like(np.asarray(model.t, dtype=float))))
    return {"optimal_time": out["optimal_time"], "optimal_risk": out["optimal_risk"]}


__all__ = ["theory", "optimal", "quadrature", "Quadrature", "METRICS"]
