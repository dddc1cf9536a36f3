"""Benchmarks of the max-margin family (python benchmarks/max_margin.py [--quick]: n = 400 only, no naive
contenders), rules in benchmarks/timing.py.

1. The exact hard-margin SVM without intercept (noiseless labels) at n x p = 400 x 800 and 1600 x 3200:
   ``simulate.max_margin.hard_margin`` (block principal pivoting on the dual with one float32 Cholesky factor
   of the Gram matrix, float64 iterative refinement, exact KKT certificate) against L-BFGS-B on the same dual
   min 1/2 ||A^T a||^2 - 1^T a, a >= 0 (gradient by two products with A, no Gram matrix) at two gtol values;
   only the smaller reaches the KKT level of our certificate threshold 1e-7 (equal accuracy), the larger one
   (KKT ~4e-7) is shown as the cheapest L-BFGS-B run. Our time is bounded below by the float32 Gram matrix
   and its Cholesky factor (about 70 % of our time at 1600 x 3200). "What a naive user runs": scikit-learn
   ``SVC(kernel="linear", C=1e6)`` (soft margin, fits an intercept) and cvxpy. The worst KKT residual of the
   hard-margin problem (``kkt_residual``) is printed beside.
2. The theory curve: 10 and 1000 psi points per label model in one call.
"""
from __future__ import annotations

import numpy as np
from scipy import optimize

from timing import interleaved, main, report

from overparam.models import MaxMargin
from overparam.simulate.max_margin import hard_margin, kkt_residual
from overparam.theory import max_margin as th


def ours(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sol = hard_margin(A)
    return sol.w, sol.alpha


def lbfgsb(A: np.ndarray, gtol: float) -> tuple[np.ndarray, np.ndarray]:
    """L-BFGS-B on the dual, gradient A (A^T a) - 1."""
    def f(a):
        w = A.T @ a
        return 0.5 * w @ w - a.sum(), A @ w - 1

    res = optimize.minimize(f, np.zeros(len(A)), jac=True, method="L-BFGS-B", bounds=[(0, None)] * len(A),
                            options={"maxiter": 10**5, "maxfun": 10**5, "ftol": 0.0, "gtol": gtol, "maxcor": 20})
    return A.T @ res.x, res.x


def svc(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Soft margin with C = 1e6 and an intercept (not the estimator: its KKT residual shows how far it is)."""
    from sklearn.svm import SVC

    fit = SVC(kernel="linear", C=1e6, tol=1e-3).fit(X, y)
    alpha = np.zeros(len(y))
    alpha[fit.support_] = np.abs(fit.dual_coef_[0])
    return fit.coef_[0], alpha


def cvxpy_qp(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import cvxpy as cp

    w = cp.Variable(A.shape[1])
    cons = [A @ w >= 1]
    cp.Problem(cp.Minimize(0.5 * cp.sum_squares(w)), cons).solve()
    return w.value, cons[0].dual_value


def bench_solvers(rounds: int, options) -> None:
    for n in (400,) if options.quick else (400, 1600):
        rng = np.random.default_rng(0)
        X = rng.standard_normal((n, 2 * n))
        y = np.sign(X[:, 0])
        A = y[:, None] * X
        contenders = {"ours hard_margin (float32 BPP + refinement)": lambda: ours(A),
                      "L-BFGS-B on the dual, gtol 1e-6": lambda: lbfgsb(A, 1e-6),
                      "L-BFGS-B on the dual, gtol 1e-8": lambda: lbfgsb(A, 1e-8)}
        if not options.quick and n <= 400:
            contenders["naive: SVC(linear, C=1e6), intercept"] = lambda: svc(X, y)
            contenders["naive: cvxpy (default solver)"] = lambda: cvxpy_qp(A)
        res = interleaved(contenders, rounds)
        rows = {name: (t, f"KKT residual {kkt_residual(A, *out):.1e}") for name, (t, out) in res.items()}
        report(f"hard-margin SVM, n x p = {n} x {2 * n}", rows, "ours hard_margin (float32 BPP + refinement)")


def bench_theory(rounds: int, options=None) -> None:
    curves = {f"theory {labels}, {k} points": (lambda labels=labels, k=k: th.theory(
        MaxMargin(psi=np.linspace(0.6, 5, k), labels=labels))) for labels in ("noiseless", "flip:0.1", "logistic:2")
        for k in (10, 1000)}
    res = interleaved(curves, rounds)
    report("max-margin theory curves (CPU time per call)", {name: (t, "") for name, (t, _) in res.items()},
           "theory noiseless, 1000 points")


if __name__ == "__main__":
    main(__doc__, bench_solvers, bench_theory)
