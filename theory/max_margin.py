r"""Max-margin (hard-margin SVM) linear classification and linear separability: the n, p -> infinity limits.

Model. x_i ~ N(0, I_p) iid, i = 1..n, teacher beta* uniform on the unit sphere,
G = <x, beta*> ~ N(0, 1), psi = p/n, no intercept. Labels y in {-1, +1} with m(g) = E[y | G = g]:
``noiseless`` m = sign(g); ``flip:q`` m = (1 - 2q) sign(g); ``logistic:beta`` P(y = 1 | x) = 1/(1 + exp(-beta G)),
m = tanh(beta g / 2); ``purenoise`` m = 0. Estimator, when the sample is separable through the origin:
theta_hat = argmax_{||theta|| = 1} min_i y_i <x_i, theta>.

Metrics (identical definitions in ``overparam.simulate.max_margin``):

* ``margin`` kappa* = lim min_i y_i <x_i, theta_hat> (||theta|| = 1, no 1/sqrt(p) factor; O(1), ~ sqrt(psi)).
* ``cos_angle`` rho* = lim <theta_hat, beta*>.
* ``test_error`` = P(y_new != sign <x_new, theta_hat>) for a fresh draw of the SAME label model (label noise
  included, so >= the Bayes error) = E[Phi(-t W)], W = Y G, t = rho/sqrt(1 - rho^2).
* ``separability_threshold`` psi*: the data are separable w.h.p. iff psi > psi* (depends on labels only).
* ``separable`` = 1 if psi > psi* else 0.

Below the threshold (psi < psi*) the estimator does not exist: ``margin``, ``cos_angle`` and ``test_error``
are NaN and ``separable`` = 0 (never an exception). At psi = psi* exactly the right limits are returned:
margin 0, cos_angle rho0, test_error(rho0), separable 0.

Equations (Gordon/CGMT characterisation: Montanari, Ruan, Sohn, Yan, arXiv 1911.01544, isotropic case;
Deng, Kammoun, Thrampoulidis, arXiv 1911.05822; threshold: Candes and Sur, arXiv 1804.09753; Cover 1965;
Gardner 1988). With W = Y G, whose density is phi(w) (1 + m(w)), h(x) = E[(x + Z)_+^2] = (x^2+1) Phi(x) + x phi(x):

.. math::

    O(k, t) = \mathbb{E}\left[ h\left( k \sqrt{1 + t^2} - t W \right) \right] \qquad (\mathrm{convex\ in}\ t)

    \Psi(k) = \min_t O(k, t) \qquad (\mathrm{increasing\ in}\ k)

    \kappa^*: \quad \Psi(\kappa^*) = \psi, \qquad t^* = \operatorname{argmin}_t O(\kappa^*, t), \qquad
    \rho^* = \frac{t^*}{\sqrt{1 + (t^*)^2}}

    \psi^* = \Psi(0) = \min_t \mathbb{E}\left[ h(-t W) \right] \qquad (\mathrm{purenoise}\ 1/2,\ \mathrm{noiseless}\ 0)

    \mathrm{Gardner:} \quad \alpha_c(\kappa) = \frac{1}{h(\kappa)} \qquad
    (\mathrm{pure\ noise:}\ \mathrm{margin}(\psi) = \kappa \Leftrightarrow \psi = 1/\alpha_c(\kappa))

Numerics: expectations over W by Gauss-Legendre panels split at 0, at the kink k sqrt(1+t^2)/t of the
integrand (+- 8/t) and, for logistic labels, at 20/beta; the inner problem is a safeguarded Newton
iteration on dO/dt = 0 in u = log t (the stationarity root, accurate to ~1e-12 in rho), the outer one a
safeguarded Newton iteration on Psi(k) = psi with dPsi/dk = dO/dk (envelope theorem) in [0, sqrt(psi + 1)],
to 1e-2 relative, then Newton on the 2x2 system O = psi, dO/dt = 0. All run on all grid points at once;
grids of more than 48 points take that route on 24 knots only, then the 2x2 Newton from a cubic Hermite
interpolant (in log psi) of their (kappa*, log t*), evaluating only the points not yet converged (the full
route for every point if that Newton fails). The
test error is evaluated from t* (not from rho*, whose distance to 1 underflows for noiseless labels at small
psi). Noiseless labels need t* < e^40, i.e. psi >~ 1e-14; smaller psi raises ConvergenceError.
Identity (Stein's lemma at the minimiser t0): psi* = E[Phi(-t0 W)] = test_error(rho0).
"""
from __future__ import annotations

import numpy as np
from scipy import special

from overparam.choices import Labels, parse_labels
from overparam.errors import ConvergenceError, ParameterError
from overparam.models import MaxMargin

_GL_X, _GL_W = np.polynomial.legendre.leggauss(32)
_WMAX = 12.0  # |W| beyond 12 carries Gaussian mass < 1e-32
_U_LO, _U_HI = -40.0, 40.0  # bracket of u = log t
_MAXIT = 200
_SQRT2PI = np.sqrt(2 * np.pi)


def _phi(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / _SQRT2PI


def h(k: np.ndarray) -> np.ndarray:
    """h(k) = E[(k + Z)_+^2] = (k^2 + 1) Phi(k) + k phi(k)."""
    k = np.asarray(k, dtype=float)
    return (k * k + 1) * special.ndtr(k) + k * _phi(k)


def gardner_capacity(kappa: np.ndarray) -> np.ndarray:
    """Gardner's capacity alpha_c(kappa) = 1 / int_{-kappa}^inf Dz (z + kappa)^2 = 1/h(kappa) (= n/p, pure noise,
    ||theta|| = 1, x ~ N(0, I_p)). Exact for kappa >= 0 only (negative stabilities are non-convex): kappa < 0 raises
    ParameterError. alpha_c(0) = 2 (Cover)."""
    kappa = np.asarray(kappa, dtype=float)
    if np.any(~(kappa >= 0)):
        raise ParameterError("kappa", kappa, ">= 0 (the Gardner formula is exact only for kappa >= 0)")
    return 1.0 / h(kappa)


def _labels(labels: Labels | str) -> Labels:
    labels = parse_labels(labels)
    if labels.kind == "flip" and labels.value == 0:
        return Labels("noiseless", 0.0)
    return labels


def _m(labels: Labels, w: np.ndarray) -> np.ndarray:
    """m(w) = E[y | G = w]."""
    if labels.kind == "logistic":
        return np.tanh(0.5 * labels.value * w)
    slope = {"noiseless": 1.0, "flip": 1 - 2 * labels.value, "purenoise": 0.0}[labels.kind]
    return slope * np.sign(w)


def _nodes(labels: Labels, centre: np.ndarray, width: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature of E[F(W)], W = Y G with density phi(w)(1 + m(w)): nodes and weights of shape (npts, N).
    Panels on [-12, 12] split at 0, +-(centre -+ width) and, for logistic labels, at +-20/beta."""
    b = min(20.0 / labels.value, _WMAX) if labels.kind == "logistic" else 0.0
    c = np.clip(np.asarray(centre, float), 0, _WMAX)[:, None]
    d = np.clip(np.asarray(width, float), 0, _WMAX)[:, None]
    ones = np.ones_like(c)
    pos = np.sort(np.hstack([0 * ones, b * ones, np.clip(c - d, 0, _WMAX), np.clip(c + d, 0, _WMAX),
                             _WMAX * ones]), axis=1)
    edges = np.hstack([-pos[:, :0:-1], pos])  # -12 ... 0 ... 12
    lo, hi = edges[:, :-1, None], edges[:, 1:, None]
    w = (0.5 * (hi + lo) + 0.5 * (hi - lo) * _GL_X).reshape(len(c), -1)
    wt = (0.5 * (hi - lo) * _GL_W).reshape(len(c), -1)
    return w, wt * _phi(w) * (1 + _m(labels, w))


def _objective(labels: Labels, k: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, ...]:
    """O, dO/dk, dO/dt, d2O/dt2, d2O/dtdk at (k, t) (1-D arrays). x = k sigma - t W, sigma = sqrt(1 + t^2):
    h' = 2 (x Phi + phi), h'' = 2 Phi, dx/dk = sigma, dx/dt = k t/sigma - W, d2x/dt2 = k/sigma^3,
    d2x/dtdk = t/sigma."""
    sigma = np.sqrt(1 + t * t)
    big = k * sigma
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = np.where(t > 0, big / t, np.inf)
        width = np.where(t > 0, 8.0 / t, np.inf)
    w, wt = _nodes(labels, centre, width)
    x = big[:, None] - t[:, None] * w
    cdf, pdf = special.ndtr(x), _phi(x)
    h0 = (x * x + 1) * cdf + x * pdf
    h1 = 2 * (x * cdf + pdf)
    dx = (k * t / sigma)[:, None] - w
    e0, e1, e1dx, e2dx, e2dx2 = (np.sum(f * wt, axis=1) for f in (h0, h1, h1 * dx, 2 * cdf * dx, 2 * cdf * dx * dx))
    return e0, sigma * e1, e1dx, e2dx2 + (k / sigma**3) * e1, sigma * e2dx + (t / sigma) * e1


def _argmin_t(labels: Labels, k: np.ndarray, u: np.ndarray, tol: float = 1e-13) -> np.ndarray:
    """u = log t* solving dO/dt(k, t) = 0 (O convex in t): Newton in u, safeguarded by bisection on
    [_U_LO, _U_HI] = [-40, 40], warm-started at u. Returns u; t* = 0 for pure noise (not called)."""
    lo, hi = np.full_like(u, _U_LO), np.full_like(u, _U_HI)
    u = np.clip(u, _U_LO, _U_HI)
    for it in range(_MAXIT):
        t = np.exp(u)
        d1, d2 = _objective(labels, k, t)[2:4]
        lo, hi = np.where(d1 < 0, u, lo), np.where(d1 < 0, hi, u)
        new = u - d1 / (t * d2)
        new = np.where((new >= lo) & (new <= hi), new, 0.5 * (lo + hi))
        step, u = np.abs(new - u), new
        if np.all((step < tol * (1 + np.abs(u))) | (hi - lo < tol)):
            return u
    raise ConvergenceError("max-margin inner problem argmin_t O(k, t)", float(np.max(step)), it + 1)


def _threshold(labels: Labels) -> tuple[float, float]:
    """(psi*, t0): psi* = Psi(0) = min_t E[h(-t W)] and its minimiser t0 (rho0 = t0/sqrt(1 + t0^2))."""
    if labels.kind == "purenoise":
        return 0.5, 0.0
    if labels.kind == "noiseless":
        return 0.0, np.inf
    zero = np.zeros(1)
    t0 = np.exp(_argmin_t(labels, zero, zero))
    return float(_objective(labels, zero, t0)[0][0]), float(t0[0])


def cover_probability(n: int, p: int) -> float:
    """Exact finite-size P(n Gaussian points in R^p with independent uniform +-1 labels are linearly separable
    through the origin) = 2^(1-n) sum_{k<p} C(n-1, k) = P(Binomial(n-1, 1/2) <= p-1) (Cover 1965); 1 for
    p >= n. The exact finite-n mean of ``separable`` for ``purenoise`` labels."""
    return float(special.bdtr(p - 1, n - 1, 0.5)) if p < n else 1.0


def separability_threshold(labels: Labels | str) -> float:
    """psi*(labels): separable w.h.p. iff p/n > psi*. Cover's 1/2 for purenoise, 0 for noiseless, the
    Candes-Sur value min_t E[(Z - t Y G)_+^2] for flip:q and logistic:beta."""
    return _threshold(_labels(labels))[0]


def solve(labels: Labels | str, psi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(kappa*, rho*) for psi > psi*(labels) (1-D or scalar psi, all points solved together).
    Raises ParameterError for psi <= psi* and ConvergenceError if the iteration fails."""
    labels = _labels(labels)
    psi = np.atleast_1d(np.asarray(psi, dtype=float))
    ps = _threshold(labels)[0]
    if np.any(~(psi > ps)):
        raise ParameterError("psi", psi[~(psi > ps)][0], f"> psi* = {ps:.12g} for labels {labels.label}")
    k, t = _solve(labels, psi)
    return k, t / np.sqrt(1 + t * t)


def _solve(labels: Labels, psi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(kappa*, t*) for psi > psi* (1-D). t* rather than rho* = t*/sqrt(1 + t*^2): near rho* = 1 (noiseless,
    small psi) 1 - rho* is below double precision while t* (and the test error from it) is not."""
    if labels.kind == "purenoise":
        return _bracketed_kappa(labels, psi, None, 1e-14)[0], np.zeros_like(psi)
    knots = np.unique(psi)
    if knots.size > 2 * _KNOTS:  # continuation: bracketed solve on knots, Newton from their interpolant
        knots = knots[np.unique(np.linspace(0, knots.size - 1, _KNOTS).round().astype(int))]
        k, t = _solve(labels, knots)
        x, at = np.log(knots), np.log(psi)
        try:
            k, u = _joint_newton(labels, psi, _hermite(x, k, at), _hermite(x, np.log(t), at))
            return k, np.exp(u)
        except ConvergenceError:  # a start too far from the root: the bracketed route for every point
            pass
    k, u = _bracketed_kappa(labels, psi, np.zeros_like(psi), 1e-2)
    k, u = _joint_newton(labels, psi, k, u)
    return k, np.exp(u)


_KNOTS = 24  # grids larger than 2 x _KNOTS are solved by continuation from _KNOTS bracketed points


def _hermite(x: np.ndarray, y: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Cubic Hermite interpolant of (x, y) (increasing x, slopes by np.gradient) at ``at`` in [x0, x_end]."""
    slope = np.gradient(y, x)
    i = np.clip(np.searchsorted(x, at) - 1, 0, x.size - 2)
    h = x[i + 1] - x[i]
    s = (at - x[i]) / h
    return ((2 * s**3 - 3 * s**2 + 1) * y[i] + (s**3 - 2 * s**2 + s) * h * slope[i]
            + (-2 * s**3 + 3 * s**2) * y[i + 1] + (s**3 - s**2) * h * slope[i + 1])


def _bracketed_kappa(labels: Labels, psi: np.ndarray, u: np.ndarray | None,
                     tol: float) -> tuple[np.ndarray, np.ndarray | None]:
    """Safeguarded Newton on Psi(k) = psi in [0, sqrt(psi + 1)] (Psi(0) = psi* < psi <= hi^2 - 1 <= Psi(hi)),
    dPsi/dk = dO/dk at t* (envelope theorem); t* = 0 when u is None (pure noise). Returns (k, log t*)."""
    lo, hi = np.zeros_like(psi), np.sqrt(psi + 1)
    k, t = 0.5 * hi, np.zeros_like(psi)
    for it in range(_MAXIT):
        if u is not None:
            u = _argmin_t(labels, k, u, tol)
            t = np.exp(u)
        value, slope = _objective(labels, k, t)[:2]
        res = value - psi
        lo, hi = np.where(res < 0, k, lo), np.where(res < 0, hi, k)
        new = k - res / slope
        new = np.where((new >= lo) & (new <= hi), new, 0.5 * (lo + hi))
        step, k = np.abs(new - k), new
        if np.all(step < tol * k + 1e-15):  # relative (kappa* -> 0 as psi -> psi*), with a roundoff floor
            return k, u
    raise ConvergenceError("max-margin outer problem Psi(kappa) = psi", float(np.max(step)), it + 1)


_ROUNDOFF = 16 * np.finfo(float).eps  # residual level of O and dO/dt accepted as solved


def _joint_newton(labels: Labels, psi: np.ndarray, k: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Newton on the 2x2 system O(k, t) = psi, dO/dt = 0 in (k, u = log t), from a close start. A point is
    done when both residuals are at rounding level (relative to psi and O) or both steps are negligible;
    near flip:1/2 t* -> 0 makes d(O_t)/du tiny, so rounding in O_t moves u by more than 1e-12 forever
    although the system is solved to machine precision. Only the points not yet done are evaluated."""
    k, u = np.array(k, dtype=float), np.array(u, dtype=float)
    live = np.ones(k.shape, bool)
    for it in range(20):
        kl, ul, pl = k[live], u[live], psi[live]
        t = np.exp(ul)
        o, ok, ot, ott, otk = _objective(labels, kl, t)
        r1, r2 = o - pl, ot
        solved = (np.abs(r1) <= _ROUNDOFF * (1 + pl)) & (np.abs(r2) <= _ROUNDOFF * (1 + np.abs(o)))
        a, b, c, d = ok, t * ot, otk, t * ott  # Jacobian [[dO/dk, dO/du], [d(O_t)/dk, d(O_t)/du]]
        det = a * d - b * c
        with np.errstate(divide="ignore", invalid="ignore"):
            dk = np.where(solved, 0.0, (d * r1 - b * r2) / det)
            du = np.where(solved, 0.0, (a * r2 - c * r1) / det)
        kl, ul = kl - dk, ul - du
        if not np.all((ul > _U_LO) & (ul < _U_HI)):  # also NaN; noiseless: t* > e^40 needs psi < ~1e-14
            raise ConvergenceError("max-margin system O(k, t) = psi, dO/dt = 0: log t* left [-40, 40]",
                                   float(np.max(np.abs(du))), it + 1)
        k[live], u[live] = kl, ul
        done = solved | ((np.abs(dk) < 1e-14 * (1 + kl)) & (np.abs(du) < 1e-12 * (1 + np.abs(ul))))
        live[np.flatnonzero(live)[done]] = False
        if not live.any():
            return k, u
    residual = np.maximum(np.abs(r1) / (1 + pl), np.abs(r2) / (1 + np.abs(o)))
    raise ConvergenceError("max-margin system O(k, t) = psi, dO/dt = 0 (relative residual)",
                           float(np.max(residual)), it + 1)


def test_error(labels: Labels | str, rho: np.ndarray) -> np.ndarray:
    """P(y_new != sign <x_new, theta>) for <theta, beta*> = rho: E[Phi(-t W)], t = rho/sqrt(1 - rho^2)
    (noiseless arccos(rho)/pi; flip q + (1 - 2q) arccos(rho)/pi; purenoise 1/2)."""
    rho = np.atleast_1d(np.asarray(rho, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.clip(rho / np.sqrt(1 - rho * rho), -1e15, 1e15)  # rho = +-1: the limit t -> +-inf
    return _test_error_t(_labels(labels), t)


def _test_error_t(labels: Labels, t: np.ndarray) -> np.ndarray:
    """E[Phi(-t W)] (the test error at rho = t/sqrt(1 + t^2)) for a 1-D array t."""
    if labels.kind == "purenoise":
        return np.full(t.shape, 0.5)
    with np.errstate(divide="ignore"):
        w, wt = _nodes(labels, np.zeros_like(t), np.abs(8.0 / t))
    return np.sum(special.ndtr(-t[:, None] * w) * wt, axis=1)


def theory(model: MaxMargin) -> dict[str, np.ndarray]:
    """All metrics of ``model`` (psi a scalar or an array; labels one label model), see the module docstring."""
    labels = _labels(model.labels)
    psi = np.asarray(model.psi, dtype=float)
    flat = psi.ravel()
    ps, t0 = _threshold(labels)
    margin, t = np.full(flat.shape, np.nan), np.full(flat.shape, np.nan)
    above, at = flat > ps, flat == ps
    if np.any(above):
        margin[above], t[above] = _solve(labels, flat[above])
    margin[at], t[at] = 0.0, min(t0, 1e15)  # noiseless: t0 = inf (rho0 = 1)
    cos = t / np.sqrt(1 + t * t)
    err = np.full(flat.shape, np.nan)
    defined = above | at
    if np.any(defined):
        err[defined] = _test_error_t(labels, t[defined])
    out = {"margin": margin, "cos_angle": cos, "test_error": err,
           "separability_threshold": np.full(flat.shape, ps), "separable": above.astype(float)}
    return {k: v.reshape(psi.shape) for k, v in out.items()}


__all__ = ["theory", "solve", "test_error", "separability_threshold", "cover_probability", "gardner_capacity", "h"]
