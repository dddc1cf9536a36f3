"""Ridge simulator against brute-force numpy at small sizes: the Rao-Blackwellised metrics of one design
equal explicit matrix formulas, and equal the average of the plain estimator over many (beta, eps)."""
import subprocess
import sys

import numpy as np
import pytest

from overparam.models import Ridge
from overparam.simulate import ridge as sim

LAMS = np.array([0.0, 1e-3, 0.1, 2.0])


def brute_force(X: np.ndarray, s: np.ndarray, lam: float, r2: float, sigma2: float) -> dict:
    """E over beta ~ (r2/p) I and eps ~ sigma2 I given X, by explicit p x p matrices.
    beta_hat = M y with M = (X^T X + n lam)^{-1} X^T (pinv(X) at lam = 0)."""
    n, p = X.shape
    M = np.linalg.pinv(X) if lam == 0 else np.linalg.solve(X.T @ X + n * lam * np.eye(p), X.T)
    B = M @ X - np.eye(p)  # beta_hat - beta = B beta + M eps
    R = np.eye(n) - X @ M  # residual = R (X beta + eps)
    bias = r2 / p * np.trace(B.T @ (s[:, None] * B))
    variance = sigma2 * np.trace(M.T @ (s[:, None] * M))
    norm2 = r2 / p * np.sum((M @ X) ** 2) + sigma2 * np.sum(M**2)
    train = (r2 / p * np.sum((R @ X) ** 2) + sigma2 * np.sum(R**2)) / n
    return {"excess_risk": bias + variance, "bias": bias, "variance": variance, "train_error": train, "norm2": norm2}


@pytest.mark.parametrize("spectrum", ["isotropic", "two-point:1,9,0.3"])
@pytest.mark.parametrize("n,p", [(40, 15), (30, 30), (25, 60)])
def test_rb_metrics_equal_explicit_matrices(spectrum, n, p):
    model = Ridge(gamma=p / n, lam=LAMS, r2=1.3, sigma2=0.4, spectrum=spectrum)
    X, s = sim.design(model, {"n": n, "p": p}, np.random.default_rng(n + p))
    e, w = sim.gram_spectrum(X, s)
    got = sim.rb_metrics(e, w, s, n, LAMS, 1.3, 0.4)
    for j, lam in enumerate(LAMS):
        if lam == 0 and n == p:
            continue  # ridgeless at p = n: valid but ill-conditioned; covered at p != n
        want = brute_force(X, s, lam, 1.3, 0.4)
        for name, v in want.items():
            assert got[name][j] == pytest.approx(v, rel=1e-8, abs=1e-12), (name, lam)


def test_replicate_uses_one_design_for_the_grid():
    model = Ridge(gamma=0.5, lam=LAMS, spectrum="two-point:1,9")
    a = sim.replicate(model, {"n": 60, "p": 30}, np.random.default_rng(1))
    b = sim.replicate(model.replace(lam=LAMS[2]), {"n": 60, "p": 30}, np.random.default_rng(1))
    assert all(v.shape == (4,) for v in a.values())
    for name in a:
        assert b[name][0] == pytest.approx(a[name][2], rel=1e-13)
    np.testing.assert_allclose(a["excess_risk"], a["bias"] + a["variance"], rtol=1e-14)
    with pytest.raises(ValueError):
        sim.replicate(model, {"n": 60, "p": 30}, np.random.default_rng(1), mode="sgd")


@pytest.mark.parametrize("spectrum,n,p", [("isotropic", 30, 12), ("two-point:1,9", 20, 44)])
def test_plain_draws_average_to_rao_blackwellised(spectrum, n, p):
    """For one fixed X the plain estimator averaged over 3000 (beta, eps) draws estimates exactly the
    Rao-Blackwellised value; 40 comparisons at |z| < 4 (two-sided false-alarm rate < 0.3% overall)."""
    model = Ridge(gamma=p / n, lam=LAMS, r2=1.0, sigma2=0.5, spectrum=spectrum)
    rng = np.random.default_rng(11)
    X, s = sim.design(model, {"n": n, "p": p}, rng)
    rb = sim.rb_metrics(*sim.gram_spectrum(X, s), s, n, LAMS, 1.0, 0.5)
    draws = [sim.plain_metrics(X, s, LAMS, rng.standard_normal(p) * np.sqrt(1.0 / p),
                               rng.standard_normal(n) * np.sqrt(0.5)) for _ in range(3000)]
    for name in rb:
        x = np.array([d[name] for d in draws])
        mean, se = x.mean(axis=0), x.std(axis=0, ddof=1) / np.sqrt(len(x))
        z = (mean - rb[name]) / np.maximum(se, 1e-12)
        assert np.all(np.abs(z) < 4), (name, z)


def test_plain_mode_replicate_matches_direct_solve():
    model = Ridge(gamma=2.0, lam=np.array([0.0, 0.5]), r2=1.0, sigma2=0.5)
    out = sim.replicate(model, {"n": 20, "p": 40}, np.random.default_rng(5), mode="plain")
    rng = np.random.default_rng(5)
    X, s = sim.design(model, {"n": 20, "p": 40}, rng)
    beta, eps = rng.standard_normal(40) * np.sqrt(1 / 40), rng.standard_normal(20) * np.sqrt(0.5)
    y = X @ beta + eps
    for j, lam in enumerate(model.lam):
        bh = np.linalg.pinv(X) @ y if lam == 0 else np.linalg.solve(X.T @ X / 20 + lam * np.eye(40), X.T @ y / 20)
        assert out["excess_risk"][j] == pytest.approx((bh - beta) @ (bh - beta), rel=1e-9)
        assert out["norm2"][j] == pytest.approx(bh @ bh, rel=1e-9)
        assert out["train_error"][j] == pytest.approx(np.sum((y - X @ bh) ** 2) / 20, rel=1e-8, abs=1e-20)


def test_deterministic_metrics_are_exact():
    """lam = 0, p < n: bias 0 and train_error sigma2 (n - p)/n per draw; Sigma = I, p > n: bias r2 (1 - n/p)."""
    under = sim.replicate(Ridge(gamma=0.5, lam=0.0, sigma2=0.5, spectrum="two-point:1,9"), {"n": 80, "p": 40},
                          np.random.default_rng(2))
    assert under["bias"][0] == 0 and under["train_error"][0] == pytest.approx(0.25, rel=1e-13)
    over = sim.replicate(Ridge(gamma=2.0, lam=0.0, r2=1.5), {"n": 40, "p": 80}, np.random.default_rng(2))
    assert over["bias"][0] == pytest.approx(0.75, rel=1e-14) and abs(over["train_error"][0]) < 1e-14


def test_simulate_does_not_import_theory():
    code = "import sys, overparam.simulate.ridge; sys.exit(any(m.startswith('overparam.theory') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
