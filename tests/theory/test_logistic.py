"""Logistic MLE theory (Sur-Candes): reference values, an independent (G1, G2) quadrature of the system,
quadrature convergence, the proximal operator, the Jacobian, special cases and limits, NaN beyond psi*."""
import numpy as np
import pytest
from scipy import integrate, optimize, special

from overparam.models import LogisticMLE, MaxMargin
from overparam.theory import logistic as lg
from overparam.theory import max_margin as mm

S5 = np.sqrt(5.0)
# (psi, beta, alpha*, sigma*, lambda*) in Sur-Candes units, psi*(beta): the family's reference table (two
# independent quadratures, 200 x 200 Gauss-Hermite and 400 x 400 Gauss-Legendre, agreeing to 6e-12)
REFERENCE = [(0.1, S5, 1.167781706725, 3.346564264042, 0.960494161406, 0.325588610847),
             (0.2, S5, 1.499350122788, 4.743553157791, 3.026926159963, 0.325588610847),
             (0.2, 1.0, 1.311191278339, 3.268756161109, 1.633240228110, 0.438939066884),
             (0.05, 2.0, 1.069124398054, 2.840097428753, 0.377335958656, 0.344930128404),
             (0.01, 1.0, 1.010625752502, 2.235114798254, 0.049432261051, 0.438939066884),
             (0.1, 0.0, np.nan, 2.347369247202, 0.495041813555, 0.5)]
# the same table's derived metrics: sigma_perp2, lrt_scale, test_error, cos_angle
DERIVED = [(1.119949237338, 1.166013581694, 0.235626528957, 0.926780534309),
           (4.500259312165, 1.486742349941, 0.265480494401, 0.845042626986),
           (2.136953368159, 1.308413380578, 0.387261331511, 0.667709617405),
           (0.403307670242, 1.068829145459, 0.237910053376, 0.958613531579),
           (0.049957381614, 1.010623033453, 0.329822395139, 0.976405890606),
           (0.551014238272, 1.113066054591, 0.5, 0.0)]


def _grid():
    psi = np.array([r[0] for r in REFERENCE])
    beta = np.array([r[1] for r in REFERENCE])
    return psi, beta


def test_reference_values():
    psi, beta = _grid()
    sol = lg.solve(psi, beta)
    ref = np.array([r[2:5] for r in REFERENCE])
    np.testing.assert_allclose(sol["alpha"], ref[:, 0], rtol=1e-10)
    np.testing.assert_allclose(sol["sigma"], ref[:, 1], rtol=1e-10)
    np.testing.assert_allclose(sol["lambda"], ref[:, 2], rtol=1e-10)
    out = lg.theory(LogisticMLE(psi=psi, beta=beta))
    der = np.array(DERIVED)
    for k, metric in enumerate(("sigma_perp2", "lrt_scale", "test_error", "cos_angle")):
        np.testing.assert_allclose(out[metric], der[:, k], rtol=1e-10, atol=1e-12, err_msg=metric)
    np.testing.assert_allclose(out["separability_threshold"], [r[5] for r in REFERENCE], rtol=1e-10)
    assert np.all(out["mle_exists"] == 1) and np.isnan(out["bias_inflation"][-1])


def test_test_error_independent_quadrature():
    """test_error = E_G[sigmoid(beta G) Phi(-t G) + sigmoid(-beta G) Phi(t G)], t = alpha beta/sqrt(sigma_perp2),
    by adaptive quadrature (the table's 0.329822394968 at psi = 0.01, beta = 1 is 1.7e-10 off; mpmath agrees
    with 0.329822395139)."""
    psi, beta = _grid()
    out = lg.theory(LogisticMLE(psi=psi[:-1], beta=beta[:-1]))
    for k in range(len(psi) - 1):
        b, t = beta[k], out["bias_inflation"][k] * beta[k] / np.sqrt(out["sigma_perp2"][k])
        f = lambda g: np.exp(-g * g / 2) / np.sqrt(2 * np.pi) * (  # noqa: E731
            special.expit(b * g) * special.ndtr(-t * g) + special.expit(-b * g) * special.ndtr(t * g))
        assert out["test_error"][k] == pytest.approx(integrate.quad(f, -40, 40, epsabs=1e-14, limit=400)[0],
                                                     rel=1e-11)


def _residual_g1g2(psi, beta, alpha, sigma, lam, m=160):
    """The Sur-Candes system in its own variables (G1, G2), tensor Gauss-Hermite, prox by brentq-free
    bisection on the 2-D grid: an evaluation independent of the module's (U, G) rewriting."""
    x, w = np.polynomial.hermite_e.hermegauss(m)
    w = w / w.sum()
    g1, g2 = np.meshgrid(x, x, indexing="ij")
    ww = np.outer(w, w)
    q1 = beta * g1
    q2 = -alpha * q1 + np.sqrt(psi) * sigma * g2
    lo, hi = q2 - lam, q2.copy()
    for _ in range(200):  # bisection on u + lam sigmoid(u) = q2
        mid = 0.5 * (lo + hi)
        big = mid + lam * special.expit(mid) > q2
        lo, hi = np.where(big, lo, mid), np.where(big, mid, hi)
    u = 0.5 * (lo + hi)
    e = special.expit(u)
    a = 2 * special.expit(q1)
    return (np.sum(ww * a * (lam * e) ** 2) - psi**2 * sigma**2, np.sum(ww * a * q1 * lam * e),
            np.sum(ww * a / (1 + lam * e * (1 - e))) - (1 - psi))


@pytest.mark.parametrize("k", [0, 2, 3, 5])
def test_solution_solves_the_original_system(k):
    psi, beta = _grid()
    sol = lg.solve(psi[k], beta[k])
    alpha = 1.0 if beta[k] == 0 else float(sol["alpha"])
    res = _residual_g1g2(psi[k], beta[k], alpha, float(sol["sigma"]), float(sol["lambda"]))
    assert np.max(np.abs(res)) < 1e-9


def test_quadrature_converged(monkeypatch):
    """Halving both trapezoidal steps changes nothing beyond 1e-12 (also near psi*, where v is large)."""
    psi = np.array([0.2, 0.05, 0.43, 0.18, 0.3])
    beta = np.array([S5, 2.0, 1.0, 5.0, 0.0])
    coarse = lg.solve(psi, beta)
    monkeypatch.setattr(lg, "_H_GAUSS", lg._H_GAUSS / 2)
    monkeypatch.setattr(lg, "_H_POLE", lg._H_POLE / 2)
    fine = lg.solve(psi, beta)
    for key in ("sigma", "lambda"):
        np.testing.assert_allclose(coarse[key], fine[key], rtol=1e-11)
    np.testing.assert_allclose(coarse["alpha"][:4], fine["alpha"][:4], rtol=1e-11)


@pytest.mark.parametrize("lam", [1e-3, 0.5, 7.0, 300.0])
def test_prox(lam):
    z = np.array([-60.0, -3.0, -0.1, 0.0, 0.7, 4.0, 50.0, 400.0])
    u = lg.prox(z, lam)
    for zi, ui in zip(z, u):
        root = optimize.brentq(lambda t: t + lam * special.expit(t) - zi, zi - lam - 1, zi + 1, xtol=1e-15, rtol=1e-15)
        assert ui == pytest.approx(root, rel=1e-13, abs=1e-13)
    np.testing.assert_allclose(lg.prox(lam - z, lam), -u, rtol=1e-12, atol=1e-12)  # prox(lam - z) = -prox(z)


def test_jacobian_matches_finite_differences():
    psi, beta = _grid()
    ref = np.array([r[2:5] for r in REFERENCE])
    y = np.log(np.stack([np.nan_to_num(ref[:, 0], nan=1.0), np.sqrt(psi) * ref[:, 1], ref[:, 2]], axis=1))
    F, J = lg._system(psi, beta, y)
    assert np.max(np.abs(F)) < 1e-10
    for k in range(3):
        step = np.zeros(3)
        step[k] = 1e-6
        fd = (lg._system(psi, beta, y + step)[0] - lg._system(psi, beta, y - step)[0]) / 2e-6
        np.testing.assert_allclose(J[:, :, k], fd, atol=1e-7)


def test_classical_limit():
    """psi -> 0: alpha* -> 1, sigma*^2 -> 1/i_perp, lambda* ~ psi/i_perp, lrt_scale -> 1 (first-order
    corrections O(psi)); i_perp(1)^(-1/2) = 2.19995 by quadrature."""
    info = lg.fisher_information(np.array([1.0, 3.0]))
    for b, i_perp in zip((1.0, 3.0), info):
        exact = integrate.quad(lambda g: np.exp(-g * g / 2) / np.sqrt(2 * np.pi) * special.expit(b * g)
                               * special.expit(-b * g), -40, 40, epsabs=1e-15)[0]
        assert i_perp == pytest.approx(exact, rel=1e-12)
    assert info[0] ** -0.5 == pytest.approx(2.19995, abs=1e-5)
    psi = np.array([1e-12, 1e-5, 1e-4])  # 1e-12: no cancellation in the third equation
    out = lg.theory(LogisticMLE(psi=psi, beta=1.0))
    sol = lg.solve(psi, 1.0)
    for value, slack in ((out["bias_inflation"], 2), (out["lrt_scale"], 2), (sol["sigma"] ** 2 * info[0], 5),
                         (sol["lambda"] * info[0] / psi, 5)):
        assert np.all(np.abs(value - 1) <= slack * psi) and np.all(value != 1)
    # the family's reference at psi = 0.001: sigma* = 2.20341, alpha* = 1.00105
    s = lg.solve(0.001, 1.0)
    assert float(s["sigma"]) == pytest.approx(2.20341, abs=1e-5) and float(s["alpha"]) == pytest.approx(1.00105, abs=1e-5)


def test_global_null_continuity_and_lrt():
    """beta -> 0 is continuous to the global null; at psi = 0.3 the LRT scale is ~1.5 (Sur, Chen, Candes 2019)."""
    a = lg.solve(np.full(3, 0.2), np.array([0.0, 1e-6, 1e-3]))
    np.testing.assert_allclose(a["sigma"][1:], a["sigma"][0], rtol=1e-6)
    np.testing.assert_allclose(a["lambda"][1:], a["lambda"][0], rtol=1e-6)
    assert float(lg.theory(LogisticMLE(psi=0.3, beta=0.0))["lrt_scale"]) == pytest.approx(1.5, abs=0.02)


def test_threshold_nan_and_shapes():
    """At and above psi* everything but the threshold is NaN and mle_exists = 0; 2-D grids broadcast; a grid
    point equals the same point solved alone (the continuation does not depend on the grid)."""
    star = mm.separability_threshold("logistic:2")
    psi = np.array([[0.1, star], [star + 1e-3, 0.9]])
    out = lg.theory(LogisticMLE(psi=psi, beta=2.0))
    assert out["mle_exists"].tolist() == [[1, 0], [0, 0]]
    for metric in ("bias_inflation", "sigma_perp2", "lrt_scale", "test_error", "cos_angle"):
        assert out[metric].shape == (2, 2) and np.isfinite(out[metric][0, 0]) and np.all(np.isnan(out[metric].flat[1:]))
    np.testing.assert_allclose(out["separability_threshold"], star)
    grid = np.linspace(0.01, 0.999 * star, 50)
    curve = lg.theory(LogisticMLE(psi=grid, beta=2.0))
    single = lg.theory(LogisticMLE(psi=grid[37], beta=2.0))
    for metric in ("bias_inflation", "sigma_perp2", "lrt_scale"):
        assert curve[metric][37] == pytest.approx(float(single[metric]), rel=1e-10)
    assert np.all(np.diff(curve["bias_inflation"]) > 0) and np.all(curve["lrt_scale"] > 1)
    assert curve["bias_inflation"][-1] > 10  # diverges at psi*


def test_mle_direction_meets_max_margin_at_threshold():
    """As psi -> psi*-, cos_angle of the MLE tends to the max-margin cos_angle at psi* (the MLE's direction
    becomes the max-margin direction; the classification curve is continuous across psi*): the gap shrinks
    faster than (psi* - psi)^(1/2)."""
    star = mm.separability_threshold("logistic:2")
    at = float(mm.theory(MaxMargin(psi=star, labels="logistic:2"))["cos_angle"])
    gap = [float(lg.theory(LogisticMLE(psi=star * (1 - eps), beta=2.0))["cos_angle"]) - at for eps in (4e-3, 1e-3)]
    assert 0 < gap[1] < 0.01 and gap[1] / gap[0] < 0.5


def test_close_to_the_threshold_and_large_beta():
    """Graded panels keep psi = psi*(1 - 1e-7) and beta = 1e8 cheap and accurate: the trapezoidal and the
    panel rules agree where both apply (next test); lrt_scale grows roughly like 1/(psi* - psi)."""
    star = float(lg.separability_threshold(1.0))
    near = lg.solve(star * (1 - np.array([1e-3, 1e-5, 1e-7])), 1.0)
    lrt = near["sigma"] ** 2 * star * (1 - np.array([1e-3, 1e-5, 1e-7])) / near["lambda"]
    assert np.all(np.isfinite(lrt)) and 30 < lrt[2] / lrt[1] < 110
    # psi*(1 - 1e-3): sqrt(v) ~ 50 uses panels; compare with the trapezoidal rule forced
    U, w = lg._u_nodes(np.array([50.0]), np.array([30.0]))
    assert U.ndim == 2 and abs(w.sum() - 1) < 1e-14
    out = lg.theory(LogisticMLE(psi=0.5 * float(lg.separability_threshold(1e8)), beta=1e8))
    assert np.isfinite(out["lrt_scale"]) and 1 < out["bias_inflation"] < 2


def test_panels_agree_with_trapezoid(monkeypatch):
    star = float(lg.separability_threshold(2.0))
    psi = star * (1 - 1e-3)
    panels = lg.solve(psi, 2.0)
    monkeypatch.setattr(lg, "_u_nodes", lambda sv, lam: lg._nodes(float(np.max(sv))))
    trapezoid = lg.solve(psi, 2.0)
    for key in ("alpha", "sigma", "lambda"):
        assert float(panels[key]) == pytest.approx(float(trapezoid[key]), rel=1e-11)


@pytest.mark.parametrize("axis", ["psi", "beta", "grid"])
def test_grids_agree_with_pointwise_solves(axis):
    """Every kind of grid (psi at fixed beta, beta at fixed psi through beta = 0 and across psi*(beta), and a
    2-D grid, both with more distinct betas than continuation paths) gives each point's solution alone to
    1e-10; NaN exactly at and beyond psi*."""
    if axis == "psi":
        psi, beta = np.linspace(0.01, 0.3, 200), np.full(200, 2.0)
    elif axis == "beta":
        psi, beta = np.full(60, 0.25), np.linspace(0.0, 4.0, 60)
    else:
        p, b = np.meshgrid(np.linspace(0.02, 0.4, 9), np.linspace(0.0, 3.0, 3 * lg._KNOTS))
        psi, beta = p.ravel(), b.ravel()
    grid = lg.solve(psi, beta)
    inside = psi < lg.separability_threshold(beta)
    assert 0 < inside.sum() and np.array_equal(np.isfinite(grid["sigma"]), inside)
    for k in np.flatnonzero(inside)[:: max(1, inside.sum() // 7)]:
        alone = lg.solve(psi[k], beta[k])
        for key in ("alpha", "sigma", "lambda"):
            if beta[k] > 0 or key != "alpha":
                assert grid[key][k] == pytest.approx(float(alone[key]), rel=1e-10), (key, psi[k], beta[k])


def test_points_failing_from_interpolated_starts_are_solved_again(monkeypatch):
    """The knots' fallback: points reported not converged from their interpolated start (here every third one,
    forced, their values spoiled) are solved again with more knots and end up with the pointwise solution."""
    psi, beta = np.full(40, 0.15), np.linspace(0.1, 3.0, 40)
    reference = lg.solve(psi, beta)
    polish = lg._polish

    def failing(psi_, beta_, y, tol=lg._TOL, strict=True):
        y, J, ok = polish(psi_, beta_, y, tol, strict)
        if not strict:  # reported failed, with a useless value
            ok[::3], y[::3] = False, np.nan
        return y, J, ok

    monkeypatch.setattr(lg, "_polish", failing)
    again = lg.solve(psi, beta)
    for key in ("alpha", "sigma", "lambda"):
        np.testing.assert_allclose(again[key], reference[key], rtol=1e-10)
    alone = lg.solve(psi[7], beta[7])
    assert float(again["sigma"][7]) == pytest.approx(float(alone["sigma"]), rel=1e-10)
