"""Ridge theory: reference values, closed forms vs the general solver, an independent mpmath evaluation
(Marchenko-Pastur quadrature and a 30-digit root), limits, identities and the HMRT reductions
(sections 2-6)."""
import mpmath as mp
import numpy as np
import pytest
from scipy import optimize

from overparam.choices import Spectrum
from overparam.errors import ParameterError
from overparam.models import Ridge
from overparam.theory import ridge as th

METRICS = th.METRICS

# the ridge family notes section 6: spectrum, gamma, lam, r2, sigma2, kappa, excess_risk, bias, variance, train, norm2
REFERENCE = [
    ("isotropic", 0.3, 0, 1, 0.5, 0, 0.2142857143, 0, 0.2142857143, 0.35, 1.214285714),
    ("isotropic", 0.75, 0.05, 1, 0.5, 0.1449489743, 0.7060161321, 0.03745747857, 0.6685586535, 0.1435036122, 1.452818867),
    ("isotropic", 1.5, 0, 1, 0.5, 0.5, 1.333333333, 0.3333333333, 1, 0, 1.666666667),
    ("isotropic", 1.5, 0.75, 1, 0.5, 1.693000468, 0.6286669788, 0.4982832504, 0.1303837284, 0.2215002341, 0.3713330212),
    ("isotropic", 3, 0.05, 1, 0.5, 2.074106763, 0.8995038417, 0.6669504754, 0.2325533662, 0.0008133020903, 0.5500993331),
    ("isotropic", 1, 0.5, 2, 1, 1, 1, 0.6666666667, 0.3333333333, 0.5, 1),
    ("two-point:1,9", 0.75, 0.05, 1, 0.5, 0.161878978, 0.9183763641, 0.03083283316, 0.887543531, 0.1353164472, 1.303901283),
    ("two-point:1,9", 3, 0, 1, 0.5, 7.424428901, 2.920941852, 2.474809634, 0.4461322179, 0, 0.4006785806),
    ("two-point:1,9,0.8", 1.5, 0.5, 1, 0.5, 1.675089271, 0.885945641, 0.5782872609, 0.3076583802, 0.1234838869, 0.5191960775),
    ("power-law:1.5,500", 1.5, 0.05, 1, 0.5, 0.1201783583, 0.2685672751, 0.03094402199, 0.2376232531, 0.1330360566, 1.889062871),
    ("power-law:1.5,500", 0.3, 0, 1, 0.5, 0, 0.2142857143, 0, 0.2142857143, 0.35, 5.84770829),
]


def values(model: Ridge, q=None) -> dict:
    return {"kappa": th.kappa(model), **th.theory(model, q)}


@pytest.mark.parametrize("row", REFERENCE, ids=lambda r: f"{r[0]}-g{r[1]}-l{r[2]}")
def test_reference_values(row):
    spectrum, gamma, lam, r2, sigma2, *expected = row
    got = values(Ridge(gamma=gamma, lam=lam, r2=r2, sigma2=sigma2, spectrum=spectrum))
    for name, want in zip(["kappa", *METRICS], expected):
        assert got[name] == pytest.approx(want, rel=6e-10, abs=1e-15), name  # table has 10 significant digits


def test_exact_rationals_row6():
    got = values(Ridge(gamma=1.0, lam=0.5, r2=2.0, sigma2=1.0))
    exact = {"kappa": 1, "excess_risk": 1, "bias": 2 / 3, "variance": 1 / 3, "train_error": 0.5, "norm2": 1}
    for name, want in exact.items():
        assert got[name] == pytest.approx(want, rel=1e-15), name
    general = values(Ridge(gamma=1.0, lam=0.5, r2=2.0, sigma2=1.0, spectrum="two-point:1,1"))
    for name, want in exact.items():
        assert general[name] == pytest.approx(want, rel=1e-14), name


GRID_GAMMA = np.concatenate([np.geomspace(0.05, 20, 300), [0.999, 1.0, 1.001]])


@pytest.mark.parametrize("lam", [0.0, 1e-10, 1e-4, 0.05, 1.0, 100.0])
def test_general_solver_equals_isotropic_closed_form(lam):
    iso = values(Ridge(gamma=GRID_GAMMA, lam=lam))
    gen = values(Ridge(gamma=GRID_GAMMA, lam=lam, spectrum="two-point:1,1"))
    for name in iso:
        a, b = iso[name], gen[name]
        finite = np.isfinite(a)
        assert np.array_equal(finite, np.isfinite(b)), name
        np.testing.assert_allclose(b[finite], a[finite], rtol=1e-12, atol=1e-300, err_msg=name)


# ---------------------------------------------------------------- independent mpmath evaluations
def mp_isotropic(gamma: float, lam: float, r2: float, sigma2: float) -> dict:
    """Metrics from the Marchenko-Pastur law of X^T X/n by 30-digit quadrature (formulas section 3)."""
    mp.mp.dps = 30
    g, la = mp.mpf(gamma), mp.mpf(lam)
    a, b = (1 - mp.sqrt(g)) ** 2, (1 + mp.sqrt(g)) ** 2
    atom = max(1 - 1 / g, 0)
    density = lambda t: mp.sqrt((b - t) * (t - a)) / (2 * mp.pi * g * t)  # noqa: E731

    def integral(k):
        return mp.quad(lambda t: t**k * density(t) / (t + la) ** 2, [a, b]) + (atom / la**2 if k == 0 else 0)

    i0, i1, i2 = integral(0), integral(1), integral(2)
    out = {"bias": r2 * la**2 * i0, "variance": sigma2 * g * i1, "norm2": r2 * i2 + sigma2 * g * i1,
           "train_error": r2 * la**2 * i1 + sigma2 * (1 - g + g * la**2 * i0)}
    out["excess_risk"] = out["bias"] + out["variance"]
    m = mp.quad(lambda t: density(t) / (t + la), [a, b]) + atom / la
    out["kappa"] = 1 / m - 1 + g  # m(-lam) = 1/(1 + kappa - gamma)
    return {k: float(v) for k, v in out.items()}


@pytest.mark.parametrize("gamma,lam", [(0.3, 0.1), (0.75, 0.05), (1.0, 0.5), (1.5, 0.75), (3.0, 0.05), (7.0, 0.2),
                                       (0.5, 2.0)])
def test_mpmath_marchenko_pastur_quadrature(gamma, lam):
    got = values(Ridge(gamma=gamma, lam=lam, r2=1.3, sigma2=0.7))
    want = mp_isotropic(gamma, lam, 1.3, 0.7)
    for name, v in want.items():
        assert got[name] == pytest.approx(v, rel=1e-10), name


def mp_general(atoms, weights, gamma, lam, r2, sigma2) -> dict:
    """30-digit root of 1 - lam/kappa = gamma <s/(s+kappa)> and the section 2.1 formulas in their
    textbook form (D = 1 - df2 by subtraction, norm2 by the difference), evaluated in mpmath."""
    mp.mp.dps = 30
    s, w = [mp.mpf(float(x)) for x in atoms], [mp.mpf(float(x)) for x in weights]
    g, la = mp.mpf(gamma), mp.mpf(lam)
    avg = lambda f: mp.fsum(wi * f(si) for si, wi in zip(s, w))  # noqa: E731
    h = lambda k: 1 - la / k - g * avg(lambda x: x / (x + k))  # noqa: E731
    k = mp.findroot(h, (mp.mpf("1e-12") + la * 0.999, la + g * avg(lambda x: x) * 2), solver="anderson")
    df2 = g * avg(lambda x: x**2 / (x + k) ** 2)
    c = avg(lambda x: x / (x + k) ** 2)
    bias = r2 * k**2 * c / (1 - df2)
    var = sigma2 * df2 / (1 - df2)
    norm2 = r2 * (avg(lambda x: x / (x + k)) - la * c / (1 - df2)) + sigma2 * g * c / (1 - df2)
    train = (la / k) ** 2 * (bias + var + sigma2)
    return {"kappa": float(k), "bias": float(bias), "variance": float(var), "excess_risk": float(bias + var),
            "train_error": float(train), "norm2": float(norm2)}


@pytest.mark.parametrize("spectrum", ["two-point:1,9", "two-point:0.2,3,0.3", "power-law:1.5,40"])
@pytest.mark.parametrize("gamma,lam", [(0.4, 0.01), (1.0, 0.1), (2.5, 1e-3), (6.0, 2.0)])
def test_mpmath_root_general_spectrum(spectrum, gamma, lam):
    model = Ridge(gamma=gamma, lam=lam, r2=1.0, sigma2=0.5, spectrum=spectrum)
    got = values(model)
    want = mp_general(model.spectrum.atoms, model.spectrum.weights, gamma, lam, 1.0, 0.5)
    for name, v in want.items():
        assert got[name] == pytest.approx(v, rel=1e-11), name


# ------------------------------------------------------------------------------ limits, identities
@pytest.mark.parametrize("spectrum", ["isotropic", "two-point:1,9", "power-law:1,200"])
@pytest.mark.parametrize("gamma", [0.5, 0.9, 1.2, 3.0])
def test_lam_to_zero_is_continuous(spectrum, gamma):
    at0 = th.theory(Ridge(gamma=gamma, lam=0.0, spectrum=spectrum))
    smin = Ridge(spectrum=spectrum).spectrum.atoms.min()
    near = th.theory(Ridge(gamma=gamma, lam=1e-9 * smin, spectrum=spectrum))
    for name in METRICS:
        assert near[name] == pytest.approx(at0[name], rel=1e-6, abs=1e-12), name


def test_ridgeless_singularity_is_inf_not_nan():
    out = th.theory(Ridge(gamma=1.0, lam=0.0, sigma2=0.5))
    assert np.isinf(out["variance"]) and np.isinf(out["excess_risk"]) and np.isinf(out["norm2"])
    assert out["bias"] == 0 and out["train_error"] == 0
    quiet = th.theory(Ridge(gamma=np.array([1.0]), lam=0.0, sigma2=0.0, spectrum="two-point:1,9"))
    for name in METRICS:
        assert np.isfinite(quiet[name]).all(), name
    assert quiet["excess_risk"][0] == 0
    # approaching 1 from both sides the risk grows without bound
    risk = th.theory(Ridge(gamma=np.array([0.99, 0.999, 1.001, 1.01]), lam=0.0))["excess_risk"]
    assert risk[1] > risk[0] > 20 and risk[2] > risk[3] > 20


def test_ridgeless_variance_independent_of_spectrum_below_one():
    for spectrum in ("two-point:1,9", "power-law:2,300", "two-point:0.1,5,0.2"):
        out = th.theory(Ridge(gamma=0.6, lam=0.0, sigma2=0.7, spectrum=spectrum))
        assert out["variance"] == pytest.approx(0.7 * 0.6 / 0.4, rel=1e-15)
        assert out["train_error"] == pytest.approx(0.7 * 0.4, rel=1e-15)


def test_zero_eigenvalues_use_the_nonzero_fraction(tmp_path):
    path = tmp_path / "eigs.txt"
    np.savetxt(path, [0.0, 0.0, 1.0, 1.0])  # f+ = 1/2: gamma_eff = gamma/2, half the signal is invisible
    out = th.theory(Ridge(gamma=np.array([1.0, 4.0]), lam=0.0, sigma2=0.5, spectrum=f"file:{path}"))
    iso = th.theory(Ridge(gamma=np.array([0.5, 2.0]), lam=0.0, r2=0.5, sigma2=0.5))
    for name in ("excess_risk", "bias", "variance", "train_error"):
        np.testing.assert_allclose(out[name], iso[name], rtol=1e-13, err_msg=name)


@pytest.mark.parametrize("spectrum", ["isotropic", "two-point:1,9", "power-law:1.5,300"])
def test_gamma_to_zero_and_infinity(spectrum):
    m = Ridge(gamma=1e-9, lam=0.3, r2=1.0, sigma2=0.5, spectrum=spectrum)
    s, w = m.spectrum.atoms, m.spectrum.weights
    out = th.theory(m)
    assert th.kappa(m) == pytest.approx(0.3, rel=1e-8)
    assert out["variance"] < 1e-8
    assert out["bias"] == pytest.approx(0.09 * (w @ (s / (s + 0.3) ** 2)), rel=1e-7)
    assert out["train_error"] == pytest.approx(out["bias"] + 0.5, rel=1e-7)
    big = th.theory(m.replace(gamma=1e9))
    assert big["bias"] == pytest.approx(w @ s, rel=1e-7)
    for name in ("variance", "norm2", "train_error"):
        assert big[name] < 1e-7, name


@pytest.mark.parametrize("spectrum", ["isotropic", "two-point:1,9"])
def test_lam_to_infinity(spectrum):
    lam, gamma, r2, sigma2 = 1e7, 1.7, 1.0, 0.5
    m = Ridge(gamma=gamma, lam=lam, r2=r2, sigma2=sigma2, spectrum=spectrum)
    s, w = m.spectrum.atoms, m.spectrum.weights
    out = th.theory(m)
    # kappa = lam + gamma <s> - gamma <s^2>/lam + O(1/lam^2)
    assert th.kappa(m) == pytest.approx(lam + gamma * (w @ s) - gamma * (w @ s**2) / lam, rel=1e-14)
    assert out["bias"] == pytest.approx(r2 * (w @ s), rel=1e-5)
    assert out["variance"] * lam**2 == pytest.approx(sigma2 * gamma * (w @ s**2), rel=1e-5)
    assert out["train_error"] == pytest.approx(r2 * (w @ s) + sigma2, rel=1e-5)
    want = r2 * (w @ s**2 + gamma * (w @ s) ** 2) + sigma2 * gamma * (w @ s)
    assert out["norm2"] * lam**2 == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("spectrum", ["isotropic", "two-point:1,9,0.3"])
def test_scaling_identity(spectrum):
    c = 3.7
    m = Ridge(gamma=np.array([0.4, 1.0, 2.5]), lam=np.array([0.02, 0.3, 0.0]), r2=1.2, sigma2=0.4, spectrum=spectrum)
    sp = m.spectrum
    scaled = Spectrum("scaled", sp.atoms * c, sp.weights)
    ms = m.replace(lam=m.lam * c, sigma2=m.sigma2 * c, spectrum=scaled)
    a, b = values(m), values(ms)
    for name in ("kappa", "bias", "variance", "excess_risk", "train_error"):
        np.testing.assert_allclose(b[name], c * a[name], rtol=1e-13, err_msg=name)
    np.testing.assert_allclose(b["norm2"], a["norm2"], rtol=1e-13)


@pytest.mark.parametrize("c", [1e-150, 1e150])
def test_scaling_identity_extreme_scales(c):
    """The same identity for a 1000-eigenvalue spectrum scaled by 1e-150 and 1e150 (log kappa far from 0)."""
    m = Ridge(gamma=np.array([0.5, 1.0, 3.0]), lam=np.array([1e-3, 0.1, 0.0]), spectrum="power-law:1,1000")
    sp = m.spectrum
    scaled = Spectrum("scaled", sp.atoms * c, sp.weights)
    a, b = values(m), values(m.replace(lam=m.lam * c, sigma2=m.sigma2 * c, spectrum=scaled))
    for name in ("kappa", "bias", "variance", "excess_risk", "train_error"):
        np.testing.assert_allclose(b[name], c * a[name], rtol=1e-13, err_msg=name)
    np.testing.assert_allclose(b["norm2"], a["norm2"], rtol=1e-13)


@pytest.mark.parametrize("spectrum", ["isotropic", "two-point:1,9", "power-law:1,300"])
def test_monotone_in_lam(spectrum):
    lam = np.geomspace(1e-4, 1e3, 400)
    for gamma in (0.5, 1.0, 2.0):
        m = Ridge(gamma=gamma, lam=lam, spectrum=spectrum)
        out = values(m)
        for name in ("kappa", "bias", "train_error"):
            assert np.all(np.diff(out[name]) > 0), name
        for name in ("variance", "norm2"):
            assert np.all(np.diff(out[name]) < 0), name


@pytest.mark.parametrize("spectrum", ["isotropic", "two-point:1,9", "two-point:0.5,4,0.2", "power-law:1,400"])
@pytest.mark.parametrize("gamma", [0.5, 1.0, 3.0])
def test_optimal_lam_is_stationary_and_minimal(spectrum, gamma):
    m = Ridge(gamma=gamma, r2=1.5, sigma2=0.6, spectrum=spectrum)
    star = float(th.optimal_lam(m))
    assert star == pytest.approx(0.6 * gamma / 1.5)
    h = 1e-4 * star
    r = th.theory(m.replace(lam=np.array([star - h, star, star + h])))["excess_risk"]
    assert abs(r[2] - r[0]) / (2 * h) < 1e-7 * r[1] / star  # dR/dlam = 0 to finite-difference accuracy
    assert r[1] < r[0] and r[1] < r[2]
    assert float(th.optimal_risk(m)) == pytest.approx(r[1], rel=1e-13)
    k = float(th.kappa(m.replace(lam=star)))
    s, w = m.spectrum.atoms, m.spectrum.weights
    df1 = gamma * (w @ (s / (s + k)))
    assert r[1] == pytest.approx(0.6 * df1 / (1 - df1), rel=1e-12)


def test_optimal_risk_edge_cases():
    assert float(th.optimal_risk(Ridge(gamma=2.0, r2=0.0, sigma2=0.5))) == 0.0
    assert np.isinf(th.optimal_lam(Ridge(gamma=2.0, r2=0.0)))
    noiseless = Ridge(gamma=2.0, r2=1.0, sigma2=0.0)  # lam* = 0: the ridgeless bias r2 (1 - 1/gamma)
    assert float(th.optimal_risk(noiseless)) == pytest.approx(0.5, rel=1e-15)


def test_ridgeless_double_descent_minimum():
    r2, sigma2 = 1.0, 0.25
    gammas = np.linspace(1.2, 4.0, 20001)
    risk = th.theory(Ridge(gamma=gammas, lam=0.0, r2=r2, sigma2=sigma2))["excess_risk"]
    assert gammas[np.argmin(risk)] == pytest.approx(1 / (1 - np.sqrt(sigma2 / r2)), abs=2e-4)
    assert float(th.theory(Ridge(gamma=1e8, lam=0.0, r2=r2, sigma2=sigma2))["excess_risk"]) == pytest.approx(r2, rel=1e-7)


def test_finite_n_ridgeless_values():
    m = Ridge(gamma=0.5, lam=np.array([0.0, 0.1]), r2=1.0, sigma2=0.5, spectrum="two-point:1,4")
    out = th.finite_n_ridgeless(m, {"n": 100, "p": 50})
    assert out["variance"][0] == pytest.approx(0.5 * 50 / 49)
    assert out["norm2"][0] == pytest.approx(1 + 0.5 * (25 + 25 / 4) / 49)
    assert out["train_error"][0] == pytest.approx(0.25)
    assert all(np.isnan(v[1]) for v in out.values())
    over = th.finite_n_ridgeless(Ridge(gamma=2.0, lam=0.0), {"n": 100, "p": 200})
    assert over["bias"] == pytest.approx(0.5) and over["variance"] == pytest.approx(0.5 * 100 / 99)
    for sizes in ({"n": 100, "p": 99}, {"n": 100, "p": 101}):
        assert all(np.isnan(v) for v in th.finite_n_ridgeless(Ridge(gamma=1.0, lam=0.0), sizes).values())
    aniso = th.finite_n_ridgeless(Ridge(gamma=2.0, lam=0.0, spectrum="two-point:1,9"), {"n": 100, "p": 200})
    assert all(np.isnan(v) for v in aniso.values())


# ------------------------------------------------------------------- per-direction signal and HMRT
def test_signal_weights_q():
    m = Ridge(gamma=np.array([0.5, 2.0]), lam=np.array([0.1, 0.0]), spectrum="two-point:1,9")
    plain = th.theory(m)
    ones = th.theory(m, q=np.ones(2))
    for name in METRICS:
        np.testing.assert_allclose(ones[name], plain[name], rtol=1e-14)
    # signal only on the large eigenvalue: bias is r2 * (the s = 9 part) * 2, noise parts unchanged
    q_hi = th.theory(m, q=np.array([0.0, 2.0]))
    q_lo = th.theory(m, q=np.array([2.0, 0.0]))
    np.testing.assert_allclose((q_hi["bias"] + q_lo["bias"]) / 2, plain["bias"], rtol=1e-13)
    np.testing.assert_allclose(q_hi["variance"], plain["variance"], rtol=1e-14)
    with pytest.raises(ParameterError):
        th.theory(m, q=np.array([1.0, 2.0]))


def test_signal_weights_q_against_brute_force():
    """E over X of the exact conditional bias (r2/p) tr(Q (I-A)^T Sigma (I-A)), A = (S + lam)^{-1} S,
    for q = (0.2, 1.8) on two-point:1,9 (n = 200, 40 designs), within 3 s.e. + 16 |bias|/n."""
    n, p, lam = 200, 150, 0.1
    m = Ridge(gamma=p / n, lam=lam, spectrum="two-point:1,9")
    q = np.array([0.2, 1.8])
    s = m.spectrum.for_dimension(p)
    qd = np.where(s == 1.0, q[0], q[1])
    rng = np.random.default_rng(7)
    samples = []
    for _ in range(40):
        X = rng.standard_normal((n, p)) * np.sqrt(s)
        S = X.T @ X / n
        B = np.eye(p) - np.linalg.solve(S + lam * np.eye(p), S)
        samples.append(np.trace((B.T * s) @ B * qd[:, None]) / p)
    mean, se = np.mean(samples), np.std(samples, ddof=1) / np.sqrt(len(samples))
    limit = float(th.theory(m, q=q)["bias"])
    assert abs(mean - limit) <= 3 * se + 16 * limit / n
    assert abs(float(th.theory(m)["bias"]) - limit) > 10 * (3 * se + 16 * limit / n)  # q matters here


def test_misspecified_is_extra_noise():
    m = Ridge(gamma=np.array([0.5, 2.0]), lam=0.1, sigma2=0.3)
    out = th.misspecified(m, 0.2)
    ref = th.theory(m.replace(sigma2=0.5))
    for name in METRICS:
        np.testing.assert_allclose(out[name], ref[name], rtol=1e-15)
    np.testing.assert_allclose(out["excess_risk_vs_full"], ref["excess_risk"] + 0.2, rtol=1e-15)


@pytest.mark.parametrize("p, d", [(60, 3), (6, 9)])  # d > p: W W^T has full rank p, no unit eigenvalues
def test_latent_space_reduction(p, d):
    rng = np.random.default_rng(3)
    W = rng.standard_normal((p, d)) * 0.8
    theta = np.array([1.0, -0.5, 0.3, 0.2, -0.1, 0.4, 0.6, -0.2, 0.1][:d])
    sigma = np.eye(p) + W @ W.T
    beta_b = np.linalg.solve(sigma, W @ theta)
    resid = theta @ theta + 0.1 - beta_b @ sigma @ beta_b  # Var(y) - Var(x^T beta_b)
    out = th.latent_space(1.5, 0.2, W, theta, 0.1)
    assert float(out["r2"]) == pytest.approx(beta_b @ beta_b, rel=1e-12)
    assert float(out["sigma2"]) == pytest.approx(resid, rel=1e-12)
    # same as theory with the explicit eigen-decomposition of Sigma and q from beta_b's projections
    e, V = np.linalg.eigh(sigma)
    atoms, inv = np.unique(np.round(e, 12), return_inverse=True)
    weights = np.bincount(inv) / p
    energy = np.bincount(inv, weights=(V.T @ beta_b) ** 2)
    q = energy / (beta_b @ beta_b) / weights
    model = Ridge(gamma=1.5, lam=0.2, r2=beta_b @ beta_b, sigma2=resid, spectrum=Spectrum("x", atoms, weights))
    ref = th.theory(model, q=q)
    for name in METRICS:
        assert float(out[name]) == pytest.approx(float(ref[name]), rel=1e-9), name
    # no latent signal through W = 0: pure noise of variance ||theta||^2 + xi2
    empty = th.latent_space(2.0, 0.0, np.zeros((p, d)), theta, 0.1)
    assert float(empty["r2"]) == 0 and float(empty["sigma2"]) == pytest.approx(theta @ theta + 0.1)


def brentq_metrics(s: np.ndarray, gamma: float, lam: float, r2: float, sigma2: float) -> dict:
    """Independent double-precision evaluation for a list of eigenvalues s > 0: brentq on
    h(x) = 1 - lam e^-x - gamma mean(s/(s+e^x)) in x = log kappa, then the textbook section 2.1 formulas."""
    h = lambda x: 1 - lam * np.exp(-x) - gamma * np.mean(s / (s + np.exp(x)))  # noqa: E731
    lo = np.log(lam) if lam > 0 else np.log(0.5 * s.min() * (gamma - 1))
    k = np.exp(optimize.brentq(h, lo, np.log(2 * (lam + gamma * s.mean())), xtol=1e-300, rtol=1e-15))
    df2, c = gamma * np.mean(s**2 / (s + k) ** 2), np.mean(s / (s + k) ** 2)
    bias, var = r2 * k * k * c / (1 - df2), sigma2 * df2 / (1 - df2)
    norm2 = r2 * (np.mean(s / (s + k)) - lam * c / (1 - df2)) + sigma2 * gamma * c / (1 - df2)
    return {"kappa": k, "bias": bias, "variance": var, "excess_risk": bias + var,
            "train_error": (lam / k) ** 2 * (bias + var + sigma2), "norm2": norm2}


@pytest.mark.parametrize("lam", [0.0, 1e-4, 0.01, 3.0])
def test_vectorised_long_spectrum_curve(lam):
    """1000 points on a 1e4-eigenvalue spectrum in one call (the coarse-surrogate start), against brentq."""
    gammas = np.linspace(1.05 if lam == 0 else 0.1, 10, 1000)
    m = Ridge(gamma=gammas, lam=lam, spectrum="power-law:1,10000")
    out = values(m)
    assert all(v.shape == (1000,) and np.all(np.isfinite(v)) for v in out.values())
    for i in (0, 37, 500, 999):
        want = brentq_metrics(m.spectrum.eigenvalues, gammas[i], lam, 1.0, 0.5)
        for name, v in want.items():
            assert out[name][i] == pytest.approx(v, rel=1e-12, abs=1e-300), (name, gammas[i])


@pytest.mark.parametrize("spectrum", ["two-point:1,9", "power-law:1,300"])
def test_lam_beyond_float_range_gives_the_limits(spectrum):
    """lam + gamma <s> near the largest float: the lam -> inf limits bias = r2 <s>, variance = 0,
    train_error = r2 <s> + sigma2 (the isotropic path does this in closed form), no overflow warning."""
    m = Ridge(gamma=np.array([1e10, 1.0, 3.0]), lam=np.array([1e300, 1e308, 1.7e308]), r2=1.3, sigma2=0.5,
              spectrum=spectrum)
    s, w = m.spectrum.atoms, m.spectrum.weights
    out = th.theory(m)  # warnings are errors for overparam modules
    np.testing.assert_allclose(out["bias"], 1.3 * (w @ s), rtol=1e-12)
    np.testing.assert_allclose(out["excess_risk"], 1.3 * (w @ s), rtol=1e-12)
    np.testing.assert_allclose(out["train_error"], 1.3 * (w @ s) + 0.5, rtol=1e-12)
    assert np.all(out["variance"] < 1e-290) and np.all(out["norm2"] < 1e-290)
    np.testing.assert_allclose(th.kappa(m), m.lam, rtol=1e-12)  # kappa = lam + gamma <s> + O(1/lam)


def test_gamma_eff_within_rounding_of_one_is_the_singularity():
    """power-law:0.5,3000 has weights summing to 1 + 2e-16: gamma = 1, lam = 0 is the documented singularity
    (inf variance, no 'invalid value' warning), while 1e-13 away the risk is finite and ~ sigma2/1e-13."""
    m = Ridge(gamma=1.0, lam=0.0, sigma2=0.5, spectrum="power-law:0.5,3000")
    assert m.spectrum.weights.sum() != 1.0  # the rounding this test is about
    out = th.theory(m)
    assert np.isinf(out["variance"]) and np.isinf(out["excess_risk"]) and np.isinf(out["norm2"])
    assert out["bias"] == 0 and out["train_error"] == 0
    quiet = th.theory(m.replace(sigma2=0.0))
    assert quiet["excess_risk"] == 0 and quiet["norm2"] == pytest.approx(1.0, rel=1e-14)
    near = th.theory(m.replace(gamma=np.array([1 - 1e-13, 1 + 1e-13])))
    assert np.all(np.isfinite(near["variance"]))
    np.testing.assert_allclose(near["variance"], 0.5e13, rtol=0.01)  # sigma2 / |gamma_eff - 1|
