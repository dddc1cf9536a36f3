"""Theory of the max-margin family: reference values, exact special cases, limits, independent evaluations."""
import mpmath as mp
import numpy as np
import pytest
from scipy import integrate, optimize, special, stats

from overparam.errors import ParameterError
from overparam.models import MaxMargin
from overparam.theory import max_margin as mm

# the max_margin family notes Sec. 6 (rows marked (mp) were solved independently with mpmath)
REFERENCE = [
    ("noiseless", 0.8, 0.6654434649, 0.7247620000, 0.2419497076),
    ("noiseless", 3.0, 1.6055846030, 0.4306358282, 0.3582893435),
    ("flip:0.2", 1.5, 0.8625274082, 0.3054752666, 0.4407108021),
    ("flip:0.2", 3.0, 1.4827389206, 0.2408706808, 0.4535402189),
    ("logistic:2", 0.8, 0.4759215982, 0.4953073354, 0.3771499279),
    ("logistic:2", 1.5, 0.9163396853, 0.4041675518, 0.4006614781),
    ("purenoise", 0.8, 0.3105784477, 0.0, 0.5),
    ("purenoise", 3.0, 1.4239763567, 0.0, 0.5),
]
LABELS = ("noiseless", "flip:0.2", "logistic:2", "purenoise")


@pytest.mark.parametrize("labels, psi, kappa, rho, err", REFERENCE)
def test_reference_values(labels, psi, kappa, rho, err):
    out = mm.theory(MaxMargin(psi=psi, labels=labels))
    assert abs(out["margin"] - kappa) < 2e-10
    assert abs(out["cos_angle"] - rho) < 2e-10
    assert abs(out["test_error"] - err) < 2e-10
    assert out["separable"] == 1


def test_reference_thresholds_and_constants():
    assert mm.separability_threshold("purenoise") == 0.5
    assert mm.separability_threshold("noiseless") == 0.0
    assert mm.separability_threshold("flip:0") == 0.0
    assert abs(mm.separability_threshold("flip:0.2") - 0.41817784736) < 1e-10
    assert abs(mm.separability_threshold("logistic:2") - 0.34493012840) < 1e-10
    assert abs(mm.gardner_capacity(0.25) - 1.3646427872) < 1e-10
    assert mm.gardner_capacity(0.0) == pytest.approx(2.0, abs=1e-15)
    # Bayes error of logistic:2 = E[sigmoid(-2|G|)] = test error at rho -> 1
    assert abs(mm.test_error("logistic:2", 1 - 1e-15)[0] - 0.22201034211) < 1e-9


def test_gardner_inverse_is_purenoise_margin():
    for k in (0.25, 0.8, 2.0):
        kappa, rho = mm.solve("purenoise", 1 / mm.gardner_capacity(k))
        assert abs(kappa[0] - k) < 1e-13 and rho[0] == 0
    with pytest.raises(ParameterError):
        mm.gardner_capacity(-0.1)


def test_flip_threshold_closed_form():
    """psi*(q) = min_rho [q + (1-2q)(1/2 - (arcsin rho + rho sqrt(1-rho^2))/pi)]/(1 - rho^2) (1-D, independent)."""
    for q in (0.05, 0.2, 0.4):
        f = lambda r: (q + (1 - 2 * q) * (0.5 - (np.arcsin(r) + r * np.sqrt(1 - r * r)) / np.pi)) / (1 - r * r)
        best = optimize.minimize_scalar(f, bounds=(0, 0.999999), method="bounded", options={"xatol": 1e-12})
        assert abs(mm.separability_threshold(f"flip:{q}") - best.fun) < 1e-11


def _owen_F2(k, rho):
    """Noiseless Gordon function F2_0(k, rho) in closed form with Owen's T (formulas 2.2)."""
    s = np.sqrt(1 - rho**2)
    t = rho / s
    i0 = special.ndtr(k) / 2 - special.owens_t(k, t)
    return 2 * ((k * k + 1) * i0 + k * stats.norm.pdf(k) * special.ndtr(t * k)
                - (2 * k * rho * special.ndtr(k / s) + rho * s * stats.norm.pdf(k / s)) / np.sqrt(2 * np.pi))


def test_objective_matches_owen_closed_form():
    """O(k, t) = (1 + t^2) F2(k, rho): quadrature vs the Owen-T closed form, noiseless and flip."""
    k = np.array([0.0, 0.3, 1.1, 2.5, 0.05])
    t = np.array([0.4, 1.3, 0.2, 3.0, 60.0])
    rho = t / np.sqrt(1 + t * t)
    for q in (0.0, 0.2):
        labels = mm._labels(f"flip:{q}")
        f2 = (1 - 2 * q) * _owen_F2(k, rho) + 2 * q * mm.h(k)
        assert np.allclose(mm._objective(labels, k, t)[0], (1 + t * t) * f2, rtol=1e-12, atol=1e-13)


def test_objective_derivatives_by_differences():
    labels = mm._labels("logistic:3")
    k, t, d = np.array([0.7]), np.array([0.9]), 1e-5
    o, ok, ot, ott, otk = mm._objective(labels, k, t)
    f = lambda kk, tt: mm._objective(labels, np.array([kk]), np.array([tt]))[0][0]
    assert ok == pytest.approx((f(k[0] + d, t[0]) - f(k[0] - d, t[0])) / (2 * d), rel=1e-8)
    assert ot == pytest.approx((f(k[0], t[0] + d) - f(k[0], t[0] - d)) / (2 * d), rel=1e-8)
    g = lambda kk, tt: mm._objective(labels, np.array([kk]), np.array([tt]))[2][0]
    assert ott == pytest.approx((g(k[0], t[0] + d) - g(k[0], t[0] - d)) / (2 * d), rel=1e-7)
    assert otk == pytest.approx((g(k[0] + d, t[0]) - g(k[0] - d, t[0])) / (2 * d), rel=1e-7)


def _mp_objective(labels, k, t):
    """O(k, t) and dO/dt by mpmath quadrature (25 digits), W = YG with density phi(w)(1 + m(w))."""
    mp.mp.dps = 25
    k, t = mp.mpf(k), mp.mpf(t)
    sig = mp.sqrt(1 + t * t)
    m = {"noiseless": lambda w: mp.sign(w), "flip:0.2": lambda w: mp.mpf("0.6") * mp.sign(w),
         "logistic:2": lambda w: mp.tanh(w)}[labels]
    h0 = lambda x: (x * x + 1) * mp.ncdf(x) + x * mp.npdf(x)
    h1 = lambda x: 2 * (x * mp.ncdf(x) + mp.npdf(x))
    dens = lambda w: mp.npdf(w) * (1 + m(w))
    pts = [-mp.inf, 0, k * sig / t, mp.inf]
    o = mp.quad(lambda w: dens(w) * h0(k * sig - t * w), pts)
    ot = mp.quad(lambda w: dens(w) * h1(k * sig - t * w) * (k * t / sig - w), pts)
    return o, ot


@pytest.mark.parametrize("labels, psi", [("noiseless", 0.8), ("flip:0.2", 1.5), ("logistic:2", 1.5)])
def test_solution_satisfies_system_in_mpmath(labels, psi):
    """Independent evaluation: at our (kappa*, rho*) the mpmath O equals psi and dO/dt vanishes."""
    kappa, rho = mm.solve(labels, psi)
    t = rho[0] / np.sqrt(1 - rho[0] ** 2)
    o, ot = _mp_objective(labels, kappa[0], t)
    assert abs(float(o) - psi) < 1e-12
    assert abs(float(ot)) < 1e-11


@pytest.mark.parametrize("labels", LABELS)
def test_monotone_on_grid(labels):
    star = mm.separability_threshold(labels)
    out = mm.theory(MaxMargin(psi=star + np.linspace(1e-3, 20, 200), labels=labels))
    assert np.all(np.diff(out["margin"]) > 0)
    if labels != "purenoise":
        assert np.all(np.diff(out["cos_angle"]) < 0) and np.all(np.diff(out["test_error"]) > 0)


@pytest.mark.parametrize("labels", ["flip:0.2", "logistic:2", "purenoise"])
def test_near_threshold(labels):
    """kappa* ~ (psi - psi*)/Psi'(0), Psi'(0) = 2 sqrt(1 + t0^2) E[(Z - t0 W)_+]; rho* -> rho0."""
    star, t0 = mm._threshold(mm._labels(labels))
    m = lambda w: mm._m(mm._labels(labels), np.array([w]))[0]
    f1 = lambda x: x * special.ndtr(x) + stats.norm.pdf(x)
    e = sum(integrate.quad(lambda w: stats.norm.pdf(w) * (1 + m(w)) * f1(-t0 * w), a, b, epsabs=1e-14)[0]
            for a, b in ((-12, 0), (0, 12)))
    slope = 2 * np.sqrt(1 + t0 * t0) * e
    if labels == "purenoise":
        assert slope == pytest.approx(np.sqrt(2 / np.pi), rel=1e-12)
    kappa, rho = mm.solve(labels, star + 1e-3)
    assert kappa[0] * slope / 1e-3 == pytest.approx(1, abs=2e-3)
    assert rho[0] == pytest.approx(t0 / np.sqrt(1 + t0 * t0), abs=1e-2)
    out = mm.theory(MaxMargin(psi=star + 1e-7, labels=labels))
    assert float(out["cos_angle"]) == pytest.approx(t0 / np.sqrt(1 + t0 * t0), abs=1e-5)


@pytest.mark.parametrize("labels, c", [("noiseless", np.sqrt(2 / np.pi)), ("flip:0.2", 0.6 * np.sqrt(2 / np.pi)),
                                       ("logistic:2", None)])
def test_large_psi(labels, c):
    """psi -> inf: kappa* ~ sqrt(psi), rho* ~ c/sqrt(psi), 1/2 - test_error ~ c^2/sqrt(2 pi psi), c = E[m(G) G]."""
    if c is None:
        c = 2 * integrate.quad(lambda g: stats.norm.pdf(g) * g * np.tanh(g), 0, np.inf, epsabs=1e-14)[0]
    psi = 1e4
    out = mm.theory(MaxMargin(psi=psi, labels=labels))
    assert out["margin"] / np.sqrt(psi) == pytest.approx(1, abs=1e-3)
    assert out["cos_angle"] * np.sqrt(psi) / c == pytest.approx(1, abs=1e-3)
    assert (0.5 - out["test_error"]) * np.sqrt(2 * np.pi * psi) / c**2 == pytest.approx(1, abs=1e-3)


def test_noiseless_small_psi():
    """Maximally stable perceptron: test_error ~ 0.5005 psi as psi -> 0 (rho* -> 1, t* large). Down to
    psi = 1e-12, where 1 - rho* ~ 1e-25 is below double precision: the error must come from t*, not rho*."""
    psi = np.array([1e-2, 1e-3, 3e-4, 1e-6, 1e-9, 1e-12])
    out = mm.theory(MaxMargin(psi=psi, labels="noiseless"))
    assert np.all(np.abs(out["test_error"] / psi - 0.5005) < 2e-4)
    assert np.all(out["cos_angle"] > 0.99)


@pytest.mark.parametrize("labels", ["flip:0.05", "flip:0.2", "logistic:0.5", "logistic:2", "purenoise"])
def test_threshold_equals_test_error_at_rho0(labels):
    """Stein's lemma at the Candes-Sur minimiser t0 (E[(Z - t0 W)_+ W] = 0) gives
    psi* = E[(Z - t0 W)_+ Z] = P(Z > t0 W) = test_error(rho0): the threshold (a minimum of O(0, t)) and the
    test error at psi = psi* (a separate quadrature of E[Phi(-t0 W)]) must agree."""
    star = mm.separability_threshold(labels)
    out = mm.theory(MaxMargin(psi=star, labels=labels))
    assert float(out["margin"]) == 0 and float(out["separable"]) == 0
    assert float(out["test_error"]) == pytest.approx(star, abs=1e-13)


def test_consistency_between_label_models():
    assert abs(mm.solve("logistic:200", 1.5)[0][0] - mm.solve("noiseless", 1.5)[0][0]) < 1e-4
    assert abs(mm.solve("flip:1e-6", 1.5)[0][0] - mm.solve("noiseless", 1.5)[0][0]) < 1e-5


def test_test_error_closed_forms():
    rho = np.array([0.0, 0.3, 0.9, 0.999])
    assert np.allclose(mm.test_error("noiseless", rho), np.arccos(rho) / np.pi, atol=1e-14)
    assert np.allclose(mm.test_error("flip:0.3", rho), 0.3 + 0.4 * np.arccos(rho) / np.pi, atol=1e-14)
    assert np.allclose(mm.test_error("purenoise", rho), 0.5, atol=1e-15)
    beta, r = 2.0, 0.6
    t = r / np.sqrt(1 - r * r)
    f = lambda g: stats.norm.pdf(g) * (special.expit(beta * g) * special.ndtr(-t * g)
                                       + special.expit(-beta * g) * special.ndtr(t * g))
    assert mm.test_error("logistic:2", r)[0] == pytest.approx(integrate.quad(f, -np.inf, np.inf, epsabs=1e-14)[0],
                                                             abs=1e-13)


def test_below_and_at_threshold():
    out = mm.theory(MaxMargin(psi=np.array([0.2, 0.5, 0.7]), labels="purenoise"))
    assert np.isnan(out["margin"][0]) and np.isnan(out["cos_angle"][0]) and np.isnan(out["test_error"][0])
    assert list(out["separable"]) == [0, 0, 1]
    assert np.all(out["separability_threshold"] == 0.5)
    assert out["margin"][1] == 0 and out["cos_angle"][1] == 0 and out["test_error"][1] == 0.5
    with pytest.raises(ParameterError):
        mm.solve("flip:0.2", 0.3)


def test_shapes_and_grid_equals_points():
    psi = np.array([[0.6, 1.0], [2.0, 5.0]])
    out = mm.theory(MaxMargin(psi=psi, labels="logistic:2"))
    assert all(v.shape == (2, 2) for v in out.values())
    single = mm.theory(MaxMargin(psi=2.0, labels="logistic:2"))
    assert single["margin"].shape == ()
    assert abs(single["margin"] - out["margin"][1, 0]) < 1e-13


@pytest.mark.parametrize("kwargs", [dict(psi=0), dict(psi=-1), dict(labels="flip:0.5"), dict(labels="flip:-0.1"),
                                    dict(labels="logistic:0"), dict(labels="gauss")])
def test_bad_input(kwargs):
    with pytest.raises(ParameterError):
        MaxMargin(**kwargs)


@pytest.mark.parametrize("labels", ["noiseless", "flip:0.2", "logistic:2"])
def test_continuation_on_large_grids_equals_pointwise_solve(labels):
    """Grids larger than 2 x _KNOTS are solved by continuation from interpolated knots; every point must agree
    with the bracketed solve of that point alone (to the joint-Newton tolerance)."""
    psi = np.geomspace(0.6, 8.0, 2 * mm._KNOTS + 7)
    k_all, rho_all = mm.solve(labels, psi)
    for i in (0, 5, 17, 30, len(psi) - 1):
        k_one, rho_one = mm.solve(labels, psi[i:i + 1])
        assert k_all[i] == pytest.approx(k_one[0], rel=1e-11)
        assert rho_all[i] == pytest.approx(rho_one[0], rel=1e-11)
