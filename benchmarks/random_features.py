"""Benchmarks of the random-features family (python benchmarks/random_features.py [--quick]), rules in
benchmarks/timing.py.

1. Theory: a 1000-point psi1 curve by the vectorised bracketed solve, against MM's complex fixed point solved
   with scipy.optimize.root WITH continuation (each point started from the previous point's solution), then the
   same risk polynomials; "what a naive user runs": the same root solved cold at every point (start
   nu1 = nu2 = i), which also lands on a wrong root at some points (counted).
2. Simulation: one replicate at d = 200, psi1 = psi2 = 3 with a 20-value lam grid: ours (one eigendecomposition
   serves the grid) against the same computation written directly (features, ONE scipy eigh of the Gram
   matrix reused for every lam, predictions); "what a naive user runs": scikit-learn Ridge refitted per lam.
"""
from __future__ import annotations


import numpy as np
from scipy import linalg, optimize
from sklearn.linear_model import Ridge

from timing import interleaved, main, report

from overparam.models import RandomFeatures
from overparam.simulate import random_features as sim
from overparam.theory import random_features as rf


def root_curve(model: RandomFeatures, continuation: bool) -> np.ndarray:
    """test_error by scipy.optimize.root on the complex equations, per point: started from the previous
    point's solution (continuation) or cold at nu1 = nu2 = i."""
    act = model.activation
    z2 = (act.mu1 / act.mustar) ** 2
    out, start = [], [0.0, 1.0, 0.0, 1.0]
    for psi1 in model.psi1:
        psi2, lam_bar = float(model.psi2), float(model.lam) / act.mustar ** 2
        xi = 1j * np.sqrt(psi1 * psi2 * lam_bar)

        def eqs(v):
            n1, n2 = v[0] + 1j * v[1], v[2] + 1j * v[3]
            r1 = n1 - psi1 / (-xi - n2 - z2 * n2 / (1 - z2 * n1 * n2))
            r2 = n2 - psi2 / (-xi - n1 - z2 * n1 / (1 - z2 * n1 * n2))
            return [r1.real, r1.imag, r2.real, r2.imag]

        v = optimize.root(eqs, start, tol=1e-13).x
        if continuation:
            start = v
        chi = ((v[0] + 1j * v[1]) * (v[2] + 1j * v[3])).real
        e0, e1, e2 = rf._risk_factors(chi, psi1, psi2, z2)
        out.append(float(model.r2) * e1 / e0 + (float(model.sigma2) + float(model.fstar2)) * e2 / e0
                   + float(model.fstar2))
    return np.array(out)


def bench_theory(rounds: int, options=None) -> None:
    model = RandomFeatures(psi1=np.linspace(0.1, 20, 1000), psi2=3.0, lam=0.01)
    res = interleaved({"ours theory (vectorised)": lambda: rf.theory(model)["test_error"],
                       "scipy root with continuation": lambda: root_curve(model, True),
                       "naive: scipy root, cold per point": lambda: root_curve(model, False)}, rounds)
    ours = res["ours theory (vectorised)"][1]

    def accuracy(curve):
        rel = np.abs(curve / ours - 1)
        return f"max rel. diff {np.max(rel):.1e}, {np.sum(rel > 1e-6)} points off by > 1e-6"

    report("theory, 1000-point psi1 curve", {name: (t, accuracy(out)) for name, (t, out) in res.items()},
           "ours theory (vectorised)")


def bench_simulation(rounds: int, options=None) -> None:
    lam = np.geomspace(1e-4, 10, 20)
    model = RandomFeatures(psi1=3.0, psi2=3.0, lam=lam)
    sizes = model.sizes(200)
    d, N, n = sizes["d"], sizes["N"], sizes["n"]

    def features():
        prob = sim.draw(model, sizes, np.random.default_rng(0))
        act = model.activation.func
        return prob, act(prob.X @ prob.theta.T / np.sqrt(d)), act(prob.X_test @ prob.theta.T / np.sqrt(d))

    def one_eigh():
        prob, Z, Zt = features()
        e, V = linalg.eigh(Z.T @ Z / n, check_finite=False)
        A = V @ ((V.T @ (Z.T @ prob.y / n))[:, None] / (e[:, None] + N * lam / d))
        return {"test_error": np.mean((prob.f_test[:, None] - Zt @ A) ** 2, axis=0),
                "train_error": np.mean((prob.y[:, None] - Z @ A) ** 2, axis=0)}

    def sklearn_per_lam():
        prob, Z, Zt = features()
        fits = [Ridge(alpha=n * N * value / d, fit_intercept=False).fit(Z, prob.y) for value in lam]
        return {"test_error": np.array([np.mean((prob.f_test - f.predict(Zt)) ** 2) for f in fits]),
                "train_error": np.array([np.mean((prob.y - f.predict(Z)) ** 2) for f in fits])}

    res = interleaved({"ours replicate": lambda: sim.replicate(model, sizes, np.random.default_rng(0)),
                       "one scipy eigh reused for all lam": one_eigh,
                       "naive: sklearn Ridge refitted per lam": sklearn_per_lam}, rounds)
    ours = res["ours replicate"][1]
    rows = {name: (t, f"max rel. diff of the metrics {max(np.max(np.abs(out[k] / ours[k] - 1)) for k in ours):.1e}")
            for name, (t, out) in res.items()}
    report(f"simulation, d = {d}, N = {N}, n = {n}, {lam.size} lam values", rows, "ours replicate")


if __name__ == "__main__":
    main(__doc__, bench_theory, bench_simulation)
