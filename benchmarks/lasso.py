"""Benchmarks of the lasso family (python benchmarks/lasso.py): ours vs what a user would otherwise run.

1. A 50-value lam path at n = 500, p = 1000 to a relative duality gap of 1e-8: ``simulate.lasso.lasso_path``
   (homotopy + certified coordinate-descent refinement, Numba) vs scikit-learn ``lasso_path`` with the same
   accuracy requested (sklearn's tol is a duality gap relative to ||y||^2/n after its 1/(2n) scaling).
2. A 1000-point lam curve of the state evolution: ``theory.lasso.theory`` (closed forms, vectorised) vs a
   per-point scipy ``quad`` + ``brentq`` solve (timed on a subset of points, extrapolated per point).
"""
import time
import warnings

import numpy as np
from scipy import integrate, optimize, stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import lasso_path as sk_lasso_path

from overparam.models import Lasso
from overparam.simulate import lasso as S
from overparam.theory import lasso as T


def bench_path() -> None:
    rng = np.random.default_rng(0)
    n, p = 500, 1000
    X, beta, y = S.draw(Lasso(delta=0.5, eps=0.1, sigma2=0.01), {"n": n, "p": p}, rng)
    lam_max = np.max(np.abs(X.T @ y))
    lams = lam_max * np.geomspace(1.0, 1e-3, 50)
    S.lasso_path(X[:20, :40], y[:20], lams[:2])  # compile (cached) outside the timing
    t0 = time.perf_counter()
    B, gaps = S.lasso_path(X, y, lams, tol=1e-8)
    ours = time.perf_counter() - t0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        t0 = time.perf_counter()
        _, coefs, _ = sk_lasso_path(X, y, alphas=lams / n, tol=1e-8, max_iter=10000)
        theirs = time.perf_counter() - t0
    failed = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    sk_rel = [S.duality_gap(X, y, coefs[:, k], lam) for k, lam in enumerate(lams)]
    print(f"lam path (n={n}, p={p}, 50 lams, rel. gap 1e-8): ours {ours:.2f} s (max gap {gaps.max():.1e}, "
          f"0 failures); sklearn lasso_path {theirs:.2f} s ({failed} convergence warnings, max rel. gap "
          f"{max(sk_rel):.1e}); ratio {theirs / ours:.1f}x")


def _quad_point(lam, delta, eps, sigma2):
    """Per-point reference solve: quadrature expectations, brentq for tau(alpha) and alpha(lam)."""
    def channel(tau, theta):
        eta = lambda u: np.sign(u) * max(abs(u) - theta, 0.0)  # noqa: E731
        f0 = lambda z: eta(tau * z) ** 2 * stats.norm.pdf(z)  # noqa: E731
        m0 = integrate.quad(f0, -np.inf, np.inf, points=None)[0]
        v = 1 + tau * tau
        m1 = integrate.quad(lambda u: ((eta(u) - u / v) ** 2 + tau * tau / v) * stats.norm.pdf(u, scale=np.sqrt(v)),
                            -np.inf, np.inf)[0]
        d = (1 - eps) * 2 * stats.norm.sf(theta / tau) + eps * 2 * stats.norm.sf(theta / np.sqrt(v))
        return (1 - eps) * m0 + eps * m1, d

    def tau_of(alpha):
        h = lambda s: sigma2 + channel(np.exp(s / 2), alpha * np.exp(s / 2))[0] / delta - np.exp(s)  # noqa: E731
        return np.exp(optimize.brentq(h, np.log(sigma2), np.log(sigma2 + 10 * (1 + eps / delta))) / 2)

    def cal(alpha):
        tau = tau_of(alpha)
        return alpha * tau * (1 - channel(tau, alpha * tau)[1] / delta) - lam

    return optimize.brentq(cal, 1e-3, 20.0, xtol=1e-10)


def bench_state_evolution() -> None:
    delta, eps, sigma2 = 1.5, 0.1, 0.04
    lams = np.geomspace(0.05, 5, 1000)
    t0 = time.perf_counter()
    ours = T.theory(Lasso(delta=delta, eps=eps, sigma2=sigma2, lam=lams))
    t_ours = time.perf_counter() - t0
    sub = lams[::100]
    t0 = time.perf_counter()
    ref = [_quad_point(lam, delta, eps, sigma2) for lam in sub]
    per_point = (time.perf_counter() - t0) / len(sub)
    err = np.max(np.abs(np.array(ref) - ours["threshold"][::100]))
    print(f"state evolution, 1000-point lam curve: ours {t_ours:.3f} s; quad+brentq {per_point * 1e3:.0f} ms/point "
          f"-> {per_point * 1000:.0f} s for 1000 (timed on {len(sub)}); ratio {per_point * 1000 / t_ours:.0f}x; "
          f"max |alpha difference| {err:.1e}")


if __name__ == "__main__":
    bench_path()
    bench_state_evolution()
