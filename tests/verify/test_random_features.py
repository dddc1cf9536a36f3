"""Random-features registration: finite-d allowance, a quick theory-vs-simulation check through the real
check pipeline, the scenario sets and the rf-double-descent figure."""
import csv

import numpy as np
import pytest

from overparam.models import RandomFeatures
from overparam.verify import check, registry, runner
from overparam.verify import random_features as vrf


@pytest.fixture
def only_this_family(monkeypatch):
    """check resolves models through the registry; restrict it to this family."""
    monkeypatch.setattr(registry, "families", lambda: {"random_features": vrf.FAMILY})


def test_allowance_documented_values():
    m = RandomFeatures(psi1=4.0, psi2=2.0, lam=0.01, r2=1.0, fstar2=0.0, sigma2=0.5)
    rounding = 1.5e-9
    assert vrf.allowance("test_error", m, {"d": 200}, 0.8) == pytest.approx(0.03 * 0.8 + rounding)
    assert vrf.allowance("test_error", m, {"d": 100}, 0.8) == pytest.approx(0.06 * 0.8 + rounding)
    assert vrf.allowance("train_error", m, {"d": 200}, 0.1) == pytest.approx(0.06 * 0.1 + rounding)
    assert vrf.allowance("train_error", m.replace(lam=1.0), {"d": 400}, 0.9) == pytest.approx(0.015 * 0.9 + rounding)
    assert vrf.allowance("test_error", m.replace(lam=0.0, psi1=2.3), {"d": 200}, 5.0) is None
    assert vrf.allowance("test_error", m.replace(lam=0.0), {"d": 200}, 1.0) is not None


def test_quick_theory_vs_simulation_through_check(only_this_family):
    scenario = registry.Scenario(RandomFeatures(psi1=2.0, psi2=3.0, lam=np.array([0.0, 0.01, 1.0])), 200, 30)
    rows = check.judge(check.scenario_rows(scenario, runner.RunOptions(seed=3)))
    assert len(rows) == 6 and all(r.verdict == "pass" for r in rows), check.format_rows(rows)
    # not vacuous: every band is tighter than 15% of the value, and a 20% error in the theory is caught
    assert all(r.tol < 0.15 * r.expected for r in rows)
    shifted = check.judge([r.__class__(**{**r.__dict__, "expected": 1.2 * r.expected}) for r in rows])
    assert any(r.verdict == "FAIL" for r in shifted)


def test_scenarios_quick_set_is_checkable():
    quick = [s for s in vrf.SCENARIOS if not s.full]
    assert quick and len(quick) < len(vrf.SCENARIOS)
    for s in quick:
        sizes = s.model.sizes(s.n)
        real = s.model.at_sizes(sizes)
        th = vrf.ENTRY.theory(real)
        for j, lam in enumerate(np.atleast_1d(s.model.lam)):
            for metric in RandomFeatures.METRICS:
                e = float(np.broadcast_to(th[metric], np.shape(s.model.lam))[j])
                assert np.isfinite(e) and vrf.allowance(metric, real.replace(lam=lam), sizes, e) is not None


def test_figure_fast(tmp_path):
    png = vrf.draw_double_descent(tmp_path, runner.RunOptions(seed=0), fast=True)
    for ext in ("png", "pdf", "csv"):
        assert (tmp_path / f"rf-double-descent.{ext}").stat().st_size > 0
    assert png == tmp_path / "rf-double-descent.png"
    with open(tmp_path / "rf-double-descent.csv") as fh:
        series = {row["series"] for row in csv.DictReader(fh)}
    assert {"theory lam=0", "theory optimal lam", "simulation lam=0.1"} <= series


@pytest.mark.slow
@pytest.mark.parametrize("full", [False, True])
def test_check_scenarios_pass(only_this_family, full):
    rows, ok = check.run_check([vrf.FAMILY], full=full)
    assert ok, check.format_rows(rows)
    assert sum(r.verdict == "pass" for r in rows) >= (18 if not full else 40)
