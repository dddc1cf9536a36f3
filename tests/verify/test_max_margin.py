"""max-margin registration: theory vs simulation through the runner and check, allowances, the figure."""
import numpy as np
import pytest

from overparam.models import MaxMargin
from overparam.verify import check, registry, runner
from overparam.verify.max_margin import ENTRY, FAMILY, allowance, reference


@pytest.fixture
def only_this_family(monkeypatch):
    """check looks models up in the full registry; serve this family's entry directly."""
    monkeypatch.setattr(registry, "model_entry", lambda name: ENTRY)


def test_quick_check_passes(only_this_family):
    """The default scenarios: theory vs simulation for every label model, Holm at alpha = 0.01."""
    rows, ok = check.run_check([FAMILY], full=False, options=runner.RunOptions(seed=0))
    judged = [r for r in rows if r.verdict != "skip"]
    assert ok, check.format_rows(rows)
    metrics = {(r.point.split()[1], r.metric) for r in judged}
    for labels in ("noiseless", "flip:0.2", "logistic:2", "purenoise"):
        assert {(f"labels={labels}", m) for m in ("margin", "cos_angle", "separable")} <= metrics
    assert sum(r.source == "finite-n" for r in judged) >= 3  # Cover's exact probabilities are used


def test_check_detects_a_wrong_theory(monkeypatch):
    """The same comparison fails when the theory's margin is off by 0.05 (not a vacuous pass)."""
    def wrong(model):
        return {**ENTRY.theory(model), "margin": ENTRY.theory(model)["margin"] + 0.05}

    entry = registry.ModelEntry(MaxMargin, wrong, ENTRY.replicate, allowance=allowance)
    monkeypatch.setattr(registry, "model_entry", lambda name: entry)
    rows = check.judge(check.scenario_rows(FAMILY.scenarios[0], runner.RunOptions()))
    assert any(r.metric == "margin" and r.verdict == "FAIL" for r in rows)


def test_allowance_rules():
    sizes = {"n": 400, "p": 600}
    assert allowance("margin", MaxMargin(psi=1.5, labels="flip:0.2"), sizes, 0.86) == 0.005
    assert allowance("test_error", MaxMargin(psi=1.5, labels="flip:0.2"), sizes, 0.44) == 0.002
    assert allowance("margin", MaxMargin(psi=0.6, labels="flip:0.2"), sizes, 0.1) is None  # conditioning bias
    assert allowance("separable", MaxMargin(psi=0.45, labels="flip:0.2"), sizes, 1.0) is None  # transition
    assert allowance("separable", MaxMargin(psi=0.7, labels="flip:0.2"), sizes, 1.0) == 0.0
    assert allowance("separable", MaxMargin(psi=0.5, labels="purenoise"), {"n": 400, "p": 200}, 0.5) == 0.0
    assert allowance("separability_threshold", MaxMargin(), sizes, 0.0) is None
    assert reference(MaxMargin(psi=0.5, labels="purenoise"), {"n": 40, "p": 20})["separable"] == pytest.approx(0.5)
    assert reference(MaxMargin(psi=0.5, labels="noiseless"), {"n": 40, "p": 20}) == {}


def test_runner_averages_separable_replicates_only():
    recs = runner.run(ENTRY, MaxMargin(psi=0.5, labels="purenoise"), 30, 12, runner.RunOptions(seed=3))
    (rec,) = recs
    assert 0 < rec["separable"] < 1 and np.isfinite(rec["margin"]) and rec["margin"] > 0


def test_figure_fast(tmp_path):
    (fig,) = FAMILY.figures
    png = fig.draw(tmp_path, runner.RunOptions(), fast=True)
    assert png.exists() and png.with_suffix(".pdf").exists()
    text = png.with_suffix(".csv").read_text()
    assert "separable purenoise" in text and "Cover" in text and "theory logistic:5" in text


@pytest.mark.slow
def test_full_check_passes(only_this_family):
    rows, ok = check.run_check([FAMILY], full=True, options=runner.RunOptions(seed=1))
    assert ok, check.format_rows(rows)
