"""Simulator of the lasso family against scikit-learn, brute-force KKT/LP checks and AMP."""
import warnings

import numpy as np
import pytest
from sklearn.linear_model import Lasso as SkLasso

from overparam.models import Lasso
from overparam.simulate import lasso as S


def _data(n=60, p=120, seed=0, sigma2=0.04, prior="gauss"):
    model = Lasso(delta=n / p, eps=0.2, sigma2=sigma2, prior=prior, lam=0.1)
    return S.draw(model, {"n": n, "p": p}, np.random.default_rng(seed))


@pytest.mark.parametrize("n,p", [(60, 120), (120, 80)])
def test_path_matches_sklearn_and_kkt(n, p):
    X, beta, y = _data(n, p)
    lams = np.array([0.01, 0.5, 0.1, 1e-4])  # any order
    B, gaps = S.lasso_path(X, y, lams, tol=1e-12)
    for b, lam, gap in zip(B, lams, gaps):
        r = y - X @ b
        primal = 0.5 * r @ r + lam * np.sum(np.abs(b))
        assert gap <= 1e-12 or gap * primal <= S.ROUNDING * (y @ y) / 2  # certified, or at the rounding floor
        assert S.kkt_residual(X, y, b, lam) < 1e-8
        sk = SkLasso(alpha=lam / n, fit_intercept=False, tol=1e-14, max_iter=10**6).fit(X, y).coef_
        scale = np.max(np.abs(sk))
        assert np.max(np.abs(b - sk)) < 1e-6 * scale
        assert np.count_nonzero(b) == np.count_nonzero(np.abs(sk) > 1e-9 * scale)


def test_gap_certificate_rejects_wrong_point():
    X, beta, y = _data()
    (b,), _ = S.lasso_path(X, y, [0.1])
    assert S.duality_gap(X, y, b, 0.1) < 1e-10
    assert S.duality_gap(X, y, 1.01 * b, 0.1) > 1e-6


def test_min_l1_is_optimal_interpolator():
    X, beta, y = _data(40, 100)
    b, v = S.min_l1(X, y)
    assert np.max(np.abs(X @ b - y)) < 1e-8
    assert np.max(np.abs(X.T @ v)) <= 1 + 1e-15  # scaled onto the dual feasible set
    assert np.sum(np.abs(b)) == pytest.approx(y @ v, rel=1e-8)  # strong duality certifies optimality
    assert np.count_nonzero(np.abs(b) > 1e-9) == 40
    # lam -> 0+: the LASSO approaches the interpolator
    (bl,), _ = S.lasso_path(X, y, [1e-7])
    assert np.max(np.abs(bl - b)) < 1e-4


def test_exact_recovery_noiseless_sparse():
    rng = np.random.default_rng(3)
    assert S.bp_success(80, 160, 5, 3, rng).all()
    assert not S.bp_success(80, 160, 70, 3, rng).any()


def test_amp_fixed_point_is_lasso_at_its_lam():
    X, beta, y = _data(300, 600, seed=2)
    out = S.amp(X, y, alpha=1.5, iterations=1000, tol=1e-12)
    assert out["converged"]
    (b,), _ = S.lasso_path(X, y, [out["lam"]], tol=1e-13)
    assert np.linalg.norm(out["beta"] - b) < 1e-7 * np.linalg.norm(b)


def test_replicate_metrics_brute_force():
    model = Lasso(delta=0.5, eps=0.2, sigma2=0.04, lam=np.array([0.0, 0.2]))
    sizes = {"n": 50, "p": 100}
    out = S.replicate(model, sizes, np.random.default_rng(5))
    X, beta, y = S.draw(model, sizes, np.random.default_rng(5))
    b = SkLasso(alpha=0.2 / 50, fit_intercept=False, tol=1e-14, max_iter=10**6).fit(X, y).coef_
    r = y - X @ b
    df = np.count_nonzero(np.abs(b) > 1e-10)
    assert out["mse"][1] == pytest.approx(np.sum((b - beta) ** 2) / 100, rel=1e-6)
    assert out["frac_nonzero"][1] == df / 100
    assert out["tau_star"][1] == pytest.approx(np.linalg.norm(r) / (np.sqrt(50) * (1 - df / 50)), rel=1e-6)
    assert out["threshold"][1] == pytest.approx(0.2 * np.sqrt(50) / np.linalg.norm(r), rel=1e-6)
    assert out["frac_nonzero"][0] == 0.5
    assert np.isnan(out["tau_star"][0])  # no finite-n estimate of tau_* at interpolation


def test_replicate_with_a_full_support_at_small_lam():
    """Regression: at lam = 1e-7 (n < p) the support fills the sample, df = n: tau_star is a positive residual
    over zero degrees of freedom (inf, no RuntimeWarning), threshold = lam sqrt(n)/||r|| stays finite and
    equals its lam = 0 value sqrt(n)/||v|| from the basis-pursuit dual (r = lam X_S^{-T} sign b_S, v the same)."""
    model = Lasso(delta=0.25, eps=0.1, sigma2=0.1, lam=np.array([1e-7, 0.0]))
    sizes = {"n": 40, "p": 160}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = S.replicate(model, sizes, np.random.default_rng(0))
    assert list(out["frac_nonzero"]) == [0.25, 0.25]  # df = n at both
    assert out["tau_star"][0] == np.inf and np.isnan(out["tau_star"][1])
    assert out["threshold"][0] == pytest.approx(out["threshold"][1], rel=1e-5)
    X, beta, y = S.draw(model, sizes, np.random.default_rng(0))
    b, _ = S.min_l1(X, y)
    S_ = np.flatnonzero(np.abs(b) > 1e-9)
    v = np.linalg.solve(X[:, S_].T, np.sign(b[S_]))  # the BP dual on the vertex's support (brute force)
    assert out["threshold"][1] == pytest.approx(np.sqrt(40) / np.linalg.norm(v), rel=1e-8)


def test_min_l1_certificate_is_scale_aware():
    """Regression: the primal residual of basis pursuit is judged relative to the size of the terms of X b - y
    (an absolute 1e-8 limit failed valid LPs); min_l1 is positively homogeneous in y at any scale."""
    X, beta, y = _data(50, 200, seed=3)
    b, v = S.min_l1(X, y)
    for c in (1e-6, 1e6):
        bc, vc = S.min_l1(X, c * y)
        assert np.allclose(bc, c * b, rtol=0, atol=1e-8 * c * np.max(np.abs(b)))
        assert np.max(np.abs(X @ bc - c * y)) <= S.FEAS_TOL * np.max(np.abs(X) @ np.abs(bc) + c * np.abs(y))


def test_path_to_a_full_square_support():
    """Regression (hung: coordinate descent stalls on the ill-conditioned X_S, then ran unbounded epochs): at
    n = p and small lam the support is everything and the solution is b = X^{-1}(y - lam X^{-T} sign b)."""
    model = Lasso(delta=1.0, eps=0.16, sigma2=1.0, prior="rademacher", lam=0.1)
    X, beta, y = S.draw(model, {"n": 55, "p": 55}, np.random.default_rng(1))
    (b,), (gap,) = S.lasso_path(X, y, [1e-5])
    assert np.count_nonzero(b) == 55
    exact = np.linalg.solve(X, y - 1e-5 * np.linalg.solve(X.T, np.sign(b)))
    assert np.max(np.abs(b - exact)) < 1e-8 * np.max(np.abs(exact))


def test_replicate_least_squares_point_of_a_sweep():
    model = Lasso(delta=2.0, eps=0.2, sigma2=0.04, lam=np.array([0.0, 0.1]))
    out = S.replicate(model, {"n": 200, "p": 100}, np.random.default_rng(1))
    X, beta, y = S.draw(model, {"n": 200, "p": 100}, np.random.default_rng(1))
    ls = np.linalg.lstsq(X, y, rcond=None)[0]
    assert out["mse"][0] == pytest.approx(np.sum((ls - beta) ** 2) / 100)
    assert out["frac_nonzero"][0] == 1.0 and out["threshold"][0] == 0.0


@pytest.mark.parametrize("n,p,lam", [(40, 80, 0.05), (60, 150, 0.3), (80, 60, 0.02)])
def test_working_set_cd_equals_homotopy(n, p, lam):
    """The coordinate-descent working-set solver (from zero) and the exact homotopy reach the same point,
    each certified by its own duality gap."""
    X, beta, y = _data(n, p, seed=n)
    XT = np.ascontiguousarray(X.T)
    norms = np.einsum("ij,ij->i", XT, XT)
    b, r = np.zeros(p), y.copy()
    gap, ok, _ = S._cd_solve(XT, norms, y, b, r, lam, 1e-12, 1000, 10**6)
    assert ok and gap <= 1e-12 and np.allclose(r, y - X @ b, atol=1e-10)
    bh, out = np.zeros(p), np.zeros((1, p))
    lam_reached, reached, stuck = S._Homotopy(XT, y, bh).walk(XT, y, bh, float(np.max(np.abs(XT @ y))),
                                                               np.array([lam]), out)
    assert (lam_reached, reached, stuck) == (lam, 1, False) and np.array_equal(out[0], bh)
    assert S.duality_gap(X, y, bh, lam) < 1e-12  # the homotopy alone is exact
    assert np.max(np.abs(b - bh)) < 1e-6 * np.max(np.abs(bh))
    assert np.array_equal(b != 0, bh != 0)


def test_path_dispatch_does_not_change_the_solution(monkeypatch):
    """A 30-lam path solved with coordinate descent only and with the homotopy only: same certified points."""
    X, beta, y = _data(100, 200, seed=7)
    lams = np.geomspace(2.0, 0.005, 30)
    monkeypatch.setattr(S, "_HOMOTOPY_DF", 2.0)  # never switch to the homotopy while CD succeeds
    monkeypatch.setattr(S, "_CD_EPOCHS", 10**6)
    B_cd, g_cd = S.lasso_path(X, y, lams, tol=1e-12)
    monkeypatch.setattr(S, "_HOMOTOPY_DF", -1.0)  # homotopy from lam_max on
    B_h, g_h = S.lasso_path(X, y, lams, tol=1e-12)
    for B, gaps in ((B_cd, g_cd), (B_h, g_h)):
        for b, lam, gap in zip(B, lams, gaps):
            r = y - X @ b
            primal = 0.5 * r @ r + lam * np.sum(np.abs(b))
            assert gap <= max(1e-12, S.ROUNDING * (y @ y) / 2 / primal)  # certified, or at the rounding floor
    assert np.max(np.abs(B_cd - B_h)) < 1e-6 * np.max(np.abs(B_h))


def test_cholesky_updates_follow_the_active_set():
    """Random joins and departures: R stays the upper Cholesky factor of X_A^T X_A (A in its order) and z solves
    R^T z = s; the Gram entries may come from X^T X or from dot products."""
    rng = np.random.default_rng(0)
    n, p = 30, 60
    XT = rng.standard_normal((p, n)) / np.sqrt(n)
    G = XT @ XT.T
    A, s, z = np.zeros(n + 1, np.int64), np.zeros(n + 1), np.zeros(n + 1)
    R, w = np.zeros((n + 1, n + 1)), np.empty(n + 1)
    m, order = 0, []
    for step in range(200):
        if m < 3 or (m < n - 1 and rng.random() < 0.6):
            j = int(rng.choice([q for q in range(p) if q not in order]))
            assert S._add(XT, G if step % 2 else np.zeros((0, 0)), A, m, j, R, w)
            s[m] = rng.choice([-1.0, 1.0])
            z[m] = (s[m] - w[:m] @ z[:m]) / R[m, m]  # the bordered system, as in the kernel
            order.append(j)
            m += 1
        else:
            k = int(rng.integers(m))
            S._remove(A, s, m, k, R, z)
            order.pop(k)
            m -= 1
        assert list(A[:m]) == order
    XA = XT[A[:m]]
    assert np.allclose(R[:m, :m].T @ R[:m, :m], XA @ XA.T, rtol=0, atol=1e-12)
    assert np.all(np.tril(R[:m, :m], -1) == 0) and np.all(np.diag(R[:m, :m]) > 0)
    assert np.allclose(R[:m, :m].T @ z[:m], s[:m], rtol=0, atol=1e-12)


def test_homotopy_alone_stays_on_the_path_to_interpolation():
    """Regression: at n = p near interpolation a variable that leaves the support can re-enter with the other
    sign within the next segment; excluding it for one event (the old rule) lost the path (KKT residual ~100 at
    the later grid points, repaired only by coordinate descent). Every grid point of the walk itself is a
    solution."""
    X, beta, y = S.draw(Lasso(delta=1.0, eps=0.2, sigma2=0.1), {"n": 100, "p": 100}, np.random.default_rng(1))
    XT = np.ascontiguousarray(X.T)
    lam0 = float(np.max(np.abs(XT @ y)))
    lams = lam0 * np.geomspace(1, 1e-5, 50)
    b, out = np.zeros(100), np.zeros((50, 100))
    _, reached, stuck = S._Homotopy(XT, y, b).walk(XT, y, b, lam0, lams, out)
    assert reached == 50 and not stuck
    assert max(S.kkt_residual(X, y, bk, lam) for bk, lam in zip(out, lams)) < 1e-6


def test_gram_and_direct_homotopy_agree(monkeypatch):
    """The homotopy with the Gram matrix (formed after the first events) and without it, and with frequent
    refreshes of the factor, give the same certified path."""
    X, beta, y = _data(80, 160, seed=4)
    lams = np.geomspace(3.0, 1e-4, 40)
    monkeypatch.setattr(S, "_HOMOTOPY_DF", -1.0)  # homotopy from lam_max on
    paths = []
    for pays, gram_max, refresh in ((0.0, 2**24, 1000), (0.0, 0, 1000), (0.0, 2**24, 7)):
        monkeypatch.setattr(S, "_GRAM_PAYS", pays)
        monkeypatch.setattr(S, "_GRAM_MAX", gram_max)
        monkeypatch.setattr(S, "_REFRESH", refresh)
        B, gaps = S.lasso_path(X, y, lams, tol=1e-12)
        r = y[:, None] - X @ B.T
        primal = 0.5 * np.sum(r * r, axis=0) + lams * np.sum(np.abs(B), axis=1)
        assert np.all(gaps <= np.maximum(1e-12, S.ROUNDING * (y @ y) / 2 / primal))
        paths.append(B)
    for B in paths[1:]:
        assert np.max(np.abs(B - paths[0])) < 1e-9 * np.max(np.abs(paths[0]))


def test_compiling_notice_once_on_a_terminal(monkeypatch, capsys):
    """A kernel's first call prints one stderr line on a terminal when the timer fires (here at once), once per
    process; nothing without a terminal or once the kernel is compiled."""
    class Timer:  # fires as soon as it is started
        def __init__(self, delay, func):
            self.func = func

        def start(self):
            self.func()

        def cancel(self):
            pass

    class Kernel:
        signatures = []

        def __call__(self):
            pass

    monkeypatch.setattr(S.threading, "Timer", Timer)
    monkeypatch.setattr(S, "_noticed", [])
    monkeypatch.setattr(S.sys.stderr, "isatty", lambda: False, raising=False)
    S._first_call(Kernel())
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(S.sys.stderr, "isatty", lambda: True, raising=False)
    S._first_call(Kernel())
    S._first_call(Kernel())
    compiled = Kernel()
    compiled.signatures = ["(float64,)"]
    S._first_call(compiled)
    assert capsys.readouterr().err.count("compiling the lasso kernels (first run only)...") == 1
