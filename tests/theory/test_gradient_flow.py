"""Gradient-flow theory against independent evaluations: Marchenko-Pastur quadrature (mpmath), a contour
integral of the Stieltjes transform, exact moments (polynomial GD filters), ridge's lam = 0 limits, small-t
series, the scaling law, reference values and optimal-stopping properties."""
import mpmath as mp
import numpy as np
import pytest

from overparam.choices import parse_spectrum
from overparam.errors import ParameterError
from overparam.models import GradientFlow, Ridge
from overparam.theory import gradient_flow as gf
from overparam.theory import ridge as ridge_theory

PATH = ("excess_risk", "bias", "variance", "train_error", "norm2")

# Reference values (r2 = 1, sigma2 = 0.25), 12 significant digits: spectrum, gamma, t, eta, PATH values.
REFERENCE = [
    ("isotropic", 0.5, 2, 0, (0.210760537478, 0.130313366160, 0.0804471713184, 0.180389470352, 0.675579042443)),
    ("isotropic", 2, 2, 0, (0.657730597430, 0.524430932971, 0.133299664460, 0.0224106003836, 0.527417231271)),
    ("isotropic", 2, 10, 0, (0.738250781238, 0.500257013291, 0.237993767947, 0.000188750073572, 0.731672821914)),
    ("two-point:1,0.05", 0.5, 2, 0, (0.103293377305, 0.0594776108953, 0.0438157664094, 0.214232256764,
                                     0.389654388028)),
    ("two-point:1,0.05", 1.5, 10, 0, (0.364614355339, 0.0705892819273, 0.294025073412, 0.0418222354692,
                                      0.930862683519)),
    ("isotropic", 1.5, 4, 0.25, (0.595865429086, 0.368618665159, 0.227246763927, 0.0188048827041, 0.774975986985)),
    ("two-point:2,0.5,0.3", 0.6, 2, 0.1, (0.217833804689, 0.140959487631, 0.0768743170580, 0.180121675015,
                                          0.574103226341)),
    ("two-point:1,0.05", 1.5, 1e5, 0, (0.893047288667, 0.0494940185231, 0.843553270144, 0.0, 4.03407694451)),
    ("isotropic", 0.5, 0, 0, (1.0, 1.0, 0.0, 1.25, 0.0)),
]


def _theory(**kw):
    return {k: float(v) for k, v in gf.theory(GradientFlow(**kw)).items()}


@pytest.mark.parametrize("spectrum, gamma, t, eta, values", REFERENCE)
def test_reference_values(spectrum, gamma, t, eta, values):
    out = _theory(gamma=gamma, t=t, eta=eta, r2=1.0, sigma2=0.25, spectrum=spectrum)
    for name, ref in zip(PATH, values):
        assert out[name] == pytest.approx(ref, rel=5e-12, abs=1e-15), name


@pytest.mark.parametrize("spectrum, gamma, t_star, risk", [("isotropic", 2.0, 1.11857785010, 0.645071954809),
                                                            ("two-point:1,0.05", 0.5, 3.30747377986,
                                                             0.0961555200091)])
def test_reference_optimum(spectrum, gamma, t_star, risk):
    out = gf.optimal(GradientFlow(gamma=gamma, r2=1.0, sigma2=0.25, spectrum=spectrum))
    assert float(out["optimal_time"]) == pytest.approx(t_star, rel=1e-10)
    assert float(out["optimal_risk"]) == pytest.approx(risk, rel=1e-11)


# ------------------------------------------------------------------ Sigma = I: Marchenko-Pastur oracle
def _mp_metrics(gamma, t, eta, r2, sigma2):
    """Isotropic metrics by mpmath quadrature of the Marchenko-Pastur density (nu = MP(gamma) with atom
    1 - 1/gamma at 0, umu = gamma x MP density with atom 1 - gamma): independent of the module's numerics."""
    mp.mp.dps = 30
    g = mp.mpf(gamma)
    a, b = (1 - mp.sqrt(g)) ** 2, (1 + mp.sqrt(g)) ** 2
    dens = lambda x: mp.sqrt((b - x) * (x - a)) / (2 * mp.pi * g * x)  # noqa: E731
    if eta == 0:
        phi = lambda x: mp.exp(-t * x)  # noqa: E731
    else:
        k = int(round(t / eta))
        phi = lambda x: (1 - eta * x) ** k  # noqa: E731
    f = lambda x: 1 - phi(x)  # noqa: E731
    integral = lambda h: mp.quad(lambda x: h(x) * dens(x), [a, b])  # noqa: E731
    nu0, umu0 = max(1 - 1 / g, 0), max(1 - g, 0)
    bias = r2 * (nu0 + integral(lambda x: phi(x) ** 2))
    var = sigma2 * g * integral(lambda x: f(x) ** 2 / x)
    train = integral(lambda x: g * (r2 * x / g + sigma2) * phi(x) ** 2) + sigma2 * umu0
    norm2 = integral(lambda x: g * (r2 / g + sigma2 / x) * f(x) ** 2)
    return {"excess_risk": bias + var, "bias": bias, "variance": var, "train_error": train, "norm2": norm2}


@pytest.mark.parametrize("gamma, t, eta", [(0.3, 0.7, 0), (0.9, 5.0, 0), (1.0, 3.0, 0), (1.2, 20.0, 0),
                                           (4.0, 0.5, 0), (0.5, 3.0, 0.5), (2.0, 1.5, 0.1)])
def test_isotropic_against_marchenko_pastur(gamma, t, eta):
    out = _theory(gamma=gamma, t=t, eta=eta, r2=1.3, sigma2=0.4)
    ref = _mp_metrics(gamma, t, eta, 1.3, 0.4)
    for name in PATH:
        assert out[name] == pytest.approx(float(ref[name]), rel=1e-11), name


# --------------------------------------------------------------- general Sigma: contour-integral oracle
def _k_roots(z, gamma, s, w):
    """All roots K of -z = K (1 - gamma sum_i w_i s_i/(s_i + K)) (clear denominators: degree len(s) + 1)."""
    P = np.poly1d([1.0])
    for si in s:
        P = P * np.poly1d([1.0, si])
    lhs = np.poly1d([1.0, 0.0]) * P + z * P
    for i, (si, wi) in enumerate(zip(s, w)):
        rest = np.poly1d([1.0])
        for j, sj in enumerate(s):
            if j != i:
                rest = rest * np.poly1d([1.0, sj])
        lhs = lhs - np.poly1d([1.0, 0.0]) * rest * float(gamma * wi * si)  # (numpy scalar * poly1d is an array)
    return np.roots(lhs.coeffs)


def _contour(spectrum, gamma, funcs, top, nodes=400):
    """int g dnu = -(1/2 pi i) oint g(z) m_nu(z) dz and int g dumu likewise with m_umu = 1/K, on a circle
    around [0, top] (trapezoid rule; nodes at half steps avoid the real axis). The branch is the root
    making 1/K and -(1 + K/z)/gamma Stieltjes transforms; the atoms at 0 are inside the contour."""
    sp = parse_spectrum(spectrum)
    s, w = np.asarray(sp.atoms, float), np.asarray(sp.weights, float)
    centre, radius = top / 2, 0.8 * top
    ang = 2 * np.pi * (np.arange(nodes) + 0.5) / nodes
    z = centre + radius * np.exp(1j * ang)
    dz = 1j * radius * np.exp(1j * ang) * (2 * np.pi / nodes)
    K = np.empty(nodes, complex)
    for i, zi in enumerate(z):
        roots = _k_roots(zi, gamma, s, w)
        # m_umu = 1/K and m_nu = -(1 + K/z)/gamma are Stieltjes transforms: Im K, Im K/z opposite to Im z
        good = roots[(roots.imag * zi.imag < 0) & ((roots / zi).imag * zi.imag < 0)]
        assert good.size == 1
        K[i] = good[0]
    m_nu, m_umu = -(1 + K / z) / gamma, 1 / K
    return [(-(g(z) * m_nu * dz).sum() / (2j * np.pi)).real for g in funcs[0]], \
           [(-(g(z) * m_umu * dz).sum() / (2j * np.pi)).real for g in funcs[1]]


@pytest.mark.parametrize("spectrum, gamma, t", [("two-point:1,0.05", 0.5, 0.8), ("two-point:1,0.05", 1.5, 0.6),
                                                ("two-point:2,0.5,0.3", 0.6, 0.7), ("two-point:1,9,0.8", 2.5, 0.3)])
def test_general_spectrum_against_contour_integral(spectrum, gamma, t):
    r2, sigma2 = 0.8, 0.3
    q = gf.quadrature(gamma, parse_spectrum(spectrum))
    top = 1.05 * q.top
    assert 2 * t * 1.3 * top < 30  # |exp(-2 t z)| on the circle stays within double precision
    e2 = lambda z: np.exp(-2 * t * z)  # noqa: E731
    f2s = lambda z: np.expm1(-t * z) ** 2 / z  # noqa: E731
    (nu_e2, nu_f2s), (umu_e2, umu_ze2, umu_f2, umu_f2s) = _contour(
        spectrum, gamma, ([e2, f2s], [e2, lambda z: z * e2(z), lambda z: np.expm1(-t * z) ** 2, f2s]), top)
    out = _theory(gamma=gamma, t=t, r2=r2, sigma2=sigma2, spectrum=spectrum)
    assert out["bias"] == pytest.approx(r2 * nu_e2, rel=1e-11)
    assert out["variance"] == pytest.approx(sigma2 * gamma * nu_f2s, rel=1e-11)
    assert out["train_error"] == pytest.approx(r2 / gamma * umu_ze2 + sigma2 * umu_e2, rel=1e-11)
    assert out["norm2"] == pytest.approx(r2 / gamma * umu_f2 + sigma2 * umu_f2s, rel=1e-11)


# ------------------------------------------------------------------------------ exact moments, GD k = 1, 2
@pytest.mark.parametrize("spectrum, gamma", [("isotropic", 0.7), ("two-point:1,0.05", 1.5),
                                             ("power-law:1,1000", 2.0), ("power-law:0.5,300", 0.4),
                                             ("two-point:3,0,0.4", 2.0)])
def test_quadrature_moments(spectrum, gamma):
    """Masses and the first two moments of nu and umu from E tr(Sigma Sh^j), E tr(G^j) (closed forms):
    int s dnu = <s^2>, int s^2 dnu = <s^3> + gamma <s> <s^2>, int s dumu = gamma <s>,
    int s^2 dumu = gamma (<s^2> + gamma <s>^2)."""
    sp = parse_spectrum(spectrum)
    m = lambda j: float(np.asarray(sp.weights) @ np.asarray(sp.atoms, float) ** j)  # noqa: E731
    q = gf.quadrature(gamma, sp)
    assert q.nu0 + q.w_nu.sum() == pytest.approx(m(1), rel=1e-12)
    assert q.umu0 + q.w_umu.sum() == pytest.approx(1.0, rel=1e-12)
    assert q.w_nu @ q.x == pytest.approx(m(2), rel=1e-12)
    assert q.w_nu @ q.x**2 == pytest.approx(m(3) + gamma * m(1) * m(2), rel=1e-12)
    assert q.w_umu @ q.x == pytest.approx(gamma * m(1), rel=1e-12)
    assert q.w_umu @ q.x**2 == pytest.approx(gamma * (m(2) + gamma * m(1) ** 2), rel=1e-12)


def test_one_gd_step_closed_form():
    """k = 1: b = eta X^T y/n, so bias = r2 (<s> - 2 eta <s^2> + eta^2 (<s^3> + gamma <s><s^2>)) and
    variance = sigma2 gamma eta^2 <s^2>, train_error = r2 <s> + sigma2 - 2 eta (r2 ... ) (a polynomial)."""
    gamma, eta, r2, sigma2 = 1.7, 0.3, 1.1, 0.6
    sp = parse_spectrum("two-point:2,0.5,0.3")
    m = lambda j: float(np.asarray(sp.weights) @ np.asarray(sp.atoms, float) ** j)  # noqa: E731
    out = _theory(gamma=gamma, t=eta, eta=eta, r2=r2, sigma2=sigma2, spectrum=sp)
    assert out["bias"] == pytest.approx(r2 * (m(1) - 2 * eta * m(2) + eta**2 * (m(3) + gamma * m(1) * m(2))),
                                        rel=1e-12)
    assert out["variance"] == pytest.approx(sigma2 * gamma * eta**2 * m(2), rel=1e-12)
    # norm2 = eta^2 int (r2 s^2/gamma + sigma2 s) dumu
    assert out["norm2"] == pytest.approx(eta**2 * (r2 * (m(2) + gamma * m(1) ** 2) + sigma2 * gamma * m(1)),
                                         rel=1e-12)


# ---------------------------------------------------------------------------------- limits and series
@pytest.mark.parametrize("spectrum, gamma", [("isotropic", 0.5), ("isotropic", 2.0), ("two-point:1,0.05", 1.5),
                                             ("two-point:1,9,0.8", 0.3), ("power-law:1,400", 2.5),
                                             ("two-point:3,0,0.4", 2.0), ("two-point:3,0,0.4", 4.0)])
def test_long_time_equals_ridgeless(spectrum, gamma):
    out = _theory(gamma=gamma, t=1e6, r2=1.2, sigma2=0.35, spectrum=spectrum)
    ridge = {k: float(v) for k, v in ridge_theory.theory(Ridge(gamma=gamma, lam=0.0, r2=1.2, sigma2=0.35,
                                                               spectrum=spectrum)).items()}
    for name in PATH:
        assert out[name] == pytest.approx(ridge[name], rel=1e-10, abs=1e-14), name


def test_gd_with_stable_step_tends_to_ridgeless():
    out = _theory(gamma=3.0, t=2e5, eta=0.1, sigma2=0.2)  # eta s_+ = 0.75 < 2
    ridge = ridge_theory.theory(Ridge(gamma=3.0, lam=0.0, sigma2=0.2))
    for name in PATH:
        assert out[name] == pytest.approx(float(ridge[name]), rel=1e-10, abs=1e-14), name


def test_time_zero_and_small_time_series():
    sp = parse_spectrum("two-point:1,4,0.3")
    m = lambda j: float(np.asarray(sp.weights) @ np.asarray(sp.atoms, float) ** j)  # noqa: E731
    r2, sigma2, gamma = 1.4, 0.3, 0.8
    zero = _theory(gamma=gamma, t=0.0, r2=r2, sigma2=sigma2, spectrum=sp)
    assert zero == pytest.approx({"excess_risk": r2 * m(1), "bias": r2 * m(1), "variance": 0.0,
                                  "train_error": r2 * m(1) + sigma2, "norm2": 0.0,
                                  "optimal_time": zero["optimal_time"], "optimal_risk": zero["optimal_risk"]},
                                 rel=1e-13, abs=1e-300)
    t = 1e-4
    small = _theory(gamma=gamma, t=t, r2=r2, sigma2=sigma2, spectrum=sp)
    nu2 = m(3) + gamma * m(1) * m(2)  # int s^2 dnu
    assert small["bias"] == pytest.approx(r2 * (m(1) - 2 * t * m(2) + 2 * t**2 * nu2), rel=1e-9)  # O(t^3)
    assert small["variance"] == pytest.approx(sigma2 * gamma * (t**2 * m(2) - t**3 * nu2), rel=1e-7)


def test_flow_is_the_small_step_limit_of_gd():
    flow = _theory(gamma=1.3, t=2.0)
    for eta, tol in ((0.01, 2e-2), (0.001, 2e-3)):
        gd = _theory(gamma=1.3, t=2.0, eta=eta)
        for name in PATH:
            assert gd[name] == pytest.approx(flow[name], rel=tol), name
    assert gd["bias"] != flow["bias"]


def test_scaling_law():
    """(Sigma, sigma2, t, eta) -> (c Sigma, c sigma2, t/c, eta/c): risks scale by c, norm2 is unchanged."""
    c = 3.0
    base = _theory(gamma=1.4, t=1.2, eta=0.2, sigma2=0.3, spectrum="two-point:1,0.2")
    scaled = _theory(gamma=1.4, t=0.4, eta=0.2 / c, sigma2=0.9, spectrum="two-point:3,0.6")
    for name in ("excess_risk", "bias", "variance", "train_error"):
        assert scaled[name] == pytest.approx(c * base[name], rel=1e-11), name
    assert scaled["norm2"] == pytest.approx(base["norm2"], rel=1e-11)


def test_hard_edge_gamma_one():
    """gamma = 1: the variance grows without bound in t (ridgeless +inf) but is finite at every t."""
    v = gf.theory(GradientFlow(gamma=1.0, t=np.array([1.0, 1e2, 1e4, 1e6])))["variance"]
    assert np.all(np.isfinite(v)) and np.all(np.diff(v) > 0) and v[-1] > 10 * v[1]


def test_divergent_gd_is_exact_not_an_error():
    out = _theory(gamma=0.5, t=10.0, eta=1.0)  # eta s_+ = 2.9: (1.9)^20 growth
    assert out["excess_risk"] > 1e3 and np.isfinite(out["excess_risk"])
    assert out["excess_risk"] == pytest.approx(float(_mp_metrics(0.5, 10.0, 1.0, 1.0, 0.5)["excess_risk"]),
                                               rel=1e-10)


# ---------------------------------------------------------------------------------- optimal stopping
@pytest.mark.parametrize("spectrum, gamma, sigma2", [("isotropic", 0.5, 0.25), ("isotropic", 1.0, 1.0),
                                                     ("two-point:1,0.05", 1.5, 0.1), ("power-law:1,200", 2.0, 0.5)])
def test_optimal_time_is_the_global_minimum(spectrum, gamma, sigma2):
    model = GradientFlow(gamma=gamma, sigma2=sigma2, spectrum=spectrum)
    opt = gf.optimal(model)
    t_star, risk = float(opt["optimal_time"]), float(opt["optimal_risk"])
    grid = np.concatenate([np.geomspace(1e-3, 1e4, 2000), t_star * (1 + np.linspace(-1e-3, 1e-3, 11))])
    path = gf.theory(model.replace(t=grid))["excess_risk"]
    assert risk <= path.min() * (1 + 1e-13)
    assert risk == pytest.approx(float(gf.theory(model.replace(t=t_star))["excess_risk"]), rel=1e-14)


def test_optimal_special_cases():
    noiseless = gf.optimal(GradientFlow(gamma=2.0, sigma2=0.0, r2=1.5))
    assert float(noiseless["optimal_time"]) == np.inf
    assert float(noiseless["optimal_risk"]) == pytest.approx(1.5 * (1 - 1 / 2.0), rel=1e-12)
    null = gf.optimal(GradientFlow(gamma=2.0, r2=0.0))
    assert float(null["optimal_time"]) == 0.0 and float(null["optimal_risk"]) == 0.0
    stable_gd = gf.optimal(GradientFlow(gamma=2.0, sigma2=0.0, eta=0.1))
    assert float(stable_gd["optimal_time"]) == np.inf


def test_optimal_gd_is_the_best_whole_step():
    model = GradientFlow(gamma=2.0, eta=0.2, r2=1.0, sigma2=0.25)
    opt = gf.optimal(model)
    k_star = float(opt["optimal_time"]) / 0.2
    assert k_star == round(k_star)
    ks = np.arange(0, 200)
    path = gf.theory(model.replace(t=ks * 0.2, eta=np.full(ks.size, 0.2)))["excess_risk"]
    assert int(np.argmin(path)) == int(round(k_star))
    assert float(opt["optimal_risk"]) == pytest.approx(path.min(), rel=1e-14)


def test_early_stopping_vs_ridge_ratios():
    """Isotropic gamma 2: flow risk at t over ridge risk at lam = 1/t (below AKT's 1.69 bound), and the
    optimal-stopping over optimal-ridge ratio within AKT's [1, 1.22]."""
    lam = np.array([0.1, 0.5, 2.0])
    flow = gf.theory(GradientFlow(gamma=2.0, t=1 / lam, sigma2=0.25))["excess_risk"]
    ridge = ridge_theory.theory(Ridge(gamma=2.0, lam=lam, sigma2=0.25))["excess_risk"]
    np.testing.assert_allclose(flow / ridge, [1.0753, 1.0271, 0.9616], atol=6e-5)
    gammas = np.array([0.2, 0.5, 1.0, 2.0, 5.0])
    ratio = (gf.optimal(GradientFlow(gamma=gammas, sigma2=0.5))["optimal_risk"]
             / ridge_theory.optimal_risk(Ridge(gamma=gammas, sigma2=0.5)))
    assert np.all((ratio >= 1.0) & (ratio <= 1.22))


# ---------------------------------------------------------------------------------------- API and input
def test_broadcasting_over_gamma_and_time():
    t = np.array([0.5, 2.0, 10.0])
    grid = gf.theory(GradientFlow(gamma=np.array([[0.5], [2.0]]), t=t, sigma2=0.25))
    assert grid["excess_risk"].shape == (2, 3)
    assert grid["excess_risk"][1, 1] == pytest.approx(0.657730597430, rel=1e-11)
    assert np.all(grid["optimal_time"][1] == grid["optimal_time"][1, 0])


@pytest.mark.parametrize("kw", [{"t": -1.0}, {"eta": -0.1}, {"t": 0.35, "eta": 0.1}, {"spectrum": "two-point:1"},
                                {"gamma": 0.0}])
def test_bad_input(kw):
    with pytest.raises(ParameterError):
        GradientFlow(**kw)


def test_grid_over_time_and_step():
    """A (step x time) grid: each row is GD with its eta (eta = 0: the flow), one value per grid point."""
    t = np.array([0.5, 1.0, 2.0])
    grid = gf.theory(GradientFlow(gamma=1.5, t=t, eta=np.array([[0.0], [0.5]]), sigma2=0.25))["excess_risk"]
    assert grid.shape == (2, 3)
    for j, tj in enumerate(t):
        assert grid[0, j] == pytest.approx(_theory(gamma=1.5, t=tj, sigma2=0.25)["excess_risk"], rel=1e-14)
        assert grid[1, j] == pytest.approx(_theory(gamma=1.5, t=tj, eta=0.5, sigma2=0.25)["excess_risk"], rel=1e-14)


# ------------------------------------------------------------------- regressions: extreme gamma and eta
@pytest.mark.parametrize("gamma", [1 - 1e-13, 1 + 1e-13, 1 - 1e-11, 1 - 1e-8, 1 + 1e-8])
def test_near_hard_edge_gamma_to_one(gamma):
    """gamma_eff -> 1: the lowest edge (1 - sqrt(gamma))^2 ~ 1e-27 sits below the rounding of x; its region
    x < eps carries mass ~1e-8 (once lost: a false ConvergenceError, or a silent error ~|1 - gamma|)."""
    out = _theory(gamma=gamma, t=3 * 0.9999999999999, eta=0.9999999999999, r2=1.3, sigma2=0.4)
    ref = _mp_metrics(gamma, 3 * 0.9999999999999, 0.9999999999999, 1.3, 0.4)
    for name in PATH:
        assert out[name] == pytest.approx(float(ref[name]), rel=1e-11), name
    q = gf.quadrature(gamma, parse_spectrum("isotropic"))  # MP: masses 1, int s dnu = 1, int s dumu = gamma
    assert q.nu0 + q.w_nu.sum() == pytest.approx(1.0, rel=1e-14)
    assert q.umu0 + q.w_umu.sum() == pytest.approx(1.0, rel=1e-14)
    assert q.w_nu @ q.x**2 == pytest.approx(1 + gamma, rel=1e-13)
    assert q.w_umu @ q.x == pytest.approx(gamma, rel=1e-13)


def test_one_step_near_gamma_one():
    """The reported point gamma = eta = t = 0.9999999999999: one GD step, bias = r2 (1 - 2 eta + eta^2 (1 + gamma)),
    variance = sigma2 gamma eta^2 (test_one_gd_step_closed_form's formulas, Sigma = I)."""
    g = eta = 0.9999999999999
    out = _theory(gamma=g, t=eta, eta=eta, r2=1.0, sigma2=0.5)
    assert out["bias"] == pytest.approx(1 - 2 * eta + eta**2 * (1 + g), rel=1e-12)
    assert out["variance"] == pytest.approx(0.5 * g * eta**2, rel=1e-12)


@pytest.mark.parametrize("gamma, t", [(0.5, 1.0), (2.0, 0.96)])
def test_many_tiny_gd_steps(gamma, t):
    """eta = 1e-8, k ~ 1e8 steps: exp(k log1p(-eta s)) against the exact power in mpmath (30 digits), and the
    optimum costs one continuous search: the best whole k, next to the flow's t*."""
    eta = 1e-8
    out = _theory(gamma=gamma, t=t, eta=eta, r2=1.3, sigma2=0.4)
    ref = _mp_metrics(gamma, t, eta, 1.3, 0.4)
    for name in PATH:
        assert out[name] == pytest.approx(float(ref[name]), rel=1e-10), name
    model = GradientFlow(gamma=gamma, eta=eta, r2=1.3, sigma2=0.4)
    t_star, risk = (float(v) for v in gf.optimal(model).values())
    k = round(t_star / eta)
    assert t_star == pytest.approx(k * eta, rel=1e-15)
    near = gf.theory(model.replace(t=eta * (k + np.array([-1.0, 1.0])), eta=np.full(2, eta)))["excess_risk"]
    assert np.all(risk <= near)
    flow = gf.optimal(model.replace(eta=0.0))
    assert t_star == pytest.approx(float(flow["optimal_time"]), rel=1e-6)
    assert risk == pytest.approx(float(flow["optimal_risk"]), rel=1e-8)


@pytest.mark.parametrize("spectrum", ["isotropic", "two-point:1,0.05", "power-law:0.009765621448156575,8", "power-law:1,60"])
@pytest.mark.parametrize("gamma", [1e-12, 1e-8, 0.008, 1e4, 1e8, 1e12])
def test_quadrature_moments_at_extreme_gamma(spectrum, gamma):
    """Masses and first moments (closed forms, test_quadrature_moments) at extreme gamma: the support splits
    into bumps of width ~sqrt(gamma) around each atom (small gamma), or sits at x ~ gamma <s> (large gamma)."""
    sp = parse_spectrum(spectrum)
    m = lambda j: float(np.asarray(sp.weights) @ np.asarray(sp.atoms, float) ** j)  # noqa: E731
    q = gf.quadrature(gamma, sp)
    assert q.nu0 + q.w_nu.sum() == pytest.approx(m(1), rel=1e-13)
    assert q.umu0 + q.w_umu.sum() == pytest.approx(1.0, rel=1e-13)
    assert q.w_umu.sum() == pytest.approx(min(gamma, 1.0), rel=1e-11)  # continuous part: min(gamma_eff, 1)
    assert q.w_nu @ q.x == pytest.approx(m(2), rel=1e-12)
    assert q.w_umu @ q.x == pytest.approx(gamma * m(1), rel=1e-12)
    assert q.w_umu @ q.x**2 == pytest.approx(gamma * (m(2) + gamma * m(1) ** 2), rel=1e-12)


def test_isotropic_tiny_gamma_against_marchenko_pastur():
    out = _theory(gamma=1e-8, t=2.0, r2=1.3, sigma2=0.4)
    ref = _mp_metrics(1e-8, 2.0, 0, 1.3, 0.4)
    for name in PATH:
        assert out[name] == pytest.approx(float(ref[name]), rel=1e-10), name
