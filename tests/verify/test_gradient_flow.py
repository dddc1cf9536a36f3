"""Gradient-flow registration: the quick theory-vs-simulation check through the real check pipeline, its
power (a 5 % theory error in the primary metric fails), the scenario set's shape, and the figure."""
import csv
import dataclasses

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from overparam.models import GradientFlow
from overparam.verify import check, registry, runner
from overparam.verify import gradient_flow as vg


@pytest.fixture(scope="module")
def quick():
    """The quick scenarios simulated once (seed 1) and judged with the registered theory."""
    scenarios = check.selected_scenarios([vg.FAMILY])
    with threadpool_limits(1):
        sims = [check.simulate(s, runner.RunOptions(seed=1)) for s in scenarios]
    return scenarios, sims


def test_quick_scenarios_pass(quick):
    scenarios, sims = quick
    assert all(not s.full for s in scenarios) and all(len(s.sizes) == 3 for s in scenarios)
    rows, ok = check.verdict([vg.FAMILY], sims)
    assert ok, check.format_rows(rows)
    judged = [r for r in rows if r.verdict == "pass"]
    assert len(judged) == 5 * sum(np.size(s.model.t) for s in scenarios)
    assert {r.metric for r in rows if r.verdict == "skip"} == {"optimal_time", "optimal_risk"}
    # the t -> infinity points are compared with the minimum-norm limit (ridge at lam = 0)
    long = [r for r in judged if r.parameters["t"] == vg.LONG_TIME and r.metric == "excess_risk"]
    assert len(long) == 2


def test_a_five_percent_error_in_the_primary_metric_fails(quick):
    _, sims = quick

    def wrong(model):
        out = dict(vg.ENTRY.theory(model))
        out["excess_risk"] = 1.05 * np.asarray(out["excess_risk"])
        return out

    entry = dataclasses.replace(vg.ENTRY, theory=wrong)
    rows, ok = check.verdict([vg.FAMILY], sims, entry_of=lambda name: entry)
    primary = [r for r in rows if r.metric == "excess_risk"]
    assert not ok and all(r.verdict == "FAIL" for r in primary)
    assert max(r.detection_limit for r in primary) < 0.05


def test_full_scenarios_are_well_posed():
    full = [s for s in vg.SCENARIOS if s.full]
    assert len(full) >= 5
    for s in full:
        assert len(s.sizes) >= 3 and np.all(np.asarray(s.model.t) > 0)  # t = 0 has zero variance: no z
        sizes = s.model.sizes(s.sizes[0])
        assert min(sizes.values()) >= 20


def test_registered():
    assert registry.model_entry("gradient-flow").model is GradientFlow
    assert "gradient-flow" in registry.figures()


@pytest.mark.slow
def test_full_scenarios_pass():
    with threadpool_limits(1):
        rows, ok = check.run_check([vg.FAMILY], full=True, options=runner.RunOptions(seed=2))
    assert ok, [r for r in rows if r.verdict == "FAIL"]


def test_figure_fast(tmp_path):
    with threadpool_limits(1):
        png = vg.draw(tmp_path, runner.RunOptions(), fast=True)
    assert png == tmp_path / "gradient-flow.png"
    for ext in ("png", "pdf", "csv"):
        assert (tmp_path / f"gradient-flow.{ext}").stat().st_size > 0
    with open(tmp_path / "gradient-flow.csv") as fh:
        rows = list(csv.DictReader(fh))
    kinds = {(r["panel"], r["kind"]) for r in rows}
    assert kinds == {("a", "theory"), ("a", "simulation"), ("b", "theory")}
    ratios = [float(r["value"]) for r in rows if r["metric"] == "optimal_risk_ratio"]
    assert min(ratios) >= 1 - 1e-9 and max(ratios) <= 1.22  # optimal ridge is Bayes-optimal; AKT's bound
