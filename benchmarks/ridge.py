"""Ridge benchmarks (python benchmarks/ridge.py [--quick]), rules in benchmarks/timing.py.

(a) One simulation replicate with a 50-value lam grid at n = 1000, p = 2000 (isotropic), the draw of X
    included everywhere: our Rao-Blackwellised replicate (one Gram eigendecomposition serves the grid and all
    five metrics) against the competent alternatives for the realised metrics of one (beta, eps): ONE thin SVD
    of X reused for every lam, and ONE eigendecomposition of the dual Gram matrix X X^T/n reused; the floor
    (draw + Gram product + eigvalsh). "What a naive user runs": scikit-learn ``Ridge`` refitted per lam
    (timed once). All are direct factorisations (exact to rounding).
(b) A 1000-point general-covariance theory curve (power-law:1,10000, lam = 0.01) in one call, against a
    per-point ``scipy.optimize.brentq`` loop on the same kappa equation and the same five metrics.
"""
from __future__ import annotations


import numpy as np
from scipy import linalg, optimize
from sklearn.linear_model import Ridge as SkRidge

from timing import cpu_time, interleaved, main, report

from overparam.models import Ridge
from overparam.simulate import ridge as sim
from overparam.theory import ridge as th


def _realised(n, beta, lams, y, proj_y, vals, coef_basis):
    """Realised excess risk, train error and norm2 for every lam from one factorisation: the ridge estimate is
    coef_basis @ (vals/(vals + n lam) * proj_y) with vals the squared singular values."""
    shrink = vals / (vals + n * lams[:, None])
    B = (shrink * (proj_y / np.sqrt(vals))) @ coef_basis
    resid2 = y @ y - proj_y @ proj_y + np.sum(((1 - shrink) * proj_y) ** 2, axis=1)
    return {"excess_risk": np.sum((B - beta) ** 2, axis=1), "train_error": resid2 / n,
            "norm2": np.sum(B * B, axis=1)}


def bench_simulation(rounds: int, options=None, n: int = 1000, p: int = 2000, grid: int = 50) -> None:
    lams = np.geomspace(1e-3, 10, grid)
    model = Ridge(gamma=p / n, lam=lams, r2=1.0, sigma2=0.5)
    sizes = {"n": n, "p": p}

    def data():
        rng = np.random.default_rng(1)
        X = sim.design(model, sizes, rng)[0]
        beta = rng.standard_normal(p) / np.sqrt(p)
        return X, beta, X @ beta + np.sqrt(0.5) * rng.standard_normal(n)

    def thin_svd():
        X, beta, y = data()
        U, sv, Vt = linalg.svd(X, full_matrices=False, check_finite=False)
        return _realised(n, beta, lams, y, U.T @ y, sv * sv, Vt)

    def dual_eigh():
        X, beta, y = data()
        e, U = linalg.eigh(X @ X.T, check_finite=False)
        Vt = (U.T @ X) / np.sqrt(e)[:, None]  # right singular vectors from the dual eigenvectors
        return _realised(n, beta, lams, y, U.T @ y, e, Vt)

    def floor():
        X = data()[0]
        return linalg.eigvalsh(X @ X.T / n)

    def sklearn_per_lam():
        X, beta, y = data()
        return np.array([np.sum((SkRidge(alpha=n * lam, fit_intercept=False).fit(X, y).coef_ - beta) ** 2)
                         for lam in lams])

    res = interleaved({"ours replicate (RB, all five metrics)": lambda: sim.replicate(model, sizes,
                                                                                       np.random.default_rng(1)),
                       "one thin SVD of X reused for all lam": thin_svd,
                       "one dual eigh of X X^T reused for all lam": dual_eigh,
                       "floor: draw + Gram product + eigvalsh": floor}, rounds)
    a, b = res["one thin SVD of X reused for all lam"][1], res["one dual eigh of X X^T reused for all lam"][1]
    agree = max(np.max(np.abs(a[k] / b[k] - 1)) for k in a)
    rows = {name: (t, "exact (direct factorisation)") for name, (t, _) in res.items()}
    rows["one dual eigh of X X^T reused for all lam"] = (rows["one dual eigh of X X^T reused for all lam"][0],
                                                         f"max rel. difference to the SVD {agree:.1e}")
    t, risk = cpu_time(sklearn_per_lam)
    rows["naive: sklearn Ridge refitted per lam (timed once)"] = (
        t, f"max rel. difference to the SVD {np.max(np.abs(risk / a['excess_risk'] - 1)):.1e}")
    report(f"(a) simulation, n = {n}, p = {p}, {grid} lam values", rows, "ours replicate (RB, all five metrics)")


def brentq_curve(gammas: np.ndarray, lam: float, s: np.ndarray, r2: float, sigma2: float) -> dict[str, np.ndarray]:
    """The per-point alternative: brentq on h(kappa) = 1 - lam/kappa - gamma <s/(s+kappa)>, then the five
    deterministic-equivalent metrics of theory/ridge.py with numpy means over the eigenvalues."""
    out = {name: np.empty(gammas.size) for name in th.METRICS}
    for i, g in enumerate(gammas):
        k = optimize.brentq(lambda k: 1 - lam / k - g * np.mean(s / (s + k)), lam, lam + g * s.mean(), xtol=1e-300,
                            rtol=4 * np.finfo(float).eps)
        df2 = g * np.mean(s**2 / (s + k) ** 2)
        c = np.mean(s / (s + k) ** 2)
        bias, var = r2 * k * k * c / (1 - df2), sigma2 * df2 / (1 - df2)
        out["bias"][i], out["variance"][i], out["excess_risk"][i] = bias, var, bias + var
        out["train_error"][i] = (lam / k) ** 2 * (bias + var + sigma2)
        out["norm2"][i] = r2 * (np.mean(s / (s + k)) - lam * c / (1 - df2)) + sigma2 * g * c / (1 - df2)
    return out


def bench_theory(rounds: int, options=None, points: int = 1000, eigs: int = 10000, lam: float = 0.01) -> None:
    spectrum = f"power-law:1,{eigs}"
    gammas = np.linspace(0.1, 10, points)
    model = Ridge(gamma=gammas, lam=lam, r2=1.0, sigma2=0.5, spectrum=spectrum)
    s = model.spectrum.eigenvalues
    res = interleaved({"ours theory (one vectorised call)": lambda: th.theory(model),
                       "brentq per point": lambda: brentq_curve(gammas, lam, s, 1.0, 0.5)}, rounds)
    got, ref = res["ours theory (one vectorised call)"][1], res["brentq per point"][1]
    err = max(np.max(np.abs(got[name] - ref[name]) / ref[name]) for name in th.METRICS)
    rows = {name: (t, "") for name, (t, _) in res.items()}
    rows["brentq per point"] = (rows["brentq per point"][0], f"max rel. difference {err:.1e}")
    report(f"(b) theory curve, {points} points, spectrum {spectrum}, lam = {lam}", rows,
           "ours theory (one vectorised call)")


if __name__ == "__main__":
    main(__doc__, bench_simulation, bench_theory)
