"""Benchmarks of the lasso family (python benchmarks/lasso.py [--quick]: no 1600 x 3200), rules in benchmarks/timing.py.

1. One lam (the CLI default lam = 0.1, delta = 0.5, eps = 0.1, sigma2 = 0.01) at n x p = 400 x 800, 800 x 1600,
   1600 x 3200: ``simulate.lasso.lasso_path`` (working-set coordinate descent, gap-safe screening, exact polish;
   tol 1e-10) against scikit-learn ``Lasso(tol=1e-12)`` (the tol whose gap reaches ours). Both print the
   certified relative duality gap of the point they return.
2. A 50-value lam path (lam_max x geomspace(1, 1e-3)) at 500 x 1000: ours against the exact path
   ``lars_path(method="lasso")`` evaluated at the grid (linear between its kinks) and scikit-learn
   ``lasso_path`` (tol 1e-8, timed once: it does not reach the gap of the others in reasonable time).
3. The state-evolution curve: 10 and 1000 lam points in one call; a per-point quad + brentq solve is
   "what a naive user runs" (cold, every point).
4. First run: CPU time of a fresh process simulating one replicate with an empty Numba cache (children's
   CPU time), for one lam (coordinate descent only) and for a grid that also needs the homotopy.
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import warnings

import numpy as np
from scipy import integrate, optimize, stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso as SkLasso, lars_path, lasso_path as sk_lasso_path

from timing import cpu_time, interleaved, main, report

from overparam.models import Lasso
from overparam.simulate import lasso as S
from overparam.theory import lasso as T


def _problem(n: int, p: int):
    return S.draw(Lasso(delta=n / p, eps=0.1, sigma2=0.01), {"n": n, "p": p}, np.random.default_rng(0))


def _worst_gap(X, y, B, lams) -> str:
    return f"max rel. gap {max(S.duality_gap(X, y, b, lam) for b, lam in zip(B, lams)):.1e}"


def bench_one_lam(rounds: int, options) -> None:
    lam = 0.1
    for n in (400, 800) if options.quick else (400, 800, 1600):
        X, _, y = _problem(n, 2 * n)
        res = interleaved({
            "ours lasso_path (CD + screening, tol 1e-10)": lambda: S.lasso_path(X, y, [lam], tol=1e-10)[0],
            "sklearn Lasso(tol=1e-12)": lambda: SkLasso(alpha=lam / n, fit_intercept=False, tol=1e-12,
                                                        max_iter=10**6).fit(X, y).coef_[None],
        }, rounds)
        rows = {name: (t, _worst_gap(X, y, B, [lam])) for name, (t, B) in res.items()}
        report(f"one lam = {lam}, n x p = {n} x {2 * n}", rows, "ours lasso_path (CD + screening, tol 1e-10)")


def _lars_at(X, y, lams):
    """The exact path (lars_path) at the grid, linear between its kinks. alpha_min is 1 % below the grid's
    smallest lam: lars_path then stops at the first kink past it (500 x 1000: 760 iterations, all 50 lams);
    with alpha_min = the smallest lam exactly it stops one kink short of it (758 iterations, 49 lams)."""
    n = X.shape[0]
    alphas, _, coefs = lars_path(X, y, method="lasso", alpha_min=0.99 * lams.min() / n, max_iter=10**6)
    knots = alphas * n  # decreasing; the path is linear between kinks
    reach = lams >= knots[-1]
    i = np.clip(np.searchsorted(-knots, -lams[reach]), 1, knots.size - 1)
    w = (knots[i - 1] - lams[reach]) / (knots[i - 1] - knots[i])
    return (1 - w)[:, None] * coefs[:, i - 1].T + w[:, None] * coefs[:, i].T, reach


def bench_path(rounds: int, options=None) -> None:
    n, p = 500, 1000
    X, _, y = _problem(n, p)
    lams = np.max(np.abs(X.T @ y)) * np.geomspace(1.0, 1e-3, 50)
    res = interleaved({"ours lasso_path (tol 1e-10)": lambda: S.lasso_path(X, y, lams, tol=1e-10)[0],
                       "sklearn lars_path(method='lasso'), exact path": lambda: _lars_at(X, y, lams)}, rounds)
    B_lars, reach = res["sklearn lars_path(method='lasso'), exact path"][1]
    rows = {"ours lasso_path (tol 1e-10)": (res["ours lasso_path (tol 1e-10)"][0],
                                            _worst_gap(X, y, res["ours lasso_path (tol 1e-10)"][1], lams)),
            "sklearn lars_path(method='lasso'), exact path": (res["sklearn lars_path(method='lasso'), exact path"][0],
                                                              _worst_gap(X, y, B_lars, lams[reach])
                                                              + f" ({reach.sum()}/50 lams reached)")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t, (_, coefs, _) = cpu_time(lambda: sk_lasso_path(X, y, alphas=lams / n, tol=1e-8, max_iter=10**5))
    rows["sklearn lasso_path(tol=1e-8), timed once"] = (t, _worst_gap(X, y, coefs.T, lams))
    report(f"50-lam path, n x p = {n} x {p}", rows, "ours lasso_path (tol 1e-10)")


def _quad_point(lam, delta, eps, sigma2):
    """What a naive user runs: quadrature expectations, brentq for tau(alpha) and alpha(lam), per point."""
    def channel(tau, theta):
        eta = lambda u: np.sign(u) * max(abs(u) - theta, 0.0)  # noqa: E731
        m0 = integrate.quad(lambda z: eta(tau * z) ** 2 * stats.norm.pdf(z), -np.inf, np.inf)[0]
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


def bench_theory(rounds: int, options=None) -> None:
    delta, eps, sigma2 = 1.5, 0.1, 0.04
    curves = {f"ours theory, {k} points{', sigma2 = 0' if s2 == 0 else ''}":
              (lambda k=k, s2=s2: T.theory(Lasso(delta=0.5 if s2 == 0 else delta, eps=eps, sigma2=s2,
                                                 lam=np.geomspace(0.05, 5, k))))
              for k in (10, 1000) for s2 in (sigma2, 0.0)}
    res = interleaved(curves, rounds)
    lams = np.geomspace(0.05, 5, 1000)
    sub = lams[::100]
    t, ref = cpu_time(lambda: [_quad_point(lam, delta, eps, sigma2) for lam in sub])
    ours = res["ours theory, 1000 points"][1]["threshold"][::100]
    rows = {name: (tt, "") for name, (tt, _) in res.items()}
    rows["naive: quad + brentq per point (x 1000 / 10)"] = (t * 100, f"max |alpha diff| "
                                                            f"{np.max(np.abs(np.array(ref) - ours)):.1e}")
    report("state evolution lam curves", rows, "ours theory, 1000 points")


def bench_first_run(rounds: int = 1, options=None) -> None:
    code = ("import numpy as np; from overparam.models import Lasso; from overparam.simulate import lasso as S; "
            "m = Lasso(delta=0.5, eps=0.1, sigma2=0.01, lam={lam}); S.replicate(m, m.sizes(100), "
            "np.random.default_rng(0))")
    print("first run (fresh process, empty NUMBA_CACHE_DIR; CPU time incl. imports)")
    for label, lam in (("one lam (coordinate descent)", "0.1"), ("lam grid reaching the homotopy", "np.array([1e-4, 0.1])")):
        for cache in ("cold", "warm"):
            with tempfile.TemporaryDirectory() as tmp:
                env = dict(os.environ, NUMBA_CACHE_DIR=tmp, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
                runs = 2 if cache == "warm" else 1
                for _ in range(runs):
                    before = resource.getrusage(resource.RUSAGE_CHILDREN)
                    subprocess.run([sys.executable, "-W", "ignore", "-c", code.format(lam=lam)], env=env, check=True)
                    after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            print(f"  {label:34s} {cache} cache: {cpu:6.2f} s CPU")


if __name__ == "__main__":
    main(__doc__, bench_one_lam, bench_path, bench_theory, bench_first_run)
