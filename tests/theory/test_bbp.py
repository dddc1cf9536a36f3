"""Theory of the BBP family: closed forms, exact special cases, independent quadrature and the reference
values of the bbp family notes (sections A6, B6, C6, D6)."""
import math

import mpmath
import numpy as np
import pytest
from scipy import integrate, optimize

from overparam.errors import ConvergenceError, ParameterError
from overparam.models import HessianInit, SpectralPR, SpikedCovariance, SpikedWigner
from overparam.theory import bbp


# ------------------------------------------------------------------------------------------ spiked
def test_wigner_closed_form_points():
    r = bbp.spiked_wigner(SpikedWigner(theta=np.array([0.0, 0.8, 1.0, 1.2, 2.0])))
    np.testing.assert_allclose(r["top_eigenvalue"], [2, 2, 2, 2.0333333333, 2.5], rtol=1e-10)
    np.testing.assert_allclose(r["overlap_sq"], [0, 0, 0, 0.30555555556, 0.75], rtol=1e-10, atol=1e-15)


def test_wigner_continuous_at_threshold_and_large_theta():
    r = bbp.spiked_wigner(SpikedWigner(theta=np.array([1 + 1e-9, 1e4])))
    np.testing.assert_allclose(r["top_eigenvalue"], [2, 1e4 + 1e-4], rtol=1e-12)
    np.testing.assert_allclose(r["overlap_sq"], [0, 1], atol=1e-8)


def test_wigner_outlier_solves_stieltjes_equation():
    """g(lambda) = 1/theta with g(z) = (z - sqrt(z^2 - 4))/2, overlap = -1/(theta^2 g'(lambda))."""
    theta = np.linspace(1.1, 5, 20)
    r = bbp.spiked_wigner(SpikedWigner(theta=theta))
    lam = r["top_eigenvalue"]
    g = (lam - np.sqrt(lam**2 - 4)) / 2
    np.testing.assert_allclose(g, 1 / theta, rtol=1e-12)
    dg = (1 - lam / np.sqrt(lam**2 - 4)) / 2
    np.testing.assert_allclose(r["overlap_sq"], -1 / (theta**2 * dg), rtol=1e-10)


def test_covariance_reference_values():
    r = bbp.spiked_covariance(SpikedCovariance(ell=np.array([2.5, 1.2, 1.0]), gamma=0.25))
    np.testing.assert_allclose(r["top_eigenvalue"], [35 / 12, 2.25, 2.25], rtol=1e-12)
    np.testing.assert_allclose(r["overlap_sq"], [16 / 21, 0, 0], atol=1e-12)
    np.testing.assert_allclose(r["threshold"], 1.5)


def test_covariance_threshold_continuity_and_small_gamma():
    gamma = np.array([0.1, 1.0, 4.0])
    r = bbp.spiked_covariance(SpikedCovariance(ell=1 + np.sqrt(gamma) + 1e-10, gamma=gamma))
    np.testing.assert_allclose(r["top_eigenvalue"], (1 + np.sqrt(gamma)) ** 2, rtol=1e-8)
    np.testing.assert_allclose(r["overlap_sq"], 0, atol=1e-8)
    r = bbp.spiked_covariance(SpikedCovariance(ell=3.0, gamma=1e-9))
    np.testing.assert_allclose([r["top_eigenvalue"], r["overlap_sq"]], [3, 1], rtol=1e-8)


@pytest.mark.parametrize("model", [lambda: SpikedWigner(theta=-1), lambda: SpikedCovariance(ell=0.5),
                                   lambda: SpikedCovariance(gamma=0), lambda: SpectralPR(alpha=0),
                                   lambda: SpectralPR(preprocessing="truncated:0"),
                                   lambda: SpectralPR(preprocessing="nope"), lambda: HessianInit(p=0),
                                   lambda: HessianInit(p_star=1.5), lambda: HessianInit(a=0)])
def test_bad_input_is_a_parameter_error(model):
    with pytest.raises(ParameterError):
        model()


# ------------------------------------------------------------------------------------- spectral PR
C6 = [("luo-alghamdi-lu", 0.75, 1.3333333333, 0.1112035945, 0.5),
      ("luo-alghamdi-lu", 1.5, 0.6666666667, 0.4570764891, 0.5),
      ("luo-alghamdi-lu", 4.0, 0.25, 0.9244903384, 0.5),
      ("mondelli-montanari", 0.75, 1.3475842819, 0.1048851769, 0.5),
      ("mondelli-montanari", 1.5, 0.7435274684, 0.3703007286, 0.5),
      ("mondelli-montanari", 4.0, 0.4029582113, 0.7051488768, 0.5),
      ("truncated:9", 4.0, 4.4127655023, 0.3973725426, 1.6325561753),
      ("truncated:9", 1.5, 7.9348295522, 0.0, 1.6325561753)]


@pytest.mark.parametrize("prep,alpha,top,overlap,threshold", C6)
def test_spectral_reference_values(prep, alpha, top, overlap, threshold):
    r = bbp.spectral_pr(SpectralPR(alpha=alpha, preprocessing=prep))
    assert r["top_eigenvalue"] == pytest.approx(top, abs=2e-9)
    assert r["overlap_sq"] == pytest.approx(overlap, abs=2e-9)
    assert r["threshold"] == pytest.approx(threshold, abs=2e-9)


def test_lal_top_eigenvalue_is_one_over_alpha_everywhere():
    alpha = np.linspace(0.1, 6, 60)
    r = bbp.spectral_pr(SpectralPR(alpha=alpha, preprocessing="luo-alghamdi-lu"))
    np.testing.assert_allclose(r["top_eigenvalue"], 1 / alpha, rtol=1e-9)


@pytest.mark.parametrize("prep", ["luo-alghamdi-lu", "mondelli-montanari"])
def test_optimal_preprocessings_reach_one_half(prep):
    r = bbp.spectral_pr(SpectralPR(alpha=np.array([0.3, 0.49, 0.51, 0.6]), preprocessing=prep))
    assert np.all(r["overlap_sq"][:2] == 0) and np.all(r["overlap_sq"][2:] > 0)
    np.testing.assert_allclose(r["threshold"], 0.5, rtol=1e-9)


def test_lal_beats_mm_and_tc_family():
    alpha = np.array([0.75, 1.5, 4.0])
    lal = bbp.spectral_pr(SpectralPR(alpha=alpha, preprocessing="luo-alghamdi-lu"))["overlap_sq"]
    for other in ("mondelli-montanari", lambda y: (y - 1) / (y + 0.5)):
        assert np.all(lal > bbp.spectral_pr(SpectralPR(alpha=alpha, preprocessing=other))["overlap_sq"])


@pytest.mark.parametrize("c", [0.3, 1.0, 2.5])
def test_tc_family_threshold(c):
    """T_c(y) = (y - 1)/(y + c): hard edge, alpha_c = (1 + c)/2 exactly (C2)."""
    r = bbp.spectral_pr(SpectralPR(alpha=1.0, preprocessing=lambda y: (y - 1) / (y + c)))
    assert float(r["threshold"]) == pytest.approx((1 + c) / 2, rel=1e-9)


def _quad_point(t, alpha):
    """Independent per-point Lu-Li solution with scipy quad over G and brentq (bounded smooth T, sup 1)."""
    def e(f):
        return 2 * integrate.quad(lambda g: f(g * g) * math.exp(-g * g / 2) / math.sqrt(2 * math.pi),
                                  0, 14, limit=200, epsabs=1e-13, epsrel=1e-12)[0]
    a2 = lambda lam: e(lambda y: t(y) ** 2 / (lam - t(y)) ** 2)
    h = lambda lam: e(lambda y: t(y) * (y - 1) / (lam - t(y)))
    lam_bar = 1.0 if a2(1.0) <= 1 / alpha else optimize.brentq(lambda lam: a2(lam) - 1 / alpha, 1 + 1e-12, 50)
    lam = optimize.brentq(lambda lam: h(lam) - 1 / alpha, lam_bar + 1e-12, 100, xtol=1e-14)
    dpsi = 1 / alpha - a2(lam)
    top = lam * (1 / alpha + e(lambda y: t(y) / (lam - t(y))))
    return top, dpsi / (dpsi + e(lambda y: t(y) ** 2 * y / (lam - t(y)) ** 2))


@pytest.mark.parametrize("alpha", [1.2, 3.0])
def test_spectral_against_independent_quad(alpha):
    t = lambda y: (y - 1) / (y + 0.4)
    top, overlap = _quad_point(t, alpha)
    r = bbp.spectral_pr(SpectralPR(alpha=alpha, preprocessing=t))
    assert float(r["top_eigenvalue"]) == pytest.approx(top, rel=1e-8)
    assert float(r["overlap_sq"]) == pytest.approx(overlap, rel=1e-7)


def test_identity_is_a_documented_singularity():
    r = bbp.spectral_pr(SpectralPR(alpha=np.array([0.5, 4.0]), preprocessing="identity"))
    assert np.all(np.isinf(r["top_eigenvalue"])) and np.all(r["overlap_sq"] == 0)
    assert np.all(np.isinf(r["threshold"]))


def test_truncated_threshold_is_continuous_onset():
    thr = float(bbp.spectral_pr(SpectralPR(alpha=1.0, preprocessing="truncated:9"))["threshold"])
    r = bbp.spectral_pr(SpectralPR(alpha=np.array([thr * 0.999, thr * 1.001]), preprocessing="truncated:9"))
    assert r["overlap_sq"][0] == 0 and 0 < r["overlap_sq"][1] < 0.02


def test_root_finder_failure_is_a_convergence_error():
    with pytest.raises(ConvergenceError):
        bbp._bisect(lambda x: x**2 + 1, np.array([0.0]), np.array([1.0]))
    with pytest.raises(ConvergenceError):
        bbp._bisect(lambda x: x - 0.5, np.array([0.0]), np.array([1.0]), maxiter=1)
    root = bbp._bisect(lambda x: np.cos(x) - x, np.zeros(3), np.ones(3))
    np.testing.assert_allclose(root, 0.7390851332151607, rtol=1e-14)


def test_nan_preprocessing_is_rejected():
    with pytest.raises(ParameterError):
        bbp.spectral_pr(SpectralPR(alpha=2.0, preprocessing=lambda y: np.where(y > 1, np.nan, -y)))


# ------------------------------------------------------------------------------------ hessian-init
D6 = [(1, 2, 0.7, 3.0, -1.0020557552, 0.4651687118, 0.9270552967, "continuous"),
      (1, 2, 1.5, 2.0, -0.9503516310, 0.2718964101, 1.3229376071, "discontinuous"),
      (1, 1, 0.7, 3.0, -1.4747198510, 0.2676831903, 1.2433879894, "continuous"),
      (2, 3, 1.0, 4.0, -0.6321754501, 0.3062562178, 2.0216944577, "discontinuous"),
      (1, 2, 0.7, 0.6, -1.0196813286, 0.0, 0.9270552967, "continuous")]


def test_hessian_reference_values():
    ps, p, a, alpha, lam, ov, abbp, kind = map(np.array, zip(*D6))
    r = bbp.hessian_init(HessianInit(p_star=ps, p=p, a=a, alpha=alpha))
    np.testing.assert_allclose(r["min_eigenvalue"], lam, atol=1e-9)
    np.testing.assert_allclose(r["overlap_sq"], ov, atol=1e-9)
    np.testing.assert_allclose(r["alpha_bbp"], abbp, atol=1e-9)
    assert list(r["transition"]) == list(kind)
    np.testing.assert_array_equal(r["cluster_overlap_sq"], r["overlap_sq"])


def test_phase_retrieval_hard_edge_closed_form():
    """p = p* = 1: alpha_hard = 3/(2 sqrt(3 pi/(2a)) exp(a/6) erfc(sqrt(a/6))) (D3)."""
    for a, expected in ((1.5, 1.37452923097), (0.7, 0.81782009402)):
        closed = 3 / (2 * math.sqrt(3 * math.pi / (2 * a)) * math.exp(a / 6) * math.erfc(math.sqrt(a / 6)))
        assert closed == pytest.approx(expected, rel=1e-10)
        assert bbp._HessianQuadrature(1, 1, a).alpha_hard() == pytest.approx(closed, rel=1e-11)
    r = bbp.hessian_init(HessianInit(p_star=1, p=1, a=1.5, alpha=1.0))
    assert float(r["alpha_bbp"]) == pytest.approx(1.3745292310, rel=1e-9) and r["transition"] == "discontinuous"


@pytest.mark.parametrize("p_star,p,a", [(1, 2, 0.7), (1, 3, 0.7), (2, 2, 0.5)])
def test_hard_and_soft_alphas_against_mpmath(p_star, p, a):
    """alpha_hard and alpha_soft as 1-D mpmath integrals over the chi2_p density."""
    dens = lambda q: q ** (p / 2 - 1) * mpmath.exp(-q / 2) / (2 ** (p / 2) * mpmath.gamma(p / 2))
    v = 2 / p_star
    sh = mpmath.quad(lambda q: dens(q) * (1 / (a + 3 * q / p) + (p - 1) / (a + q / p)), [0, 1, 10, mpmath.inf])
    ss = mpmath.quad(lambda q: dens(q) * (((3 * q / p - 1) ** 2 + v) / (a + 3 * q / p) ** 2
                                          + (p - 1) * ((q / p - 1) ** 2 + v) / (a + q / p) ** 2),
                     [0, 1, 10, mpmath.inf])
    quad = bbp._HessianQuadrature(p_star, p, a)
    assert quad.alpha_hard() == pytest.approx(float(p * p_star / (2 * sh)), rel=1e-11)
    assert quad.alpha_soft() == pytest.approx(float(p / ss), rel=1e-11)


def test_other_alpha_bbp_values_of_the_note():
    """The note's values (5-10 digits), except p = p* = 1, a = 0.3: the note's 1.62219 is off by 4e-5; the
    value here is confirmed by scipy dblquad in test_continuous_threshold_by_dblquad."""
    cases = [(1, 3, 0.7, 0.8270708590), (1, 4, 0.7, 0.8302269200), (1, 1, 0.3, 1.6222297216), (1, 2, 0.3, 1.06884),
             (1, 8, 0.3, 0.67502), (2, 2, 0.5, 2.82659)]
    ps, p, a, expected = map(np.array, zip(*cases))
    r = bbp.hessian_init(HessianInit(p_star=ps, p=p, a=a, alpha=1.0))
    np.testing.assert_allclose(r["alpha_bbp"], expected, rtol=1e-5)


@pytest.mark.parametrize("p_star,p,a", [(1, 2, 0.7), (1, 2, 1.5), (1, 1, 0.3)])
def test_alpha_bbp_is_where_the_outlier_appears(p_star, p, a):
    """Independent of the elimination formula: overlap_sq is 0 just below alpha_bbp and > 0 just above;
    at a continuous threshold it vanishes continuously, at a discontinuous one it jumps."""
    abbp = float(bbp.hessian_init(HessianInit(p_star=p_star, p=p, a=a, alpha=1.0))["alpha_bbp"])
    r = bbp.hessian_init(HessianInit(p_star=p_star, p=p, a=a, alpha=abbp * np.array([0.999, 1.001])))
    assert r["overlap_sq"][0] == 0 and r["overlap_sq"][1] > 0
    kind = r["transition"][0]
    assert (r["overlap_sq"][1] < 0.02) == (kind == "continuous")


def test_discontinuous_jump_value():
    r = bbp.hessian_init(HessianInit(p_star=1, p=2, a=1.5, alpha=1.3229376071 * (1 + 1e-9)))
    assert float(r["overlap_sq"]) == pytest.approx(0.10976509, abs=1e-7)


def test_large_width_reduces_to_spectral_method():
    """p -> inf: alpha_bbp -> p*(1 + a)/2, the spectral threshold of T_a(y) = (y - 1)/(y + a) (D2)."""
    a = 0.7
    spectral = float(bbp.spectral_pr(SpectralPR(alpha=1.0, preprocessing=lambda y: (y - 1) / (y + a)))["threshold"])
    assert spectral == pytest.approx((1 + a) / 2, rel=1e-9)
    tab = bbp.alpha_bbp_table(1, (50, 400, 3000), a)
    assert tab["alpha_bbp"][0] == pytest.approx(0.8475, abs=1e-4)
    gaps = np.abs(tab["alpha_bbp"] - spectral)
    assert np.all(np.diff(gaps) < 0) and gaps[-1] < 2e-3
    assert set(tab["transition"]) == {"discontinuous"}


@pytest.mark.parametrize("a", [1e-3, 1e-8])
def test_small_a_tends_to_the_exact_a0_limit(a):
    """a -> 0 is a regular limit (every root stays inside (0, 1)). In polar variables t = q + p* y ~ chi2_{p+p*},
    B = q/t ~ Beta(p/2, p*/2), at a = 0 r_par = (2/p)(3B/p - (1-B)/p*)/((1-u)(1-B)/p* + 3uB/p); for
    p = p* = 1 at u = 1/4 the denominator is 3/4 for every B, so R1 = 8/3, R2 = 64/3, Ry = -8/3 exactly:
    2 Ry + u R2 = 0, i.e. u_c = 1/4, alpha_bbp -> 4/(u_c^2 R2) = 3 and the edge at threshold z(u_c) -> 0.
    Values at a = 0.03, 0.01, 0.003 (the former solver): 2.6306, 2.8508, 2.9456."""
    r = bbp.hessian_init(HessianInit(p_star=1, p=1, a=a, alpha=np.array([1.0, 3.0])))
    assert r["transition"][0] == "continuous"
    if a < 1e-6:
        assert float(r["alpha_bbp"][0]) == pytest.approx(3.0, abs=1e-5)
        assert abs(float(r["min_eigenvalue"][1])) < 1e-4 and float(r["overlap_sq"][1]) < 1e-4
    else:
        assert 2.9456 < float(r["alpha_bbp"][0]) < 3.0
    m = bbp._HessianQuadrature(1, 1, 1e-14).moments(0.25)
    for key, want in (("R1", 8 / 3), ("R2", 64 / 3), ("Ry", -8 / 3)):
        assert float(m[key]) == pytest.approx(want, rel=1e-5), key


def _polar_moments(u: float, a: float) -> dict:
    """p = p* = 1 by nested adaptive quad in (B, t), the t-integral split at the pole scale a/D."""
    def inner(b, key):
        d = (1 - u) * (1 - b) + 3 * u * b

        def g(t):
            r = 2 * (4 * b - 1) * t / (a + t * d)
            y = t * (1 - b)
            return math.exp(-t / 2) / 2 * {"R1": r, "R2": r * r, "Ry": (y - 1) * r, "R2y": y * r * r}[key]
        cut = min(1.0, 10 * a / d)
        pieces = ((0, cut), (cut, 1), (1, 80))
        return sum(integrate.quad(g, lo, hi, epsabs=0, epsrel=1e-12, limit=200)[0] for lo, hi in pieces) / (
            math.pi * math.sqrt(b * (1 - b)))
    return {k: integrate.quad(inner, 0, 1, args=(k,), epsabs=0, epsrel=1e-11, limit=200)[0]
            for k in ("R1", "R2", "Ry", "R2y")}


@pytest.mark.parametrize("a,u", [(1e-3, 0.25), (1e-3, 0.9), (0.3, 0.6)])
def test_moments_against_adaptive_quadrature(a, u):
    """The polar rule against nested adaptive quadrature (the former Cartesian rule erred by 1e-7 at a = 1e-3)."""
    got = bbp._HessianQuadrature(1, 1, a).moments(u)
    for key, want in _polar_moments(u, a).items():
        assert float(got[key]) == pytest.approx(want, rel=1e-9), key


def test_dispatch():
    assert set(bbp.theory(HessianInit())) >= set(HessianInit.METRICS)
    for m in (SpikedWigner(), SpikedCovariance(), SpectralPR()):
        assert set(bbp.theory(m)) == set(m.METRICS)


@pytest.mark.slow
def test_continuous_threshold_by_dblquad():
    """p = p* = 1, a = 0.3: u_c and alpha_bbp from 2-D adaptive quadrature (independent of our nodes)."""
    a = 0.3

    def moments(u):
        def integrand(key):
            def g(s, r):
                q, y = r * r, s * s
                rp = 2 * (3 * q - y) / (a + (1 - u) * y + 3 * u * q)
                return 4 * math.exp(-(q + y) / 2) / (2 * math.pi) * (rp * rp if key == "R2" else (y - 1) * rp)
            return integrate.dblquad(g, 0, 12, 0, 12, epsabs=1e-13, epsrel=1e-12)[0]
        return integrand("R2"), integrand("Ry")

    uc = optimize.brentq(lambda u: (lambda r2, ry: 2 * ry + u * r2)(*moments(u)), 0.05, 0.95, xtol=1e-13)
    expected = 4 / (uc**2 * moments(uc)[0])
    r = bbp.hessian_init(HessianInit(p_star=1, p=1, a=a, alpha=1.0))
    assert float(r["alpha_bbp"]) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("t", [lambda y: np.log1p(y), lambda y: y])
def test_unbounded_user_preprocessing_is_rejected(t):
    """The Lu-Li theory needs sup T < inf: an unbounded callable must not give a silent finite answer."""
    with pytest.raises(ParameterError):
        bbp.spectral_pr(SpectralPR(alpha=2.0, preprocessing=t))


def test_unresolved_user_preprocessing_is_a_convergence_error():
    """A kink at sup T (here T = min(y, 4) - 1 then decaying) is not resolved by the fixed rule: raise."""
    t = lambda y: np.minimum(y, 4.0) / (1 + np.maximum(y - 4, 0)) - 1
    with pytest.raises(ConvergenceError):
        bbp.spectral_pr(SpectralPR(alpha=np.array([2.0, 4.0]), preprocessing=t))


def test_marginal_threshold_is_exactly_one_half():
    """luo-alghamdi-lu: A2(tau) = h(tau) = 2 exactly (marginal hard edge), alpha_c = 1/2 to rounding."""
    assert float(bbp.spectral_pr(SpectralPR(alpha=1.0, preprocessing="luo-alghamdi-lu"))["threshold"]) \
        == pytest.approx(0.5, abs=1e-14)


def _teacher_curvature(p_star: int, p: int, a: float) -> float:
    """lim min_eigenvalue/alpha as alpha -> inf: the Hessian concentrates on alpha E[H], whose smallest
    eigenvalue is in the p p* teacher directions, T = (2/p)[(1 + 2/p) E y/(a+y) - E y^2/(a+y)] with
    y ~ chi2_{p*}/p* (derived independently of the module's u-parametrisation; lower than the bulk value
    (2/p)[(1 + 2/p) E 1/(a+y) - E y/(a+y)] and the student directions). mpmath quadrature, split at a."""
    k = mpmath.mpf(p_star)

    def expect(f):
        pdf = lambda y: (k / 2) ** (k / 2) * y ** (k / 2 - 1) * mpmath.exp(-k * y / 2) / mpmath.gamma(k / 2)
        return mpmath.quad(lambda y: f(y) * pdf(y), [0, a, 100 * a, 1, mpmath.inf])

    with mpmath.workdps(30):
        t = (2 / mpmath.mpf(p)) * ((1 + 2 / mpmath.mpf(p)) * expect(lambda y: y / (a + y))
                                   - expect(lambda y: y * y / (a + y)))
    return float(t)


@pytest.mark.parametrize("p_star, p, a", [(1, 1, 0.7), (1, 1, 1e-3), (1, 1, 1e-12), (1, 2, 0.1), (3, 2, 1.5),
                                          (2, 8, 0.05)])
def test_large_alpha_min_eigenvalue_is_alpha_times_the_teacher_curvature(p_star, p, a):
    """min_eigenvalue = alpha T - O(1): at alpha = 1e8 the relative gap is < 1e-6 (the O(1) term is ~10)."""
    alpha = 1e8
    z = bbp.theory(HessianInit(p_star=p_star, p=p, a=a, alpha=alpha))["min_eigenvalue"]
    assert z / alpha == pytest.approx(_teacher_curvature(p_star, p, a), rel=1e-6)


def test_teacher_curvature_tends_to_four_over_p_squared_as_a_vanishes():
    """p = p* = 1: T = E[y (6 - 2y)/(a + y)] = 4 - 6 sqrt(pi a/2) + 8 a + O(a^3/2), y ~ chi2_1 (from
    E 1/(a + y) = sqrt(pi/(2a)) - 1 + O(sqrt a)); the O(1)/alpha term is < 1e-8 at alpha = 1e9."""
    for a in (1e-6, 1e-8, 1e-12):
        t = bbp.theory(HessianInit(p_star=1, p=1, a=a, alpha=1e9))["min_eigenvalue"] / 1e9
        assert t == pytest.approx(4 - 6 * math.sqrt(math.pi * a / 2) + 8 * a, abs=20 * a**1.5 + 3e-8)
