"""Simulator of the lasso family against scikit-learn, brute-force KKT/LP checks and AMP."""
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
    assert np.max(np.abs(X.T @ v)) <= 1 + 1e-8
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
    assert out["tau_star"][0] == pytest.approx(np.sqrt(0.04 + 2 * out["mse"][0]))


def test_replicate_least_squares_point_of_a_sweep():
    model = Lasso(delta=2.0, eps=0.2, sigma2=0.04, lam=np.array([0.0, 0.1]))
    out = S.replicate(model, {"n": 200, "p": 100}, np.random.default_rng(1))
    X, beta, y = S.draw(model, {"n": 200, "p": 100}, np.random.default_rng(1))
    ls = np.linalg.lstsq(X, y, rcond=None)[0]
    assert out["mse"][0] == pytest.approx(np.sum((ls - beta) ** 2) / 100)
    assert out["frac_nonzero"][0] == 1.0 and out["threshold"][0] == 0.0
