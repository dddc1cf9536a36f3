r"""Random-features ridge regression: the Mei-Montanari limit (d, N, n -> infinity).

Model. Inputs x_i (i = 1..n) and weights theta_a (a = 1..N) are uniform on
the sphere of radius sqrt(d); features z_a(x) = s(<theta_a, x>/sqrt(d)); ``psi1`` = N/d, ``psi2`` = n/d.
Target f(x) = <beta1, x> + f_NL(x) with ||beta1||^2 = ``r2``, f_NL orthogonal to linear functions with
E f_NL^2 = ``fstar2``; labels y = f(x) + eps, eps ~ N(0, ``sigma2``). Estimator (MM normalisation;
:math:`\lambda` = ``lam``)

.. math::

    \hat a = \operatorname{argmin}_a \frac{1}{n} \sum_i (y_i - \langle a, z(x_i) \rangle)^2
    + \frac{N \lambda}{d} \|a\|^2,

lam = 0: minimum-norm limit.

Metrics
-------
* ``test_error`` = E_x (f(x) - f_hat(x))^2 on a fresh noiseless x (MM's R_RF; add sigma2 for a noisy label).
* ``train_error`` = (1/n) sum_i (y_i - f_hat(x_i))^2 on the noisy training labels, penalty excluded.

The activation enters only through mu0 = E s(G), mu1 = E G s(G), mu*^2 = E s(G)^2 - mu0^2 - mu1^2;
zeta = mu1/mu*, lam_bar = lam/mu*^2 (mu0 drops out).

Equations
---------
In the displays :math:`\psi_1` = ``psi1``, :math:`\psi_2` = ``psi2``, :math:`r_2` = ``r2``,
:math:`\sigma^2` = ``sigma2``, :math:`f_\star^2` = ``fstar2``, :math:`\bar\lambda` = lam_bar.
Fixed point (MM Definition 1) on xi = i eta, eta^2 = psi1 psi2 lam_bar: nu1 = i a, nu2 = i b with a, b > 0,
and with p = ab = -chi, h(p) = p + zeta^2 p/(1 + zeta^2 p) it reduces to the real scalar equation

.. math::

    G(p) = \eta^2 p - (\psi_1 - h(p)) (\psi_2 - h(p)) = 0, \qquad p \in (0, p_0(\min(\psi_1, \psi_2))),

which has exactly one root there (G increasing); a = (psi1 - h)/eta, b = (psi2 - h)/eta. Ridgeless
(lam = 0): p = p0(psi), psi = min(psi1, psi2), the positive root of
zeta^2 p^2 + (1 + zeta^2 - psi zeta^2) p - psi = 0. Risk (MM Theorem 1): with the polynomials E0, E1, E2
in chi of the formulas note,

.. math::

    \mathrm{test\_error} = r_2 \frac{E_1}{E_0} + (\sigma^2 + f_\star^2) \frac{E_2}{E_0} + f_\star^2,

    \mathrm{train\_error} = \left(1 - \frac{h(p)}{\psi_2}\right)^2 (\mathrm{test\_error} + \sigma^2)

(train_error: GCV identity, formulas note 2.4).

Singularity: at lam = 0 and psi1 = psi2 (relative tolerance 1e-12) E0 = 0 and test_error = +inf; the
train_error there is its limit 0 (from both sides). Ridgeless with psi1 > psi2 interpolates: train_error = 0
exactly. Every lam > 0 is finite; on the peak test_error ~ C/sqrt(lam) (relu: C = 0.5512 at psi1 = psi2 = 1),
and where the effective ridge eta^2 = psi1 psi2 lam/mustar^2 is below 1e-20 (test_error > ~1e9) the closed
form has lost all precision (E0 is rounding noise), so such peak points are reported as the lam = 0 value
+inf as well.

Limits also provided: :func:`kernel_limit` (psi1 -> infinity: kernel ridge regression with effective
penalty lam_eff = (1 + psi2 lam_bar)/(zeta^2 psi2)), :func:`optimal_lam` (minimum of test_error over lam),
and :func:`gaussian_equivalent` (an independent, slow route through the Gaussian-equivalent features and the
ridge deterministic equivalent over the Marchenko-Pastur law, formulas note 2.5; no shared algebra).

Source: S. Mei and A. Montanari, "The generalization error of random features regression: precise
asymptotics and double descent curve", arXiv:1908.05355 (Definition 1, Theorem 1 and the ridgeless
theorem). The scalar reduction and the train_error formula are our derivation, checked in the tests against an
independent Gaussian-equivalent evaluation and exact finite-d simulation.
"""
from __future__ import annotations

import numpy as np

from overparam.errors import ConvergenceError
from overparam.models import RandomFeatures

__all__ = ["theory", "chi", "kernel_limit", "optimal_lam", "gaussian_equivalent", "ridgeless_p"]

_BISECTIONS = 64
_NEWTON = 3
_PEAK_TOL = 1e-12
_PEAK_ETA2 = 1e-20  # effective ridge below which a peak point takes its lam = 0 value (module docstring)


# --------------------------------------------------------------------------------- scalar pieces
def _h(p: np.ndarray, z2: np.ndarray) -> np.ndarray:
    """h(p) = p + zeta^2 p/(1 + zeta^2 p)."""
    return p + z2 * p / (1 + z2 * p)


def ridgeless_p(psi: np.ndarray, z2: np.ndarray) -> np.ndarray:
    """p0(psi): positive root of zeta^2 p^2 + (1 + zeta^2 - psi zeta^2) p - psi = 0 (h(p0) = psi),
    in the cancellation-free form; p0 = psi at zeta = 0."""
    psi, z2 = np.broadcast_arrays(np.asarray(psi, float), np.asarray(z2, float))
    b = psi * z2 - z2 - 1
    s = np.hypot(b, 2 * np.sqrt(psi * z2))  # sqrt(b^2 + 4 psi z2) without overflow
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, (b + s) / (2 * np.where(z2 > 0, z2, 1.0)), 2 * psi / (s - b))


def _solve_p(psi1, psi2, eta2, z2, newton: int = _NEWTON) -> np.ndarray:
    """The root of G(p) = eta^2 p - (psi1 - h)(psi2 - h) in (0, min(p0, psi1 psi2/eta^2)), all points at
    once: vectorised bisection on the guaranteed bracket, then safeguarded Newton steps.
    Raises ConvergenceError if the final residual is not at rounding level."""
    lo = np.zeros_like(psi1)
    with np.errstate(over="ignore"):  # eta2 near the float minimum: no bound beyond p0
        hi = np.minimum(ridgeless_p(np.minimum(psi1, psi2), z2), psi1 * psi2 / eta2)

    def g(p):
        h = _h(p, z2)
        return eta2 * p - (psi1 - h) * (psi2 - h), h

    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        neg = g(mid)[0] < 0
        lo, hi = np.where(neg, mid, lo), np.where(neg, hi, mid)
    p = 0.5 * (lo + hi)
    for _ in range(newton):
        gp, h = g(p)
        dg = eta2 + (1 + z2 / (1 + z2 * p) ** 2) * (psi1 + psi2 - 2 * h)
        p = np.clip(p - gp / dg, lo, hi)
    resid = np.abs(g(p)[0]) / (psi1 * psi2 + eta2 * p)
    if resid.size and not np.all(resid <= 1e-12):
        raise ConvergenceError("random-features fixed point (FP)", float(np.nanmax(resid)), _BISECTIONS + newton)
    return p


def _risk_factors(c: np.ndarray, psi1: np.ndarray, psi2: np.ndarray, z2: np.ndarray):
    """(E0, E1, E2) of MM Theorem 1 at chi = c, zeta^2 = z2."""
    pp = psi1 * psi2
    c2, c3 = c * c, c * c * c
    e0 = (-c3 * c2 * z2**3 + 3 * c2 * c2 * z2**2 + (pp - psi1 - psi2 + 1) * c3 * z2**3 - 2 * c3 * z2**2
          - 3 * c3 * z2 + (psi1 + psi2 - 3 * pp + 1) * c2 * z2**2 + 2 * c2 * z2 + c2 + 3 * pp * c * z2 - pp)
    e1 = psi2 * c3 * z2**2 - psi2 * c2 * z2 + pp * c * z2 - pp
    e2 = (c3 * c2 * z2**3 - 3 * c2 * c2 * z2**2 + (psi1 - 1) * c3 * z2**3 + 2 * c3 * z2**2 + 3 * c3 * z2
          - (psi1 + 1) * c2 * z2**2 - 2 * c2 * z2 - c2)
    return e0, e1, e2


def _grid(model: RandomFeatures) -> tuple[tuple[int, ...], dict[str, np.ndarray], float]:
    """Flattened, broadcast numeric parameters, their shape, and zeta^2 of the activation."""
    names = ("psi1", "psi2", "lam", "r2", "fstar2", "sigma2")
    arrays = np.broadcast_arrays(*(np.asarray(getattr(model, k), dtype=float) for k in names))
    act = model.activation
    return arrays[0].shape, {k: a.ravel() for k, a in zip(names, arrays)}, (act.mu1 / act.mustar) ** 2


def _p_of(v: dict[str, np.ndarray], z2: float, mustar2: float) -> np.ndarray:
    """p = -chi at every point: the ridgeless closed form where lam = 0, the fixed point elsewhere."""
    psi1, psi2, lam = v["psi1"], v["psi2"], v["lam"]
    z2a = np.full_like(psi1, z2)
    p = ridgeless_p(np.minimum(psi1, psi2), z2a)
    with np.errstate(over="ignore", under="ignore"):
        eta2 = psi1 * psi2 * lam / mustar2
    p[np.isinf(eta2)] = 0.0  # the lam -> infinity limit: f_hat = 0
    pos = (eta2 > 0) & np.isfinite(eta2)  # eta2 = 0 (lam > 0 below the float range): the ridgeless value
    if pos.any():
        p[pos] = _solve_p(psi1[pos], psi2[pos], eta2[pos], z2a[pos])
    return p


# ------------------------------------------------------------------------------------ public API
def chi(model: RandomFeatures) -> np.ndarray:
    """chi = nu1 nu2 (< 0) of the fixed point (MM Definition 1), broadcast shape of the parameters."""
    shape, v, z2 = _grid(model)
    return -_p_of(v, z2, model.activation.mustar ** 2).reshape(shape)


def theory(model: RandomFeatures) -> dict[str, np.ndarray]:
    """The d -> infinity ``test_error`` and ``train_error`` at every point of ``model`` (vectorised).

    lam = 0 with psi1 = psi2 (relative 1e-12) is the interpolation peak: test_error = +inf, train_error = 0.
    Raises ConvergenceError if the fixed point fails (its residual is reported).
    """
    shape, v, z2 = _grid(model)
    psi1, psi2 = v["psi1"], v["psi2"]
    p = _p_of(v, z2, model.activation.mustar ** 2)
    e0, e1, e2 = _risk_factors(-p, psi1, psi2, z2)
    with np.errstate(under="ignore"):
        eta2 = psi1 * psi2 * v["lam"] / model.activation.mustar ** 2
    peak = (eta2 <= _PEAK_ETA2) & (np.abs(psi1 - psi2) <= _PEAK_TOL * np.maximum(psi1, psi2))
    with np.errstate(divide="ignore", invalid="ignore"):
        test = v["r2"] * e1 / e0 + (v["sigma2"] + v["fstar2"]) * e2 / e0 + v["fstar2"]
    test = np.where(peak, np.inf, test)
    interpolating = (v["lam"] == 0) & (psi1 >= psi2)
    zero_train = interpolating | peak  # the peak's train_error is its limit 0 from both sides
    factor = np.where(zero_train, 0.0, 1 - _h(p, z2) / psi2) ** 2
    with np.errstate(invalid="ignore"):
        train = np.where(zero_train, 0.0, factor * (test + v["sigma2"]))
    return {"test_error": test.reshape(shape), "train_error": train.reshape(shape)}


def _ridge_risk(gamma, lam, r2, s2):
    """Isotropic linear ridge excess risk: r2 lam^2 m' + s2 gamma (m - lam m'),
    m = m(-lam) the Marchenko-Pastur Stieltjes transform (root of gamma lam m^2 + (1 - gamma + lam) m = 1)
    and m' = (gamma m^2 + m)/sqrt((1 - gamma + lam)^2 + 4 gamma lam) its derivative."""
    a = 1 - gamma + lam
    root = np.sqrt(a * a + 4 * gamma * lam)
    m = np.where(a > 0, 2 / (a + root), (root - a) / (2 * gamma * lam))
    dm = (gamma * m * m + m) / root
    return r2 * lam**2 * dm + s2 * gamma * (m - lam * dm)


def kernel_limit(model: RandomFeatures) -> np.ndarray:
    r"""test_error as psi1 -> infinity (``model.psi1`` is ignored): kernel ridge regression,

    .. math::

        R_{\mathrm{ridge}}(\gamma = 1/\psi_2, \lambda_{\mathrm{eff}}, r_2, \sigma^2 + f_\star^2) + f_\star^2,
        \qquad \lambda_{\mathrm{eff}} = \frac{1 + \psi_2 \bar\lambda}{\zeta^2 \psi_2}.

    lam_eff > 0 even at lam = 0 (mu*^2 regularises implicitly), so there is no peak; mu1 = 0 gives
    lam_eff = inf and the null risk r2 + fstar2. Convergence of
    :func:`theory` to it is O(1/psi1)."""
    shape, v, z2 = _grid(model)
    if z2 == 0:  # mu1 = 0 (even activation): lam_eff = inf, nothing is learnt, risk = r2 + fstar2
        return (v["r2"] + v["fstar2"]).reshape(shape)
    lam_bar = v["lam"] / model.activation.mustar ** 2
    lam_eff = (1 + v["psi2"] * lam_bar) / (z2 * v["psi2"])
    risk = _ridge_risk(1 / v["psi2"], lam_eff, v["r2"], v["sigma2"] + v["fstar2"]) + v["fstar2"]
    return risk.reshape(shape)


def _golden_min(f, lo: np.ndarray, hi: np.ndarray, iterations: int = 60) -> np.ndarray:
    """Vectorised golden-section minimisation of f on [lo, hi] (elementwise, one f call per step)."""
    r = (np.sqrt(5) - 1) / 2
    a, b = lo.copy(), hi.copy()
    c, d = b - r * (b - a), a + r * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(iterations):
        left = fc < fd  # the minimum lies in [a, d]
        a, b = np.where(left, a, c), np.where(left, d, b)
        c, d = np.where(left, b - r * (b - a), d), np.where(left, c, a + r * (b - a))
        fx = f(np.where(left, c, d))
        fc, fd = np.where(left, fx, fd), np.where(left, fc, fx)
    return 0.5 * (a + b)


def optimal_lam(model: RandomFeatures, lam_max: float = 1e4) -> dict[str, np.ndarray]:
    """The lam >= 0 minimising test_error at every (psi1, psi2, ...) point (``model.lam`` is ignored).

    A log-spaced scan of lam in {0} U [1e-8, lam_max] mu*^2 locates the best bracket, then golden-section
    search in log(lam) refines it (vectorised over the points). Returns ``{"lam": lam*, "test_error": min}``;
    lam* = inf (test_error = r2 + fstar2, the lam -> inf limit) when the risk still decreases at lam_max,
    e.g. pure noise r2 = 0."""
    shape, v, _ = _grid(model.replace(lam=0.0))
    columns = {k: v[k] for k in ("psi1", "psi2", "r2", "fstar2", "sigma2")}
    scale = model.activation.mustar ** 2
    scan = np.concatenate([[0.0], scale * np.logspace(-8, np.log10(lam_max / scale), 49)])

    def risk(lam):
        return theory(model.replace(**columns, lam=lam))["test_error"]

    vals = theory(model.replace(**{k: c[:, None] for k, c in columns.items()}, lam=scan))["test_error"]
    j = np.argmin(np.where(np.isfinite(vals), vals, np.inf), axis=1)
    lo = np.log(scan[np.maximum(j - 1, 1)])
    hi = np.log(scan[np.minimum(j + 1, scan.size - 1)])
    t = _golden_min(lambda x: risk(np.exp(x)), lo, hi)
    lam = np.exp(t)
    best = risk(lam)
    at_zero = (j == 0) | (vals[:, 0] <= best)
    lam, best = np.where(at_zero, 0.0, lam), np.where(at_zero, vals[:, 0], best)
    tail = (j == scan.size - 1) & (v["r2"] + v["fstar2"] <= best)
    lam, best = np.where(tail, np.inf, lam), np.where(tail, v["r2"] + v["fstar2"], best)
    return {"lam": lam.reshape(shape), "test_error": best.reshape(shape)}


# ------------------------------------------------------------------ independent route (formulas 2.5)
def _mp_average(g, psi1: float) -> float:
    """<g(k)> over the Marchenko-Pastur law of ratio psi1 (atom 1 - 1/psi1 at 0 when psi1 > 1)."""
    from scipy import integrate  # imported on use: `curve random-features` does not need it

    if psi1 == 1.0:
        cont = integrate.quad(lambda k: g(k) / (2 * np.pi), 0, 4, weight="alg", wvar=(-0.5, 0.5),
                              epsabs=0, epsrel=1e-13, limit=200)[0]
    else:
        km, kp = (1 - np.sqrt(psi1)) ** 2, (1 + np.sqrt(psi1)) ** 2
        cont = integrate.quad(lambda k: g(k) / (2 * np.pi * psi1 * k), km, kp, weight="alg", wvar=(0.5, 0.5),
                              epsabs=0, epsrel=1e-13, limit=200)[0]
    return cont + max(1 - 1 / psi1, 0.0) * g(0.0)


def _gaussian_equivalent_point(psi1, psi2, lam, r2, fstar2, sigma2, mu1, mustar) -> tuple[float, float]:
    """(test_error, train_error) at one point by the Gaussian-equivalent route."""
    from scipy import optimize  # imported on use: `curve random-features` does not need it

    def s(k):
        return mu1**2 * k + mustar**2

    def avg(g):
        return _mp_average(g, psi1)

    q, rho = psi1 / psi2, psi1 * lam

    def shrink(kappa):  # 1 - q <s/(s + kappa)> = rho/kappa
        return 1 - q * avg(lambda k: s(k) / (s(k) + kappa))

    top = rho + q * avg(s) + 1
    if lam > 0:
        kappa = optimize.brentq(lambda x: x * shrink(x) - rho, 0, top, xtol=1e-300, rtol=1e-15)
    elif q > 1:
        kappa = optimize.brentq(shrink, 1e-300, top, xtol=1e-300, rtol=1e-15)
    else:
        kappa = 0.0
    resid = r2 * (1 - psi1 * mu1**2 * avg(lambda k: k / s(k))) + fstar2
    d2 = q * avg(lambda k: s(k) ** 2 / (s(k) + kappa) ** 2)
    bias = kappa**2 * r2 * psi1 * mu1**2 * avg(lambda k: k / (s(k) * (s(k) + kappa) ** 2))
    test = bias / (1 - d2) + (sigma2 + resid) * d2 / (1 - d2) + resid
    return test, shrink(kappa) ** 2 * (test + sigma2)


def gaussian_equivalent(model: RandomFeatures) -> dict[str, np.ndarray]:
    """test_error and train_error by the independent Gaussian-equivalent route (formulas note 2.5).

    Features are replaced by v = mu1 Theta x/sqrt(d) + mu* g, covariance Omega = mu1^2 K + mu*^2 I with K
    Marchenko-Pastur of ratio psi1; ridge on v is solved by its deterministic equivalent
    rho = kappa (1 - q <s/(s + kappa)>), s(k) = mu1^2 k + mu*^2, q = psi1/psi2, rho = psi1 lam.
    A slow point-by-point quadrature oracle (not for long grids); not defined at the lam = 0 peak."""
    shape, v, _ = _grid(model)
    act = model.activation
    out = np.array([_gaussian_equivalent_point(*(v[k][i] for k in ("psi1", "psi2", "lam", "r2", "fstar2",
                                                                   "sigma2")), act.mu1, act.mustar)
                    for i in range(v["psi1"].size)]).reshape(*shape, 2)
    return {"test_error": out[..., 0], "train_error": out[..., 1]}
