"""Benchmark: the exact hard-margin SVM (no intercept) at n = 400, p = 800, noiseless labels.

Compares, in one process and single-threaded BLAS, ``overparam.simulate.max_margin.hard_margin`` (block principal
pivoting on the dual with a KKT certificate; the Lawson-Hanson least-distance NNLS path is timed too) with what a
user would otherwise run: scikit-learn ``SVC(kernel="linear", C=1e6)`` (soft margin with a large C, fits an
intercept) and cvxpy (``min ||w||^2 s.t. A w >= 1``, default solver). For each it prints the median wall time over
instances, the ratio to ours and the worst KKT residual of the hard-margin problem without intercept (primal
feasibility, complementary slackness, duality gap; see ``kkt_residual``).

Run: python benchmarks/max_margin.py [--n 400] [--p 800] [--instances 5]
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from overparam.simulate.max_margin import _ldp, hard_margin, kkt_residual  # noqa: E402


def ours(A: np.ndarray, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sol = hard_margin(A)
    return sol.w, sol.alpha


def ours_nnls(A: np.ndarray, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    u, den = _ldp(A)
    alpha = u / den
    return A.T @ alpha, alpha


def sklearn_svc(A: np.ndarray, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.svm import SVC

    svc = SVC(kernel="linear", C=1e6, tol=1e-3).fit(X, y)
    alpha = np.zeros(len(y))
    alpha[svc.support_] = np.abs(svc.dual_coef_[0])
    sklearn_svc.intercept = float(svc.intercept_[0])
    return svc.coef_[0], alpha


def cvxpy_qp(A: np.ndarray, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import cvxpy as cp

    w = cp.Variable(A.shape[1])
    cons = [A @ w >= 1]
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(w)), cons)
    prob.solve()
    cvxpy_qp.solver = prob.solver_stats.solver_name
    return w.value, cons[0].dual_value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--p", type=int, default=800)
    ap.add_argument("--instances", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    data = []
    for _ in range(args.instances):
        X = rng.standard_normal((args.n, args.p))
        y = np.sign(X[:, 0])
        data.append((y[:, None] * X, X, y))
    methods = {"overparam (BPP + KKT certificate)": ours, "overparam LDP/NNLS path": ours_nnls,
               "sklearn SVC(linear, C=1e6)": sklearn_svc}
    try:
        import cvxpy  # noqa: F401
        methods["cvxpy"] = cvxpy_qp
    except ImportError:
        print("cvxpy not installed: skipped")
    results = {}
    for name, solve in methods.items():
        solve(*data[0])  # warm-up (imports, JIT, solver set-up)
        times, kkts = [], []
        for A, X, y in data:
            t0 = time.perf_counter()
            w, alpha = solve(A, X, y)
            times.append(time.perf_counter() - t0)
            kkts.append(kkt_residual(A, w, alpha))
        results[name] = (float(np.median(times)), max(kkts))
    base = results["overparam (BPP + KKT certificate)"][0]
    print(f"hard-margin SVM, n = {args.n}, p = {args.p}, {args.instances} instances (median time, worst KKT)")
    for name, (t, kkt) in results.items():
        print(f"  {name:36s} {t * 1e3:9.1f} ms   ratio {t / base:7.2f}x   KKT residual {kkt:.2e}")
    print(f"  (SVC fits an intercept, last value b = {sklearn_svc.intercept:.2e}; cvxpy solver: "
          f"{getattr(cvxpy_qp, 'solver', '-')})")


if __name__ == "__main__":
    main()
