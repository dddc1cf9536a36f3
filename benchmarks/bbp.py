"""BBP benchmarks (python benchmarks/bbp.py [--quick] [--naive]), rules in benchmarks/timing.py.

1. Top eigenpair of an N = 4000 (--quick: 2000) spiked Wigner matrix (theta = 2): ours
   (``overparam.simulate.bbp.top_pair``, ARPACK Lanczos, tol 1e-12) against the competent alternatives
   ``scipy.linalg.eigh(subset_by_index=[N-1, N-1])`` (LAPACK, top pair only), ``scipy.sparse.linalg.eigsh``
   with default settings and ``lobpcg`` (tol 1e-9, random start); the residual ||Y v - lam v|| of each pair
   is printed beside. "What a naive user runs": the full ``numpy.linalg.eigh`` (--naive; 30-150 s at N = 4000
   on a busy 2-core machine).
2. A 300-point spectral-pr theory curve (luo-alghamdi-lu, mondelli-montanari): the vectorised solver against
   a per-point quad + brentq loop on the same Lu-Li equations (timed on every 5th point, scaled to 300).
3. Theory curves of the other bbp models: 10 and 1000 points per call (hessian-init: its fixed cost).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import integrate, linalg, optimize
from scipy.sparse.linalg import eigsh, lobpcg

from timing import interleaved, main, report

from overparam.models import HessianInit, SpectralPR, SpikedCovariance, SpikedWigner
from overparam.simulate.bbp import top_pair, wigner_matrix
from overparam.theory import bbp as th
from overparam.theory.bbp import spectral_pr


def bench_eigenpair(rounds: int, options) -> None:
    n, naive = (2000 if options.quick else 4000), options.naive
    rng = np.random.default_rng(0)
    y = wigner_matrix(2.0, n, rng)
    x0 = rng.standard_normal((n, 1))
    contenders = {
        "ours top_pair (eigsh, tol 1e-12)": lambda: top_pair(y, np.random.default_rng(1)),
        "scipy.linalg.eigh(subset_by_index=[N-1, N-1])": lambda: (lambda w, v: (w[0], v[:, 0]))(
            *linalg.eigh(y, subset_by_index=[n - 1, n - 1])),
        "scipy.sparse.linalg.eigsh(k=1, which='LA')": lambda: (lambda w, v: (w[0], v[:, 0]))(
            *eigsh(y, k=1, which="LA")),
        "scipy.sparse.linalg.lobpcg(tol=1e-9)": lambda: (lambda w, v: (w[0], v[:, 0]))(
            *lobpcg(y, x0, tol=1e-9, maxiter=2000, largest=True)),
    }
    if naive:
        contenders["naive: numpy.linalg.eigh (full)"] = lambda: (lambda w, v: (w[-1], v[:, -1]))(*np.linalg.eigh(y))
    res = interleaved(contenders, rounds if not naive else 1)
    rows = {name: (t, f"residual ||Yv - lam v|| {np.linalg.norm(y @ v - lam * v):.1e}")
            for name, (t, (lam, v)) in res.items()}
    report(f"top eigenpair, spiked Wigner N = {n}", rows, "ours top_pair (eigsh, tol 1e-12)")


def _t(prep: str, alpha: float):
    """T(y) of luo-alghamdi-lu or mondelli-montanari (both have sup T = 1)."""
    if prep == "mondelli-montanari" and alpha > 0.5:
        s = math.sqrt(2 * alpha)
        return lambda y: (y - 1) / (y + s - 1)
    return lambda y: 1 - 1 / y


def _quad_point(prep: str, alpha: float) -> tuple[float, float]:
    """Per-point Lu-Li solution with quad over G and brentq (tau = 1)."""
    t = _t(prep, alpha)

    def e(f):
        return 2 * integrate.quad(lambda g: f(g * g) * math.exp(-g * g / 2) / math.sqrt(2 * math.pi),
                                  0, 13, limit=200)[0]
    a2 = lambda lam: e(lambda y: t(y) ** 2 / (lam - t(y)) ** 2)
    h = lambda lam: e(lambda y: t(y) * (y - 1) / (lam - t(y)))
    if a2(1.0) <= (1 + 1e-9) / alpha:  # hard edge (mondelli-montanari: exactly marginal)
        lam_bar = 1.0
    else:
        lam_bar = 1 + math.exp(optimize.brentq(lambda s: a2(1 + math.exp(s)) - 1 / alpha, -35, 5))
    if h(lam_bar) <= 1 / alpha:
        lam, overlap = lam_bar, 0.0
    else:
        lam = optimize.brentq(lambda l: h(l) - 1 / alpha, lam_bar + 1e-12, 100)
        dpsi = 1 / alpha - a2(lam)
        overlap = dpsi / (dpsi + e(lambda y: t(y) ** 2 * y / (lam - t(y)) ** 2))
    return lam * (1 / alpha + e(lambda y: t(y) / (lam - t(y)))), overlap


def bench_spectral_curves(rounds: int, options=None) -> None:
    for prep in ("luo-alghamdi-lu", "mondelli-montanari"):
        bench_spectral_curve(prep, rounds)


def bench_spectral_curve(prep: str, rounds: int, points: int = 300, stride: int = 5) -> None:
    alpha = np.linspace(0.1, 6, points)
    model, sub = SpectralPR(alpha=alpha, preprocessing=prep), alpha[::stride]
    res = interleaved({"ours spectral_pr (vectorised)": lambda: spectral_pr(model),
                       f"quad + brentq per point ({sub.size} points)": lambda: np.array([_quad_point(prep, a)
                                                                                          for a in sub])}, rounds)
    ours, loop = res["ours spectral_pr (vectorised)"][1], res[f"quad + brentq per point ({sub.size} points)"][1]
    diff = max(np.max(np.abs(loop[:, 0] - ours["top_eigenvalue"][::stride])),
               np.max(np.abs(loop[:, 1] - ours["overlap_sq"][::stride])))
    rows = {"ours spectral_pr (vectorised)": (res["ours spectral_pr (vectorised)"][0], ""),
            f"quad + brentq per point (scaled to {points})": (
                res[f"quad + brentq per point ({sub.size} points)"][0] * points / sub.size,
                f"max |difference| {diff:.1e}")}
    report(f"spectral-pr {prep} curve, {points} points", rows, "ours spectral_pr (vectorised)")


def bench_theory(rounds: int, options=None) -> None:
    grids = {"spiked-wigner": lambda k: SpikedWigner(theta=np.linspace(0, 3, k)),
             "spiked-covariance": lambda k: SpikedCovariance(ell=np.linspace(1, 5, k)),
             "spectral-pr mondelli-montanari": lambda k: SpectralPR(alpha=np.linspace(0.5, 5, k),
                                                                    preprocessing="mondelli-montanari"),
             "hessian-init": lambda k: HessianInit(alpha=np.linspace(0.5, 5, k))}
    res = interleaved({f"{name}, {k} points": (lambda g=g, k=k: th.theory(g(k))) for name, g in grids.items()
                       for k in (10, 1000)}, rounds)
    report("bbp theory curves (CPU time per call)", {name: (t, "") for name, (t, _) in res.items()},
           "hessian-init, 10 points")


if __name__ == "__main__":
    main(__doc__, bench_eigenpair, bench_spectral_curves, bench_theory,
         naive="also time the full numpy.linalg.eigh (30-150 s at N = 4000 on a busy 2-core machine)")
