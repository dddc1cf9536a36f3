"""Random-features theory: reference values, the independent Gaussian-equivalent route, the complex fixed
point, special cases and limits of the random_features family notes."""
import numpy as np
import pytest

from overparam.errors import ConvergenceError, ParameterError
from overparam.models import RandomFeatures
from overparam.theory import random_features as rf

RELU_Z2 = 0.25 / (0.25 - 1 / (2 * np.pi))  # zeta^2 of relu

# the random_features family notes section 6: (act, psi1, psi2, lam, r2, fstar2, sigma2, chi, test, train)
REFERENCE = [
    ("relu", 0.5, 2, 0, 1, 0, 0.5, -0.174978220764, 1.06663762769, 0.881233665573),
    ("relu", 1.5, 2, 0.01, 1, 0, 0.5, -0.609744940580, 1.19549768034, 0.247200614699),
    ("relu", 4, 2, 0, 1, 0, 0.5, -1.22829979762, 1.01452853744, 0.0),
    ("relu", 4, 2, 0.01, 1, 0, 0.5, -0.931463919424, 0.657342324476, 0.0352761783553),
    ("relu", 4, 2, 1, 1, 0, 0.5, -0.0748018979380, 0.720413257722, 0.939178140007),
    ("relu", 2, 2, 0, 1, 0, 0.5, -1.22829979762, np.inf, 0.0),
    ("relu", 2, 2, 0.01, 1, 0, 0.5, -0.751024552534, 1.09013565236, 0.131457996442),
    ("tanh", 1, 2, 0.1, 1, 0.25, 0.25, -0.0787648921096, 0.817166304219, 0.528962950934),
    ("tanh", 4, 2, 0.01, 1, 0.25, 0.25, -0.528947220282, 0.720064987155, 0.0858100545390),
    ("erf", 3, 1.5, 0.1, 1, 0, 0.5, -0.148230618923, 0.462079664013, 0.234984854921),
]


def model(**kw) -> RandomFeatures:
    return RandomFeatures(**{"r2": 1.0, "fstar2": 0.0, "sigma2": 0.5, **kw})


@pytest.mark.parametrize("row", REFERENCE, ids=lambda r: f"{r[0]}-{r[1]}-{r[2]}-{r[3]}")
def test_reference_values(row):
    act, psi1, psi2, lam, r2, fstar2, sigma2, chi, test, train = row
    m = RandomFeatures(psi1=psi1, psi2=psi2, lam=lam, activation=act, r2=r2, fstar2=fstar2, sigma2=sigma2)
    out = rf.theory(m)
    assert float(rf.chi(m)) == pytest.approx(chi, rel=1e-10)
    assert float(out["test_error"]) == pytest.approx(test, rel=1e-10)
    assert float(out["train_error"]) == pytest.approx(train, rel=1e-10, abs=1e-15)


def test_kernel_reference_value():
    assert float(rf.kernel_limit(model(psi2=2, lam=0.01))) == pytest.approx(0.281582466258, rel=1e-10)


@pytest.mark.parametrize("act", ["relu", "tanh", "erf"])
def test_gaussian_equivalent_route_agrees(act):
    """Section 2.5 (MP quadrature + ridge deterministic equivalent) shares no algebra with 2.1-2.4."""
    psi1, lam = np.meshgrid([0.3, 1.0, 1.7, 8.0], [0.0, 1e-3, 0.1, 1.0])
    m = RandomFeatures(psi1=psi1, psi2=2.0, lam=lam, activation=act, r2=1.0, fstar2=0.5, sigma2=0.5)
    ours, oracle = rf.theory(m), rf.gaussian_equivalent(m)
    for k in ("test_error", "train_error"):
        np.testing.assert_allclose(ours[k], oracle[k], rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("psi1,psi2,lam", [(0.7, 2.0, 0.05), (4.0, 2.0, 0.01), (3.0, 3.0, 1e-4), (2.0, 0.5, 10.0)])
def test_complex_fixed_point_is_satisfied_on_physical_branch(psi1, psi2, lam):
    """nu1 = i a, nu2 = i b with a, b > 0 and ab = -chi solve MM's complex equations at xi = i eta."""
    m = model(psi1=psi1, psi2=psi2, lam=lam)
    z2, lam_bar = RELU_Z2, lam / m.activation.mustar ** 2
    eta = np.sqrt(psi1 * psi2 * lam_bar)
    p = -float(rf.chi(m))
    h = p + z2 * p / (1 + z2 * p)
    nu1, nu2 = 1j * (psi1 - h) / eta, 1j * (psi2 - h) / eta
    xi = 1j * eta
    assert nu1.imag > 0 and nu2.imag > 0
    assert (nu1 * nu2).real == pytest.approx(-p, rel=1e-12)
    r1 = nu1 - psi1 / (-xi - nu2 - z2 * nu2 / (1 - z2 * nu1 * nu2))
    r2 = nu2 - psi2 / (-xi - nu1 - z2 * nu1 / (1 - z2 * nu1 * nu2))
    assert abs(r1) <= 1e-12 * abs(nu1) and abs(r2) <= 1e-12 * abs(nu2)


def test_ridgeless_closed_form_is_lam_to_zero_limit():
    psi1 = np.array([0.3, 1.0, 1.9, 2.1, 5.0, 40.0])
    zero, tiny = rf.theory(model(psi1=psi1, psi2=2.0, lam=0.0)), rf.theory(model(psi1=psi1, psi2=2.0, lam=1e-12))
    np.testing.assert_allclose(tiny["test_error"], zero["test_error"], rtol=1e-6)
    np.testing.assert_allclose(tiny["train_error"], zero["train_error"], rtol=1e-5, atol=1e-10)
    chi_tiny, chi_zero = rf.chi(model(psi1=psi1, psi2=2.0, lam=1e-12)), rf.chi(model(psi1=psi1, psi2=2.0, lam=0.0))
    np.testing.assert_allclose(chi_tiny, chi_zero, rtol=1e-5)


@pytest.mark.parametrize("psi", [0.5, 2.0, 7.0])
def test_E0_vanishes_at_interpolation_threshold(psi):
    p0 = rf.ridgeless_p(psi, RELU_Z2)
    e0, e1, e2 = rf._risk_factors(-p0, psi, psi, RELU_Z2)
    assert abs(e0) <= 1e-12 * abs(e1)
    e0_off = rf._risk_factors(-rf.ridgeless_p(psi, RELU_Z2), psi * 1.3, psi, RELU_Z2)[0]
    assert e0_off < 0
    out = rf.theory(model(psi1=psi, psi2=psi, lam=0.0))
    assert out["test_error"] == np.inf and out["train_error"] == 0.0


@pytest.mark.parametrize("side", [-1, 1])
def test_interpolation_peak_asymptotics(side):
    psi2, r2, fstar2, sigma2 = 2.0, 1.0, 0.3, 0.5
    eps = 1e-6 * psi2
    out = rf.theory(model(psi1=psi2 + side * eps, psi2=psi2, lam=0.0, fstar2=fstar2))
    p0 = rf.ridgeless_p(psi2, RELU_Z2)
    predicted = psi2 * (sigma2 + fstar2 + r2 / (1 + RELU_Z2 * p0)) / eps
    assert float(out["test_error"]) == pytest.approx(predicted, rel=1e-4)


def test_kernel_limit_is_psi1_to_infinity_with_order_one_over_psi1():
    for lam in (0.0, 0.01, 1.0):
        base = model(psi2=2.0, lam=lam, fstar2=0.25)
        k = float(rf.kernel_limit(base))
        far = rf.theory(base.replace(psi1=np.array([1e3, 1e4, 1e8])))["test_error"]
        assert far[2] == pytest.approx(k, rel=1e-7)
        slope = (far[:2] - k) * np.array([1e3, 1e4])
        assert slope[0] == pytest.approx(slope[1], rel=0.05)


def test_kernel_limit_matches_isotropic_ridge_quadrature():
    """R_ridge through mpmath quadrature of the Marchenko-Pastur density (independent of the closed form)."""
    mpmath = pytest.importorskip("mpmath")
    psi2, lam = 1.5, 0.02
    m = model(psi2=psi2, lam=lam, fstar2=0.2)
    gamma, s2 = 1 / psi2, 0.5 + 0.2
    lam_eff = (1 + psi2 * lam / m.activation.mustar ** 2) / (RELU_Z2 * psi2)
    lo, hi = (1 - np.sqrt(gamma)) ** 2, (1 + np.sqrt(gamma)) ** 2

    def avg(f):
        dens = lambda t: mpmath.sqrt((hi - t) * (t - lo)) / (2 * mpmath.pi * gamma * t)
        return mpmath.quad(lambda t: dens(t) * f(t), [lo, hi])

    bias = lam_eff**2 * avg(lambda t: 1 / (t + lam_eff) ** 2)
    var = s2 * gamma * avg(lambda t: t / (t + lam_eff) ** 2)
    assert float(rf.kernel_limit(m)) == pytest.approx(float(bias + var) + 0.2, rel=1e-10)


def test_symmetry_in_psi1_psi2_of_fixed_point():
    a = rf.chi(model(psi1=np.array([0.5, 3.0, 2.0]), psi2=np.array([3.0, 0.5, 7.0]), lam=np.array([0.0, 0.1, 1e-3])))
    b = rf.chi(model(psi1=np.array([3.0, 0.5, 7.0]), psi2=np.array([0.5, 3.0, 2.0]), lam=np.array([0.0, 0.1, 1e-3])))
    np.testing.assert_allclose(a, b, rtol=1e-13)


def test_linear_in_target_and_noise_energies():
    """test_error = r2 B + (sigma2 + fstar2) V + fstar2 with B, V independent of the energies."""
    grid = dict(psi1=np.array([0.5, 1.5, 4.0]), psi2=2.0, lam=np.array([0.0, 0.01, 1.0]))
    B = rf.theory(model(**grid, r2=1.0, sigma2=0.0))["test_error"]
    V = rf.theory(model(**grid, r2=0.0, sigma2=1.0))["test_error"]
    mixed = rf.theory(model(**grid, r2=0.7, fstar2=0.3, sigma2=0.2))["test_error"]
    np.testing.assert_allclose(mixed, 0.7 * B + 0.5 * V + 0.3, rtol=1e-12)


def test_zeta_zero_is_pure_noise_closed_form():
    psi1, psi2 = np.array([0.5, 1.0, 3.0, 6.0]), 2.0
    r2, fstar2, sigma2 = 1.0, 0.3, 0.5
    out = rf.theory(RandomFeatures(psi1=psi1, psi2=psi2, lam=0.0, activation="0,0,1", r2=r2, fstar2=fstar2,
                                   sigma2=sigma2))
    lo, hi = np.minimum(psi1, psi2), np.maximum(psi1, psi2)
    np.testing.assert_allclose(out["test_error"], r2 + fstar2 + (r2 + fstar2 + sigma2) * lo / (hi - lo), rtol=1e-12)


def test_large_lam_and_vanishing_ratios_give_null_predictor():
    r2, fstar2, sigma2 = 1.0, 0.3, 0.5
    big = rf.theory(model(psi1=np.array([0.5, 3.0]), psi2=2.0, lam=1e10, fstar2=fstar2))
    np.testing.assert_allclose(big["test_error"], r2 + fstar2, rtol=1e-8)
    np.testing.assert_allclose(big["train_error"], r2 + fstar2 + sigma2, rtol=1e-8)
    small = rf.theory(model(psi1=np.array([1e-9, 2.0]), psi2=np.array([2.0, 1e-9]), lam=0.1, fstar2=fstar2))
    np.testing.assert_allclose(small["test_error"], r2 + fstar2, rtol=1e-7)


def test_infinite_data_ridgeless_is_approximation_error():
    psi1 = np.array([0.5, 2.0, 10.0])
    out = rf.theory(model(psi1=psi1, psi2=1e9, lam=0.0, fstar2=0.2))
    expected = 1.0 / (1 + RELU_Z2 * rf.ridgeless_p(psi1, RELU_Z2)) + 0.2
    np.testing.assert_allclose(out["test_error"], expected, rtol=1e-7)


def test_train_error_bounded_and_ridgeless_train_forms():
    psi1, lam = np.meshgrid(np.geomspace(0.1, 20, 41), [0.0, 1e-3, 0.1, 10.0])
    out = rf.theory(model(psi1=psi1, psi2=3.0, lam=lam, fstar2=0.2))
    finite = np.isfinite(out["test_error"])
    assert np.all(out["train_error"][finite] <= out["test_error"][finite] + 0.5 + 1e-12)
    assert np.all(out["test_error"][finite] > 0)
    ridgeless = lam == 0
    above, below = ridgeless & (psi1 > 3.0), ridgeless & (psi1 < 3.0)
    assert np.all(out["train_error"][above] == 0)
    np.testing.assert_allclose(out["train_error"][below],
                               (1 - psi1[below] / 3.0) ** 2 * (out["test_error"][below] + 0.5), rtol=1e-12)


def test_vectorised_grid_equals_pointwise_and_broadcasts():
    psi1 = np.geomspace(0.1, 20, 7)
    lam = np.array([[0.0], [1e-3], [1.0]])
    grid = rf.theory(model(psi1=psi1, psi2=3.0, lam=lam))
    assert grid["test_error"].shape == (3, 7)
    for i, l in enumerate(lam[:, 0]):
        for j, p in enumerate(psi1):
            assert grid["test_error"][i, j] == float(rf.theory(model(psi1=p, psi2=3.0, lam=l))["test_error"])


def test_optimal_lam_kernel_limit_closed_form():
    """psi1 -> inf: isotropic ridge optimum lam_eff* = (sigma2 + fstar2) gamma/r2, i.e.
    lam_bar* = (zeta^2 (sigma2 + fstar2)/r2 - 1)/psi2."""
    m = model(psi1=1e8, psi2=2.0, fstar2=0.1)
    best = rf.optimal_lam(m)
    lam_star = (RELU_Z2 * 0.6 - 1) / 2.0 * m.activation.mustar ** 2
    assert float(best["lam"]) == pytest.approx(lam_star, rel=1e-4)
    assert float(best["test_error"]) == pytest.approx(float(rf.kernel_limit(m.replace(lam=lam_star))), rel=1e-7)


def test_optimal_lam_is_minimum_of_dense_scan():
    psi1 = np.array([0.5, 2.0, 3.0, 6.0])
    best = rf.optimal_lam(model(psi1=psi1, psi2=3.0, fstar2=0.2))
    lam = np.concatenate([[0.0], np.geomspace(1e-6, 100, 2001)])
    scan = rf.theory(model(psi1=psi1[:, None], psi2=3.0, lam=lam[None, :], fstar2=0.2))["test_error"]
    scan = np.where(np.isfinite(scan), scan, np.inf).min(axis=1)
    assert np.all(best["test_error"] <= scan + 1e-12)
    assert np.all(best["test_error"] >= scan - 1e-5 * scan)
    np.testing.assert_allclose(rf.theory(model(psi1=psi1, psi2=3.0, lam=best["lam"], fstar2=0.2))["test_error"],
                               best["test_error"], rtol=1e-12)


def test_optimal_lam_pure_noise_is_infinite():
    best = rf.optimal_lam(model(psi1=2.0, psi2=3.0, r2=0.0, sigma2=1.0))
    assert float(best["lam"]) == np.inf and float(best["test_error"]) == 0.0


def test_moments_of_named_and_callable_activations():
    from scipy import special
    tanh = RandomFeatures(activation="tanh").activation
    assert tanh.mu1 == pytest.approx(0.605705509602, rel=1e-10)
    assert tanh.mustar ** 2 == pytest.approx(0.0274153260354, rel=1e-9)
    named = rf.theory(model(psi1=3.0, psi2=1.5, lam=0.1, activation="erf"))
    call = rf.theory(model(psi1=3.0, psi2=1.5, lam=0.1, activation=special.erf))
    assert float(call["test_error"]) == pytest.approx(float(named["test_error"]), rel=1e-10)


@pytest.mark.parametrize("kw,name", [({"psi1": 0.0}, "psi1"), ({"psi2": -1.0}, "psi2"), ({"lam": -0.1}, "lam"),
                                     ({"activation": "softplus"}, "activation"),
                                     ({"activation": "0,1,0"}, "activation")])
def test_bad_input_names_parameter(kw, name):
    with pytest.raises(ParameterError, match=name):
        RandomFeatures(**kw)


def test_failed_fixed_point_raises_convergence_error(monkeypatch):
    monkeypatch.setattr(rf, "_BISECTIONS", 2)
    one = np.array([1.0])
    with pytest.raises(ConvergenceError) as err:
        rf._solve_p(one * 4.0, one * 2.0, one * 0.3, one * RELU_Z2, newton=0)
    assert err.value.residual > 1e-12


def test_kernel_limit_even_activation_is_null_risk():
    """mu1 = 0: no linear signal is learnt, lam_eff = inf; the psi1 -> inf theory tends to r2 + fstar2."""
    m = model(psi2=3.0, lam=0.1, activation="0,0,1", r2=1.0, fstar2=0.25)
    k = float(rf.kernel_limit(m))
    assert k == 1.25
    assert float(rf.theory(m.replace(psi1=1e8))["test_error"]) == pytest.approx(k, rel=1e-6)
