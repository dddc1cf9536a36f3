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

Numerics: every expectation is closed form and every solve is a vectorised bracketed root finder
(Illinois regula falsi with bisection safeguards) over the whole grid: tau^2(alpha) in log tau^2, then
alpha(lam) on (alpha_min, hi]. With sigma2 = 0 below the transition the solve is parametrised by tau
instead (tau(alpha) -> 0 too slowly in alpha for small lam to be reachable).
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


def _zero_part(tau, theta):
    """(E eta(tau Z; theta)^2, P(|tau Z| > theta)) for B = 0."""
    a = theta / tau
    return 2 * tau * tau * psi0(a), 2 * special.ndtr(-a)


def _gauss_part(tau, theta):
    """(E (eta(U) - B)^2, P(|U| > theta)) for B ~ N(0, 1), U ~ N(0, 1 + tau^2) (Stein form)."""
    v = 1 + tau * tau
    a1 = theta / np.sqrt(v)
    m = tau * tau * (1 - 2 * special.erf(a1 / _SQRT2)) + 2 * theta * theta * special.ndtr(-a1) \
        + v * special.gammainc(1.5, a1 * a1 / 2)
    return m, 2 * special.ndtr(-a1)


def _rademacher_part(tau, theta):
    """(E (eta(U) - B)^2, P(|U| > theta)) for B = 1, U = 1 + tau Z."""
    ap, am = (theta - 1) / tau, (theta + 1) / tau
    tail = special.ndtr(-ap) + special.ndtr(-am)
    m = (tau * tau + theta * theta) * tail - tau * (1 + theta) * _npdf(ap) + tau * (1 - theta) * _npdf(am) \
        + (special.ndtr(ap) - special.ndtr(-am))
    return m, tail


_PARTS = {"gauss": _gauss_part, "rademacher": _rademacher_part}


def _channel(tau, theta, eps, prior):
    m0, d0 = _zero_part(tau, theta)
    m1, d1 = _PARTS[prior](tau, theta)
    return (1 - eps) * m0 + eps * m1, (1 - eps) * d0 + eps * d1


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


def _grow(f: Callable, start, factor: float, sign: float, limit: int = 300):
    """Multiply start by factor (element-wise) until sign * f(x) > 0; x = inf where that never happens."""
    x = np.array(start, dtype=float)
    todo = np.ones(x.shape, bool)
    for _ in range(limit):
        todo &= (x > 0) & np.isfinite(x)
        todo &= ~(sign * f(x, todo) > 0)
        if not todo.any():
            return x
        with np.errstate(over="ignore"):
            x = np.where(todo, x * factor, x)
    return np.where(todo | (x == 0) | np.isinf(x), np.where(factor > 1, np.inf, 0.0), x)


# ----------------------------------------------------------------------------- state evolution
def alpha_min(delta):
    """The a >= 0 with 2 psi0(a) = delta for delta < 1; 0 for delta >= 1."""
    (delta,), shape = _flat(delta)
    d = np.minimum(delta, 1.0)
    hi = np.sqrt(2 * np.log(1 / d)) + 2  # 2 psi0 < delta there
    a = _root(_masked(lambda a, d: d - 2 * psi0(a), d), np.zeros(d.shape), hi, "alpha_min")
    return np.where(delta >= 1, 0.0, a).reshape(shape)


def _se_residual(t, a, d, e, s2, prior):
    """F(t)/t - 1 with F(t) = sigma2 + mse_s(sqrt t, alpha sqrt t)/delta: > 0 below the fixed point."""
    tau = np.sqrt(t)
    return (s2 + mse_s(tau, a * tau, e, prior) / d) / t - 1


def tau_of_alpha(alpha, delta, eps, sigma2, prior: str):
    """tau_*(alpha): the largest fixed point of (SE); inf when 2 psi0(alpha) >= delta (no finite fixed point),
    0 when sigma2 = 0 and M(eps, alpha) <= delta (exact recovery)."""
    (alpha, delta, eps, sigma2), shape = _flat(alpha, delta, eps, sigma2)
    out = np.full(alpha.shape, np.inf)
    finite = 2 * psi0(alpha) < delta
    out[finite & (sigma2 == 0) & (_slope(eps, alpha)[0] <= delta)] = 0.0
    live = finite & (out != 0)
    if live.any():
        args = tuple(v[live] for v in (alpha, delta, eps, sigma2))
        r = _masked(lambda t, *a: _se_residual(t, *a, prior), *args)
        t0 = np.where(args[3] > 0, args[3], 1e-8 * args[2] / args[1])
        lo = _grow(r, t0, 1e-4, 1.0)
        hi = _grow(lambda t, m: -r(t, m), 4 * np.maximum(t0, 1.0), 16.0, 1.0)
        res = np.where(lo == 0, 0.0, np.inf)
        ok = (lo > 0) & np.isfinite(hi)
        if ok.any():
            g = _masked(lambda s, *a: -_se_residual(np.exp(s), *a, prior), *(v[ok] for v in args))
            res[ok] = np.exp(0.5 * _root(g, np.log(lo[ok]), np.log(hi[ok]), "state evolution tau(alpha)"))
        out[live] = res
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
def _alpha_of_lam(lam, delta, eps, sigma2, prior, lo=None):
    """alpha(lam) solving (CAL) above alpha_0 (lam = 0 gives alpha_0), bracketed on (lo, hi] where
    lam(lo) <= lam; lo defaults to alpha_min (lam = -inf there, or 0 when delta > 1)."""
    lo = alpha_min(delta) if lo is None else lo
    scale = np.sqrt(sigma2 + eps / delta)
    f_lam = _masked(lambda a, l, d, e, s: lam_of_alpha(a, d, e, s, prior) - l, lam, delta, eps, sigma2)
    hi = _grow(lambda x, m: f_lam(lo + x, m), 1 + 2 * lam / scale, 2.0, 1.0) + lo
    return _root(f_lam, lo, hi, "calibration alpha(lam)")


def _alpha_of_tau_noiseless(tau, delta, eps, prior):
    """sigma2 = 0, tau < sqrt(eps/delta): the root alpha of mse_s(tau, alpha tau) = delta tau^2 right of the
    minimum over alpha (the positive-lam branch; a coarse grid point with a negative residual starts it)."""
    grid = np.linspace(0.0, 12.0, 49)
    g = mse_s(tau[:, None], grid * tau[:, None], eps[:, None], prior) / (tau * tau)[:, None] - delta[:, None]
    start = grid[np.argmin(g, axis=1)]
    f = _masked(lambda a, t, d, e: mse_s(t, a * t, e, prior) / (t * t) - d, tau, delta, eps)
    hi = _grow(lambda x, m: f(start + x, m), np.ones(tau.shape), 2.0, 1.0) + start
    return _root(f, start, hi, "noiseless state evolution alpha(tau)")


def _lam_of_tau_noiseless(tau, delta, eps, prior):
    a = _alpha_of_tau_noiseless(tau, delta, eps, prior)
    return a * tau * (1 - df_s(tau, a * tau, eps, prior) / delta), a


def _noiseless_below(lam, delta, eps, prior):
    """(alpha, tau) for sigma2 = 0, eps < eps_max(delta), lam > 0. Small lam (tau below half its lam -> inf
    value sqrt(eps/delta)) is solved in log tau, where lam(tau) increases from 0; larger lam by the alpha
    route, started at the switch point."""
    tau_sw = 0.5 * np.sqrt(eps / delta)
    lam_sw, alpha_sw = _lam_of_tau_noiseless(tau_sw, delta, eps, prior)
    small = lam <= lam_sw
    alpha, tau = np.zeros(lam.shape), np.zeros(lam.shape)
    if small.any():
        args = tuple(v[small] for v in (lam, delta, eps))
        f = _masked(lambda s, l, d, e: _lam_of_tau_noiseless(np.exp(s), d, e, prior)[0] - l, *args)
        tau[small] = np.exp(_root(f, np.log(args[0] * 1e-6), np.log(tau_sw[small]), "noiseless calibration tau(lam)"))
        alpha[small] = _alpha_of_tau_noiseless(tau[small], args[1], args[2], prior)
    big = ~small
    if big.any():
        args = tuple(v[big] for v in (lam, delta, eps))
        alpha[big] = _alpha_of_lam(*args[:3], np.zeros(big.sum()), prior, lo=alpha_sw[big])
        tau[big] = tau_of_alpha(alpha[big], args[1], args[2], 0.0, prior)
    return alpha, tau


def _solve(lam, delta, eps, sigma2, prior):
    """(alpha, tau) for lam > 0 (every regime) and for lam = 0 with delta < 1 not exactly recovered."""
    below = (sigma2 == 0) & (eps < eps_max(delta))
    alpha, tau = np.zeros(lam.shape), np.zeros(lam.shape)
    nb = below & (lam > 0)
    if nb.any():
        alpha[nb], tau[nb] = _noiseless_below(lam[nb], delta[nb], eps[nb], prior)
    gen = ~below & ((lam > 0) | (delta < 1))
    if gen.any():
        a = _alpha_of_lam(lam[gen], delta[gen], eps[gen], sigma2[gen], prior)
        alpha[gen], tau[gen] = a, tau_of_alpha(a, delta[gen], eps[gen], sigma2[gen], prior)
    return alpha, tau


def theory(model: Lasso) -> dict[str, np.ndarray]:
    """Asymptotic ``mse``, ``tau_star``, ``frac_nonzero`` and ``threshold`` (module docstring), vectorised."""
    prior = model.prior
    (lam, delta, eps, sigma2), shape = _flat(model.lam, model.delta, model.eps, model.sigma2)
    alpha, tau = _solve(lam, delta, eps, sigma2, prior)
    with np.errstate(invalid="ignore", divide="ignore"):
        mse, df = _channel(np.where(tau > 0, tau, 1.0), alpha * tau, eps, prior)
    mse = np.where(tau > 0, mse, 0.0)
    df = np.where(tau > 0, df, _slope(eps, alpha)[1])
    # lam = 0 special regimes
    zero = lam == 0
    exact = zero & (sigma2 == 0) & ((delta >= 1) | (eps < eps_max(delta)))
    alpha[exact], tau[exact], mse[exact], df[exact] = alpha_bp(delta[exact], eps[exact]), 0.0, 0.0, eps[exact]
    ls = zero & (delta >= 1) & (sigma2 > 0)
    with np.errstate(divide="ignore"):
        ls_mse = np.where(delta[ls] > 1, sigma2[ls] * delta[ls] / (delta[ls] - 1), np.inf)
    alpha[ls], tau[ls], mse[ls], df[ls] = 0.0, np.sqrt(ls_mse), ls_mse, 1.0
    bp = zero & (delta < 1) & ~exact
    df[bp] = delta[bp]  # df_s = delta at alpha_0 by (CAL); exact value of the basic LP solution
    return {"mse": mse.reshape(shape), "tau_star": tau.reshape(shape), "frac_nonzero": df.reshape(shape),
            "threshold": alpha.reshape(shape)}
