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
log sqrt(psi) sigma, log lambda) to relative residuals 1e-12, iterating only the points not yet converged.
Continuation paths start from the classical values at psi0 = min(psi, psi*/50) and are uniform in
g = logit(psi/psi*) with a tangent predictor: one path per distinct beta when there are at most 12, else one
per knot, 12 betas spread over the distinct values. Every grid point then starts from the cubic Hermite
interpolant of its beta's path or, between knots, from the cubic Lagrange interpolant in beta of the 4 nearest
positive knots' paths at its g (beta = 0, where alpha is void, is a knot of its own), and is polished by Newton
in groups of similar grid size; points that do not converge from an interpolated start are solved again with
4 times as many knots (in the end on paths of their own beta). So the cost of a grid is set by its number of
points, along either axis or both.
For sqrt(v) > 30 (large alpha* beta, or psi near psi*) the U rule is composite Gauss-Legendre in z, graded
around the prox branch points (``_u_nodes``), so that the cost grows like log v: psi = psi*(1 - 1e-7) takes
~1-2 s. Cost (CPU): 1000 points in psi at beta = 1 ~0.2 s; 1000 points in beta at psi = 0.2 ~0.7 s plus
~0.6 s for the 1000 thresholds psi*(beta) (one max-margin solve per distinct beta). Known limit: the G grid
has ~30 d nodes, d -> beta as psi -> psi*; beyond 20000 nodes (beta >~ 600 close to psi*) ConvergenceError
is raised at once, as it is when the Jacobian becomes numerically singular (psi within ~1e-12 psi* of psi*,
sigma* ~ 1e5).
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
_KNOTS = 12  # more distinct betas: paths for 12 of them, the others interpolated in beta


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
    by bisection (taken when the Newton point leaves the bracket or the step fails to halve), to rounding.
    Only the entries not yet at rounding level are iterated."""
    z, lam = np.broadcast_arrays(np.asarray(z, float), np.asarray(lam, float))
    shape, z, lam = z.shape, z.ravel(), lam.ravel()
    lo, hi = z - lam, z.copy()
    u = np.clip(z - lam * special.expit(z), lo, hi)
    out, live, last = np.empty_like(u), np.arange(u.size), hi - lo
    for _ in range(100):
        e = special.expit(u)
        f = u + lam * e - z
        lo, hi = np.where(f < 0, u, lo), np.where(f > 0, u, hi)
        # residual (terms of size |z|, lambda) or bracket at rounding level
        done = (np.abs(f) <= 1e-15 * (1 + np.abs(z) + lam)) | (hi - lo <= 1e-15 * (1 + np.abs(u)))
        out[live[done]] = u[done]
        if done.all():
            return out.reshape(shape)
        keep = ~done
        live, z, lam, lo, hi, u, e, f, last = (x[keep] for x in (live, z, lam, lo, hi, u, e, f, last))
        step = f / (1 + lam * e * (1 - e))
        newton = ((u - step >= lo) & (u - step <= hi)
                  & ((np.abs(step) <= 0.5 * last) | (np.abs(step) <= 1e-8 * (1 + np.abs(u)))))
        u, last = np.where(newton, u - step, 0.5 * (lo + hi)), np.where(newton, np.abs(step), 0.5 * (hi - lo))
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


def _conditional_moments(mu: np.ndarray, dG: np.ndarray, wg: np.ndarray) -> tuple[np.ndarray, ...]:
    """E[2 rho^(k+1)(Q1) | U], k = 0, 1, 2, for Q1 = mu + d G: mu (npts, nU), dG = d G at the G nodes
    (npts, nG). The (npts, nU, nG) tensor is the bulk of the work: two buffers, updated in place."""
    e1 = np.add(mu[:, :, None], dG[:, None, :])  # Q1
    np.negative(e1, out=e1)
    with np.errstate(over="ignore"):  # exp(-Q1) = inf gives rho'(Q1) = 0
        np.exp(e1, out=e1)
    e1 += 1
    np.reciprocal(e1, out=e1)  # rho'(Q1) = sigmoid(Q1)
    m0 = 2 * (e1 @ wg)
    e2 = np.subtract(1, e1)
    e2 *= e1  # rho''
    p1 = 2 * (e2 @ wg)
    e1 *= -2
    e1 += 1
    e1 *= e2  # rho^(3) = rho'' (1 - 2 rho')
    return m0, p1, 2 * (e1 @ wg)


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
    m0, p1, p2 = _conditional_moments(mu, d[:, None] * G, wg)
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


def _newton(psi: np.ndarray, beta: np.ndarray, y: np.ndarray, tol: float,
            strict: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Damped Newton on the scaled system from y (all points at once) to max |R| <= tol: steps capped at 1 in
    each log variable, halved while the residual norm does not decrease; only the points not yet converged
    are evaluated. Returns (y, J at y, converged mask); strict: ConvergenceError unless all converged."""
    y = np.array(y, dtype=float)
    F, J = _system(psi, beta, y)
    J_out = J.copy()
    live, res = np.arange(len(psi)), np.max(np.abs(F), axis=1)
    for it in range(_MAXIT):
        keep = ~(res <= tol)  # NaN: not converged
        live, F, J, res = live[keep], F[keep], J[keep], res[keep]
        if live.size == 0:
            return y, J_out, np.ones(len(psi), bool)
        try:
            step = -np.linalg.solve(J, F[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            if strict:
                raise ConvergenceError("Sur-Candes system (singular Jacobian)", float(np.max(res)), it) from None
            break
        step /= np.maximum(1.0, np.max(np.abs(step), axis=1))[:, None]
        trial = y[live] + step
        F, J = _system(psi[live], beta[live], trial)
        for _ in range(30):  # halve the steps of the points whose residual did not decrease
            worse = np.flatnonzero(~(np.max(np.abs(F), axis=1) < res))
            if worse.size == 0:
                break
            step[worse] *= 0.5
            trial[worse] = y[live[worse]] + step[worse]
            F[worse], J[worse] = _system(psi[live[worse]], beta[live[worse]], trial[worse])
        y[live], J_out[live] = trial, J
        res = np.max(np.abs(F), axis=1)
    converged = np.ones(len(psi), bool)
    converged[live[~(res <= tol)]] = False
    if strict and not converged.all():
        raise ConvergenceError("Sur-Candes system (alpha, sigma, lambda)", float(np.max(res)), _MAXIT)
    return y, J_out, converged


def _tangent(psi: np.ndarray, star: np.ndarray, J: np.ndarray) -> np.ndarray:
    """dy/dg along the solution curve, g = logit(psi/psi*): -J^-1 dR/dpsi dpsi/dg (dR/dpsi = (-1/psi, 0, -1/psi)
    at R = 0), J the Jacobian at the solution."""
    if not np.all(np.isfinite(J)) or np.any(np.abs(np.linalg.det(J)) < 1e-300):
        raise ConvergenceError("Sur-Candes continuation (singular Jacobian)", np.nan, 0)
    dR = np.stack([-1 / psi, np.zeros_like(psi), -1 / psi], axis=1) * (psi * (1 - psi / star))[:, None]
    return -np.linalg.solve(J, dR[:, :, None])[:, :, 0]


def _paths(betas: np.ndarray, bstar: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, ...]:
    """Continuation paths in g = logit(psi/psi*), one per beta, uniform on [lo, hi] in steps <= _DG, from the
    classical values at g = lo (tangent predictor, Newton corrector). Returns the solutions and tangents
    (nbeta, max steps + 1, 3; a path's last node repeated beyond its end), the step widths and the numbers of
    steps (nbeta,)."""
    n = np.maximum(1, np.ceil((hi - lo) / _DG)).astype(int)
    width = (hi - lo) / n
    x = bstar * special.expit(lo)
    info = fisher_information(betas)
    y, J, _ = _polish(x, betas, np.log(np.stack([np.ones_like(x), np.sqrt(x / info), x / info], axis=1)), 1e-10)
    ys, ts = [y], [_tangent(x, bstar, J)]
    for k in range(1, n.max() + 1):
        y, t, on = ys[-1].copy(), ts[-1].copy(), k <= n
        x = bstar[on] * special.expit(lo[on] + k * width[on])
        y[on], J, _ = _polish(x, betas[on], y[on] + t[on] * width[on, None], 1e-10)
        t[on] = _tangent(x, bstar[on], J)
        ys.append(y)
        ts.append(t)
    return np.stack(ys, axis=1), np.stack(ts, axis=1), width, n


def _on_path(paths: tuple[np.ndarray, ...], lo: np.ndarray, k: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The cubic Hermite interpolant of path k (arrays of path indices) at g."""
    ys, ts, width, n = paths
    w = width[k]
    pos = np.where(w > 0, (g - lo[k]) / np.where(w > 0, w, 1), 0.0)
    i = np.clip(np.floor(pos).astype(int), 0, n[k] - 1)
    u = (pos - i)[:, None]
    h00, h10, h01, h11 = 2 * u**3 - 3 * u**2 + 1, u**3 - 2 * u**2 + u, -2 * u**3 + 3 * u**2, u**3 - u**2
    return h00 * ys[k, i] + h10 * w[:, None] * ts[k, i] + h01 * ys[k, i + 1] + h11 * w[:, None] * ts[k, i + 1]


def _stencil(beta: np.ndarray, knots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices into knots (npts, 4) and cubic Lagrange weights in beta; a knot's own points take weight 1 on
    it. Other points interpolate between the 4 nearest positive knots (beta = 0, the null, where alpha is
    undefined, is not used)."""
    j = np.searchsorted(knots, beta)
    own = (j < knots.size) & (knots[np.minimum(j, knots.size - 1)] == beta)
    first = int(knots[0] == 0)  # index of the smallest positive knot
    start = np.clip(j - 2, first, knots.size - 4)
    idx = start[:, None] + np.arange(4)
    kb = knots[idx]
    w = np.ones_like(kb)
    for a in range(4):
        for b in range(4):
            if a != b:
                w[:, a] *= (beta - kb[:, b]) / (kb[:, a] - kb[:, b])
    idx[own], w[own] = np.minimum(j[own], knots.size - 1)[:, None], (1.0, 0.0, 0.0, 0.0)
    return idx, w


def _solve(psi: np.ndarray, beta: np.ndarray, star: np.ndarray, knots: int = _KNOTS) -> np.ndarray:
    """y = (log alpha*, log sqrt(psi) sigma*, log lambda*) for psi < psi* (1-D arrays).

    Continuation paths in g = logit(psi/psi*) (``_paths``): one per distinct beta if there are at most
    ``knots`` of them, else one per knot beta, ``knots`` values spread over the sorted distinct ones (0 and
    the smallest and largest positive ones included). Each point starts from the cubic Hermite interpolant of
    its beta's path or, off the knots, from the cubic Lagrange interpolant in beta of the 4 nearest positive
    knots' paths at its g, and is polished by Newton; points that do not converge from an interpolated start
    are solved again with 4 times as many knots (in the end on paths of their own beta)."""
    g = special.logit(psi / star)
    betas, first = np.unique(beta, return_index=True)
    if betas.size <= knots:
        return _solve_on_paths(psi, beta, star, betas, first, g)
    positive = betas[betas > 0]
    pick = np.unique(np.linspace(0, positive.size - 1, knots - int(betas[0] == 0)).round().astype(int))
    kb = np.concatenate([betas[:1][betas[:1] == 0], positive[pick]])
    idx, w = _stencil(beta, kb)
    used = w != 0
    at, g_at = idx[used], np.broadcast_to(g[:, None], idx.shape)[used]
    lo, hi = np.full(kb.size, special.logit(1 / _START)), np.full(kb.size, -np.inf)
    np.minimum.at(lo, at, g_at)
    np.maximum.at(hi, at, g_at)
    paths = _paths(kb, star[first][np.searchsorted(betas, kb)], lo, hi)
    y0 = sum(w[:, a, None] * _on_path(paths, lo, idx[:, a], g) for a in range(4))
    y, _, ok = _polish(psi, beta, y0, strict=False)
    if not ok.all():
        y[~ok] = _solve(psi[~ok], beta[~ok], star[~ok], 4 * knots)
    return y


def _solve_on_paths(psi: np.ndarray, beta: np.ndarray, star: np.ndarray, betas: np.ndarray, first: np.ndarray,
                    g: np.ndarray) -> np.ndarray:
    """One path per distinct beta (betas, first: np.unique(beta, return_index=True)), every point started
    from its path's Hermite interpolant and polished by Newton."""
    inv = np.searchsorted(betas, beta)
    lo = np.full(betas.size, special.logit(1 / _START))
    hi = np.full(betas.size, -np.inf)
    np.minimum.at(lo, inv, g)
    np.maximum.at(hi, inv, g)
    paths = _paths(betas, star[first], lo, hi)
    return _polish(psi, beta, _on_path(paths, lo, inv, g))[0]


def _polish(psi: np.ndarray, beta: np.ndarray, y: np.ndarray, tol: float = _TOL,
            strict: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``_newton`` from close starts, points grouped by their quadrature size (powers of 2) so that a few
    points near psi* (large v, fine grids) do not set the grid of all the others. Returns (y, J, converged);
    strict=False: a group that raises ConvergenceError is marked not converged."""
    alpha, s, _ = np.exp(y).T
    sv = np.sqrt((alpha * beta) ** 2 + s * s)
    size = np.maximum(1, sv) * np.maximum(1, beta * s / sv)
    group = np.floor(np.log2(np.where(np.isfinite(size), size, 1.0))).astype(int)
    out, J, ok = np.empty_like(y), np.empty((len(y), 3, 3)), np.ones(len(y), bool)
    for gr in np.unique(group):
        at = group == gr
        try:
            out[at], J[at], ok[at] = _newton(psi[at], beta[at], y[at], tol, strict)
        except ConvergenceError:
            if strict:
                raise
            ok[at] = False
    return out, J, ok


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
    return _solution(psi, beta, separability_threshold(beta))


def _solution(psi: np.ndarray, beta: np.ndarray, star: np.ndarray) -> dict[str, np.ndarray]:
    """``solve`` for broadcast psi, beta with star = psi*(beta)."""
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
    star = separability_threshold(beta)
    sol = _solution(psi, beta, star)
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
           "separability_threshold": star}
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}


__all__ = ["theory", "solve", "separability_threshold", "fisher_information", "prox"]
