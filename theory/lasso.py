r"""LASSO, minimum-l1 interpolation and the l1 phase transition: AMP state evolution (n, p -> inf).

Model. X in R^{n x p} with iid N(0, 1/n) entries, ``delta`` = n/p. beta has iid
coordinates B ~ (1 - eps) delta_0 + eps P, P = N(0, 1) (``gauss``) or uniform{+-1} (``rademacher``);
y = X beta + w, w ~ N(0, sigma2 I_n). For ``lam`` > 0 the estimator is

.. math::

    \hat\beta = \operatorname{argmin}_b \frac{1}{2} \|y - X b\|^2 + \lambda \|b\|_1

(penalty NOT divided by n; in the displayed equations :math:`\lambda` = ``lam``, :math:`\sigma^2` = ``sigma2``,
:math:`\delta` = ``delta``, :math:`\epsilon` = ``eps``), and ``lam`` = 0 is its lam -> 0+ limit: minimum-l1
interpolation (basis pursuit) for delta < 1, least squares for delta > 1.

Scalar channel U = B + tau Z, soft threshold eta(u; theta) = sign(u)(|u| - theta)_+;
mse_s(tau, theta) = E (eta(U; theta) - B)^2 and df_s(tau, theta) = P(|U| > theta), both in closed form
(Phi, phi, erf and the chi2_3 cdf; Stein form E(eta - B)^2 = tau^2 (1 - 2 P(|U| < theta)) + E min(U^2, theta^2)
for the Gaussian part, which is stable as tau -> 0). With psi0(a) = (1 + a^2) Phi(-a) - a phi(a):

.. math::

    \mathrm{state\ evolution} \quad \tau^2 = \sigma^2 + \frac{\mathrm{mse}_s(\tau, \alpha \tau)}{\delta}
    \qquad \mathrm{(SE)}

    \mathrm{calibration} \quad \lambda = \alpha \tau \left(1 - \frac{\mathrm{df}_s(\tau, \alpha \tau)}{\delta}\right)
    \qquad \mathrm{(CAL)}

(Bayati & Montanari 2012, arXiv 1008.2581, main theorem; Donoho, Maleki & Montanari 2009/2010,
arXiv 0907.3574 and 1004.1218). For each lam > 0 there is exactly one alpha above alpha_0 (the zero of
CAL) solving CAL; alpha < alpha_0 gives lam < 0 and is never returned.

Metrics (limits at fixed delta):

* ``mse``, the estimation error per coordinate (not a test error):

  .. math::

      \mathrm{mse} = \lim \frac{\|\hat\beta - \beta\|^2}{p} = \mathrm{mse}_s(\tau_*, \alpha \tau_*)
      = \delta (\tau_*^2 - \sigma^2)

* ``tau_star``: tau_*, the noise level of the equivalent scalar channel;
* ``frac_nonzero``:

  .. math::

      \mathrm{frac\_nonzero} = \lim \frac{\|\hat\beta\|_0}{p} = \mathrm{df}_s(\tau_*, \alpha \tau_*)

* ``threshold``: alpha, the threshold in units of tau_* (theta_* = alpha tau_*).

lam = 0 (Li & Wei 2021, arXiv 2110.09502): delta < 1 is SE + CAL with lam = 0 (df_s = delta, so
frac_nonzero = delta). With sigma2 = 0 below the Donoho-Tanner curve (eps < eps_max(delta)) basis pursuit
recovers beta: mse = tau_star = 0, frac_nonzero = eps, threshold = alpha_bp, the root of
eps + (1 - eps) 2 Phi(-alpha) = delta (the sigma2 -> 0+ limit). delta > 1 is least squares: mse = tau_star^2 =
sigma2 delta / (delta - 1), frac_nonzero = 1, threshold = 0 (with sigma2 = 0: mse = tau_star = 0,
frac_nonzero = eps, exact recovery). delta = 1, sigma2 > 0: mse = tau_star = inf (documented singularity).
The dataclass refuses a SINGLE point with lam = 0 and delta >= 1; inside a grid (a delta sweep across 1)
those points return the limits above.

l1 transition (Donoho-Tanner weak threshold, signed signals; minimax form of Donoho-Maleki-Montanari 2009):
for delta in (0, 1), with w(z) = phi(z) - z Phi(-z),

.. math::

    \delta(z) = \frac{2 \phi(z)}{z + 2 w(z)}, \qquad \rho = 1 - \frac{z \Phi(-z)}{\phi(z)}, \qquad
    \epsilon_{\max} = \rho \delta

equivalently rho(delta) = max_z [1 - (2/delta) psi0(z)] / [1 + z^2 - 2 psi0(z)].

Numerics: every expectation and its partial derivatives in (tau, theta) are closed form. The solves of the lam
curve are vectorised safeguarded Newton iterations over the whole grid (a bracket tightened by every evaluation,
the midpoint when a step leaves it or fails to halve within two steps; stopped when the error left, estimated from
two successive steps, is at round-off). With sigma2 > 0, or above the transition with delta <= 1: alpha(lam) on
(alpha_min, inf) with the total derivative of lam through tau(alpha) (implicit derivative of SE), each residual
solving SE for tau^2 downwards from the bound (sigma2 + eps/delta) / (1 - 2 psi0(alpha)/delta) on every fixed point
(SE can have several for small delta; the descent from above reaches the largest). With sigma2 = 0 below the
transition, and for every eps when delta > 1 (eps = 1 included: there tau = 0 is the only fixed point of SE for
alpha up to the root of M(eps, alpha) = delta, sqrt(delta - 1) at eps = 1, so lam(alpha) = 0 on that interval and
an alpha search from alpha_min = 0 finds no positive fixed point), the curve is parametrised by the threshold theta
= alpha tau instead (Newton on lam(theta), each residual solving SE for tau at fixed theta, warm-started along its
implicit derivative). There SE at fixed alpha is homogeneous in tau up to terms in P(|B| < theta), exponentially
small for a sparse Rademacher prior (nonzeros far above tau): tau(alpha) is then not determined in floating point
(a whole range of lam lies within one ulp of alpha), whereas theta moves with tau at small lam and with alpha at
large lam. At fixed theta, SE leaves tau undetermined only where mse_s - tau^2 is below round-off (delta near 1,
eps near 1, tiny theta): such a theta is treated as lying below the root, and a returned one raises
ConvergenceError. Every returned (alpha, tau) is checked: an SE residual above 1e-7 tau^2 or a CAL residual above
1e-7 (lam + 1e-6 alpha tau) raises ConvergenceError (this happens for a Rademacher prior, sparse or dense with
delta > 1, with 0 < sigma2 < ~1e-11, where the alpha parametrisation has the same defect). alpha_min and the
Donoho-Tanner z(delta) are bracketed roots (Illinois regula falsi with bisection safeguards), computed once per
distinct delta, like eps_max.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import special

from overparam.errors import ConvergenceError
from overparam.models import L1Transition, Lasso

__all__ = ["theory", "transition", "psi0", "mse_s", "df_s", "alpha_min", "tau_of_alpha", "lam_of_alpha",
           "eps_max", "alpha_bp", "rho_max_form"]

_SQRT2 = np.sqrt(2.0)
_MAX_ITER = 400
_RESIDUAL_TOL = 1e-7  # largest (SE)/(CAL) residual returned (relative, see _check); above it ConvergenceError
_ALPHA_UNDERFLOW = 30.0  # tau(theta): above, d mse_s/d theta nears underflow (no sign); the left branch is far below
_SE_FLAT = 1e-8  # relative slope of the (SE) residual in tau at fixed theta below which tau is undetermined
_RTOL = 1e-16  # _newton stops when the estimated error left after its last Newton step is below this (relative)


# ------------------------------------------------------------------------------ scalar channel
def _npdf(x):
    return np.exp(-0.5 * np.square(x)) / np.sqrt(2 * np.pi)


def psi0(a):
    """psi0(a) = (1 + a^2) Phi(-a) - a phi(a) = E (|Z| - a)_+^2 / 2 (Mills-ratio form for a > 5)."""
    a = np.asarray(a, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        mills = np.sqrt(np.pi / 2) * special.erfcx(a / _SQRT2)  # Phi(-a)/phi(a)
        big = _npdf(a) * ((1 + a * a) * mills - a)
    return np.where(a > 5, big, (1 + a * a) * special.ndtr(-a) - a * _npdf(a))


def _zero_part(tau, theta, grad=False):
    """(E eta(tau Z; theta)^2, P(|tau Z| > theta)) for B = 0; with ``grad`` also their partial derivatives
    (d/d tau, d/d theta of the first, then of the second)."""
    a = theta / tau
    tail = special.ndtr(-a)
    out = (2 * tau * tau * psi0(a), 2 * tail)
    if not grad:
        return out
    pdf = _npdf(a)
    return out + (4 * tau * tail, -4 * tau * (pdf - a * tail), 2 * a * pdf / tau, -2 * pdf / tau)


def _gauss_part(tau, theta, grad=False):
    """(E (eta(U) - B)^2, P(|U| > theta)) for B ~ N(0, 1), U ~ N(0, 1 + tau^2) (Stein form); ``grad`` as in
    _zero_part (f_U(theta) = phi(theta / sqrt v) / sqrt v and E(B | U = theta) = theta / v enter)."""
    v = 1 + tau * tau
    a1 = theta / np.sqrt(v)
    tail = special.ndtr(-a1)
    m = tau * tau * (1 - 2 * special.erf(a1 / _SQRT2)) + 2 * theta * theta * tail \
        + v * special.gammainc(1.5, a1 * a1 / 2)
    out = (m, 2 * tail)
    if not grad:
        return out
    f_u = _npdf(a1) / np.sqrt(v)
    return out + (4 * tau * tail - 4 * tau * theta * f_u / v, 4 * theta * tail - 4 * tau * tau * f_u,
                  2 * f_u * theta * tau / v, -2 * f_u)


def _rademacher_part(tau, theta, grad=False):
    """(E (eta(U) - B)^2, P(|U| > theta)) for B = 1, U = 1 + tau Z; ``grad`` as in _zero_part."""
    ap, am = (theta - 1) / tau, (theta + 1) / tau
    tail = special.ndtr(-ap) + special.ndtr(-am)
    pp, pm = _npdf(ap), _npdf(am)
    m = (tau * tau + theta * theta) * tail - tau * (1 + theta) * pp + tau * (1 - theta) * pm \
        + (special.ndtr(ap) - special.ndtr(-am))
    out = (m, tail)
    if not grad:
        return out
    return out + (2 * tau * tail - 2 * (pp - pm), 2 * theta * tail - 2 * tau * (pp + pm),
                  (ap * pp + am * pm) / tau, -(pp + pm) / tau)


_PARTS = {"gauss": _gauss_part, "rademacher": _rademacher_part}


def _channel(tau, theta, eps, prior, grad=False):
    """(mse_s, df_s); with ``grad`` also d mse_s/d tau, d mse_s/d theta, d df_s/d tau, d df_s/d theta."""
    zero, signal = _zero_part(tau, theta, grad), _PARTS[prior](tau, theta, grad)
    return tuple((1 - eps) * z + eps * s for z, s in zip(zero, signal))


def mse_s(tau, theta, eps, prior: str):
    """E (eta(B + tau Z; theta) - B)^2 for tau > 0."""
    return _channel(np.asarray(tau, float), np.asarray(theta, float), eps, prior)[0]


def df_s(tau, theta, eps, prior: str):
    """P(|B + tau Z| > theta) for tau > 0."""
    return _channel(np.asarray(tau, float), np.asarray(theta, float), eps, prior)[1]


def _slope(eps, alpha):
    """M(eps, alpha) = lim_{tau -> 0} mse_s(tau, alpha tau) / tau^2 and D0 = lim df_s (no atom of P at 0)."""
    return eps * (1 + alpha * alpha) + (1 - eps) * 2 * psi0(alpha), eps + (1 - eps) * 2 * special.ndtr(-alpha)


# --------------------------------------------------------------------------------- root finder
def _root(f: Callable, lo, hi, what: str, xtol: float = 1e-15):
    """Vectorised bracketed root of f (f(lo) <= 0 <= f(hi) element-wise, f may be -inf/+inf at the ends).

    Illinois regula falsi; a bisection step whenever an end value is not finite and every 4th step."""
    lo, hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
    flo, fhi = f(lo, np.ones(lo.shape, bool)), f(hi, np.ones(lo.shape, bool))
    side = np.zeros(lo.shape, int)
    todo = np.ones(lo.shape, bool)
    for it in range(_MAX_ITER):
        todo &= (hi - lo > xtol * (1 + np.abs(lo) + np.abs(hi))) & (flo != 0) & (fhi != 0)
        if not todo.any():
            return np.where(flo == 0, lo, np.where(fhi == 0, hi, 0.5 * (lo + hi)))
        i = np.flatnonzero(todo)
        a, b, fa, fb = lo[i], hi[i], flo[i], fhi[i]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            x = b - fb * (b - a) / (fb - fa)
        bisect = ~np.isfinite(fa) | ~np.isfinite(fb) | ~np.isfinite(x) | (x <= a) | (x >= b) | (it % 4 == 3)
        x = np.where(bisect, 0.5 * (a + b), x)
        mask = np.zeros(lo.shape, bool)
        mask[i] = True
        full = np.zeros(lo.shape)
        full[i] = x
        fx = f(full, mask)[i]
        if np.isnan(fx).any():
            raise ConvergenceError(what + " (NaN in the residual)", np.nan, it)
        left = fx < 0
        # Illinois: halve the retained end's value when the same side is kept twice
        keep_hi = left & (side[i] == 1)
        keep_lo = ~left & (side[i] == -1)
        fhi[i] = np.where(keep_hi & np.isfinite(fb), fb / 2, fhi[i])
        flo[i] = np.where(keep_lo & np.isfinite(fa), fa / 2, flo[i])
        lo[i], flo[i] = np.where(left, x, a), np.where(left, fx, flo[i])
        hi[i], fhi[i] = np.where(left, b, x), np.where(left, fhi[i], fx)
        side[i] = np.where(left, 1, -1)
    raise ConvergenceError(what, float(np.max((hi - lo)[todo])), _MAX_ITER)


def _flat(*values):
    """Broadcast values together; return (1-D float copies, broadcast shape)."""
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in values))
    return [np.array(a).ravel() for a in arrays], arrays[0].shape


def _masked(g: Callable, *arrays):
    """Wrap g(x, *arrays) as f(x, mask) evaluating only the masked elements (NaN-free elsewhere)."""
    def f(x, mask):
        out = np.zeros(x.shape)
        out[mask] = g(x[mask], *(a[mask] for a in arrays))
        return out
    return f


def _newton(fd: Callable, x, lo, hi, what: str):
    """Vectorised safeguarded Newton root of a residual f that increases through its root, lo < root < hi
    (an end may be infinite; the ends are bounds, never evaluated). fd(x, i) returns (f, f') at the grid
    elements i (an index array); f = -inf/+inf only says on which side x lies. Every evaluation narrows the
    bracket; a step leaving it, or not below half the step before the last one (a Newton cycle, as in
    Numerical Recipes' rtsafe), is replaced by the midpoint (by an expansion when an end is infinite).
    An element stops after two successive Newton steps s1, s2 with |s2| <= 1e-6 |x| and a remaining error,
    estimated as |s2|^3 / s1^2 (e' = C e^2), below _RTOL |x|; at f = 0 or a Newton step below one ulp of x;
    or when the bracket is at round-off.
    Returns (root, last step): root = last evaluated point + step."""
    x, lo, hi = (np.array(v, dtype=float) for v in np.broadcast_arrays(x, lo, hi))
    step, last_newton = np.full(x.shape, np.inf), np.full(x.shape, np.nan)  # every step is set at it = 0
    before_last = np.full(x.shape, np.inf)  # |step| two iterations ago
    i = np.arange(x.size)
    for it in range(_MAX_ITER):
        xi = x[i]
        f, fp = fd(xi, i)
        if np.isnan(f).any():
            raise ConvergenceError(what + " (NaN in the residual)", np.nan, it)
        a = lo[i] = np.where(f < 0, xi, lo[i])
        b = hi[i] = np.where(f > 0, xi, hi[i])
        # an infinite end is replaced by an expansion point, which is also the fallback
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            a_cap = np.where(np.isinf(a), b - 2 * (np.abs(b) + 1), a)
            b_cap = np.where(np.isinf(b), a + 2 * (np.abs(a) + 1), b)
            newton = -f / fp
            sub_ulp = (np.abs(newton) <= np.spacing(np.abs(xi))) & np.isfinite(fp)  # the root to round-off
            inside = sub_ulp | (a_cap < xi + newton) & (xi + newton < b_cap) \
                & (np.abs(newton) <= 0.5 * before_last[i])
        mid = np.where(np.isinf(b), b_cap, np.where(np.isinf(a), a_cap, 0.5 * (a + b)))
        before_last[i] = np.abs(step[i])
        step[i] = np.where(f == 0, 0.0, np.where(inside, newton, mid - xi))
        x[i] = xi + step[i]
        narrow = (b - a <= 1e-15 * (np.abs(a) + np.abs(b))) & np.isfinite(b - a)
        with np.errstate(over="ignore", invalid="ignore"):
            converged = inside & (np.abs(newton) <= 1e-6 * np.abs(xi)) \
                & (np.abs(newton) ** 3 <= _RTOL * np.abs(xi) * last_newton[i] ** 2)
        done = (f == 0) | converged | narrow | sub_ulp
        last_newton[i] = np.where(inside, np.abs(newton), np.nan)
        i = i[~done]
        if not i.size:
            return x, step
    raise ConvergenceError(what, float(np.max(hi[i] - lo[i])), _MAX_ITER)


# ----------------------------------------------------------------------------- state evolution
def alpha_min(delta):
    """The a >= 0 with 2 psi0(a) = delta for delta < 1; 0 for delta >= 1."""
    (delta,), shape = _flat(delta)
    d = np.minimum(delta, 1.0)
    hi = np.sqrt(2 * np.log(1 / d)) + 2  # 2 psi0 < delta there
    a = _root(_masked(lambda a, d: d - 2 * psi0(a), d), np.zeros(d.shape), hi, "alpha_min")
    return np.where(delta >= 1, 0.0, a).reshape(shape)


def _se_tau(alpha, delta, eps, sigma2, prior):
    """t = tau^2 solving (SE) at alpha (2 psi0(alpha) < delta) above sigma2 (for sigma2 = 0 the positive fixed
    point, which needs M(eps, alpha) > delta). Newton on t - sigma2 - mse_s/delta in (sigma2, t_max], started
    at t_max = (sigma2 + eps/delta) / (1 - 2 psi0(alpha)/delta), a bound on every fixed point (risk bound
    mse_s <= E B^2 + 2 tau^2 psi0(alpha), E B^2 = eps): from above, where (SE) has several fixed points (small
    delta), it descends to the largest one (a warm start inside could land on another). Returns (t, _channel
    with grad at the last evaluated t_e, t - t_e)."""
    t_max = (sigma2 + eps / delta) / (1 - 2 * psi0(alpha) / delta)
    chan = np.zeros((6,) + alpha.shape)

    def fd(t, i):
        tau = np.sqrt(t)
        chan[:, i] = c = _channel(tau, alpha[i] * tau, eps[i], prior, grad=True)
        return t - sigma2[i] - c[0] / delta[i], 1 - (c[2] + alpha[i] * c[3]) / (2 * tau * delta[i])

    t, step = _newton(fd, t_max, sigma2, t_max * (1 + 1e-9), "state evolution tau(alpha)")
    return t, chan, step


def tau_of_alpha(alpha, delta, eps, sigma2, prior: str):
    """tau_*(alpha): the largest fixed point of (SE); inf when 2 psi0(alpha) >= delta (no finite fixed point),
    0 when sigma2 = 0 and M(eps, alpha) <= delta (exact recovery)."""
    (alpha, delta, eps, sigma2), shape = _flat(alpha, delta, eps, sigma2)
    out = np.full(alpha.shape, np.inf)
    finite = 2 * psi0(alpha) < delta
    out[finite & (sigma2 == 0) & (_slope(eps, alpha)[0] <= delta)] = 0.0
    live = finite & (out != 0)
    if live.any():
        out[live] = np.sqrt(_se_tau(*(v[live] for v in (alpha, delta, eps, sigma2)), prior)[0])
    return out.reshape(shape)


def lam_of_alpha(alpha, delta, eps, sigma2, prior: str):
    """(CAL): lam(alpha) = alpha tau_* (1 - df_s / delta); -inf where tau_* = inf."""
    (alpha, delta, eps, sigma2), shape = _flat(alpha, delta, eps, sigma2)
    tau = tau_of_alpha(alpha, delta, eps, sigma2, prior)
    return _lam(alpha, tau, delta, eps, prior).reshape(shape)


def _lam(alpha, tau, delta, eps, prior):
    with np.errstate(invalid="ignore", divide="ignore"):
        df = np.where(tau > 0, df_s(tau, alpha * tau, eps, prior), 0.0)
        lam = alpha * tau * (1 - df / delta)
    return np.where(np.isinf(tau), -np.inf, np.where(tau == 0, 0.0, lam))


# ------------------------------------------------------------------------- l1 phase transition
def _dt_parametric(z):
    """(delta(z), rho(z)) of the parametric Donoho-Tanner curve, z > 0."""
    r = np.sqrt(np.pi / 2) * special.erfcx(z / _SQRT2)  # Phi(-z)/phi(z)
    w = _npdf(z) * (1 - z * r)
    return 2 * _npdf(z) / (z + 2 * w), 1 - z * r


def _dt_z(delta):
    """Minimax threshold z(delta) of the parametric form, delta in (0, 1)."""
    (delta,), shape = _flat(delta)
    hi = np.sqrt(2 * np.log(1 / delta)) + 3
    z = _root(_masked(lambda z, d: d - _dt_parametric(z)[0], delta), np.zeros(delta.shape), hi, "DT z(delta)")
    return z.reshape(shape)


def eps_max(delta):
    """k/p at the Donoho-Tanner weak threshold: rho(delta) delta for delta < 1, 1 for delta >= 1."""
    delta = np.asarray(delta, dtype=float)
    d = np.where(delta < 1, delta, 0.5)
    return np.where(delta < 1, _dt_parametric(_dt_z(d))[1] * d, 1.0)


def rho_max_form(delta: float) -> float:
    """rho(delta) = max_z [1 - (2/delta) psi0(z)] / [1 + z^2 - 2 psi0(z)] (scalar, for cross-checks)."""
    from scipy.optimize import minimize_scalar
    g = lambda z: -(1 - 2 * psi0(z) / delta) / (1 + z * z - 2 * psi0(z))  # noqa: E731
    res = minimize_scalar(g, bounds=(0.0, 12.0), method="bounded", options={"xatol": 1e-12})
    return float(-res.fun)


def transition(model: L1Transition) -> dict[str, np.ndarray]:
    """``rho`` (k/n) and ``eps_max`` (k/p) of the Donoho-Tanner weak threshold, vectorised over delta."""
    delta = np.asarray(model.delta, dtype=float)
    z = _dt_z(delta)
    rho = _dt_parametric(z)[1]
    return {"rho": rho, "eps_max": rho * delta}


def alpha_bp(delta, eps):
    """Root of eps + (1 - eps) 2 Phi(-alpha) = delta (0 when delta >= 1): lam = 0 threshold at sigma2 -> 0+."""
    delta, eps = np.broadcast_arrays(np.asarray(delta, float), np.asarray(eps, float))
    with np.errstate(invalid="ignore", divide="ignore"):
        a = -special.ndtri(np.clip((delta - eps) / (2 * (1 - eps)), 0, 0.5))
    return np.where(delta >= 1, 0.0, a)


# ------------------------------------------------------------------------------------- solvers
def _cal_grad(alpha, tau, delta, chan):
    """Partial derivatives in alpha and tau of lam = alpha tau (1 - df_s/delta) (CAL), from
    chan = _channel(tau, alpha tau, grad=True)."""
    one = 1 - chan[1] / delta
    lam_alpha = tau * one - alpha * tau * tau * chan[5] / delta
    return lam_alpha, alpha * one - alpha * tau * (chan[4] + alpha * chan[5]) / delta


def _alpha_of_lam(lam, delta, eps, sigma2, prior, lo):
    """(alpha, tau) solving (CAL) and (SE) for lam >= 0 with alpha in (lo, inf), lo = alpha_min (lam = -inf
    there). Newton on lam(alpha) - lam, each residual solving (SE) and its derivative the total one through
    tau(alpha) (implicit derivative of (SE))."""
    def fd(a, i):
        d = delta[i]
        t, chan, dt = _se_tau(a, d, eps[i], sigma2[i], prior)
        tau = np.sqrt(t - dt)
        r_t = 1 - (chan[2] + a * chan[3]) / (2 * tau * d)  # d/dt and d/d alpha of the (SE) residual
        r_a = -tau * chan[3] / d
        lam_a, lam_tau = _cal_grad(a, tau, d, chan)
        with np.errstate(divide="ignore", invalid="ignore"):  # tau = 0 at round-off: a bisection step
            return _lam(a, np.sqrt(t), d, eps[i], prior) - lam[i], lam_a - lam_tau / (2 * tau) * r_a / r_t

    start = lo + 1 + 2 * lam / np.sqrt(sigma2 + eps / delta)
    what, calls = "calibration alpha(lam)", [0]
    alpha = _newton(_counted(fd, calls), start, lo, np.inf, what)[0]
    tau = np.sqrt(_se_tau(alpha, delta, eps, sigma2, prior)[0])
    _check(alpha, tau, lam, delta, eps, sigma2, prior, what, calls[0])
    return alpha, tau


def _tau_of_theta_noiseless(theta, delta, eps, prior, start):
    """sigma2 = 0, theta > 0: the tau of (SE), mse_s(tau, theta) = delta tau^2, on the positive-lam branch
    (d mse_s/d theta > 0 there: alpha = theta/tau right of the minimum of mse_s(tau, alpha tau) over alpha),
    below sqrt(eps/delta). Newton on delta tau^2 - mse_s, which increases through that root; a point with a negative
    residual and d mse_s/d theta < 0 lies above it (beyond a second, unphysical fixed point for delta < 1; that
    branch has alpha below the minimum, far below _ALPHA_UNDERFLOW, where the sign of d mse_s/d theta is lost to
    underflow). Returns (tau, _channel with grad at tau)."""
    def fd(t, i):
        th = theta[i]
        c = _channel(t, th, eps[i], prior, grad=True)
        r = delta[i] * t * t - c[0]
        left_branch = (c[3] < 0) & (th < _ALPHA_UNDERFLOW * t)
        return np.where((r < 0) & left_branch, np.inf, r), 2 * delta[i] * t - c[2]

    tau = _newton(fd, start, 0.0, np.sqrt(eps / delta) * (1 + 1e-9), "noiseless state evolution tau(theta)")[0]
    return tau, _channel(tau, theta, eps, prior, grad=True)


def _noiseless_below(lam, delta, eps, prior):
    """(alpha, tau) for sigma2 = 0, eps < eps_max(delta) or delta > 1, lam > 0, parametrised by the threshold
    theta = alpha tau (well conditioned at both ends: theta ~ tau while alpha is nearly constant (small lam, or
    every lam below the signal amplitude for a sparse Rademacher prior), theta ~ alpha while tau saturates at
    sqrt(eps/delta) (large lam)). Newton on lam(theta)/lam - 1 over theta >= lam (by (CAL); lam(theta) = theta
    once df_s underflows), each residual solving (SE) for tau at fixed theta, warm-started along d tau/d theta
    (implicit derivative of SE); a theta where (SE) leaves tau undetermined (_se_flat) counts as below the root."""
    tau_max = np.sqrt(eps / delta)
    # first start: theta = 2 lam; alpha <= sqrt(delta/eps) in the small-tau limit (eps (1 + alpha^2) <= delta)
    tau_e = np.minimum(2 * lam / np.sqrt(delta / eps), 0.5 * tau_max)
    theta_e, dtau = np.full(lam.shape, np.nan), np.zeros(lam.shape)

    def warm(theta, i):
        moved = tau_e[i] + np.where(np.isnan(theta_e[i]), 0.0, dtau[i] * (theta - theta_e[i]))
        return np.clip(moved, 0.5 * tau_e[i], 0.5 * (tau_e[i] + tau_max[i]))

    def fd(theta, i):
        d = delta[i]
        tau, c = _tau_of_theta_noiseless(theta, d, eps[i], prior, warm(theta, i))
        flat = _se_flat(tau, d, c)
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.where(flat, 0.0, c[3] / (2 * d * tau - c[2]))
        ok = i[~flat]
        tau_e[ok], theta_e[ok], dtau[ok] = tau[~flat], theta[~flat], slope[~flat]
        one = 1 - c[1] / d
        lam_v = theta * one
        grad = (one - theta * (c[5] + c[4] * slope) / d) / lam[i]
        return np.where(flat, -np.inf, lam_v / lam[i] - 1), grad

    what, calls = "noiseless calibration theta(lam)", [0]
    theta = _newton(_counted(fd, calls), 2 * lam, lam * (1 - 1e-9), np.inf, what)[0]
    tau, c = _tau_of_theta_noiseless(theta, delta, eps, prior, warm(theta, np.arange(lam.size)))
    flat = _se_flat(tau, delta, c)
    if flat.any():
        k = np.flatnonzero(flat)[0]
        raise ConvergenceError(f"{what} at lam={lam[k]:.6g}, delta={delta[k]:.6g}, eps={eps[k]:.6g}: tau not "
                               "determined by (SE) in floating point", np.nan, calls[0])
    _check(theta / tau, tau, lam, delta, eps, np.zeros(lam.shape), prior, what, calls[0])
    return theta / tau, tau


def _se_flat(tau, delta, chan):
    """True where (SE) at fixed theta, delta tau^2 = mse_s(tau, theta), does not determine tau in floating point:
    its residual's relative slope 1 - (d mse_s/d tau) / (2 delta tau) below _SE_FLAT (delta ~ 1, eps ~ 1 and
    theta^2 below the round-off of tau^2: mse_s = tau^2 + theta^2 + terms exponentially small for a Rademacher
    prior). Only tiny thresholds are flat, so a flat point lies below the theta of any lam > 0 resolved."""
    return ~(2 * delta * tau - chan[2] > _SE_FLAT * 2 * delta * tau)


def _counted(fd: Callable, calls: list) -> Callable:
    """fd counting its calls (Newton iterations) in calls[0]."""
    def counted(x, i):
        calls[0] += 1
        return fd(x, i)
    return counted


def _check(alpha, tau, lam, delta, eps, sigma2, prior, what: str, iterations: int):
    """Raise ConvergenceError unless (SE) (relative to tau^2) and (CAL) hold to _RESIDUAL_TOL at the returned
    (alpha, tau): a solve that stalled in an ill-conditioned parametrisation must not return a number. (CAL) is
    relative to lam + 1e-6 theta: its right side alpha tau (1 - df_s/delta) cancels to lam << theta = alpha tau
    near lam = 0, where round-off leaves an error ~1e-16 theta."""
    with np.errstate(divide="ignore", invalid="ignore"):  # NaN counts as failed
        mse, df = _channel(tau, alpha * tau, eps, prior)
        se = np.abs(sigma2 + mse / delta - tau * tau) / (tau * tau)
        cal = np.abs(alpha * tau * (1 - df / delta) - lam) / (lam + 1e-6 * alpha * tau)
        worst = np.fmax(se, cal)
    bad = ~(worst <= _RESIDUAL_TOL)
    if bad.any():
        k = np.flatnonzero(bad)[np.argmax(np.nan_to_num(worst[bad], nan=np.inf))]
        raise ConvergenceError(f"{what} at lam={lam[k]:.6g}, delta={delta[k]:.6g}, eps={eps[k]:.6g}, "
                               f"sigma2={sigma2[k]:.6g} (relative (SE), (CAL) residual)", worst[k], iterations)


def _solve(lam, delta, eps, sigma2, prior, below):
    """(alpha, tau) for lam > 0 (every regime) and for lam = 0 with delta < 1 not exactly recovered; ``below``:
    sigma2 = 0 and (eps < eps_max(delta) or delta > 1), where lam = 0 recovers beta exactly."""
    alpha, tau = np.zeros(lam.shape), np.zeros(lam.shape)
    nb = below & (lam > 0)
    if nb.any():
        alpha[nb], tau[nb] = _noiseless_below(lam[nb], delta[nb], eps[nb], prior)
    gen = ~below & ((lam > 0) | (delta < 1))
    if gen.any():
        alpha[gen], tau[gen] = _alpha_of_lam(lam[gen], delta[gen], eps[gen], sigma2[gen], prior,
                                             _per_distinct(alpha_min, delta[gen]))
    return alpha, tau


def _per_distinct(func: Callable, values):
    """func evaluated once per distinct value."""
    distinct, inverse = np.unique(values, return_inverse=True)
    return func(distinct)[inverse.ravel()]


def theory(model: Lasso) -> dict[str, np.ndarray]:
    """Asymptotic ``mse``, ``tau_star``, ``frac_nonzero`` and ``threshold`` (module docstring), vectorised."""
    prior = model.prior
    (lam, delta, eps, sigma2), shape = _flat(model.lam, model.delta, model.eps, model.sigma2)
    below = (sigma2 == 0) & ((eps < _per_distinct(eps_max, delta)) | (delta > 1))
    alpha, tau = _solve(lam, delta, eps, sigma2, prior, below)
    with np.errstate(invalid="ignore", divide="ignore"):
        mse, df = _channel(np.where(tau > 0, tau, 1.0), alpha * tau, eps, prior)
    mse = np.where(tau > 0, mse, 0.0)
    df = np.where(tau > 0, df, _slope(eps, alpha)[1])
    # lam = 0 special regimes
    zero = lam == 0
    exact = zero & (((sigma2 == 0) & (delta >= 1)) | below)
    alpha[exact], tau[exact], mse[exact], df[exact] = alpha_bp(delta[exact], eps[exact]), 0.0, 0.0, eps[exact]
    ls = zero & (delta >= 1) & (sigma2 > 0)
    with np.errstate(divide="ignore"):
        ls_mse = np.where(delta[ls] > 1, sigma2[ls] * delta[ls] / (delta[ls] - 1), np.inf)
    alpha[ls], tau[ls], mse[ls], df[ls] = 0.0, np.sqrt(ls_mse), ls_mse, 1.0
    bp = zero & (delta < 1) & ~exact
    df[bp] = delta[bp]  # df_s = delta at alpha_0 by (CAL); exact value of the basic LP solution
    return {"mse": mse.reshape(shape), "tau_star": tau.reshape(shape), "frac_nonzero": df.reshape(shape),
            "threshold": alpha.reshape(shape)}
