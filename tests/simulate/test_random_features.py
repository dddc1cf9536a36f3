"""Random-features simulator: brute-force numpy / scikit-learn solves at small sizes, the random draw, and
the independence of the simulation layer from the theory."""
import subprocess
import sys

import numpy as np
import pytest

from overparam.models import RandomFeatures
from overparam.simulate import random_features as sim


def brute_force(model: RandomFeatures, prob: sim.Problem, lam: float) -> tuple[float, float]:
    """(test_error, train_error) by a dense solve of the N x N normal equations (pinv at lam = 0)."""
    d = prob.X.shape[1]
    act = model.activation.func
    Z, Zt = act(prob.X @ prob.theta.T / np.sqrt(d)), act(prob.X_test @ prob.theta.T / np.sqrt(d))
    n, N = Z.shape
    if lam == 0:
        a = np.linalg.pinv(Z) @ prob.y
    else:
        a = np.linalg.solve(Z.T @ Z / n + N * lam / d * np.eye(N), Z.T @ prob.y / n)
    return np.mean((prob.f_test - Zt @ a) ** 2), np.mean((prob.y - Z @ a) ** 2)


@pytest.mark.parametrize("psi1,psi2", [(0.6, 2.0), (3.0, 1.4), (2.0, 2.0)])
@pytest.mark.parametrize("act", ["relu", "tanh", "0.3,0.5,0.4"])
def test_replicate_equals_brute_force(psi1, psi2, act):
    m = RandomFeatures(psi1=psi1, psi2=psi2, lam=np.array([0.0, 1e-3, 0.1, 2.0]), activation=act,
                       r2=1.0, fstar2=0.3, sigma2=0.4)
    sizes = m.sizes(20)
    out = sim.replicate(m, sizes, np.random.default_rng(5))
    prob = sim.draw(m, sizes, np.random.default_rng(5))
    for j, lam in enumerate(m.lam):
        test, train = brute_force(m, prob, lam)
        assert out["test_error"][j] == pytest.approx(test, rel=1e-7, abs=1e-10)
        assert out["train_error"][j] == pytest.approx(train, rel=1e-7, abs=1e-10)


def test_penalty_normalisation_matches_sklearn_ridge():
    """MM's penalty (N lam/d)||a||^2 with the 1/n loss is sklearn's alpha = n N lam/d."""
    from sklearn.linear_model import Ridge
    m = RandomFeatures(psi1=1.5, psi2=2.5, lam=np.array([0.01, 0.3]))
    sizes = m.sizes(16)
    prob = sim.draw(m, sizes, np.random.default_rng(1))
    Z = m.activation.func(prob.X @ prob.theta.T / 4.0)
    A = sim.coefficients(Z, prob.y, sizes["N"] / sizes["d"] * m.lam)
    for j, lam in enumerate(m.lam):
        ref = Ridge(alpha=sizes["n"] * sizes["N"] * lam / sizes["d"], fit_intercept=False).fit(Z, prob.y).coef_
        np.testing.assert_allclose(A[:, j], ref, rtol=1e-8, atol=1e-12)


def test_lam_grid_shares_one_draw():
    grid = RandomFeatures(psi1=2.0, psi2=1.0, lam=np.array([0.0, 0.05, 1.0]))
    sizes = grid.sizes(25)
    out = sim.replicate(grid, sizes, np.random.default_rng(9))
    for j, lam in enumerate(grid.lam):
        one = sim.replicate(grid.replace(lam=lam), sizes, np.random.default_rng(9))
        assert one["test_error"][0] == pytest.approx(out["test_error"][j], rel=1e-10)


def test_ridgeless_overparameterised_interpolates():
    m = RandomFeatures(psi1=3.0, psi2=1.0, lam=0.0)
    out = sim.replicate(m, m.sizes(30), np.random.default_rng(0))
    assert out["train_error"][0] < 1e-18 and out["test_error"][0] > 0.1


def test_draw_geometry_and_target_energies():
    """Sphere radii, ||beta1||^2 = r2, and f_NL: mean 0, energy fstar2, orthogonal to linear functions."""
    d, m_test = 20, 200_000
    m = RandomFeatures(psi1=1.0, psi2=1.0, r2=0.0, fstar2=2.0, sigma2=0.0)
    prob = sim.draw(m, m.sizes(d), np.random.default_rng(3), test_points=m_test)
    for rows in (prob.X, prob.theta, prob.X_test):
        np.testing.assert_allclose(np.linalg.norm(rows, axis=1), np.sqrt(d), rtol=1e-12)
    f = prob.f_test
    se = lambda x: x.std() / np.sqrt(m_test)  # noqa: E731
    assert abs(f.mean()) <= 4 * se(f)
    assert abs(np.mean(f**2) - 2.0) <= 4 * se(f**2)
    proj = prob.X_test.T @ f / m_test  # E[x f_NL(x)] = 0 coordinatewise
    assert np.max(np.abs(proj)) <= 4.5 * np.max([se(prob.X_test[:, i] * f) for i in range(d)])
    beta_model = RandomFeatures(psi1=1.0, psi2=1.0, r2=3.0, fstar2=0.0, sigma2=0.0)
    lin = sim.draw(beta_model, beta_model.sizes(d), np.random.default_rng(4), test_points=50)
    beta = np.linalg.lstsq(lin.X_test, lin.f_test, rcond=None)[0]
    assert beta @ beta == pytest.approx(3.0, rel=1e-10)


def test_simulate_does_not_import_theory():
    code = ("import sys, overparam.simulate.random_features; "
            "sys.exit(any(k.startswith('overparam.theory') for k in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
