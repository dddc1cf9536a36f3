"""Benchmarks of the random-features family (run: python benchmarks/random_features.py).

1. Theory: a 1000-point psi1 curve by the vectorised bracketed solve, against what a user would otherwise
   write: MM's complex fixed point solved per point, cold, with scipy.optimize.root (start nu1 = nu2 = i),
   followed by the same risk polynomials.
2. Simulation: one replicate at d = 200, psi1 = psi2 = 3 with a 20-value lam grid (one eigendecomposition),
   against scikit-learn Ridge refitted for every lam on the same features (alpha = n N lam/d).
"""
from __future__ import annotations


import numpy as np
from scipy import optimize
from sklearn.linear_model import Ridge

from timing import best_time

from overparam.models import RandomFeatures
from overparam.simulate import random_features as sim
from overparam.theory import random_features as rf


def cold_root_curve(model: RandomFeatures) -> np.ndarray:
    """test_error by scipy.optimize.root on the complex equations, one cold solve per point."""
    act = model.activation
    z2 = (act.mu1 / act.mustar) ** 2
    out = []
    for psi1 in model.psi1:
        psi2, lam_bar = float(model.psi2), float(model.lam) / act.mustar ** 2
        xi = 1j * np.sqrt(psi1 * psi2 * lam_bar)

        def eqs(v):
            n1, n2 = v[0] + 1j * v[1], v[2] + 1j * v[3]
            r1 = n1 - psi1 / (-xi - n2 - z2 * n2 / (1 - z2 * n1 * n2))
            r2 = n2 - psi2 / (-xi - n1 - z2 * n1 / (1 - z2 * n1 * n2))
            return [r1.real, r1.imag, r2.real, r2.imag]

        v = optimize.root(eqs, [0.0, 1.0, 0.0, 1.0], tol=1e-13).x
        chi = ((v[0] + 1j * v[1]) * (v[2] + 1j * v[3])).real
        e0, e1, e2 = rf._risk_factors(chi, psi1, psi2, z2)
        out.append(float(model.r2) * e1 / e0 + (float(model.sigma2) + float(model.fstar2)) * e2 / e0
                   + float(model.fstar2))
    return np.array(out)


def bench_theory() -> None:
    model = RandomFeatures(psi1=np.linspace(0.1, 20, 1000), psi2=3.0, lam=0.01)
    ours = rf.theory(model)["test_error"]
    theirs = cold_root_curve(model)
    t_ours, t_root = best_time(lambda: rf.theory(model)), best_time(lambda: cold_root_curve(model), 1)
    wrong = np.abs(theirs / ours - 1) > 1e-6
    print(f"theory, 1000-point psi1 curve: vectorised {t_ours * 1e3:.1f} ms, cold scipy.optimize.root "
          f"{t_root * 1e3:.0f} ms -> {t_root / t_ours:.0f}x faster "
          f"(root disagrees at {wrong.sum()} points, max rel. diff {np.max(np.abs(theirs / ours - 1)):.1e})")


def bench_simulation() -> None:
    lam = np.geomspace(1e-4, 10, 20)
    model = RandomFeatures(psi1=3.0, psi2=3.0, lam=lam)
    sizes = model.sizes(200)
    d, N, n = sizes["d"], sizes["N"], sizes["n"]

    def ours():
        return sim.replicate(model, sizes, np.random.default_rng(0))

    def sklearn_per_lam():
        prob = sim.draw(model, sizes, np.random.default_rng(0))
        act = model.activation.func
        Z, Zt = act(prob.X @ prob.theta.T / np.sqrt(d)), act(prob.X_test @ prob.theta.T / np.sqrt(d))
        test, train = [], []
        for value in lam:
            fit = Ridge(alpha=n * N * value / d, fit_intercept=False).fit(Z, prob.y)
            test.append(np.mean((prob.f_test - fit.predict(Zt)) ** 2))
            train.append(np.mean((prob.y - fit.predict(Z)) ** 2))
        return {"test_error": np.array(test), "train_error": np.array(train)}

    a, b = ours(), sklearn_per_lam()
    diff = max(np.max(np.abs(a[k] / b[k] - 1)) for k in a)
    t_ours, t_sk = best_time(ours), best_time(sklearn_per_lam)
    print(f"simulation, d = 200, N = n = 600, 20 lam values: ours {t_ours * 1e3:.0f} ms, sklearn Ridge per lam "
          f"{t_sk * 1e3:.0f} ms -> {t_sk / t_ours:.1f}x faster (max rel. diff of the metrics {diff:.1e})")


if __name__ == "__main__":
    bench_theory()
    bench_simulation()
