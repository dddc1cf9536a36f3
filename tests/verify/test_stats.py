"""Comparison statistics: Holm's step-down against its definition and a hand example, Student-t critical
values, the weighted a + b r(n) fit, detection limits (by simulation of the test they promise)."""
import math

import numpy as np
import pytest

from overparam.verify import stats


def _holm_by_definition(p, alpha):
    order = np.argsort(p)
    reject = np.zeros(len(p), bool)
    for rank, i in enumerate(order):
        if p[i] > alpha / (len(p) - rank):
            break
        reject[i] = True
    return reject


@pytest.mark.parametrize("seed", range(5))
def test_holm_matches_definition(seed):
    p = np.random.default_rng(seed).uniform(0, 0.02, size=12) ** 1.5
    reject, level = stats.holm(p, 0.05)
    assert np.array_equal(reject, _holm_by_definition(p, 0.05))
    assert np.array_equal(reject, p <= level)  # the reported line decides every comparison


def test_holm_stops_at_the_first_acceptance():
    """m = 4, alpha = 0.01: lines 0.0025, 0.00333, 0.005, 0.01. p = 0.001 is rejected; 0.004 > 0.00333 stops
    the procedure, so 0.0045 and 0.006 are accepted although each is below its own rank's line."""
    p = np.array([0.006, 0.001, 0.0045, 0.004])
    reject, level = stats.holm(p, 0.01)
    assert reject.tolist() == [False, True, False, False]
    assert level[1] == pytest.approx(0.01 / 4)
    assert level[[0, 2, 3]] == pytest.approx([0.01 / 3] * 3)  # the stop rank's line for every acceptance
    assert np.array_equal(reject, p <= level)


def test_holm_all_rejected_and_none_rejected():
    reject, level = stats.holm([1e-6, 2e-6], 0.01)
    assert reject.all() and level.tolist() == pytest.approx([0.005, 0.01])
    reject, level = stats.holm([0.5, 0.9], 0.01)
    assert not reject.any() and level.tolist() == [0.005, 0.005]


def test_holm_controls_familywise_error_under_the_null():
    rng = np.random.default_rng(1)
    false_alarms = sum(stats.holm(rng.uniform(size=40), 0.05)[0].any() for _ in range(2000))
    # P(any rejection) <= alpha; binomial s.e. at 0.05 over 2000 trials is 0.005
    assert false_alarms / 2000 < 0.05 + 3 * 0.005


def test_student_t_critical_values_and_p_values():
    assert stats.critical(0.05, 9) == pytest.approx(2.262157, abs=1e-6)  # table value t_{0.975, 9}
    assert stats.critical(0.05, np.inf) == pytest.approx(1.959963984540054, rel=1e-12)
    assert stats.p_values([2.262157], [9])[0] == pytest.approx(0.05, rel=1e-5)
    # small samples: the t line is far above the normal one at Holm's levels
    assert stats.critical(0.01 / 100, 9) > 1.5 * stats.critical(0.01 / 100, np.inf)


def test_fit_rate_recovers_exact_lines_and_propagates_errors():
    ns = np.array([100, 200, 400])
    for rate in stats.RATE_FUNCTIONS:
        x = stats.rate_values(rate, ns)
        a, se_a, b, dof = stats.fit_rate(ns, 2.0 + 3.0 * x, np.full(3, 0.01), np.full(3, 9.0), rate)
        assert (a, b) == pytest.approx((2.0, 3.0), rel=1e-10)
    # equal errors, x = (1, 1/2, 1/4)/100: se_a^2 = se^2 sum x^2 / (3 sum x^2 - (sum x)^2) = 1.5 se^2
    _, se_a, _, dof = stats.fit_rate(ns, [1, 1, 1], [0.1] * 3, [9.0] * 3)
    assert se_a == pytest.approx(0.1 * math.sqrt(1.5), rel=1e-12)
    assert 9 < dof <= 27  # Welch-Satterthwaite between one and all three samples' dof
    _, se_a2, _, _ = stats.fit_inverse_n([100, 200], [1.0, 1.0], [0.1, 0.2])
    assert se_a2 == pytest.approx(math.sqrt(4 * 0.2 ** 2 + 0.1 ** 2))  # a = 2 m(200) - m(100)


def test_fit_rate_standard_error_by_simulation():
    rng = np.random.default_rng(2)
    ns, se = np.array([50, 100, 200]), np.array([0.04, 0.02, 0.01])
    fits = np.array([stats.fit_rate(ns, 1 + 5 / ns + se * rng.normal(size=3), se, [np.inf] * 3)[0]
                     for _ in range(4000)])
    se_a = stats.fit_rate(ns, [1, 1, 1], se, [np.inf] * 3)[1]
    assert abs(fits.mean() - 1) < 4 * se_a / math.sqrt(4000)
    assert fits.std() == pytest.approx(se_a, rel=0.05)  # relative s.e. of an sd over 4000 draws ~ 1.1 %


@pytest.mark.parametrize("dof", [9.0, 39.0, np.inf])
def test_detection_limit_has_the_promised_power(dof):
    """A theory off by the detection limit is flagged (at the first Holm step, level alpha/m) in ~80 % of
    simulated checks: t statistics with the row's dof, 20000 draws (binomial s.e. 0.3 %)."""
    m, se, expected = 30, 0.01, 1.0
    limit = stats.detection_limit(se, expected, dof, m)
    rng = np.random.default_rng(int(dof) if np.isfinite(dof) else 0)
    sim = expected + se * rng.normal(size=20000)
    s = se * (np.sqrt(rng.chisquare(dof, 20000) / dof) if np.isfinite(dof) else 1.0)
    z = (sim - expected * (1 + limit)) / s
    power = np.mean(np.abs(z) > stats.critical(stats.ALPHA / m, dof))
    assert 0.79 < power < 0.84  # the normal approximation of the non-central t is slightly conservative
    assert stats.detection_limit(se, 0.0, dof, m) == math.inf
