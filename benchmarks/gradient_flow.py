"""Gradient-flow benchmarks (python benchmarks/gradient_flow.py [--quick]), rules in benchmarks/timing.py.

Ours against what a user would otherwise write:

(a) A 500-time risk trajectory for power-law:1,1000 at gamma = 2 (every metric, plus the optimal time):
    our ``theory`` against Stieltjes inversion, the textbook route: K(x + i eps) by vectorised Newton on
    K (1 - gamma <s/(s+K)>) + z = 0, continued from eps = 10 s_max down to eps = 1e-6 on a geometric grid of
    2000 x, the densities -Im K/(pi gamma x) and -Im K/(pi |K|^2) integrated by the trapezoid rule (plus the atom).
    Both are compared with ridge's lam = 0 value at t = 1e5 and with each other (accuracy printed).
(b) One simulation replicate, n = 500, p = 1000, 500 times: our Rao-Blackwellised replicate (one Gram
    eigendecomposition, expectations over beta and eps) against the plain replicate a user would write
    (same eigendecomposition, one draw of beta and eps, the realised b_t for every t). Equal accuracy:
    the plain replicate's larger spread needs (sd_plain/sd_rb)^2 times more replicates.
"""
from __future__ import annotations

import argparse

import numpy as np
from scipy import linalg
from timing import interleaved, main

from overparam.models import GradientFlow, Ridge
from overparam.simulate import gradient_flow as sim
from overparam.simulate import ridge as sim_ridge
from overparam.theory import gradient_flow as th
from overparam.theory import ridge as th_ridge


def stieltjes_inversion(model: GradientFlow, points: int = 2000, eps_min: float = 1e-6) -> dict[str, np.ndarray]:
    """The textbook alternative (module docstring): bias, variance and train_error on a uniform x grid."""
    s, w = np.asarray(model.spectrum.atoms, float), np.asarray(model.spectrum.weights, float)
    gamma, r2, sigma2 = float(model.gamma), float(model.r2), float(model.sigma2)
    top = s.max() * (1 + np.sqrt(gamma)) ** 2
    x = np.geomspace(1e-6 * top, top, points)  # geometric: resolves the bulk near 0 and the far outliers
    dx = np.gradient(x)  # trapezoid weights on the non-uniform grid (up to the end points)
    K = -(x + 10j * s.max())
    for eps in np.geomspace(10 * s.max(), eps_min, 24):
        z = x + 1j * eps
        for _ in range(6):
            r = s / (s + K[:, None])
            F = K * (1 - gamma * (r @ w)) + z
            dF = 1 - gamma * (r @ w) + gamma * K * ((r / (s + K[:, None])) @ w)
            K = K - F / dF
    rho_nu = -K.imag / (np.pi * gamma * x)
    rho_umu = -K.imag / (np.pi * np.abs(K) ** 2)
    kappa0 = float(th_ridge.kappa(Ridge(gamma=gamma, lam=0.0, spectrum=model.spectrum)))
    nu0, umu0 = kappa0 / gamma, max(1 - gamma * w[s > 0].sum(), 0.0)
    t = np.asarray(model.t, float)[:, None]
    e2, f2 = np.exp(-2 * t * x), np.expm1(-t * x) ** 2
    bias = r2 * (nu0 + e2 @ (rho_nu * dx))
    var = sigma2 * gamma * (f2 / x) @ (rho_nu * dx)
    train = (e2 * (r2 * x / gamma + sigma2)) @ (rho_umu * dx) + sigma2 * umu0
    return {"bias": bias, "variance": var, "excess_risk": bias + var, "train_error": train}


def bench_theory(rounds: int, options: argparse.Namespace) -> None:
    model = GradientFlow(gamma=2.0, t=np.linspace(0, 50, 500), r2=1.0, sigma2=0.5, spectrum="power-law:1,1000")
    times = {k: v[0] for k, v in interleaved({"ours": lambda: th.theory(model),
                                              "inversion": lambda: stieltjes_inversion(model)}, min(rounds, 3)).items()}
    both = model.replace(t=np.append(model.t, 1e5))
    ours, alt = th.theory(both), stieltjes_inversion(both)
    ridge = th_ridge.theory(Ridge(gamma=2.0, lam=0.0, r2=1.0, sigma2=0.5, spectrum=model.spectrum))
    at = np.searchsorted(model.t, [1.0, 10.0])  # relative differences at t = 1 and t = 10 (~1.002, ~10.02)
    err = {k: np.abs(alt[k][at] / ours[k][at] - 1) for k in alt}
    print("(a) theory: 500 times x 1000 atoms (power-law:1,1000, gamma = 2), all metrics + optimal time")
    print(f"    ours:                 {times['ours'] * 1e3:8.1f} ms CPU (target < 200 ms)")
    print(f"    Stieltjes inversion:  {times['inversion'] * 1e3:8.1f} ms CPU (2000 geometric x, eps = 1e-6, "
          f"three metrics only)  -> {times['inversion'] / times['ours']:.1f}x")
    print("    relative difference inversion vs ours at t = 1 / t = 10: "
          + ", ".join(f"{k} {v[0]:.1e} / {v[1]:.1e}" for k, v in err.items()))
    for name, out in (("ours", ours), ("inversion", alt)):
        rel = abs(float(out["excess_risk"][-1]) / float(ridge["excess_risk"]) - 1)
        print(f"    t = 1e5 vs ridge lam = 0 ({name}): relative error {rel:.1e}")


def bench_simulation(rounds: int, options: argparse.Namespace, n: int = 500, p: int = 1000,
                     points: int = 500) -> None:
    t = np.linspace(0.05, 50, points)
    model = GradientFlow(gamma=p / n, t=t, eta=np.zeros(points), r2=1.0, sigma2=0.5)
    sizes = {"n": n, "p": p}

    def plain(rng):
        X, s = sim_ridge.design(model, sizes, rng)
        beta = rng.standard_normal(p) / np.sqrt(p)
        y = X @ beta + np.sqrt(0.5) * rng.standard_normal(n)
        e, U = linalg.eigh(X @ X.T / n)  # b_t = X^T U diag(f(e)/e) U^T y/n
        keep = e > e.max() * p * np.finfo(float).eps
        e, U = e[keep], U[:, keep]
        coef = (-np.expm1(-t[:, None] * e) / e) * (U.T @ y / n)
        b = (X.T @ U) @ coef.T  # p x points
        err = b - beta[:, None]
        return np.sum(err * err, axis=0)

    rng = np.random.default_rng(0)
    times = {k: v[0] for k, v in interleaved({"rb": lambda: sim.replicate(model, sizes, rng),
                                              "plain": lambda: plain(rng)}, rounds).items()}
    rb = np.array([sim.replicate(model, sizes, np.random.default_rng(k))["excess_risk"] for k in range(8)])
    pl = np.array([plain(np.random.default_rng(100 + k)) for k in range(8)])
    ratio = float(np.median(pl.std(axis=0, ddof=1) / rb.std(axis=0, ddof=1)))
    print(f"(b) simulation replicate, n = {n}, p = {p}, {points} times")
    print(f"    ours (Rao-Blackwellised): {times['rb'] * 1e3:8.1f} ms CPU; "
          f"plain draw: {times['plain'] * 1e3:8.1f} ms CPU")
    print(f"    per-replicate sd plain/ours (median over t): {ratio:.1f} -> equal accuracy costs the plain "
          f"route {ratio**2 * times['plain'] / times['rb']:.0f}x our CPU time")


if __name__ == "__main__":
    main(__doc__, bench_theory, bench_simulation)
