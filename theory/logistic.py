r"""The unregularised logistic-regression MLE in the proportional regime: the n, p -> infinity limits.

Model (max-margin's ``logistic:beta`` label model, :mod:`overparam.theory.max_margin`). x_i ~ N(0, I_p) iid,
i = 1..n, beta* a unit vector, G = <x, beta*>, psi = p/n, no intercept; y in {-1, +1} with
P(y = +1 | x) = sigmoid(beta G); beta = 0 is the global null (pure-noise labels). The true coefficient vector
is b0 = beta beta* (Var <x, b0> = beta^2). Estimator: the MLE b = argmin_b sum_i rho(-y_i <x_i, b>),
rho(u) = log(1 + e^u); it is finite (and unique) iff the sample is not linearly separable through the origin,
which in the limit means psi < psi*(beta).

Metrics (identical definitions in :mod:`overparam.simulate.logistic`):

* ``bias_inflation`` = <b, b0>/||b0||^2 -> alpha* (NaN for beta = 0).
* ``sigma_perp2`` = ||b - <b, beta*> beta*||^2 -> psi sigma*^2 (beta = 0: ||b||^2, the same limit).
* ``lrt_scale``: for a null coordinate j (b0_j = 0) twice the log-likelihood ratio for dropping feature j
  converges to lrt_scale x chi^2_1; lrt_scale = psi sigma*^2/lambda* (classically 1).
* ``test_error`` = P(y_new != sign <x_new, b>) for a fresh draw of the same model, label noise included (never
  below the Bayes error): max-margin's E[Phi(-t W)] (W = Y G) with t = alpha* beta/sqrt(sigma_perp2); 1/2 for
  beta = 0.
* ``cos_angle`` = <b, beta*>/||b|| -> alpha* beta/sqrt(alpha*^2 beta^2 + psi sigma*^2) (0 for beta = 0).
* ``separability_threshold`` psi*(beta): max-margin's threshold (Candes and Sur 2020, arXiv 1804.09753)
  min_t E[(Z - t Y G)_+^2] for logistic:beta labels, 1/2 (Cover) for beta = 0.
* ``mle_exists`` = 1 if psi < psi* else 0. At and above psi* the other metrics (except the threshold) are NaN,
  never an exception: grids routinely cross psi*.

Equations (Sur and Candes 2019, PNAS 116(29) 14516, arXiv 1803.06964, system (5); their kappa = psi, their
gamma = beta; their design has N(0, 1/n) entries, so their coefficients are sqrt(n) times ours and
||P_perp b||^2 -> psi sigma*^2). With rho'(u) = sigmoid(u), rho'' = rho'(1 - rho'),
prox(z) = argmin_u lambda rho(u) + (u - z)^2/2 (the root of u + lambda rho'(u) = z),
Q1 = beta G1, Q2 = -alpha Q1 + sqrt(psi) sigma G2, G1, G2 iid N(0, 1), the unknowns (alpha, sigma, lambda) solve

.. math::

    \psi^2 \sigma^2 = \mathbb{E}\left[2 \rho'(Q_1) \left(\lambda \rho'(\operatorname{prox}(Q_2))\right)^2\right]

    0 = \mathbb{E}\left[2 \rho'(Q_1)\, Q_1 \lambda \rho'(\operatorname{prox}(Q_2))\right]

    1 - \psi = \mathbb{E}\left[\frac{2 \rho'(Q_1)}{1 + \lambda \rho''(\operatorname{prox}(Q_2))}\right]

and 2 Lambda_j -> (psi sigma*^2/lambda*) chi^2_1 (their likelihood-ratio theorem; for beta = 0 the rescaling of
Sur, Chen and Candes 2019, PTRF 175:487, where the second equation is void and alpha drops out).
Limits: psi -> 0 gives alpha* -> 1, psi sigma*^2 ~ psi/i_perp, lambda* ~ psi/i_perp, lrt_scale -> 1 with
i_perp = E[rho''(beta G)] (classical Fisher information); psi -> psi*- sends alpha*, sigma*, lambda* to infinity.

Numerics. Every expectation is written in the variables (U, G) with Q2 = sqrt(v) U, v = alpha^2 beta^2 +
psi sigma^2, and Q1 | U = c U + d G (c = -alpha beta^2/sqrt(v), d = beta sqrt(psi) sigma/sqrt(v)), so that the
proximal operator is evaluated on one 1-D node set per point: E[A(Q1) B(Q2)] = E_U[M_A(U) B(sqrt(v) U)] with
M_A(U) = E_G[A(c U + d G)]. Both Gaussian integrals use the trapezoidal rule on [-9, 9] (exponentially
accurate for analytic integrands): the integrands are analytic in strips of half-width pi/sqrt(v) (prox, branch
points at Im z = +-pi) and pi/d (the sigmoid's poles), so the steps are min(0.5, 0.6/sqrt(v)) and
min(0.5, 0.6/d), which gives expectations to ~1e-13 (checked in the tests against nested refinement and the
(G1, G2) quadrature). M1 and M2 come from Stein's identity (no cancellation as beta -> 0) and the third
equation is solved as psi = E[2 rho'(Q1) (1 - 1/(1 + lambda rho''))] (E[2 rho'(Q1)] = 1), accurate for tiny psi.
The 3x3 system is solved by a damped Newton iteration with its analytic Jacobian in (log alpha,
log sqrt(psi) sigma, log lambda) to relative residuals 1e-12: one continuation path per distinct beta from the
classical values at psi0 = min(psi, psi*/50), uniform in logit(psi/psi*) with a tangent predictor, then every
grid point from the cubic Hermite interpolant of its path, polished by Newton in groups of similar grid size.
For sqrt(v) > 30 (large alpha* beta, or psi near psi*) the U rule is composite Gauss-Legendre in z, graded
around the prox branch points (``_u_nodes``), so that the cost grows like log v: psi = psi*(1 - 1e-7) takes
~1-2 s. Cost: ~1 s CPU for 400 points (beta = 1, 5). Known limit: the G grid has ~30 d nodes, d -> beta as
psi -> psi*; beyond 20000 nodes (beta >~ 600 close to psi*) ConvergenceError is raised at once, as it is
when the Jacobian becomes numerically singular (psi within ~1e-12 psi* of psi*, sigma* ~ 1e5).
"""
from __future__ import annotations

import numpy as np
from scipy import special

from overparam.errors import ConvergenceError
from overparam.models import LogisticMLE

from .max_margin import separability_threshold as _mm_threshold, test_error as _mm_test_error

_L = 9.0  # trapezoidal rule on [-9, 9]: Gaussian mass outside < 1e-18
_H_GAUSS, _H_POLE = 0.5, 0.6  # steps: min(_H_GAUSS, _H_POLE/scale) for a pole distance pi/scale
_START = 50.0  # continuation starts at psi0 = min(psi, psi*/50), from the classical values
_DG = 0.5  # continuation step in logit(psi/psi*)
_TOL = 1e-12  # scaled residual of the final solves
_MAXIT = 60
_MAX_NODES = 20_000


def _nodes(scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Trapezoidal nodes and weights for E[f(Z)], Z ~ N(0, 1), f analytic with poles at distance pi/scale.
    More than _MAX_NODES nodes (scale beyond ~700) raises ConvergenceError rather than running for minutes."""
    h = min(_H_GAUSS, _H_POLE / max(scale, 1e-300))
    if not 2 * _L / h <= _MAX_NODES:
        raise ConvergenceError(f"Sur-Candes quadrature: scale {scale:.3g} needs > {_MAX_NODES} trapezoid nodes "
                               "(beta or psi/psi* too large for the uniform grids)", np.nan, 0)
    m = int(np.ceil(_L / h))
    x = np.linspace(-_L, _L, 2 * m + 1)
    w = np.exp(-0.5 * x * x)
    return x, w / w.sum()


def prox(z: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """prox_{lambda rho}(z): the root u of u + lambda sigmoid(u) = z (in [z - lambda, z]); Newton safeguarded
    by bisection (taken when the Newton point leaves the bracket or the step fails to halve), to rounding."""
    z, lam = np.broadcast_arrays(np.asarray(z, float), np.asarray(lam, float))
    lo, hi = z - lam, z.copy()
    u = np.clip(z - lam * special.expit(z), lo, hi)
    last = hi - lo
    for _ in range(100):
        e = special.expit(u)
        f = u + lam * e - z
        lo, hi = np.where(f < 0, u, lo), np.where(f > 0, u, hi)
        step = f / (1 + lam * e * (1 - e))
        newton = ((u - step >= lo) & (u - step <= hi)
                  & ((np.abs(step) <= 0.5 * last) | (np.abs(step) <= 1e-8 * (1 + np.abs(u)))))
        new = np.where(newton, u - step, 0.5 * (lo + hi))
        last = np.where(newton, np.abs(step), 0.5 * (hi - lo))
        if np.all((np.abs(f) <= 1e-15 * (1 + np.abs(z) + lam)) | (hi - lo <= 1e-15 * (1 + np.abs(u)))):
            return u  # residual (terms of size |z|, lambda) or bracket at rounding level
        u = new
    raise ConvergenceError("proximal operator of the logistic loss", float(np.max(np.abs(f))), 100)


_GL_X, _GL_W = np.polynomial.legendre.leggauss(24)


def _u_nodes(sv: np.ndarray, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for E[f(U)], U ~ N(0, 1), of f(U) = M(U) B(sqrt(v) U). Small sqrt(v): the common
    trapezoidal grid of _nodes. Large sqrt(v) (> 30): per point, composite Gauss-Legendre (24 nodes a panel)
    in z = sqrt(v) U on [-9 sqrt(v), 9 sqrt(v)], panels graded geometrically (pi 2^k) away from the three places
    where the integrand varies on the scale pi: the proximal operator's branch points z = u + lambda
    sigmoid(u), u = +-2 asinh(sqrt(lambda)/2), and z = 0 (the sigmoid in M), plus breaks every sqrt(v) (the
    Gaussian). Shapes (nU,) or (npts, nU)."""
    if np.max(sv) <= 30:
        return _nodes(float(np.max(sv)))
    u = 2 * np.arcsinh(0.5 * np.sqrt(lam))
    centres = np.stack([np.zeros_like(sv), u + lam * special.expit(u), -u + lam * special.expit(-u)], axis=1)
    grade = np.pi * 2.0 ** np.arange(int(np.ceil(np.log2(2 * _L * np.max(sv) / np.pi))) + 1)
    edges = np.concatenate([(centres[:, :, None] + np.concatenate([-grade, grade])).reshape(len(sv), -1),
                            sv[:, None] * np.linspace(-_L, _L, int(2 * _L) + 1)], axis=1)
    edges = np.sort(np.clip(edges, -_L * sv[:, None], _L * sv[:, None]), axis=1)
    lo, hi = edges[:, :-1, None], edges[:, 1:, None]
    z = (0.5 * (hi + lo) + 0.5 * (hi - lo) * _GL_X).reshape(len(sv), -1)
    w = (0.5 * (hi - lo) * _GL_W).reshape(len(sv), -1)
    U = z / sv[:, None]
    return U, w * np.exp(-0.5 * U * U) / (np.sqrt(2 * np.pi) * sv[:, None])


def fisher_information(beta: np.ndarray) -> np.ndarray:
    """i_perp = E[rho''(beta G)]: the Fisher information of a direction orthogonal to b0 (classical limit)."""
    beta = np.atleast_1d(np.asarray(beta, float))
    x, w = _nodes(min(float(np.max(beta, initial=0.0)), 4.0))  # in G for beta <= 4
    e = special.expit(np.minimum(beta, 4.0)[:, None] * x)
    out = (e * (1 - e)) @ w
    t = np.linspace(-40, 40, 321)  # beta > 4: in t = beta G, rho''(t) phi(t/beta)/beta, poles of rho'' at +-i pi
    e = special.expit(t)
    big = beta > 4
    dens = np.exp(-0.5 * (t / beta[big, None]) ** 2) / (np.sqrt(2 * np.pi) * beta[big, None])
    out[big] = (dens * e * (1 - e)).sum(axis=1) * (t[1] - t[0])
    return out


def _system(psi: np.ndarray, beta: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scaled residuals R (npts, 3) and their Jacobian (npts, 3, 3) in y = (log alpha, log s, log lambda),
    s = sqrt(psi) sigma. For beta = 0 the alpha equation is replaced by log alpha = 0."""
    alpha, s, lam = np.exp(y).T
    v = (alpha * beta) ** 2 + s * s
    sv = np.sqrt(v)
    c, d = -alpha * beta**2 / sv, beta * s / sv
    U, wu = _u_nodes(sv, lam)
    G, wg = _nodes(float(np.max(d)))
    mu = c[:, None] * U  # E[Q1 | U]
    q1 = mu[:, :, None] + (d[:, None] * G)[:, None, :]  # (npts, nU, nG)
    e1 = special.expit(q1)
    e2 = e1 * (1 - e1)
    m0, p1, p2 = (2 * e1) @ wg, (2 * e2) @ wg, (2 * e2 * (1 - 2 * e1)) @ wg  # E[2 rho^(k+1)(Q1) | U]
    # M_k(U) = E[2 rho'(Q1) Q1^k | U] by Stein's identity E[f(Q1)(Q1 - mu)] = d^2 E[f'(Q1)] (no cancellation
    # for small beta): M1 = mu M0 + d^2 P1, M2 = mu M1 + d^2 (M0 + mu P1 + d^2 P2)
    d2 = (d * d)[:, None]
    m1 = mu * m0 + d2 * p1
    m2 = mu * m1 + d2 * (m0 + mu * p1 + d2 * p2)
    z = sv[:, None] * U
    lam_ = lam[:, None]
    p = prox(z, lam_)
    e = special.expit(p)
    r2, r3 = e * (1 - e), e * (1 - e) * (1 - 2 * e)  # rho'', rho'''
    D = 1 + lam_ * r2
    r = lam_ * e  # = z - prox(z), without cancellation
    rz, rl = lam_ * r2 / D, e / D  # dr/dz, dr/dlambda
    Dz, Dl = lam_ * r3 / D, r2 - lam_ * r3 * e / D  # dD/dz, dD/dlambda
    # (B, dB/dz, dB/dlambda) for B = r^2, r, 1 - 1/D and the weight M_k they are integrated against; the third
    # equation as psi = E[M0 (1 - 1/D)] (E[M0] = 1), free of cancellation when psi and lambda are small
    terms = ((r * r, 2 * r * rz, 2 * r * rl, 0), (r, rz, rl, 1), (lam_ * r2 / D, Dz / D**2, Dl / D**2, 0))
    mom = (m0, m1, m2)
    F, J = np.empty((len(psi), 3)), np.empty((len(psi), 3, 3))
    for i, (B, Bz, Bl, k) in enumerate(terms):
        mk, mk1 = mom[k], mom[k + 1]
        F[:, i] = np.sum(mk * B * wu, axis=-1)
        dalpha = -np.sum(mk1 * Bz * wu, axis=-1)  # d/dalpha E[A B(Q2)] = -E[A Q1 B'(Q2)]
        ds = (np.sum(mk * z * Bz * wu, axis=-1) - alpha * dalpha) / s  # E[A B'(Q2) G2], G2 = (Q2 + alpha Q1)/s
        J[:, i] = np.stack([dalpha * alpha, ds * s, np.sum(mk * Bl * wu, axis=-1) * lam], axis=1)
    # scaled residuals: E1/(psi s^2) - 1, E2/(beta min(beta, 1) sqrt(psi) s), E3/psi - 1
    scale = np.stack([psi * s * s, beta * np.minimum(beta, 1.0) * np.sqrt(psi) * s, psi], axis=1)
    null = beta == 0
    scale[null, 1] = 1.0
    F, J = F / scale, J / scale[:, :, None]
    J[:, 0, 1] -= 2 * F[:, 0]  # d/dlog s of 1/(psi s^2)
    J[~null, 1, 1] -= F[~null, 1]  # d/dlog s of 1/s
    F[:, 0] -= 1
    F[:, 2] -= 1
    F[null, 1] = y[null, 0]
    J[null, 1] = (1.0, 0.0, 0.0)
    return F, J


def _newton(psi: np.ndarray, beta: np.ndarray, y: np.ndarray, tol: float) -> np.ndarray:
    """Damped Newton on the scaled system from y (all points at once) to max |R| <= tol: steps capped at 1 in
    each log variable, halved while the residual norm does not decrease."""
    F, J = _system(psi, beta, y)
    for it in range(_MAXIT):
        res = np.max(np.abs(F), axis=1)
        if np.all(res <= tol):
            return y
        try:
            step = -np.linalg.solve(J, F[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            raise ConvergenceError("Sur-Candes system (singular Jacobian)", float(np.max(np.abs(F))), it) from None
        step /= np.maximum(1.0, np.max(np.abs(step), axis=1))[:, None]
        step[res <= tol] = 0.0
        for _ in range(30):
            trial = y + step
            Ft, Jt = _system(psi, beta, trial)
            worse = ~(np.max(np.abs(Ft), axis=1) < np.maximum(res, tol)) & (res > tol)
            if not worse.any():
                break
            step[worse] *= 0.5
        y, F, J = trial, Ft, Jt
    raise ConvergenceError("Sur-Candes system (alpha, sigma, lambda)", float(np.max(np.abs(F))), _MAXIT)


def _tangent(psi: np.ndarray, beta: np.ndarray, star: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dy/dg along the solution curve, g = logit(psi/psi*): -J^-1 dR/dpsi dpsi/dg (dR/dpsi = (-1/psi, 0, -1/psi)
    at R = 0)."""
    J = _system(psi, beta, y)[1]
    if not np.all(np.isfinite(J)) or np.any(np.abs(np.linalg.det(J)) < 1e-300):
        raise ConvergenceError("Sur-Candes continuation (singular Jacobian)", np.nan, 0)
    dR = np.stack([-1 / psi, np.zeros_like(psi), -1 / psi], axis=1) * (psi * (1 - psi / star))[:, None]
    return -np.linalg.solve(J, dR[:, :, None])[:, :, 0]


def _solve(psi: np.ndarray, beta: np.ndarray, star: np.ndarray) -> np.ndarray:
    """y = (log alpha*, log sqrt(psi) sigma*, log lambda*) for psi < psi* (1-D arrays).

    One continuation path per distinct beta, uniform in g = logit(psi/psi*) with steps <= _DG from the classical
    values at min(psi, psi*/50) (tangent predictor, Newton corrector); each point then starts from the cubic
    Hermite interpolant of its path and is polished by Newton, in groups of similar quadrature size."""
    g = special.logit(psi / star)
    betas, inv = np.unique(beta, return_inverse=True)
    bstar = separability_threshold(betas)
    lo = np.minimum(special.logit(1 / _START), np.minimum.reduceat(g[np.argsort(inv)], _starts(inv)))
    hi = np.maximum.reduceat(g[np.argsort(inv)], _starts(inv))
    steps = max(1, int(np.ceil(np.max(hi - lo) / _DG)))
    path = lo[:, None] + (hi - lo)[:, None] * np.linspace(0, 1, steps + 1)  # (nbeta, steps + 1)
    x = bstar * special.expit(path[:, 0])
    info = fisher_information(betas)
    y = _newton(x, betas, np.log(np.stack([np.ones_like(x), np.sqrt(x / info), x / info], axis=1)), 1e-10)
    ys, ts = [y], [_tangent(x, betas, bstar, y)]
    for k in range(1, steps + 1):
        x_next = bstar * special.expit(path[:, k])
        y = _newton(x_next, betas, y + ts[-1] * (path[:, k] - path[:, k - 1])[:, None], 1e-10)
        ys.append(y)
        ts.append(_tangent(x_next, betas, bstar, y))
    ys, ts = np.stack(ys, axis=1), np.stack(ts, axis=1)  # (nbeta, steps + 1, 3)
    # cubic Hermite interpolation on each point's path
    width = (hi - lo)[inv] / steps
    pos = np.where(width > 0, (g - lo[inv]) / np.where(width > 0, width, 1), 0.0)
    k = np.clip(np.floor(pos).astype(int), 0, steps - 1)
    u = (pos - k)[:, None]
    h00, h10, h01, h11 = 2 * u**3 - 3 * u**2 + 1, u**3 - 2 * u**2 + u, -2 * u**3 + 3 * u**2, u**3 - u**2
    y0 = (h00 * ys[inv, k] + h10 * width[:, None] * ts[inv, k] + h01 * ys[inv, k + 1]
          + h11 * width[:, None] * ts[inv, k + 1])
    return _polish(psi, beta, y0)


def _starts(inv: np.ndarray) -> np.ndarray:
    """Start offsets of the groups 0, 1, ... in inv sorted (for np.*.reduceat)."""
    return np.searchsorted(np.sort(inv), np.arange(inv.max() + 1))


def _polish(psi: np.ndarray, beta: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Newton to _TOL from close starts, points grouped by their quadrature size (powers of 2) so that a few
    points near psi* (large v, fine grids) do not set the grid of all the others."""
    alpha, s, _ = np.exp(y).T
    sv = np.sqrt((alpha * beta) ** 2 + s * s)
    size = np.maximum(1, sv) * np.maximum(1, beta * s / sv)
    group = np.floor(np.log2(size)).astype(int)
    out = np.empty_like(y)
    for gr in np.unique(group):
        at = group == gr
        out[at] = _newton(psi[at], beta[at], y[at], _TOL)
    return out


def separability_threshold(beta: np.ndarray) -> np.ndarray:
    """psi*(beta): the MLE exists w.h.p. iff psi < psi*; max-margin's threshold for logistic:beta labels
    (purenoise, 1/2, for beta = 0). Vectorised over beta (one solve per distinct value)."""
    beta = np.asarray(beta, float)
    values, inverse = np.unique(beta, return_inverse=True)
    star = np.array([_mm_threshold(LogisticMLE.labels(b)) for b in values])
    return star[inverse].reshape(beta.shape)


def solve(psi: np.ndarray, beta: np.ndarray) -> dict[str, np.ndarray]:
    """(alpha*, sigma*, lambda*) of the Sur-Candes system in their units, broadcast over psi and beta; NaN
    where psi >= psi*(beta) (alpha* NaN also for beta = 0, where it is undefined)."""
    psi, beta = np.broadcast_arrays(np.asarray(psi, float), np.asarray(beta, float))
    star = separability_threshold(beta)
    out = {k: np.full(psi.shape, np.nan) for k in ("alpha", "sigma", "lambda")}
    inside = psi < star
    if inside.any():
        alpha, s, lam = np.exp(_solve(psi[inside], beta[inside], star[inside])).T
        out["alpha"][inside] = np.where(beta[inside] > 0, alpha, np.nan)
        out["sigma"][inside] = s / np.sqrt(psi[inside])
        out["lambda"][inside] = lam
    return out


def theory(model: LogisticMLE) -> dict[str, np.ndarray]:
    """All metrics of ``model`` (psi, beta scalars or arrays broadcasting together); see the module docstring."""
    psi, beta = np.broadcast_arrays(np.asarray(model.psi, float), np.asarray(model.beta, float))
    sol = solve(psi, beta)
    alpha = sol["alpha"]
    perp2 = psi * sol["sigma"] ** 2
    signal = np.where(beta > 0, alpha * beta, 0.0)
    cos = signal / np.sqrt(signal**2 + perp2)
    err = np.full(psi.shape, np.nan)
    for b in np.unique(beta):
        at = (beta == b) & np.isfinite(cos)
        if at.any():
            err[at] = _mm_test_error(LogisticMLE.labels(b), cos[at])
    out = {"bias_inflation": alpha, "sigma_perp2": perp2, "lrt_scale": perp2 / sol["lambda"], "test_error": err,
           "cos_angle": cos, "mle_exists": np.isfinite(perp2).astype(float),
           "separability_threshold": separability_threshold(beta)}
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}


__all__ = ["theory", "solve", "separability_threshold", "fisher_information", "prox"]
