"""ntk-init simulator against brute force: the explicit Jacobian J (n x kd) and J J^T, the infinite-width
kernel against a Monte Carlo over wide networks and a direct Gaussian quadrature, and the metrics against
matrix powers of (I - K/lambda_max)."""
import numpy as np
import pytest

from overparam.models import NtkInit
from overparam.simulate import ntk as sim


def _data(rng, n, d):
    x = rng.standard_normal((n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("name", ["relu", "tanh", "erf", "quadratic", "0.1,0.5,-0.3"])
def test_finite_width_gram_is_jacobian_gram(name):
    model = NtkInit(gamma=0.5, activation=name, width=1.5)
    sizes = model.sizes(6)
    x, t, k = sim.gram(model, sizes, np.random.default_rng(3))
    rng = np.random.default_rng(3)
    x0 = _data(rng, sizes["n"], sizes["d"])
    w = rng.standard_normal((sizes["k"], sizes["d"]))
    v = rng.choice([-1.0, 1.0], sizes["k"]) / np.sqrt(sizes["k"])  # K does not depend on the signs
    h = 1e-6  # J by central differences of f(x) = sum_l v_l phi(<w_l, x>) in W, through phi' of the spec
    jac = np.zeros((sizes["n"], w.size))
    for i in range(sizes["n"]):
        for j in range(w.size):
            wp, wm = w.copy().ravel(), w.copy().ravel()
            wp[j] += h
            wm[j] -= h
            fp = v @ _phi(name, wp.reshape(w.shape) @ x0[i])
            fm = v @ _phi(name, wm.reshape(w.shape) @ x0[i])
            jac[i, j] = (fp - fm) / (2 * h)
    assert np.allclose(x, x0) and np.allclose(t, x0 @ x0.T)
    assert np.allclose(k, jac @ jac.T, atol=1e-7)


def _phi(name: str, z: np.ndarray) -> np.ndarray:
    """The activation itself (antiderivative of phi'), written out independently of the specification."""
    from scipy.special import erf
    if name == "relu":
        return np.maximum(z, 0)
    if name == "tanh":
        return np.tanh(z)
    if name == "erf":
        return erf(z)
    if name == "quadratic":
        return z * z / 2
    # phi' = 0.1 He_0 + 0.5 He_1 - 0.3 He_2/sqrt(2) = 0.1 + 0.5 z - 0.3 (z^2 - 1)/sqrt 2
    return 0.1 * z + 0.25 * z * z - 0.3 * (z**3 / 3 - z) / np.sqrt(2)


@pytest.mark.parametrize("name", ["relu", "tanh", "erf", "quadratic", "0.1,0.5,-0.3"])
def test_infinite_width_kernel_against_direct_integral(name):
    """Sigma_ij = t E phi'(u) phi'(v) (corr t), by 2-D Gauss-Hermite in (u, w) with v = t u + sqrt(1-t^2) w
    (relu split at its kink by a 400-node rule per half line) and diag = E phi'^2."""
    model = NtkInit(gamma=2.0, activation=name)
    x, t, k = sim.gram(model, model.sizes(12), np.random.default_rng(5))
    dphi = model.activation.dphi
    if name == "relu":  # E[1{u>0} 1{v>0}] = (pi - arccos t)/(2 pi) by Sheppard; check one entry by quadrature
        from scipy import integrate
        i, j = 0, 1
        r = t[i, j]
        prob = integrate.dblquad(lambda w, u: np.exp(-(u * u + w * w) / 2) / (2 * np.pi), 0, 12,
                                 lambda u: -r * u / np.sqrt(1 - r * r), 12)[0]
        assert k[i, j] == pytest.approx(r * prob, rel=1e-7)
        expect_diag = 0.5
    else:
        z, w = np.polynomial.hermite_e.hermegauss(120)
        w = w / w.sum()
        tt = np.clip(t, -1, 1)
        s = np.sqrt(1 - tt**2)
        v = tt[..., None, None] * z[:, None] + s[..., None, None] * z[None, :]
        direct = tt * np.einsum("a,b,a,...ab->...", w, w, dphi(z), dphi(v))
        off = ~np.eye(len(t), dtype=bool)
        assert np.allclose(k[off], direct[off], rtol=1e-9, atol=1e-12)
        expect_diag = w @ dphi(z) ** 2
    assert np.allclose(np.diag(k), expect_diag, rtol=1e-12)


def test_infinite_width_is_the_mean_of_wide_networks():
    """E_W K = Sigma(X): a k = 200000 network averages to Sigma within Monte Carlo error (entry se ~ k^-1/2)."""
    model = NtkInit(gamma=1.0, activation="relu")
    x, t, sigma = sim.gram(model, model.sizes(5), np.random.default_rng(2))
    w = np.random.default_rng(9).standard_normal((200_000, 5))
    dd = (x @ w.T > 0).astype(float)
    mc = (dd @ dd.T / w.shape[0]) * t
    assert np.max(np.abs(mc - sigma)) < 5 * 0.5 / np.sqrt(w.shape[0])


@pytest.mark.parametrize("params", [dict(gamma=0.5), dict(gamma=2.0, activation="erf", width=0.8),
                                    dict(gamma=0.8, activation="quadratic", scaling="quadratic")])
def test_metrics_against_matrix_powers(params):
    steps = np.array([0, 1, 4, 9])
    model = NtkInit(steps=steps, **params)
    sizes = model.sizes(30)
    out = sim.replicate(model, sizes, np.random.default_rng(11))
    x, t, k = sim.gram(model, sizes, np.random.default_rng(11))
    lam = np.linalg.eigvalsh(k)
    assert out["min_eigenvalue"] == pytest.approx(lam[0], rel=1e-10)
    assert out["max_eigenvalue"] == pytest.approx(lam[-1], rel=1e-12)
    assert out["gd_rate"] == pytest.approx((1 - lam[0] / lam[-1]) ** 2, rel=1e-10)
    step = np.eye(len(k)) - k / lam[-1]
    for j, s in enumerate(steps):
        power = np.linalg.matrix_power(step, 2 * s)
        assert out["train_loss"][j] == pytest.approx(np.trace(power) / len(k), rel=1e-9, abs=1e-15)
        assert out["train_loss_signal"][j] == pytest.approx(np.trace(power @ x @ x.T) / len(k), rel=1e-9,
                                                            abs=1e-15)


def test_train_loss_is_the_mean_gd_loss_over_labels():
    """train_loss is E_y |r_t|^2 / E_y |r_0|^2 of the GD recursion r <- (I - K/lam_max) r from r_0 = -y;
    the signal version with y = sqrt(d) X beta, beta uniform on the sphere. Checked by running GD on
    4000 label draws (tolerance 5 standard errors)."""
    model = NtkInit(gamma=0.7, steps=6)
    sizes = model.sizes(20)
    out = sim.replicate(model, sizes, np.random.default_rng(4))
    x, t, k = sim.gram(model, sizes, np.random.default_rng(4))
    eta = 1 / np.linalg.eigvalsh(k)[-1]
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((len(k), 4000))
    beta = rng.standard_normal((x.shape[1], 4000))
    signal = np.sqrt(x.shape[1]) * x @ (beta / np.linalg.norm(beta, axis=0))
    for y, metric in ((noise, "train_loss"), (signal, "train_loss_signal")):
        r = -y
        for _ in range(6):
            r = r - eta * k @ r
        ratio = np.sum(r**2, axis=0) / len(k)  # E|y|^2 = n for both label models
        assert abs(ratio.mean() - out[metric]) < 5 * ratio.std() / np.sqrt(ratio.size)


def test_scalar_steps_and_sizes():
    model = NtkInit(gamma=0.5, activation="tanh", width=2.0)
    assert model.sizes(100) == {"n": 100, "d": 200, "k": 200}
    assert NtkInit(gamma=0.5, scaling="quadratic").sizes(400) == {"n": 400, "d": 40}
    out = sim.replicate(model, model.sizes(40), np.random.default_rng(0))
    assert all(np.ndim(v) == 0 and np.isfinite(v) for v in out.values())
    realised = NtkInit(gamma=0.3, scaling="quadratic", width=0.5).at_sizes({"n": 401, "d": 52, "k": 200})
    assert realised.gamma == pytest.approx(2 * 401 / 52**2) and realised.width == pytest.approx(200 / 401)


@pytest.mark.parametrize("kw, name, valid", [
    (dict(gamma=0.0), "gamma", "> 0"), (dict(activation="softplus"), "activation", "relu"),
    (dict(activation="0,0,0"), "activation", "zero kernel"), (dict(activation="1e200,1"), "activation", "1e100"),
    (dict(activation="0.1,,x"), "activation", "hermite"), (dict(width=0.0), "width", "> 0 or inf"),
    (dict(width=-np.inf), "width", "or inf"), (dict(steps=-1), "steps", "integer >= 0"),
    (dict(steps=2.5), "steps", "integer"), (dict(scaling="cubic"), "scaling", "quadratic")])
def test_invalid_parameters(kw, name, valid):
    from overparam.errors import ParameterError
    with pytest.raises(ParameterError) as err:
        NtkInit(**kw)
    assert err.value.name == name and valid in str(err.value)


def test_invalid_sizes():
    from overparam.errors import ParameterError
    with pytest.raises(ParameterError, match="n = 1 "):
        NtkInit().sizes(1)
    with pytest.raises(ParameterError, match="d = 1 "):
        NtkInit(gamma=50.0).sizes(40)
    with pytest.raises(ParameterError, match="fit in memory"):
        NtkInit().sizes(10**7)
