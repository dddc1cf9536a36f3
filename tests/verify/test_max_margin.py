"""max-margin registration: the scenario design, Cover's exact reference, the runner on non-separable
samples and the full check (the default check, with and without a 5 % theory error, is
tests/verify/test_check_teeth.py; figures: tests/verify/test_figures.py)."""
import numpy as np
import pytest

from overparam.models import MaxMargin
from overparam.theory.max_margin import separability_threshold
from overparam.verify import check, registry, runner
from overparam.verify.max_margin import ENTRY, FAMILY, SCENARIOS, reference


@pytest.fixture
def only_this_family(monkeypatch):
    """check looks models up in the full registry; serve this family's entry directly."""
    monkeypatch.setattr(registry, "model_entry", lambda name: ENTRY)


def test_estimator_metrics_are_compared_only_far_above_the_threshold():
    """margin/cos_angle/test_error (conditional on separability) are compared at psi >= psi* + 0.3 only,
    where every sample is separable; elsewhere the scenario declares them skipped."""
    for s in SCENARIOS:
        gap = float(s.model.psi) - separability_threshold(s.model.labels)
        skipped = {m for m, _ in s.skip}
        assert "separability_threshold" in skipped
        if not {"margin", "cos_angle", "test_error"} <= skipped:
            assert gap >= 0.3 and isinstance(s.n, tuple), s


def test_cover_reference():
    assert reference(MaxMargin(psi=0.5, labels="purenoise"), {"n": 40, "p": 20})["separable"] == pytest.approx(0.5)
    assert reference(MaxMargin(psi=0.5, labels="noiseless"), {"n": 40, "p": 20}) == {}


def test_runner_averages_separable_replicates_only():
    recs = runner.run(ENTRY, MaxMargin(psi=0.5, labels="purenoise"), 30, 12, runner.RunOptions(seed=3))
    (rec,) = recs
    assert 0 < rec["separable"] < 1 and np.isfinite(rec["margin"]) and rec["margin"] > 0


@pytest.mark.slow
def test_full_check_passes(only_this_family):
    rows, ok = check.run_check([FAMILY], full=True, options=runner.RunOptions(seed=1))
    assert ok, check.format_rows(rows)
