"""Benchmarks of the logistic-MLE family (python benchmarks/logistic.py [--quick]: fewer naive points and
only n = 400), rules in benchmarks/timing.py.

1. The theory curve of ``overparam curve logistic-mle --psi 0.01:0.45:200 --beta 1,5`` (400 points, 126 above
   psi*) in one call, against what a competent user writes from the papers: per point, scipy.optimize.root
   (hybr, tol 1e-12) on the Sur-Candes system with a 120 x 120 Gauss-Hermite tensor quadrature in (G1, G2) and
   the proximal operator by vectorised Newton, warm-started along psi (timed on a few points, cost per point
   reported). Accuracy: the largest relative difference of (alpha*, sigma*, lambda*) from ours.
2. One replicate's estimation at n x p = 400 x 80 and 800 x 160 (psi = 0.2, beta = 1): the MLE and 10
   likelihood-ratio refits. Ours (``simulate.logistic``: Newton + Cholesky, refits preconditioned by the MLE's
   Schur-reduced inverse Hessian) against scikit-learn LogisticRegression(C=inf (no penalty), fit_intercept=False,
   solver="newton-cholesky", tol=1e-10) for the MLE and each refit. Accuracy: the MLE's relative gradient
   and the largest difference of the 2 Lambda_j.
"""
from __future__ import annotations

import numpy as np
from scipy import optimize, special

from timing import interleaved, main, report

from overparam.models import LogisticMLE
from overparam.simulate import logistic as sim
from overparam.simulate.max_margin import draw_labels
from overparam.theory import logistic as th

_GH = np.polynomial.hermite_e.hermegauss(120)


def _prox(z: np.ndarray, lam: float) -> np.ndarray:
    u = z - lam * special.expit(z)
    for _ in range(60):
        e = special.expit(u)
        u = np.clip(u - (u + lam * e - z) / (1 + lam * e * (1 - e)), z - lam, z)
    return u


def _residual(x: np.ndarray, psi: float, beta: float) -> np.ndarray:
    alpha, sigma, lam = x[0], np.exp(x[1]), np.exp(x[2])
    g, w = _GH[0], _GH[1] / _GH[1].sum()
    q1 = beta * g[:, None]
    q2 = -alpha * q1 + np.sqrt(psi) * sigma * g[None, :]
    ww = np.outer(w, w) * 2 * special.expit(q1)
    e = special.expit(_prox(q2, lam))
    return np.array([np.sum(ww * (lam * e) ** 2) - psi**2 * sigma**2, np.sum(ww * q1 * lam * e),
                     np.sum(ww / (1 + lam * e * (1 - e))) - (1 - psi)])


def naive_curve(psi: np.ndarray, beta: float) -> np.ndarray:
    """Per-point hybr from the classical start at psi[0], warm-started along psi."""
    info = float(th.fisher_information(beta)[0])
    x = np.array([1.0, -0.5 * np.log(info), np.log(psi[0] / info)])
    out = []
    for p in psi:
        x = optimize.root(_residual, x, args=(p, beta), method="hybr", tol=1e-12).x
        out.append([x[0], np.exp(x[1]), np.exp(x[2])])
    return np.array(out)


def bench_theory(rounds: int, options) -> None:
    psi, beta = np.meshgrid(np.linspace(0.01, 0.45, 200), [1.0, 5.0])
    model = LogisticMLE(psi=psi.ravel(), beta=beta.ravel())
    few = np.linspace(0.01, 0.3, 3 if options.quick else 8)
    res = interleaved({"ours: theory(), 400 points in one call": lambda: th.theory(model),
                       f"scipy hybr per point, GH 120x120 ({few.size} points)": lambda: naive_curve(few, 1.0)},
                      rounds)
    ref = th.solve(few, 1.0)
    ours = np.stack([ref["alpha"], ref["sigma"], ref["lambda"]], axis=1)
    naive = res[f"scipy hybr per point, GH 120x120 ({few.size} points)"][1]
    t_ours = res["ours: theory(), 400 points in one call"][0]
    t_naive = res[f"scipy hybr per point, GH 120x120 ({few.size} points)"][0]
    rows = {"ours: theory(), 400 points in one call": (t_ours, f"{t_ours / 274 * 1e3:.2f} ms per solved point"),
            f"scipy hybr per point, GH 120x120 ({few.size} points)":
                (t_naive, f"{t_naive / few.size * 1e3:.0f} ms per point; max rel. diff from ours "
                          f"{np.max(np.abs(naive / ours - 1)):.1e}")}
    report("logistic-mle theory curve (psi 0.01:0.45:200 x beta 1,5)", rows, "ours: theory(), 400 points in one call")


def _sk(A: np.ndarray) -> np.ndarray:
    """scikit-learn on (x_i, y_i) with x_i = A_i (all labels +1 would be degenerate: flip half the rows)."""
    from sklearn.linear_model import LogisticRegression

    flip = np.arange(len(A)) % 2 == 1
    X = np.where(flip[:, None], -A, A)
    y = np.where(flip, 0, 1)
    return LogisticRegression(C=np.inf, fit_intercept=False, solver="newton-cholesky", tol=1e-10,
                              max_iter=200).fit(X, y).coef_[0]


def sklearn_replicate(A: np.ndarray, null: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    b = _sk(A)
    f = sim.objective(A, b)
    lrt = [2 * (sim.objective(A[:, np.arange(A.shape[1]) != j], _sk(A[:, np.arange(A.shape[1]) != j])) - f)
           for j in null]
    return b, np.array(lrt)


def ours_replicate(A: np.ndarray, null: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    b, _ = sim.fit(A)
    return b, sim.lrt_statistics(A, b, null)


def bench_fits(rounds: int, options) -> None:
    for n in (400,) if options.quick else (400, 800):
        p = n // 5
        rng = np.random.default_rng(0)
        X = rng.standard_normal((n, p))
        A = draw_labels(LogisticMLE.labels(1.0), X[:, 0], rng)[:, None] * X
        null = np.arange(p - sim.NULL_COORDINATES, p)
        res = interleaved({"ours: Newton + preconditioned refits": lambda: ours_replicate(A, null),
                           "scikit-learn newton-cholesky, tol 1e-10": lambda: sklearn_replicate(A, null)}, rounds)
        lrt0 = res["ours: Newton + preconditioned refits"][1][1]
        rows = {name: (t, f"relative gradient {sim.gordan_residual(A, out[0]):.1e}, "
                          f"max |2 Lambda - ours| {np.max(np.abs(out[1] - lrt0)):.1e}")
                for name, (t, out) in res.items()}
        report(f"one replicate: MLE + {null.size} LRT refits, n x p = {n} x {p}", rows,
               "ours: Newton + preconditioned refits")


if __name__ == "__main__":
    main(__doc__, bench_theory, bench_fits)
