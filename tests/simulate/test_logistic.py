"""Logistic MLE simulator against brute force at small sizes: the MLE (scipy BFGS on the same data), the
likelihood-ratio statistics (refits by scipy), the replicate's metrics from the same random stream, and
separable samples (no MLE, the LP agrees)."""
import numpy as np
import pytest
from scipy import optimize, special

from overparam.models import LogisticMLE
from overparam.simulate import logistic as sim
from overparam.simulate.max_margin import draw_labels, separable_lp


def _data(n, p, beta, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    return draw_labels(LogisticMLE.labels(beta), X[:, 0], rng)[:, None] * X


def _brute_mle(A):
    f = lambda b: np.sum(np.logaddexp(0, -A @ b))  # noqa: E731
    g = lambda b: -A.T @ special.expit(-A @ b)  # noqa: E731
    res = optimize.minimize(f, np.zeros(A.shape[1]), jac=g, method="BFGS", options={"gtol": 1e-10, "maxiter": 10_000})
    return res.x, res.fun


@pytest.mark.parametrize("n, p, beta, seed", [(60, 6, 1.0, 0), (80, 16, 2.0, 1), (50, 10, 0.0, 2)])
def test_mle_and_lrt_match_brute_force(n, p, beta, seed):
    A = _data(n, p, beta, seed)
    b, iterations = sim.fit(A)
    ref, fmin = _brute_mle(A)
    np.testing.assert_allclose(b, ref, rtol=1e-5, atol=1e-6)
    assert sim.objective(A, b) <= fmin + 1e-9 and iterations < 20 and sim.gordan_residual(A, b) < 1e-9
    coords = np.array([p - 2, p - 1])
    lrt = sim.lrt_statistics(A, b, coords)
    for j, value in zip(coords, lrt):
        keep = np.arange(p) != j
        assert value == pytest.approx(2 * (_brute_mle(A[:, keep])[1] - sim.objective(A, b)), rel=1e-6, abs=1e-8)
        assert value >= 0


def test_replicate_metrics_from_the_same_stream():
    model = LogisticMLE(psi=0.2, beta=1.5)
    sizes = model.sizes(60)
    out = sim.replicate(model, sizes, np.random.default_rng(7))
    A = _data(60, sizes["p"], 1.5, 7)
    b, _ = _brute_mle(A)
    assert out["mle_exists"] == 1
    assert out["bias_inflation"] == pytest.approx(b[0] / 1.5, rel=1e-5)
    assert out["sigma_perp2"] == pytest.approx(b[1:] @ b[1:], rel=1e-5)
    assert out["cos_angle"] == pytest.approx(b[0] / np.linalg.norm(b), rel=1e-5)
    # test error of a fresh draw, by Monte Carlo over (x, y) for the fitted direction
    rng = np.random.default_rng(0)
    g, w = rng.standard_normal(400_000), rng.standard_normal(400_000)
    rho = b[0] / np.linalg.norm(b)
    y = np.where(rng.random(g.size) < special.expit(1.5 * g), 1, -1)
    mc = np.mean(y * np.sign(rho * g + np.sqrt(1 - rho * rho) * w) < 0)
    assert out["test_error"] == pytest.approx(mc, abs=4 * np.sqrt(0.25 / g.size))
    null = np.arange(sizes["p"] - min(sim.NULL_COORDINATES, sizes["p"] - 1), sizes["p"])
    refits = [2 * (_brute_mle(A[:, np.arange(sizes["p"]) != j])[1] - sim.objective(A, b)) for j in null]
    assert out["lrt_scale"] == pytest.approx(np.mean(refits), rel=1e-6)


def test_global_null_conventions():
    model = LogisticMLE(psi=0.2, beta=0.0)
    out = sim.replicate(model, model.sizes(50), np.random.default_rng(3))
    A = _data(50, 10, 0.0, 3)
    b, _ = _brute_mle(A)
    assert np.isnan(out["bias_inflation"]) and out["test_error"] == 0.5
    assert out["sigma_perp2"] == pytest.approx(b @ b, rel=1e-5)


def test_separable_sample_has_no_mle():
    """Above the threshold (psi = 0.7 > 1/2 for pure noise, p < n) every sample is separable w.h.p.: the LP
    agrees, Newton's far-out point is not certified, and the replicate reports mle_exists = 0 with NaNs."""
    model = LogisticMLE(psi=0.7, beta=0.0)
    for seed in range(3):
        out = sim.replicate(model, model.sizes(40), np.random.default_rng(seed))
        A = _data(40, 28, 0.0, seed)
        assert separable_lp(A)
        assert out["mle_exists"] == 0 and all(np.isnan(v) for k, v in out.items() if k != "mle_exists")
        far = sim.fit(A)
        assert far is None or sim.gordan_residual(A, far[0]) > 1e-4


def test_keys_and_order_are_fixed():
    """The results store needs the same metric names in the same order whether or not the MLE exists."""
    model = LogisticMLE(psi=0.45, beta=0.0)
    keys = {tuple(sim.replicate(model, model.sizes(40), np.random.default_rng(s))) for s in range(12)}
    assert len(keys) == 1
