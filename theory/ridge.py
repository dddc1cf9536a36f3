r"""Ridge and ridgeless (minimum-norm) linear regression: exact n, p -> infinity limits.

Model. x ~ N(0, Sigma) in R^p, Sigma with spectral measure H (``spectrum``: atoms s
with weights w; <f> = sum_i w_i f(s_i)); signal beta with E beta beta^T = (r2/p) I; y = x^T beta + eps,
eps ~ N(0, sigma2); n samples, p/n -> gamma. Estimator

.. math::

    \hat\beta(\lambda) = \operatorname{argmin}_b \frac{1}{n} \|y - X b\|^2 + \lambda \|b\|^2
    = \left(\frac{X^\top X}{n} + \lambda I\right)^{-1} \frac{X^\top y}{n},

lam = 0 meaning the minimum-norm least-squares solution pinv(X) y (OLS for gamma < 1, the minimum-norm
interpolator for gamma > 1). scikit-learn's ``Ridge(alpha)`` is lam = alpha/n.

Metrics (expectations over X, beta, eps; here their limits):

* ``excess_risk`` = E (beta_hat - beta)^T Sigma (beta_hat - beta): the test error on a fresh noisy label
  minus sigma2 (noise EXCLUDED);
* ``bias`` (eps = 0 part) and ``variance`` (eps part); excess_risk = bias + variance exactly;
* ``train_error`` = (1/n) ||y - X beta_hat||^2 (noisy labels, noise INCLUDED);
* ``norm2`` = ||beta_hat||_2^2 (Euclidean).

Equations (in the displays :math:`\lambda` = ``lam``, :math:`r_2` = ``r2``, :math:`\sigma^2` = ``sigma2``).
The effective ridge kappa > 0 solves

.. math::

    1 - \frac{\lambda}{\kappa} = \mathrm{df}_1, \qquad
    \mathrm{df}_1 = \gamma \left\langle \frac{s}{s+\kappa} \right\rangle, \qquad
    \mathrm{df}_2 = \gamma \left\langle \frac{s^2}{(s+\kappa)^2} \right\rangle,

    D = 1 - \mathrm{df}_2
    = \frac{\lambda}{\kappa} + \gamma \kappa \left\langle \frac{s}{(s+\kappa)^2} \right\rangle \quad (> 0).

Then

.. math::

    \mathrm{bias} = \frac{r_2 \kappa^2 \langle s/(s+\kappa)^2 \rangle}{D}, \qquad
    \mathrm{variance} = \frac{\sigma^2 \, \mathrm{df}_2}{D},

    \mathrm{train\_error} = \left(\frac{\lambda}{\kappa}\right)^2 (\mathrm{excess\_risk} + \sigma^2),

    \mathrm{norm2} = r_2 \left[ \left\langle \frac{s}{s+\kappa} \right\rangle
    - \frac{\lambda \langle s/(s+\kappa)^2 \rangle}{D} \right]
    + \frac{\sigma^2 \gamma \langle s/(s+\kappa)^2 \rangle}{D}

(norm2's signal bracket is evaluated in the cancellation-free form
[(lam/kappa) <s^2/(s+kappa)^2> + gamma kappa <s/(s+kappa)^2> <s/(s+kappa)>]/D).
Ridgeless (lam = 0), gamma_eff = gamma H(s > 0): for gamma_eff < 1 kappa = 0, bias = 0,
variance = sigma2 gamma_eff/(1 - gamma_eff), train_error = sigma2 (1 - gamma_eff),
norm2 = r2 <1{s>0}> + sigma2 gamma <1{s>0}/s>/(1 - gamma_eff); for gamma_eff > 1 the formulas above with
lam = 0 and kappa0 the root of gamma <s/(s+kappa0)> = 1. At gamma_eff = 1 (a genuine singularity; taken
as |gamma_eff - 1| <= 64 eps ~ 1.4e-14, the rounding of the weights' sum, e.g. 1 + 2e-16 for 3000 atoms)
variance, excess_risk and norm2 are +inf when sigma2 > 0 (0 and finite when sigma2 = 0), bias = 0,
train_error = 0. Sigma = I uses closed forms: kappa is the positive root of
kappa^2 - (lam + gamma - 1) kappa - lam = 0, bias = r2 kappa^2/D', variance = sigma2 gamma/D' with
D' = (1 + kappa)^2 - gamma (rationalised root, no cancellation). Optimal ridge: lam* = sigma2 gamma/r2 is
the posterior mean for any Sigma, with excess risk sigma2 df1/(1 - df1) = r2 kappa* <s/(s+kappa*)>.

Generalisation: a per-eigendirection signal E beta_i^2 = r2 q_i/p (``q`` per atom, <q> = 1) replaces
r2 <s g(s)> by r2 <q s g(s)> in bias and the signal part of norm2.

Sources: Hastie, Montanari, Rosset, Tibshirani, "Surprises in high-dimensional ridgeless least squares
interpolation" (arXiv 1903.08560), linear-features section (general Sigma; misspecified and latent-space
models); Dobriban & Wager 2018 (arXiv 1507.03003), ridge risk via the Marchenko-Pastur / Silverstein
equation and the optimal lam; Bach 2023 (arXiv 2303.01372), the df1/df2 form; train_error via the GCV
identity of Patil, Wei, Rinaldo, Tibshirani (arXiv 2102.04628); norm2 by differentiating the
deterministic equivalent in lam. Every formula is checked in
tests/theory/test_ridge.py against closed forms, mpmath quadrature of the MP law and reference values.

Numerics: kappa by a vectorised Halley iteration in log kappa over all grid points at once, safeguarded by
the bracket [lam, 2 (lam + gamma <s>)] (lam = 0: [s_min (gamma_eff - 1)/2, 2 gamma <s>]). Each step is one
numpy pass over (grid x atoms), in blocks of bounded size, that also yields every sum the metrics
need, and the last step's sums are carried to the accepted kappa to first order. A spectrum of more than 256 atoms starts from the kappa of a
coarse surrogate measure (each cell of log s replaced by its two-node Gauss rule), typically 1e-8-close, so
that a single pass over the full spectrum is usually enough. Points with lam or gamma <s> above 1e300 are
solved for the spectrum and lam divided by c = 2^1000 (exact), using the scaling identity (risk and kappa
scale by c): lam up to the largest float gives the lam -> inf limits excess_risk -> r2 <s>,
train_error -> r2 <s> + sigma2 without overflow.
"""
from __future__ import annotations

import numpy as np

from overparam.choices import Spectrum
from overparam.errors import ConvergenceError, ParameterError
from overparam.models import Ridge

METRICS = Ridge.METRICS
_EPS = np.finfo(float).eps
_MAX_ITER = 200
_GE_TOL = 64 * _EPS  # |gamma_eff - 1| within rounding of the spectrum's weights: the ridgeless singularity


# --------------------------------------------------------------------------------- spectral sums
_CHUNK = 1 << 18  # (grid x atoms) elements per numpy block: bounded memory on any grid and spectrum


def _sums(kappa: np.ndarray, s: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Columns <t>, <u>, <t u>, <t^2>, <t^2 u> under the weights w, with t = s/(s+kappa) and
    u = kappa/(s+kappa) = 1 - t (both computed directly: no cancellation): one pass over (grid x atoms),
    in blocks of at most _CHUNK elements, gives the Newton/Halley terms and every metric."""
    out = np.empty((kappa.size, 5))
    rows = max(1, _CHUNK // max(s.size, 1))
    for i in range(0, kappa.size, rows):
        k = kappa[i:i + rows, None]
        inv = 1.0 / (s + k)
        t, u = s * inv, k * inv
        tu = t * u
        out[i:i + rows] = np.column_stack([t @ w, u @ w, tu @ w, (t * t) @ w, (tu * t) @ w])
    return out


class _Measure:
    """The positive part of a spectral measure: atoms s > 0 with weights w (so f+ = sum w = H(s > 0)), and
    per-atom signal weights q (None: q = 1)."""

    def __init__(self, s: np.ndarray, w: np.ndarray, q: np.ndarray | None = None):
        self.s, self.w, self.q = s, w, q
        self.fplus = float(w.sum())
        self.mean = float(w @ s)
        self.smin = float(s.min())

    @classmethod
    def of(cls, spectrum: Spectrum, q: np.ndarray | None = None) -> "_Measure":
        atoms = np.asarray(spectrum.atoms, dtype=float)
        weights = np.asarray(spectrum.weights, dtype=float)
        if q is not None:
            q = np.asarray(q, dtype=float)
            if q.shape != atoms.shape or not np.all((q >= 0) & np.isfinite(q)) or abs(weights @ q - 1) > 1e-10:
                raise ParameterError("q", "the given array", f"{atoms.size} finite values >= 0 (one per atom), <q> = 1")
        pos = atoms > 0
        return cls(atoms[pos], weights[pos], None if q is None else q[pos])

    @property
    def signal(self) -> float:
        """<q 1{s > 0}>: the signal fraction the features can see."""
        return self.fplus if self.q is None else float(self.w @ self.q)

    def coarse(self) -> "_Measure":
        """A surrogate of at most s.size // 4 atoms: the atoms in each of s.size // 8 equal cells of log s are
        replaced by the two-atom law with the same weight, mean, variance and third central moment (the
        two-node Gauss rule of the cell), so <f> for smooth f moves by O(cell width^4) and the surrogate's
        kappa is typically within 1e-8 (relative) of this measure's."""
        ls = np.log(self.s)
        cells = max(self.s.size // 8, 64)
        index = np.minimum((cells * (ls - ls.min()) / max(np.ptp(ls), 1e-300)).astype(np.intp), cells - 1)
        index = np.unique(index, return_inverse=True)[1]  # number the non-empty cells 0, 1, ...
        weight = np.bincount(index, weights=self.w)
        mean = np.bincount(index, weights=self.w * self.s) / weight
        d = self.s / mean[index] - 1.0  # relative deviation within the cell (scale-free: no underflow)
        var = np.bincount(index, weights=self.w * d * d) / weight
        skew = np.divide(np.bincount(index, weights=self.w * d**3) / weight, var**1.5, out=np.zeros_like(var),
                         where=var > 0)
        up = 0.5 * (1.0 - skew / np.sqrt(4.0 + skew * skew))  # weight fraction of the upper atom
        sd = np.sqrt(var)
        lowest, highest = np.full_like(mean, np.inf), np.zeros_like(mean)
        np.minimum.at(lowest, index, self.s)
        np.maximum.at(highest, index, self.s)
        lower = np.maximum(mean * (1.0 - sd * np.sqrt(up / (1.0 - up))), lowest)  # kept inside the cell
        upper = np.minimum(mean * (1.0 + sd * np.sqrt((1.0 - up) / up)), highest)
        return _Measure(np.concatenate([lower, upper]), np.concatenate([weight * (1.0 - up), weight * up]))


# ----------------------------------------------------------------------------------------- kappa
_DIRECT = 256  # measures with more atoms start from the kappa of their coarse surrogate
_STEP_TOL = 2e-15  # |log-kappa step| below which the current point is accepted as it is
_TAYLOR = 1e-8  # |log-kappa step| below which the Halley point is accepted with first-order updated sums


def _isotropic_kappa(gamma: np.ndarray, lam: np.ndarray, scale: np.ndarray | float = 1.0) -> np.ndarray:
    """kappa/scale for the positive root kappa of k^2 - (lam + gamma - 1) k - lam = 0 (Sigma = I),
    rationalised when b < 0 (then lam + gamma < 1, and ``scale`` must be 1). A scale >= max(lam, gamma)
    keeps everything finite for lam, gamma up to the largest float, where kappa itself overflows."""
    b = lam / scale + gamma / scale - 1.0 / scale
    r = np.hypot(b, 2.0 * np.sqrt(lam / scale) / np.sqrt(scale))  # sqrt(b^2 + 4 lam/scale^2), no overflow
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # the branch not taken may overflow
        return np.where(b >= 0, 0.5 * (b + r), np.where(lam > 0, 2.0 * lam / (r - b), 0.0))


def _solve(gamma: np.ndarray, lam: np.ndarray, m: _Measure) -> tuple[np.ndarray, np.ndarray]:
    """(kappa, columns <t>, <t u>, <t^2> at kappa): the root kappa > 0 of 1 - lam/kappa = gamma <s/(s+kappa)>
    at every point of the 1-D arrays gamma, lam (each with lam > 0 or gamma_eff > 1).

    Halley's method in x = log(kappa/k_ref) (k_ref the geometric mean of the initial bracket) on
    h = 1 - lam/kappa - gamma <t>, h' = lam/kappa + gamma <t u>, h'' = -lam/kappa + gamma <t u (t - u)>;
    the equivalent form h = gamma <u> - lam/kappa - (gamma_eff - 1) is used where it is the more accurate
    one (near gamma_eff = 1, small lam). A step leaving the current
    bracket (initially [lam, 2 (lam + gamma <s>)], for lam = 0 [s_min (gamma_eff - 1)/2, 2 gamma <s>]) is
    replaced by log-bisection. A point is done when h is at roundoff level or the step is below _STEP_TOL
    (the evaluated kappa and its sums are kept), or when the step dx is below _TAYLOR: then the Halley
    point (error O(dx^3)) is kept with the sums moved to it to first order (d<t>/dx = -<t u>,
    d<t u>/dx = <t u (t - u)>, d<t^2>/dx = -2 <t^2 u>; error O(dx^2) < 1e-16). Measures of more than
    _DIRECT atoms start from the root of their coarse surrogate (recursively), typically 1e-8-close: one
    pass over (grid x atoms) of the full spectrum then suffices."""
    ge = gamma * m.fplus
    lo = np.where(lam > 0, lam, 0.5 * m.smin * (ge - 1.0))
    hi = 2.0 * (lam + gamma * m.mean)
    if m.s.size > _DIRECT:
        start = _solve(gamma, lam, m.coarse())[0]
    else:
        with np.errstate(over="ignore", invalid="ignore"):  # lam/<s> may overflow on a scaled measure
            start = m.mean * _isotropic_kappa(gamma, lam / m.mean)
        start = np.where(np.isfinite(start), start, hi)
    k = np.clip(start, lo, hi)
    ref = np.sqrt(lo) * np.sqrt(hi)  # x = log(kappa/ref): kappa/ref stays finite even where lam/<s> is not
    moments = np.empty((k.size, 3))
    active = np.arange(k.size)
    for _ in range(_MAX_ITER):
        kk, g, la, e = k[active], gamma[active], lam[active], ge[active]
        t, u, tu, tt, ttu = _sums(kk, m.s, m.w).T
        ratio = la / kk
        use_u = ratio + np.abs(e - 1.0) + g * u < 1.0
        h = np.where(use_u, g * u - ratio - (e - 1.0), 1.0 - ratio - g * t)
        floor = 8 * _EPS * np.where(use_u, ratio + np.abs(e - 1.0) + g * u, 2.0)  # roundoff level of h
        dh = ratio + g * tu
        d2h = g * (2.0 * ttu - tu) - ratio
        lo[active] = np.where(h < 0, kk, lo[active])
        hi[active] = np.where(h > 0, kk, hi[active])
        r = ref[active]
        x, a, b = np.log(kk / r), np.log(lo[active] / r), np.log(hi[active] / r)
        newton = h / dh
        step = newton / (1.0 - np.clip(0.5 * newton * d2h / dh, -0.5, 0.5))  # Halley, correction limited
        new = x - step
        inside = (new > a) & (new < b)
        stuck = (new == x) | (b - a <= 4 * _EPS * np.maximum(1.0, np.abs(x)))  # at the resolution of x
        done = (np.abs(h) <= floor) | (np.abs(step) <= _STEP_TOL) | stuck
        close = inside & (np.abs(step) <= _TAYLOR) & ~done
        dx = np.where(close, -step, 0.0)
        moments[active] = np.column_stack([t - dx * tu, tu + dx * (2.0 * ttu - tu), tt - 2.0 * dx * ttu])
        k[active] = np.where(done, kk, r * np.exp(np.where(inside, new, 0.5 * (a + b))))
        active = active[~(done | close)]
        if active.size == 0:
            return k, moments
    raise ConvergenceError("ridge effective ridge kappa (Halley in log kappa)", float(np.max(np.abs(h))),
                           _MAX_ITER)


# ------------------------------------------------------------------------------------- the model
def _grid(model: Ridge) -> tuple[tuple[int, ...], list[np.ndarray]]:
    names = ("gamma", "lam", "r2", "sigma2")
    arrays = np.broadcast_arrays(*(np.asarray(getattr(model, k), dtype=float) for k in names))
    return arrays[0].shape, [a.ravel() for a in arrays]


def _isotropic(gamma, lam, r2, sigma2) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Closed forms for Sigma = I (valid for lam > 0 and for lam = 0, gamma != 1). Numerator and
    denominator are divided by c^2, c = max(1, kappa), so that huge lam or gamma (kappa up to 1e308) give
    the limits bias -> r2, variance -> 0 instead of inf/inf."""
    scale = np.maximum(1.0, np.maximum(lam, gamma))
    ks = _isotropic_kappa(gamma, lam, scale)  # kappa/scale
    with np.errstate(over="ignore"):
        k = ks * scale  # +inf beyond the float range; every metric below uses only finite ratios
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(lam > 0, (lam / scale) / ks, 0.0)
        big = k >= 1.0
        kc, ic = np.where(big, 1.0, k), np.where(big, 1.0 / k, 1.0)  # kappa/c and 1/c, c = max(kappa, 1)
        gic = np.where(big, (gamma / scale) / ks, gamma)  # gamma/c
    d = (ic + kc) ** 2 * ratio + gic * kc  # = ((1 + k)^2 - gamma)/c^2, cancellation-free
    with np.errstate(divide="ignore", invalid="ignore"):
        bias = r2 * kc * kc / d
        var = sigma2 * gic * ic / d
        norm2 = (r2 * (ratio * ic + gic * (kc / (ic + kc))) + sigma2 * gic) * ic / d
    return k, {"bias": bias, "variance": var, "norm2": norm2, "ratio": ratio}


_HUGE = 1e300  # lam or gamma <s> above this: the problem is solved on the spectrum scaled by 2^-_SHIFT
_SHIFT = 1000


def _general(gamma, lam, r2, sigma2, m: _Measure) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Deterministic equivalent at the points with lam > 0 or gamma_eff > 1. Where lam or gamma <s>
    exceeds _HUGE (kappa near the float limit) it uses the scaling identity (s, lam, kappa) -> (s, lam,
    kappa)/c, c = 2^_SHIFT (exact): t and u are unchanged, bias and kappa scale by c, the noise part of
    norm2 by 1/c; so bias -> r2 <q s> and variance -> 0 as lam -> inf without overflow."""
    with np.errstate(over="ignore"):
        huge = (lam > _HUGE) | (gamma * m.mean > _HUGE)
    if not huge.any():
        return _deterministic(gamma, lam, r2, sigma2, m, 1.0)
    k = np.empty_like(gamma)
    out = {name: np.empty_like(gamma) for name in ("bias", "variance", "norm2", "ratio")}
    scaled = _Measure(np.ldexp(m.s, -_SHIFT), m.w, m.q)
    for sel, measure, c in ((~huge, m, 1.0), (huge, scaled, np.ldexp(1.0, _SHIFT))):
        if sel.any():
            lam_sel = lam[sel] if c == 1.0 else np.ldexp(lam[sel], -_SHIFT)
            k[sel], part = _deterministic(gamma[sel], lam_sel, r2[sel], sigma2[sel], measure, c)
            for name in out:
                out[name][sel] = part[name]
    return k, out


def _deterministic(gamma, lam, r2, sigma2, m: _Measure, c: float) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The metrics from the root kappa of the measure m (the true spectrum divided by c, lam divided by c)."""
    k, moments = _solve(gamma, lam, m)
    t, tu, tt = moments.T
    tq, tuq, ttq = (t, tu, tt) if m.q is None else _sums(k, m.s, m.w * m.q)[:, [0, 2, 3]].T  # <q ...>
    ratio = lam / k
    d = ratio + gamma * tu
    bias = r2 * k * tuq / d * c
    var = sigma2 * gamma * tt / d
    norm2 = r2 * (ratio * ttq + gamma * tu * tq) / d + sigma2 * gamma * (tu / k) / d / c
    with np.errstate(over="ignore"):
        return k * c, {"bias": bias, "variance": var, "norm2": norm2, "ratio": ratio}


def _evaluate(model: Ridge, q: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """kappa and every metric, with the shape of the broadcast numeric parameters."""
    shape, (gamma, lam, r2, sigma2) = _grid(model)
    m = _Measure.of(model.spectrum, q)
    ge = gamma * m.fplus
    below = ge < 1.0 - _GE_TOL  # ridgeless with kappa = 0; |gamma_eff - 1| <= _GE_TOL is the singularity
    smooth = (lam > 0) | (ge > 1.0 + _GE_TOL)
    k = np.zeros_like(gamma)
    bias = np.zeros_like(gamma)
    ratio = np.where(below, 1.0 - ge, 0.0)  # lam/kappa in the ridgeless limit
    signal_ridgeless = r2 * m.signal
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # only the branch taken is used
        var = np.where(below, sigma2 * ge / (1.0 - ge), np.where(sigma2 > 0, np.inf, 0.0))
        noise_norm = np.where(below, sigma2 * gamma * (m.w @ (1.0 / m.s)) / (1.0 - ge),
                              np.where(sigma2 > 0, np.inf, 0.0))
    norm2 = signal_ridgeless + noise_norm
    if smooth.any():
        args = (gamma[smooth], lam[smooth], r2[smooth], sigma2[smooth])
        if model.spectrum.isotropic and q is None:
            ks, out = _isotropic(*args)
        else:
            ks, out = _general(*args, m)
        k[smooth], bias[smooth], var[smooth] = ks, out["bias"], out["variance"]
        norm2[smooth], ratio[smooth] = out["norm2"], out["ratio"]
    excess = bias + var
    with np.errstate(invalid="ignore"):
        train = np.where(ratio > 0, ratio**2 * (excess + sigma2), 0.0)
    metrics = {"excess_risk": excess, "bias": bias, "variance": var, "train_error": train, "norm2": norm2}
    return k.reshape(shape), {name: v.reshape(shape) for name, v in metrics.items()}


def theory(model: Ridge, q: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Limits of excess_risk, bias, variance, train_error and norm2 (module docstring), broadcast over the
    numeric parameters of ``model``. ``q``: optional per-atom signal weights (aligned with
    ``model.spectrum.atoms``, <q> = 1). +inf only at the ridgeless singularity gamma_eff = 1, sigma2 > 0."""
    return _evaluate(model, q)[1]


def kappa(model: Ridge) -> np.ndarray:
    """The effective ridge kappa (0 in the ridgeless branch gamma_eff <= 1)."""
    return _evaluate(model)[0]


def optimal_lam(model: Ridge) -> np.ndarray:
    """Bayes-optimal penalty lam* = sigma2 gamma/r2 for any Sigma (+inf when r2 = 0)."""
    _, (gamma, _, r2, sigma2) = _grid(model)
    shape = model.shape()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(r2 > 0, sigma2 * gamma / r2, np.inf).reshape(shape)


def optimal_risk(model: Ridge) -> np.ndarray:
    """Excess risk at lam* (``model.lam`` is ignored): sigma2 df1/(1 - df1) = r2 kappa* <s/(s+kappa*)>,
    which is also the lam -> 0 limit when sigma2 = 0 and is 0 when r2 = 0."""
    lam_star = optimal_lam(model)
    finite = np.isfinite(lam_star)
    lam_eval = np.where(finite, lam_star, 0.0)
    at_star = model.replace(lam=lam_eval)  # lam* is infinite only where r2 = 0: risk 0 there
    return np.where(finite, theory(at_star)["excess_risk"], 0.0)


# ------------------------------------------------------------------------- exact finite-n values
def finite_n_ridgeless(model: Ridge, sizes: dict[str, int]) -> dict[str, np.ndarray]:
    """Exact finite-(n, p) means of the ridgeless metrics (Gaussian X, inverse-Wishart moments); NaN
    where not available (lam > 0, n - 1 <= p <= n + 1, p > n + 1 with a non-isotropic spectrum, zero
    eigenvalues).

    p < n - 1: bias 0, variance sigma2 p/(n-p-1), train_error sigma2 (n-p)/n, norm2 r2 + sigma2 tr(Sigma^-1)/(n-p-1).
    p > n + 1, Sigma = I: bias r2 (1 - n/p), variance sigma2 n/(p-n-1), norm2 r2 n/p + sigma2 n/(p-n-1),
    train_error 0."""
    n, p = sizes["n"], sizes["p"]
    shape, (gamma, lam, r2, sigma2) = _grid(model)
    s = model.spectrum.for_dimension(p)
    nan = np.full_like(gamma, np.nan)
    out = {name: nan.copy() for name in METRICS}
    ridgeless = lam == 0
    if p < n - 1 and np.all(s > 0):
        out["bias"] = np.where(ridgeless, 0.0, nan)
        out["variance"] = np.where(ridgeless, sigma2 * p / (n - p - 1), nan)
        out["train_error"] = np.where(ridgeless, sigma2 * (n - p) / n, nan)
        out["norm2"] = np.where(ridgeless, r2 + sigma2 * np.sum(1.0 / s) / (n - p - 1), nan)
    elif p > n + 1 and model.spectrum.isotropic:
        out["bias"] = np.where(ridgeless, r2 * (1.0 - n / p), nan)
        out["variance"] = np.where(ridgeless, sigma2 * n / (p - n - 1), nan)
        out["train_error"] = np.where(ridgeless, 0.0, nan)
        out["norm2"] = np.where(ridgeless, r2 * n / p + sigma2 * n / (p - n - 1), nan)
    out["excess_risk"] = out["bias"] + out["variance"]
    return {name: v.reshape(shape) for name, v in out.items()}


# ------------------------------------------------------------------------------ HMRT reductions
def misspecified(model: Ridge, theta2: float) -> dict[str, np.ndarray]:
    """HMRT misspecified model y = x^T beta + w^T theta + eps, w ~ N(0, I) unobserved and independent of x:
    the omitted part is extra noise of variance theta2 = ||theta||^2, so the metrics are ``theory`` at
    sigma2 + theta2; ``excess_risk_vs_full`` = excess_risk + theta2 is the risk against E[y | x, w]."""
    if not theta2 >= 0:
        raise ParameterError("theta2", theta2, ">= 0")
    out = theory(model.replace(sigma2=np.asarray(model.sigma2) + theta2))
    out["excess_risk_vs_full"] = out["excess_risk"] + theta2
    return out


def latent_space(gamma: float | np.ndarray, lam: float | np.ndarray, W: np.ndarray, theta: np.ndarray,
                 xi2: float) -> dict[str, np.ndarray]:
    """HMRT latent-space model x = W z + u, y = theta^T z + xi (z ~ N(0, I_d), u ~ N(0, I_p), Var xi = xi2).

    Exact Gaussian reduction: Sigma = I + W W^T, y = x^T beta_b + residual with beta_b = Sigma^{-1} W theta
    and residual variance ||theta||^2 + xi2 - theta^T W^T Sigma^{-1} W theta. The returned metrics are the
    general-Sigma limits with this Sigma (as its p-eigenvalue spectral measure), r2 = ||beta_b||^2, the
    signal concentrated on the spike directions (per-direction weights q) and sigma2 = residual; the risk
    is excess over the best linear predictor x^T beta_b. Also returns ``r2`` and ``sigma2`` used."""
    W, theta = np.atleast_2d(np.asarray(W, dtype=float)), np.asarray(theta, dtype=float)
    p = W.shape[0]
    _, sv, vt = np.linalg.svd(W, full_matrices=False)  # min(p, d) spikes
    spikes, proj = 1.0 + sv**2, vt @ theta
    coef = sv / spikes * proj  # beta_b in the spike eigenbasis
    r2 = float(coef @ coef)
    # residual = xi2 + |theta outside the row space of W|^2 + sum proj^2/spikes (a sum of terms >= 0)
    resid = float(xi2 + max(theta @ theta - proj @ proj, 0.0) + np.sum(proj**2 / spikes))
    eigs = np.concatenate([spikes, np.ones(p - sv.size)])
    energy = np.concatenate([coef**2, np.zeros(p - sv.size)])
    atoms, inverse = np.unique(eigs, return_inverse=True)
    weights = np.bincount(inverse) / p
    q = np.bincount(inverse, weights=energy) / p / weights * (p / r2) if r2 > 0 else np.ones_like(atoms)
    spectrum = Spectrum("latent-space", atoms, weights, eigenvalues=eigs)
    out = theory(Ridge(gamma=gamma, lam=lam, r2=r2, sigma2=resid, spectrum=spectrum), q=q)
    out.update(r2=np.asarray(r2), sigma2=np.asarray(resid))
    return out


__all__ = ["theory", "kappa", "optimal_lam", "optimal_risk", "finite_n_ridgeless", "misspecified",
           "latent_space", "METRICS"]
