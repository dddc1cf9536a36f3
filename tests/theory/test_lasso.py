"""Theory of the lasso family: closed forms vs quadrature, reference values, DT forms, limits."""
import mpmath as mp
import numpy as np
import pytest

from overparam.errors import ConvergenceError, ParameterError
from overparam.models import L1Transition, Lasso
from overparam.theory import lasso as T

# the lasso family notes section 6 (eps = 0.2, sigma2 = 0.04): prior, delta, lam, mse, tau_star, frac, alpha
REFERENCE = [
    ("gauss", 0.4, 0.05, 0.0793096835, 0.4881333925, 0.3612173140, 1.0564613010),
    ("gauss", 0.4, 0.3, 0.0796390116, 0.4889760004, 0.2283160403, 1.4294335818),
    ("gauss", 0.4, 0.0, 0.0878818766, 0.5096122953, 0.4, 0.9647640092),
    ("gauss", 1.5, 0.05, 0.0415849916, 0.2602370607, 0.7463761721, 0.3824172702),
    ("gauss", 1.5, 0.3, 0.0289088535, 0.2434595839, 0.2551578232, 1.4848115734),
    ("rademacher", 0.4, 0.05, 0.1529748006, 0.6499515379, 0.3708556690, 1.0558322652),
    ("rademacher", 0.4, 0.3, 0.1466490761, 0.6376697345, 0.2602821827, 1.3468947155),
    ("rademacher", 0.4, 0.0, 0.1610573987, 0.6653145849, 0.4, 0.9861611885),
    ("rademacher", 1.5, 0.05, 0.0453475806, 0.2650126797, 0.7612559515, 0.3830898228),
    ("rademacher", 1.5, 0.3, 0.0458082305, 0.2655914538, 0.3191010746, 1.4347812421),
]


@pytest.mark.parametrize("row", REFERENCE, ids=lambda r: f"{r[0]}-{r[1]}-{r[2]}")
def test_reference_values(row):
    prior, delta, lam, *expected = row
    out = T.theory(Lasso(delta=delta, eps=0.2, sigma2=0.04, prior=prior, lam=lam))
    got = [out[k] for k in ("mse", "tau_star", "frac_nonzero", "threshold")]
    np.testing.assert_allclose(got, expected, rtol=2e-9)


def _quad_channel_mp(tau, theta, eps, prior):
    """mse_s and df_s (mpf, at the current mp.dps) by mpmath quadrature split at the kinks (independent of the
    closed forms). For gauss the B-integral is done through U = B + tau Z ~ N(0, v):
    E (eta(U) - B)^2 = E (eta(U) - U/v)^2 + tau^2/v."""
    tau, theta = mp.mpf(tau), mp.mpf(theta)
    eta = lambda u: mp.sign(u) * max(abs(u) - theta, 0)  # noqa: E731

    def part(b):
        kinks = [-mp.inf, (-theta - b) / tau, (theta - b) / tau, mp.inf]
        m = mp.quad(lambda z: (eta(b + tau * z) - b) ** 2 * mp.npdf(z), kinks)
        return m, mp.ncdf((-theta - b) / tau) + mp.ncdf((b - theta) / tau)

    m0, d0 = part(0)
    if prior == "rademacher":
        m1, d1 = part(1)
    else:
        v = 1 + tau * tau
        m1 = mp.quad(lambda u: ((eta(u) - u / v) ** 2 + tau * tau / v) * mp.npdf(u, 0, mp.sqrt(v)),
                     [-mp.inf, -theta, theta, mp.inf])
        d1 = 2 * mp.ncdf(-theta / mp.sqrt(v))
    return (1 - eps) * m0 + eps * m1, (1 - eps) * d0 + eps * d1


def _quad_channel(tau, theta, eps, prior):
    mp.mp.dps = 25
    m, d = _quad_channel_mp(tau, theta, eps, prior)
    return float(m), float(d)


@pytest.mark.parametrize("prior", ["gauss", "rademacher"])
@pytest.mark.parametrize("tau,theta", [(0.5, 0.6), (0.05, 0.1), (2.0, 0.3), (0.3, 1.9)])
def test_closed_forms_equal_quadrature(prior, tau, theta):
    m, d = _quad_channel(tau, theta, 0.3, prior)
    assert T.mse_s(tau, theta, 0.3, prior) == pytest.approx(m, rel=1e-12, abs=1e-15)
    assert T.df_s(tau, theta, 0.3, prior) == pytest.approx(d, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("prior", ["gauss", "rademacher"])
def test_channel_gradient_matches_finite_differences(prior):
    tau, theta = np.array([0.5, 0.05, 2.0, 0.3, 1.0]), np.array([0.6, 0.1, 0.3, 1.9, 1.0])
    grad = T._channel(tau, theta, 0.3, prior, grad=True)[2:]
    h = 1e-6
    fd = [(np.array(T._channel(tau + h, theta, 0.3, prior)) - T._channel(tau - h, theta, 0.3, prior)) / (2 * h),
          (np.array(T._channel(tau, theta + h, 0.3, prior)) - T._channel(tau, theta - h, 0.3, prior)) / (2 * h)]
    # order of grad: d mse/d tau, d mse/d theta, d df/d tau, d df/d theta
    np.testing.assert_allclose(grad, [fd[0][0], fd[1][0], fd[0][1], fd[1][1]], rtol=1e-7, atol=1e-9)


def test_newton_safeguards():
    # Newton alone diverges on arctan from x = 10; the bracket (infinite below) must bring it back
    x, _ = T._newton(lambda x, i: (np.arctan(x - 1), 1 / (1 + (x - 1) ** 2)), np.array([10.0, 1.5, -30.0]),
                     -np.inf, np.inf, "arctan")
    np.testing.assert_allclose(x, 1.0, rtol=0, atol=1e-15)
    x, _ = T._newton(lambda x, i: (x ** 3 - 2, 3 * x * x), np.array([1e-3, 50.0]), 0.0, np.inf, "cube root")
    np.testing.assert_allclose(x, 2 ** (1 / 3), rtol=1e-15)
    with pytest.raises(ConvergenceError):
        T._newton(lambda x, i: (np.full(x.shape, np.nan), np.ones(x.shape)), np.array([1.0]), 0.0, 2.0, "nan")


@pytest.mark.parametrize("prior", ["gauss", "rademacher"])
@pytest.mark.parametrize("delta,eps_rel,sigma2", [(0.2, 0.98, 0.0), (0.5, 0.5, 0.0), (0.5, 0.999, 1e-6),
                                                  (0.5, 1.5, 0.0), (0.8, 0.9, 1e-4), (1.0, 0.9, 0.0),
                                                  (1.5, 0.3, 0.0), (4.0, 0.1, 0.04)])
def test_fixed_point_equations_hold(prior, delta, eps_rel, sigma2):
    """(SE) and (CAL) at the returned (alpha, tau) in every regime: below / near / above the transition,
    delta >= 1; eps = eps_rel * eps_max(delta) (eps_max = 1 for delta >= 1)."""
    eps = eps_rel * float(T.eps_max(delta))
    lam = np.geomspace(1e-4, 30, 80)
    out = T.theory(Lasso(delta=delta, eps=eps, sigma2=sigma2, prior=prior, lam=lam))
    alpha, tau = out["threshold"], out["tau_star"]
    mse, df = T.mse_s(tau, alpha * tau, eps, prior), T.df_s(tau, alpha * tau, eps, prior)
    np.testing.assert_allclose(sigma2 + mse / delta, tau * tau, rtol=1e-12)
    np.testing.assert_allclose(alpha * tau * (1 - df / delta), lam, rtol=1e-9)
    assert np.all(np.diff(alpha) > -1e-12 * alpha[1:])  # flat to round-off for rademacher, sigma2 = 0, small lam


# sigma2 = 0, very sparse prior, lam across ~0.5: (SE) at fixed alpha is homogeneous in tau up to P(|B| < theta)
# terms (exponentially small for rademacher), where an alpha parametrisation jumped to a plateau
SPARSE_LAM = np.linspace(0.3, 1.2, 91)


def _residuals(out, lam, delta, eps, prior):
    alpha, tau = out["threshold"], out["tau_star"]
    mse, df = T.mse_s(tau, alpha * tau, eps, prior), T.df_s(tau, alpha * tau, eps, prior)
    return mse / (delta * tau * tau) - 1, alpha * tau * (1 - df / delta) / lam - 1


@pytest.mark.parametrize("prior", ["gauss", "rademacher"])
@pytest.mark.parametrize("delta", [1.0, 2.0])
@pytest.mark.parametrize("eps", [0.01, 0.001])
def test_sparse_noiseless_equations_monotone_continuous(prior, delta, eps):
    out = T.theory(Lasso(delta=delta, eps=eps, sigma2=0.0, prior=prior, lam=SPARSE_LAM))
    se, cal = _residuals(out, SPARSE_LAM, delta, eps, prior)
    assert np.max(np.abs(se)) < 1e-9 and np.max(np.abs(cal)) < 1e-9
    alpha, tau, df = out["threshold"], out["tau_star"], out["frac_nonzero"]
    assert np.all(np.diff(alpha) >= -1e-12 * alpha[1:])
    assert np.all(np.diff(tau) >= 0) and np.all(np.diff(df) <= 1e-12)  # tau saturates at sqrt(eps/delta)
    # continuity: tau/lam = 1/(alpha (1 - df/delta)) cannot increase (alpha up, df down); a jump of tau breaks it
    ratio = tau / SPARSE_LAM
    assert np.all(np.diff(ratio) <= 1e-12 * ratio[1:])
    np.testing.assert_allclose(out["mse"], delta * tau * tau, rtol=1e-12)


def _noiseless_limit_threshold(delta, eps):
    """mpmath root alpha_0 of (1 - eps) 2 psi0(alpha) + eps (1 + alpha^2) = delta right of its minimum: the
    tau -> 0 (large amplitude) limit of (SE) with sigma2 = 0."""
    mp.mp.dps = 30
    psi = lambda a: (1 + a * a) * mp.ncdf(-a) - a * mp.npdf(a)  # noqa: E731
    return mp.findroot(lambda a: (1 - eps) * 2 * psi(a) + eps * (1 + a * a) - delta, mp.sqrt(delta / eps))


@pytest.mark.parametrize("delta,eps", [(1.0, 0.01), (2.0, 0.01), (1.0, 0.001), (2.0, 0.001)])
def test_sparse_rademacher_large_amplitude_asymptotics(delta, eps):
    """While theta = alpha tau stays 9 tau below the amplitude 1, P(|U| < theta | B = 1) < 1e-18: alpha = alpha_0
    and (CAL) is linear, tau = lam / (alpha_0 (1 - df_0/delta)), df_0 = eps + (1 - eps) 2 Phi(-alpha_0)."""
    a0 = _noiseless_limit_threshold(delta, eps)
    slope = 1 / (a0 * (1 - (eps + (1 - eps) * 2 * mp.ncdf(-a0)) / delta))
    lam = SPARSE_LAM[(1 - float(a0 * slope) * SPARSE_LAM) > 9 * float(slope) * SPARSE_LAM]
    assert lam.size >= 10 and lam.max() > 0.5  # covers the old jump at ~0.5
    out = T.theory(Lasso(delta=delta, eps=eps, sigma2=0.0, prior="rademacher", lam=lam))
    np.testing.assert_allclose(out["threshold"], float(a0), rtol=1e-10)
    np.testing.assert_allclose(out["tau_star"], float(slope) * lam, rtol=1e-10)


@pytest.mark.parametrize("prior,delta,eps,lam,start", [
    ("rademacher", 2.0, 0.01, 0.55, (0.6, 0.04)), ("rademacher", 2.0, 0.01, 1.0, (1.0, 0.06)),
    ("gauss", 2.0, 0.01, 0.55, (0.6, 0.04)), ("rademacher", 1.0, 0.001, 0.8, (0.8, 0.03))])
def test_sparse_noiseless_against_mpmath_solve(prior, delta, eps, lam, start):
    """(SE) and (CAL) solved for (theta, tau) by mpmath (quadrature channel, 25 digits) from a crude start."""
    mp.mp.dps = 25
    eps_m, delta_m = mp.mpf(eps), mp.mpf(delta)

    def equations(theta, tau):
        m, df = _quad_channel_mp(tau, theta, eps_m, prior)
        return m / (tau * tau) - delta_m, theta * (1 - df / delta_m) / lam - 1

    theta, tau = mp.findroot(equations, tuple(mp.mpf(s) for s in start))
    out = T.theory(Lasso(delta=delta, eps=eps, sigma2=0.0, prior=prior, lam=lam))
    assert out["tau_star"] == pytest.approx(float(tau), rel=1e-10)
    assert out["threshold"] == pytest.approx(float(theta / tau), rel=1e-10)


def test_inaccurate_solution_raises():
    """The residual check behind every solve refuses a point off the equations (the old plateau value at
    rademacher, delta = 2, eps = 0.01, lam = 0.55) with its residual and iteration count."""
    one = np.ones(1)
    with pytest.raises(ConvergenceError) as info:
        T._check(14.10673598 * one, 0.0463087 * one, 0.55 * one, 2 * one, 0.01 * one, 0 * one, "rademacher",
                 "test", 7)
    assert info.value.residual > 0.1 and info.value.iterations == 7


@pytest.mark.parametrize("sigma2", [1e-20, 1e-14, 1e-12, 1e-10])
def test_tiny_noise_sparse_rademacher_never_silently_wrong(sigma2):
    """sigma2 > 0 takes the alpha parametrisation, ill-conditioned here for tiny sigma2: either the equations
    hold or ConvergenceError."""
    lam = np.linspace(0.4, 0.7, 31)
    try:
        out = T.theory(Lasso(delta=2.0, eps=0.01, sigma2=sigma2, prior="rademacher", lam=lam))
    except ConvergenceError:
        return
    alpha, tau = out["threshold"], out["tau_star"]
    mse, df = T.mse_s(tau, alpha * tau, 0.01, "rademacher"), T.df_s(tau, alpha * tau, 0.01, "rademacher")
    np.testing.assert_allclose(sigma2 + mse / 2, tau * tau, rtol=1e-7)
    np.testing.assert_allclose(alpha * tau * (1 - df / 2), lam, rtol=1e-7)


def test_psi0_branches_and_definition():
    a = np.array([0.0, 0.7, 3.0, 4.99, 5.01, 9.0])
    mp.mp.dps = 50
    expected = [float(mp.quad(lambda z: (z - x) ** 2 * mp.npdf(z), [x, mp.inf])) for x in a]
    np.testing.assert_allclose(T.psi0(a), expected, rtol=1e-11)


def test_dt_forms_and_reference():
    out = T.transition(L1Transition(delta=np.array([0.2, 0.6])))
    np.testing.assert_allclose(out["rho"], [0.2433009644, 0.4383905435], rtol=1e-9)
    np.testing.assert_allclose(out["eps_max"], [0.0486601929, 0.2630343261], rtol=1e-9)
    for d in (0.05, 0.3, 0.5, 0.9):
        assert T.transition(L1Transition(delta=d))["rho"] == pytest.approx(T.rho_max_form(d), rel=1e-9)


def test_dt_monotone_and_limits():
    delta = np.linspace(0.001, 0.999, 400)
    rho = T.transition(L1Transition(delta=delta))["rho"]
    assert np.all(np.diff(rho) > 0)
    near_one = T.transition(L1Transition(delta=np.array([1 - 1e-4, 1 - 1e-8])))["rho"]
    assert 0.98 < near_one[0] < near_one[1] < 1
    assert T.eps_max(np.array([1.0, 2.0])).tolist() == [1.0, 1.0]


def test_alpha_min():
    assert T.alpha_min(0.4) == pytest.approx(0.5248434418, rel=1e-9)
    assert 2 * T.psi0(T.alpha_min(0.7)) == pytest.approx(0.7, rel=1e-13)
    assert T.alpha_min(1.5) == 0.0


@pytest.mark.parametrize("prior", ["gauss", "rademacher"])
def test_se_identity_and_monotonicity(prior):
    lam = np.geomspace(1e-3, 20, 200)
    for sigma2 in (0.04, 0.0):
        out = T.theory(Lasso(delta=0.5, eps=0.1, sigma2=sigma2, prior=prior, lam=lam))
        np.testing.assert_allclose(out["mse"], 0.5 * (out["tau_star"] ** 2 - sigma2), rtol=1e-10, atol=1e-16)
        assert np.all(np.diff(out["threshold"]) > -1e-12)
        assert np.all(np.diff(out["frac_nonzero"]) < 1e-12)
        cal = out["threshold"] * out["tau_star"] * (1 - out["frac_nonzero"] / 0.5)
        np.testing.assert_allclose(cal, lam, rtol=1e-9)


def test_lam_to_infinity():
    out = T.theory(Lasso(delta=0.5, eps=0.1, sigma2=0.04, lam=1e4))
    assert out["mse"] == pytest.approx(0.1, rel=1e-6)
    assert out["tau_star"] == pytest.approx(np.sqrt(0.04 + 0.1 / 0.5), rel=1e-6)
    assert out["frac_nonzero"] < 1e-6


def test_lam_to_zero_limits():
    small = T.theory(Lasso(delta=np.array([0.4, 2.0]), eps=0.2, sigma2=0.04, lam=np.array([1e-7, 1e-7])))
    zero = T.theory(Lasso(delta=np.array([0.4, 2.0]), eps=0.2, sigma2=0.04, lam=np.array([0.0, 0.0])))
    np.testing.assert_allclose(small["mse"], zero["mse"], rtol=1e-5)
    assert zero["mse"][1] == pytest.approx(0.04 * 2.0 / 1.0)
    assert zero["frac_nonzero"].tolist() == [0.4, 1.0]


def test_delta_sweep_across_one():
    delta = np.linspace(0.1, 3, 300)
    out = T.theory(Lasso(delta=delta, eps=0.1, sigma2=0.01, lam=np.zeros(300)))
    ls = delta > 1
    np.testing.assert_allclose(out["mse"][ls], 0.01 * delta[ls] / (delta[ls] - 1))
    assert np.all(np.isfinite(out["mse"]))  # 1 is not on this grid
    one = T.theory(Lasso(delta=np.array([1.0, 1.0]), eps=0.1, sigma2=np.array([0.01, 0.0]), lam=np.zeros(2)))
    assert one["mse"][0] == np.inf and one["mse"][1] == 0.0
    # minimum-l1 branch: a single interior minimum just above the DT transition, divergence at 1-
    bp = out["mse"][delta < 1]
    assert np.argmin(bp) not in (0, bp.size - 1) and bp[-1] > 10 * bp.min()


@pytest.mark.parametrize("prior", ["gauss", "rademacher"])
def test_noiseless_below_and_above_transition(prior):
    below = T.theory(Lasso(delta=0.6, eps=0.2, sigma2=0.0, prior=prior, lam=np.array([0.0, 1e-6])))
    assert below["mse"][0] == 0.0 and below["frac_nonzero"][0] == 0.2
    assert below["threshold"][0] == pytest.approx(0.6744897502, rel=1e-9)
    assert below["mse"][1] / 1e-12 == pytest.approx(2.0889133, rel=1e-3)
    above = T.theory(Lasso(delta=0.6, eps=0.35, sigma2=0.0, prior=prior, lam=0.0))
    assert above["mse"] > 1e-3 and above["frac_nonzero"] == pytest.approx(0.6)


def test_noise_sensitivity_limit():
    out = T.theory(Lasso(delta=0.6, eps=0.2, sigma2=1e-4, prior="rademacher", lam=0.0))
    assert out["mse"] / 1e-4 == pytest.approx(4.5445172100, rel=1e-6)


@pytest.mark.parametrize("kw", [dict(delta=0), dict(eps=0), dict(eps=1.5), dict(sigma2=-1), dict(lam=-0.1),
                                dict(lam=0, delta=1.5), dict(prior="laplace")])
def test_bad_input(kw):
    with pytest.raises(ParameterError):
        Lasso(**kw)
    with pytest.raises(ParameterError):
        L1Transition(delta=1.0)


# sigma2 = 0, delta >= 1, dense or nearly dense prior (eps = 1 is above eps_max for no delta >= 1; at eps = 1,
# delta > 1, tau = 0 is the only fixed point of (SE) for alpha <= sqrt(delta - 1), where an alpha search stalled)
DENSE_LAM = np.geomspace(1e-4, 100, 200)


@pytest.mark.parametrize("prior", ["gauss", "rademacher"])
@pytest.mark.parametrize("delta", [1.0, 1.5, 3.0, 10.0])
@pytest.mark.parametrize("eps", [1.0, 0.99])
def test_dense_noiseless_overdetermined_equations_monotone_limits(prior, delta, eps):
    out = T.theory(Lasso(delta=delta, eps=eps, sigma2=0.0, prior=prior, lam=DENSE_LAM))
    se, cal = _residuals(out, DENSE_LAM, delta, eps, prior)
    assert np.max(np.abs(se)) < 1e-9 and np.max(np.abs(cal)) < 1e-9
    mse = out["mse"]
    np.testing.assert_allclose(mse, delta * out["tau_star"] ** 2, rtol=1e-12)
    # the bias grows with lam until beta_hat = 0: mse = E B^2 = eps (unit second moment of both priors)
    assert np.all(np.diff(mse) >= -1e-15)
    assert np.all(np.diff(mse)[mse[1:] < eps * (1 - 1e-9)] > 0)
    assert mse[-1] == pytest.approx(eps, rel=1e-12)
    if delta > 1:  # least squares recovers beta exactly: mse = O(lam^2)
        assert mse[0] < 1e-6


@pytest.mark.parametrize("delta", [1.5, 3.0, 10.0])
def test_dense_noiseless_small_lam_is_least_squares_bias(delta):
    """n > p, no noise, small lam: no sign of beta_hat flips, so beta_hat = beta - lam (X'X)^{-1} sign(beta) and
    mse = lam^2 tr (X'X)^{-2}/p = lam^2 delta^3/(delta - 1)^3 (Marchenko-Pastur, p/n = 1/delta: E s^{-2} =
    1/(1 - 1/delta)^3); (SE) then gives alpha = sqrt(delta - 1). Exact up to exp(-1/(2 tau^2)) for Rademacher
    signals; O(lam) corrections (density of B at 0) for Gaussian ones."""
    lam = np.geomspace(1e-7, 1e-3, 9)
    bias = lam ** 2 * delta ** 3 / (delta - 1) ** 3
    rad = T.theory(Lasso(delta=delta, eps=1.0, sigma2=0.0, prior="rademacher", lam=lam))
    np.testing.assert_allclose(rad["mse"], bias, rtol=1e-12)
    np.testing.assert_allclose(rad["threshold"], np.sqrt(delta - 1), rtol=1e-12)
    gauss = T.theory(Lasso(delta=delta, eps=1.0, sigma2=0.0, prior="gauss", lam=lam))
    assert np.all(np.abs(gauss["mse"] / bias - 1) < 50 * lam)


@pytest.mark.parametrize("prior", ["gauss", "rademacher"])
def test_dense_noiseless_delta_one(prior):
    """delta = 1: eps = 1 (alpha search, tau > 0 for every alpha > 0) and eps = 1 - 1e-12 (threshold search down
    to thresholds where (SE) no longer fixes tau in floating point) agree; mse decreases to 0 with lam, slowly.
    (CAL) in double precision: theta (1 - df_s) with 1 - df_s = P(|U| < theta) << 1 loses ~1e-16 theta."""
    lam = np.geomspace(1e-14, 1e-2, 25)
    dense = T.theory(Lasso(delta=1.0, eps=1.0, sigma2=0.0, prior=prior, lam=lam))
    near = T.theory(Lasso(delta=1.0, eps=1 - 1e-12, sigma2=0.0, prior=prior, lam=lam))
    for out, eps in ((dense, 1.0), (near, 1 - 1e-12)):
        se, cal = _residuals(out, lam, 1.0, eps, prior)
        assert np.max(np.abs(se)) < 1e-9
        assert np.all(np.abs(cal) * lam < 1e-9 * lam + 1e-15 * out["threshold"] * out["tau_star"])
    np.testing.assert_allclose(near["mse"], dense["mse"], rtol=1e-6)
    # Rademacher: theta^2 balances terms ~ exp(-1/(2 tau^2)), so tau^2 = O(1/log(1/theta)): a logarithmic decay
    assert np.all(np.diff(dense["mse"]) > 0) and dense["mse"][0] < 0.2 * dense["mse"][-1]


@pytest.mark.parametrize("prior,delta,lam,start", [
    ("rademacher", 3.0, 0.5, (0.7, 0.4)), ("gauss", 1.5, 0.2, (0.4, 0.3)), ("rademacher", 1.0, 1e-3, (0.08, 0.45)),
    ("gauss", 10.0, 3.0, (3.0, 0.3))])
def test_dense_noiseless_against_mpmath_solve(prior, delta, lam, start):
    """eps = 1, sigma2 = 0: (SE) and (CAL) solved for (theta, tau) by mpmath (quadrature channel) from a crude
    start."""
    mp.mp.dps = 25
    delta_m = mp.mpf(delta)

    def equations(theta, tau):
        m, df = _quad_channel_mp(tau, theta, 1, prior)
        return m / (tau * tau) - delta_m, theta * (1 - df / delta_m) / lam - 1

    theta, tau = mp.findroot(equations, tuple(mp.mpf(s) for s in start))
    out = T.theory(Lasso(delta=delta, eps=1.0, sigma2=0.0, prior=prior, lam=lam))
    assert out["tau_star"] == pytest.approx(float(tau), rel=1e-10)
    assert out["threshold"] == pytest.approx(float(theta / tau), rel=1e-10)


@pytest.mark.parametrize("prior", ["gauss", "rademacher"])
@pytest.mark.parametrize("delta", [1.5, 3.0])
def test_dense_noiseless_is_the_small_noise_limit(prior, delta):
    """eps = 1: sigma2 = 1e-10 (alpha search) adds the least-squares noise error sigma2 delta/(delta - 1) to the
    sigma2 = 0 answer (threshold search) at small lam."""
    noisy = T.theory(Lasso(delta=delta, eps=1.0, sigma2=1e-10, prior=prior, lam=1e-4))
    clean = T.theory(Lasso(delta=delta, eps=1.0, sigma2=0.0, prior=prior, lam=1e-4))
    assert noisy["mse"] - clean["mse"] == pytest.approx(1e-10 * delta / (delta - 1), rel=3e-3)
