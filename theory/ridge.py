"""Ridge and ridgeless (minimum-norm) linear regression: exact n, p -> infinity limits.

Model (formulas/ridge.md). x ~ N(0, Sigma) in R^p, Sigma with spectral measure H (``spectrum``: atoms s
with weights w; <f> = sum_i w_i f(s_i)); signal beta with E beta beta^T = (r2/p) I; y = x^T beta + eps,
eps ~ N(0, sigma2); n samples, p/n -> gamma. Estimator

    beta_hat(lam) = argmin_b (1/n) ||y - X b||^2 + lam ||b||^2 = (X^T X/n + lam I)^{-1} X^T y/n,

lam = 0 meaning the minimum-norm least-squares solution pinv(X) y (OLS for gamma < 1, the minimum-norm
interpolator for gamma > 1). scikit-learn's ``Ridge(alpha)`` is lam = alpha/n.

Metrics (expectations over X, beta, eps; here their limits):

* ``excess_risk`` = E (beta_hat - beta)^T Sigma (beta_hat - beta): the test error on a fresh noisy label
  minus sigma2 (noise EXCLUDED);
* ``bias`` (eps = 0 part) and ``variance`` (eps part); excess_risk = bias + variance exactly;
* ``train_error`` = (1/n) ||y - X beta_hat||^2 (noisy labels, noise INCLUDED);
* ``norm2`` = ||beta_hat||_2^2 (Euclidean).

Equations. The effective ridge kappa > 0 solves  1 - lam/kappa = df1,  df1 = gamma <s/(s+kappa)>,
df2 = gamma <s^2/(s+kappa)^2>, and D = 1 - df2 = lam/kappa + gamma kappa <s/(s+kappa)^2> (> 0). Then

    bias = r2 kappa^2 <s/(s+kappa)^2>/D,    variance = sigma2 df2/D,
    train_error = (lam/kappa)^2 (excess_risk + sigma2),
    norm2 = r2 [<s/(s+kappa)> - lam <s/(s+kappa)^2>/D] + sigma2 gamma <s/(s+kappa)^2>/D

(norm2's signal bracket is evaluated in the cancellation-free form
[(lam/kappa) <s^2/(s+kappa)^2> + gamma kappa <s/(s+kappa)^2> <s/(s+kappa)>]/D).
Ridgeless (lam = 0), gamma_eff = gamma H(s > 0): for gamma_eff < 1 kappa = 0, bias = 0,
variance = sigma2 gamma_eff/(1 - gamma_eff), train_error = sigma2 (1 - gamma_eff),
norm2 = r2 <1{s>0}> + sigma2 gamma <1{s>0}/s>/(1 - gamma_eff); for gamma_eff > 1 the formulas above with
lam = 0 and kappa0 the root of gamma <s/(s+kappa0)> = 1. At gamma_eff = 1 (a genuine singularity)
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
deterministic equivalent in lam (formulas/ridge.md section 2.1). Every formula is checked in
tests/theory/test_ridge.py against closed forms, mpmath quadrature of the MP law and reference values.

Numerics: kappa by a vectorised Newton iteration in log kappa over all grid points at once, safeguarded by
the bracket [lam, 2 (lam + gamma <s>)] (lam = 0: [s_min (gamma_eff - 1)/2, 2 gamma <s>]); the atom sums of one
step are a single compiled pass over (grid x atoms).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from overparam.choices import Spectrum
from overparam.errors import ConvergenceError, ParameterError
from overparam.models import Ridge

METRICS = Ridge.METRICS
_EPS = np.finfo(float).eps
_MAX_ITER = 200


# --------------------------------------------------------------------------------- spectral sums
_FAST = {"reassoc", "contract", "arcp", "nsz"}  # reordered sums only; inputs are finite


@njit(cache=True, fastmath=_FAST, error_model="numpy")
def _newton_sums(kappa: np.ndarray, s: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Columns <t>, <u>, <t u> with t = s/(s+kappa), u = kappa/(s+kappa), over the positive atoms s."""
    out = np.empty((kappa.size, 3))
    for i in range(kappa.size):
        k = kappa[i]
        a = b = c = 0.0
        for j in range(s.size):
            inv = 1.0 / (s[j] + k)
            t, u = s[j] * inv, k * inv
            a += w[j] * t
            b += w[j] * u
            c += w[j] * t * u
        out[i, 0], out[i, 1], out[i, 2] = a, b, c
    return out


@njit(cache=True, fastmath=_FAST, error_model="numpy")
def _moments(kappa: np.ndarray, s: np.ndarray, w: np.ndarray, wq: np.ndarray) -> np.ndarray:
    """Columns <t u>, <t^2> under weights w and <t>, <t u>, <t^2> under weights w q (t, u as above)."""
    out = np.empty((kappa.size, 5))
    for i in range(kappa.size):
        k = kappa[i]
        a = b = c = d = e = 0.0
        for j in range(s.size):
            inv = 1.0 / (s[j] + k)
            t = s[j] * inv
            tu, tt = t * k * inv, t * t
            a += w[j] * tu
            b += w[j] * tt
            c += wq[j] * t
            d += wq[j] * tu
            e += wq[j] * tt
        out[i, 0], out[i, 1], out[i, 2], out[i, 3], out[i, 4] = a, b, c, d, e
    return out


class _Measure:
    """The positive part of the spectral measure: atoms s > 0, weights w, f+ = H(s > 0), signal weights q."""

    def __init__(self, spectrum: Spectrum, q: np.ndarray | None = None):
        atoms = np.asarray(spectrum.atoms, dtype=float)
        weights = np.asarray(spectrum.weights, dtype=float)
        q = np.ones_like(atoms) if q is None else np.asarray(q, dtype=float)
        if q.shape != atoms.shape or np.any(q < 0) or abs(weights @ q - 1) > 1e-10:
            raise ParameterError("q", "the given array", f"{atoms.size} values >= 0 (one per atom) with <q> = 1")
        pos = atoms > 0
        self.s, self.w, self.q = atoms[pos], weights[pos], q[pos]
        self.wq = self.w * self.q
        self.fplus = float(self.w.sum())
        self.mean = float(self.w @ self.s)
        self.smin = float(self.s.min())

    def coarse(self, bins: int) -> "_Measure":
        """The measure with consecutive (sorted) atoms merged into ``bins`` groups of their weighted mean:
        a cheap surrogate whose kappa is a close starting point."""
        order = np.argsort(self.s)
        groups = np.array_split(order, bins)
        m = object.__new__(_Measure)
        m.w = np.array([self.w[g].sum() for g in groups])
        m.s = np.array([self.w[g] @ self.s[g] for g in groups]) / m.w
        m.q = np.ones_like(m.s)
        m.wq, m.fplus, m.mean, m.smin = m.w, self.fplus, self.mean, self.smin
        return m


# ----------------------------------------------------------------------------------------- kappa
def _isotropic_kappa(gamma: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Positive root of k^2 - (lam + gamma - 1) k - lam = 0 (Sigma = I), rationalised when b < 0."""
    b = lam + gamma - 1.0
    r = np.sqrt(b * b + 4.0 * lam)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b >= 0, 0.5 * (b + r), np.where(lam > 0, 2.0 * lam / (r - b), 0.0))


def _solve(gamma: np.ndarray, lam: np.ndarray, m: _Measure) -> np.ndarray:
    """kappa > 0 solving 1 - lam/kappa = gamma <s/(s+kappa)> (1-D arrays; lam > 0 or gamma_eff > 1).

    Newton in u = log kappa on h = 1 - lam/kappa - gamma <t>; the equivalent form
    h = gamma <u> - lam/kappa - (gamma_eff - 1) is used where it is the more accurate one (near
    gamma_eff = 1, small lam). A step leaving the current bracket is replaced by log-bisection. Spectra of
    more than 256 atoms start from the root of a 16x coarser measure (recursively), which leaves 2-3 steps."""
    ge = gamma * m.fplus
    lo = np.where(lam > 0, lam, 0.5 * m.smin * (ge - 1.0))
    hi = 2.0 * (lam + gamma * m.mean)
    if m.s.size > 256:
        start = _solve(gamma, lam, m.coarse(m.s.size // 16))
    else:
        start = m.mean * _isotropic_kappa(gamma, lam / m.mean)
    k = np.clip(start, lo, hi)
    k = np.where(k > 0, k, np.sqrt(lo * hi))
    active = np.arange(k.size)
    for _ in range(_MAX_ITER):
        kk, g, la, e = k[active], gamma[active], lam[active], ge[active]
        t, u, tu = _newton_sums(kk, m.s, m.w).T
        ratio = la / kk
        use_u = ratio + np.abs(e - 1.0) + g * u < 1.0
        h = np.where(use_u, g * u - ratio - (e - 1.0), 1.0 - ratio - g * t)
        floor = 8 * _EPS * np.where(use_u, ratio + np.abs(e - 1.0) + g * u, 2.0)  # roundoff level of h
        dh = ratio + g * tu
        lo[active] = np.where(h < 0, kk, lo[active])
        hi[active] = np.where(h > 0, kk, hi[active])
        x, a, b = np.log(kk), np.log(lo[active]), np.log(hi[active])
        step = h / dh
        newton = x - step
        inside = (newton > a) & (newton < b)
        at_root = np.abs(h) <= floor
        k[active] = np.where(at_root, kk, np.exp(np.where(inside, newton, 0.5 * (a + b))))
        done = at_root | (inside & (np.abs(step) <= 1e-13)) | (b - a <= 4 * _EPS)
        active = active[~done]
        if active.size == 0:
            return k
    raise ConvergenceError("ridge effective ridge kappa (Newton in log kappa)", float(np.max(np.abs(h))), _MAX_ITER)


# ------------------------------------------------------------------------------------- the model
def _grid(model: Ridge) -> tuple[tuple[int, ...], list[np.ndarray]]:
    arrays = np.broadcast_arrays(*(np.asarray(getattr(model, k), dtype=float) for k in ("gamma", "lam", "r2", "sigma2")))
    return arrays[0].shape, [a.ravel() for a in arrays]


def _isotropic(gamma, lam, r2, sigma2) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Closed forms for Sigma = I (valid for lam > 0 and for lam = 0, gamma != 1)."""
    k = _isotropic_kappa(gamma, lam)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(lam > 0, lam / k, 0.0)
    d = (1.0 + k) ** 2 * ratio + gamma * k  # = (1 + k)^2 - gamma, cancellation-free
    with np.errstate(divide="ignore", invalid="ignore"):
        bias = r2 * k * k / d
        var = sigma2 * gamma / d
        norm2 = r2 * (ratio + gamma * k / (1.0 + k)) / d + sigma2 * gamma / d
    return k, {"bias": bias, "variance": var, "norm2": norm2, "ratio": ratio}


def _general(gamma, lam, r2, sigma2, m: _Measure) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Deterministic equivalent at the points with lam > 0 or gamma_eff > 1."""
    k = _solve(gamma, lam, m)
    tu, tt, tq, tuq, ttq = _moments(k, m.s, m.w, m.wq).T
    ratio = lam / k
    d = ratio + gamma * tu
    bias = r2 * k * tuq / d
    var = sigma2 * gamma * tt / d
    norm2 = r2 * (ratio * ttq + gamma * tu * tq) / d + sigma2 * gamma * (tu / k) / d
    return k, {"bias": bias, "variance": var, "norm2": norm2, "ratio": ratio}


def _evaluate(model: Ridge, q: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """kappa and every metric, with the shape of the broadcast numeric parameters."""
    shape, (gamma, lam, r2, sigma2) = _grid(model)
    m = _Measure(model.spectrum, q)
    ge = gamma * m.fplus
    smooth = (lam > 0) | (ge > 1)
    k = np.zeros_like(gamma)
    bias = np.zeros_like(gamma)
    ratio = np.where(ge < 1, 1.0 - ge, 0.0)  # lam/kappa in the ridgeless limit
    signal_ridgeless = r2 * (m.w @ m.q)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(ge < 1, sigma2 * ge / (1.0 - ge), np.where(sigma2 > 0, np.inf, 0.0))
        noise_norm = np.where(ge < 1, sigma2 * gamma * (m.w @ (1.0 / m.s)) / (1.0 - ge),
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
    at_star = model.replace(lam=lam_eval, r2=np.where(finite, model.r2, 0.0))
    return np.where(finite, theory(at_star)["excess_risk"], 0.0)


# ------------------------------------------------------------------------- exact finite-n values
def finite_n_ridgeless(model: Ridge, sizes: dict[str, int]) -> dict[str, np.ndarray]:
    """Exact finite-(n, p) means of the ridgeless metrics (Gaussian X, inverse-Wishart moments); NaN
    where not available (lam > 0, n - 1 <= p <= n + 1, p > n + 1 with Sigma != c I, zero eigenvalues).

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


def latent_space(gamma, lam, W: np.ndarray, theta: np.ndarray, xi2: float) -> dict[str, np.ndarray]:
    """HMRT latent-space model x = W z + u, y = theta^T z + xi (z ~ N(0, I_d), u ~ N(0, I_p), Var xi = xi2).

    Exact Gaussian reduction: Sigma = I + W W^T, y = x^T beta_b + residual with beta_b = Sigma^{-1} W theta
    and residual variance ||theta||^2 + xi2 - theta^T W^T Sigma^{-1} W theta. The returned metrics are the
    general-Sigma limits with this Sigma (as its p-eigenvalue spectral measure), r2 = ||beta_b||^2, the
    signal concentrated on the spike directions (per-direction weights q) and sigma2 = residual; the risk
    is excess over the best linear predictor x^T beta_b. Also returns ``r2`` and ``sigma2`` used."""
    W, theta = np.atleast_2d(np.asarray(W, dtype=float)), np.asarray(theta, dtype=float)
    p, d = W.shape
    _, sv, vt = np.linalg.svd(W, full_matrices=False)
    spikes = 1.0 + sv**2
    coef = sv / spikes * (vt @ theta)  # beta_b in the spike eigenbasis
    r2 = float(coef @ coef)
    resid = float(theta @ theta + xi2 - np.sum(sv**2 / spikes * (vt @ theta) ** 2))
    eigs = np.concatenate([spikes, np.ones(p - d)])
    energy = np.concatenate([coef**2, np.zeros(p - d)])
    atoms, inverse = np.unique(eigs, return_inverse=True)
    weights = np.bincount(inverse) / p
    q = np.bincount(inverse, weights=energy) / p / weights * (p / r2) if r2 > 0 else np.ones_like(atoms)
    spectrum = Spectrum("latent-space", atoms, weights, eigenvalues=eigs)
    out = theory(Ridge(gamma=gamma, lam=lam, r2=r2, sigma2=resid, spectrum=spectrum), q=q)
    out.update(r2=np.asarray(r2), sigma2=np.asarray(resid))
    return out


__all__ = ["theory", "kappa", "optimal_lam", "optimal_risk", "finite_n_ridgeless", "misspecified",
           "latent_space", "METRICS"]
