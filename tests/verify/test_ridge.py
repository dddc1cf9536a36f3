"""Ridge registration: the documented allowance, the quick theory-vs-simulation check through the real
check pipeline (not vacuous: a wrong theory fails), and both figures in fast mode."""
import csv
import dataclasses

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from overparam.models import Ridge
from overparam.verify import check, registry, runner
from overparam.verify import ridge as vr


@pytest.fixture
def only_this_family(monkeypatch):
    """check resolves models through the registry; restrict it to this family."""
    monkeypatch.setattr(registry, "families", lambda: {"ridge": vr.FAMILY})


def test_allowance_documented_values():
    m = Ridge(gamma=2.0, lam=0.1, spectrum="two-point:1,9")
    assert vr.allowance("excess_risk", m, {"n": 400, "p": 800}, 0.8) == pytest.approx(8 * 0.8 / 400)
    assert vr.allowance("bias", m, {"n": 400, "p": 800}, 0.05) == pytest.approx(16 * 0.05 / 400)
    assert vr.allowance("variance", m, {"n": 400, "p": 800}, np.inf) is None
    ridgeless = Ridge(gamma=0.5, lam=0.0)
    assert vr.allowance("variance", ridgeless, {"n": 400, "p": 200}, 0.5) == 0.0  # exact finite-n reference
    # p > n + 1 with Sigma != I has no exact reference: the limit with the O(1/n) allowance
    assert vr.allowance("norm2", m.replace(lam=0.0), {"n": 400, "p": 800}, 0.4) == pytest.approx(8 * 0.4 / 400)


def test_quick_scenarios_pass_and_are_not_vacuous(only_this_family):
    scenarios = check.selected_scenarios([vr.FAMILY])
    assert len(scenarios) == 6 and all(not s.full for s in scenarios)
    with threadpool_limits(1):
        rows = check.judge([r for s in scenarios for r in check.scenario_rows(s, runner.RunOptions(seed=1))])
    assert all(r.verdict == "pass" for r in rows), check.format_rows(rows)
    live = [r for r in rows if r.verdict == "pass"]
    assert len(live) == len(rows) == 5 * sum(np.size(s.model.lam) for s in scenarios)
    assert {r.source for r in rows} == {"limit", "finite-n"}
    # an 8% error in any non-zero expected value is caught (largest allowance: 16/300 = 5.3%)
    wrong = check.judge([dataclasses.replace(r, expected=1.08 * r.expected) for r in rows if r.expected > 1e-3])
    assert all(r.verdict == "FAIL" for r in wrong), check.format_rows(wrong)


def test_full_scenarios_are_well_posed():
    full = [s for s in vr.SCENARIOS if s.full]
    assert len(full) >= 6
    for s in full:
        sizes = s.model.sizes(s.n)
        if np.any(np.asarray(s.model.lam) == 0):
            assert abs(sizes["p"] - sizes["n"]) >= 20  # heavy-tailed ridgeless variance otherwise


@pytest.mark.slow
def test_full_scenarios_pass(only_this_family):
    with threadpool_limits(1):
        rows, ok = check.run_check([vr.FAMILY], full=True, options=runner.RunOptions(seed=2))
    assert ok, check.format_rows(rows)


@pytest.mark.parametrize("figure", vr.FIGURES, ids=lambda f: f.name)
def test_figures_fast(figure, tmp_path):
    with threadpool_limits(1):
        png = figure.draw(tmp_path, runner.RunOptions(), fast=True)
    assert png == tmp_path / f"{figure.name}.png"
    for ext in ("png", "pdf", "csv"):
        assert (tmp_path / f"{figure.name}.{ext}").stat().st_size > 0
    with open(tmp_path / f"{figure.name}.csv") as fh:
        rows = list(csv.DictReader(fh))
    series = {r["series"] for r in rows}
    assert any(s.startswith("theory") for s in series) and any(s.startswith("simulation") for s in series)
    assert all(np.isfinite(float(r["excess_risk"])) or r["series"].startswith("theory") for r in rows)
