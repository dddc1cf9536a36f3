"""Comparison statistics: Holm's rule against its definition, the 1/n fit, the check judge."""
import math

import numpy as np
import pytest
from scipy import stats as st

from overparam.verify import check, stats


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
    z = np.abs(np.random.default_rng(seed).standard_t(2, size=12)) * 1.5
    reject, z_crit = stats.holm(z, 0.05)
    assert np.array_equal(reject, _holm_by_definition(2 * st.norm.sf(z), 0.05))
    assert np.all(z_crit >= st.norm.isf(0.05 / 2)) and np.all(z_crit <= st.norm.isf(0.05 / 24) + 1e-12)


def test_holm_controls_familywise_error_under_the_null():
    rng = np.random.default_rng(1)
    false_alarms = sum(stats.holm(np.abs(rng.normal(size=40)), 0.05)[0].any() for _ in range(2000))
    # P(any rejection) <= alpha; binomial s.e. at 0.05 over 2000 trials is 0.005
    assert false_alarms / 2000 < 0.05 + 3 * 0.005


def test_fit_inverse_n_recovers_exact_line_and_errors():
    ns = np.array([100, 200, 400, 800])
    a, se_a, b, _ = stats.fit_inverse_n(ns, 2.0 + 3.0 / ns, np.full(4, 0.01))
    assert (a, b) == pytest.approx((2.0, 3.0), rel=1e-12)
    # two points: a = 2 m(2n) - m(n), so se_a = sqrt(4 se2^2 + se1^2)
    _, se_a2, _, _ = stats.fit_inverse_n([100, 200], [1.0, 1.0], [0.1, 0.2])
    assert se_a2 == pytest.approx(math.sqrt(4 * 0.2 ** 2 + 0.1 ** 2))


def test_excess_z_subtracts_allowance_and_floors_se():
    assert stats.excess_z([1.3], [0.1], [1.0], [0.1])[0] == pytest.approx(2.0)
    assert stats.excess_z([1.05], [0.1], [1.0], [0.1])[0] == 0.0
    assert np.isfinite(stats.excess_z([1.0], [0.0], [1.0], [0.0])[0])


def _row(sim, se=0.01, allowance=0.0, expected=1.0):
    return check.Row("m", "x=1", "metric", expected, "limit", sim, se, allowance)


def test_judge_fails_gross_deviation_and_skips_uncheckable():
    rows = check.judge([_row(1.0), _row(1.2), _row(1.2, allowance=0.2), _row(1.0, allowance=None)])
    assert [r.verdict for r in rows] == ["pass", "FAIL", "pass", "skip"]
    assert rows[1].z == pytest.approx(20.0) and rows[2].tol > 0.2


def test_judge_all_pass_at_typical_noise():
    rng = np.random.default_rng(3)
    rows = check.judge([_row(1.0 + 0.01 * e) for e in rng.normal(size=50)])
    assert all(r.verdict == "pass" for r in rows)
    assert "50 passed, 0 failed" in check.summary(rows, 1.0)
