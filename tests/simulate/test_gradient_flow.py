"""Gradient-flow simulator against brute force at small sizes: the iterate's linear map y -> b from a matrix
exponential of the flow ODE (flow) or the explicit GD recursion (GD), and the exact expectations over beta
and eps by traces; plus a plain Monte Carlo draw of (beta, eps) through the actual iterations."""
import numpy as np
import pytest
from scipy import linalg

from overparam.models import GradientFlow
from overparam.simulate import gradient_flow as sg
from overparam.simulate import ridge as sr


def _operator(X, t, eta):
    """M (p x n) with b = M y: flow via expm of [[-X^T X/n, X^T/n], [0, 0]] (the ODE db/dt = X^T (y - X b)/n
    with y as a constant input), GD via k explicit steps M <- M + eta X^T (I - X M)/n."""
    n, p = X.shape
    if eta == 0:
        A = np.zeros((p + n, p + n))
        A[:p, :p], A[:p, p:] = -X.T @ X / n, X.T / n
        return linalg.expm(t * A)[:p, p:]
    M = np.zeros((p, n))
    for _ in range(int(round(t / eta))):
        M = M + eta * X.T @ (np.eye(n) - X @ M) / n
    return M


def _brute_force(X, s, t, eta, r2, sigma2):
    n, p = X.shape
    M = _operator(X, t, eta)
    E = M @ X - np.eye(p)  # b - beta = E beta + M eps
    R = np.eye(n) - X @ M  # y - X b = R (X beta + eps)
    bias = r2 / p * np.trace(E.T @ (s[:, None] * E))
    var = sigma2 * np.trace(M.T @ (s[:, None] * M))
    return {"excess_risk": bias + var, "bias": bias, "variance": var,
            "train_error": (r2 / p * np.sum((R @ X) ** 2) + sigma2 * np.sum(R**2)) / n,
            "norm2": r2 / p * np.sum((M @ X) ** 2) + sigma2 * np.sum(M**2)}


@pytest.mark.parametrize("gamma, spectrum", [(0.6, "isotropic"), (1.5, "isotropic"), (0.7, "two-point:1,4,0.3"),
                                             (1.8, "two-point:2,0.5"), (1.2, "two-point:3,0,0.5")])
def test_replicate_matches_brute_force(gamma, spectrum):
    t = np.array([0.0, 0.3, 2.0, 1.0, 1.2, 40.0])
    eta = np.array([0.0, 0.0, 0.0, 0.25, 0.4, 0.0])
    model = GradientFlow(gamma=gamma, t=t, eta=eta, r2=1.3, sigma2=0.4, spectrum=spectrum)
    sizes = model.sizes(20)
    out = sg.replicate(model, sizes, np.random.default_rng(3))
    X, s = sr.design(model, sizes, np.random.default_rng(3))  # the same draw
    for j in range(t.size):
        ref = _brute_force(X, s, t[j], eta[j], 1.3, 0.4)
        for name, value in ref.items():
            assert out[name][j] == pytest.approx(value, rel=1e-9, abs=1e-12), (name, t[j], eta[j])


def test_divergent_gd_step_is_exact():
    model = GradientFlow(gamma=0.5, t=np.array([7.5]), eta=np.array([1.5]), r2=1.0, sigma2=0.3)
    sizes = model.sizes(24)
    out = sg.replicate(model, sizes, np.random.default_rng(5))
    X, s = sr.design(model, sizes, np.random.default_rng(5))
    ref = _brute_force(X, s, 7.5, 1.5, 1.0, 0.3)
    assert ref["excess_risk"] > 10  # eta s_max(Sh) > 2 at this draw: the iterates grow
    for name, value in ref.items():
        assert out[name][0] == pytest.approx(value, rel=1e-9), name


def test_rao_blackwellisation_is_unbiased():
    """Plain draws of (beta, eps) through the actual GD recursion average to the Rao-Blackwellised values."""
    model = GradientFlow(gamma=1.5, t=np.array([2.0]), eta=np.array([0.2]), r2=1.0, sigma2=0.5)
    sizes = model.sizes(16)
    X, s = sr.design(model, sizes, np.random.default_rng(7))
    rb = sg.replicate(model, sizes, np.random.default_rng(7))
    n, p = X.shape
    rng = np.random.default_rng(11)
    draws = 20000
    B = rng.standard_normal((p, draws)) * np.sqrt(1.0 / p)
    eps = rng.standard_normal((n, draws)) * np.sqrt(0.5)
    Y = X @ B + eps
    b = np.zeros((p, draws))
    for _ in range(10):
        b = b + 0.2 * X.T @ (Y - X @ b) / n
    err = b - B
    realised = {"excess_risk": np.sum(err * (s[:, None] * err), axis=0), "norm2": np.sum(b * b, axis=0),
                "train_error": np.sum((Y - X @ b) ** 2, axis=0) / n}
    for name, v in realised.items():
        se = v.std(ddof=1) / np.sqrt(draws)
        assert abs(v.mean() - rb[name][0]) < 4.5 * se, name


def test_scalar_time_and_listed_spectrum():
    model = GradientFlow(gamma=2.0, t=1.5, spectrum="power-law:1,30")
    sizes = model.sizes(999)  # listed spectrum: p from the list
    assert sizes == {"n": 15, "p": 30}
    out = sg.replicate(model, sizes, np.random.default_rng(0))
    assert np.shape(out["excess_risk"]) == (1,) and np.isfinite(out["norm2"]).all()
