"""Ridge registration: scenario design and the full check through the real pipeline (the default check,
with and without a 5 % theory error, is tests/verify/test_check_teeth.py). Figures: test_figures.py."""
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from overparam.verify import check, registry, runner
from overparam.verify import ridge as vr


@pytest.fixture
def only_this_family(monkeypatch):
    """check resolves models through the registry; restrict it to this family."""
    monkeypatch.setattr(registry, "families", lambda: {"ridge": vr.FAMILY})


def test_single_size_scenarios_have_exact_references():
    """One-size scenarios are compared with finite_n_ridgeless: every metric must have an exact value."""
    for s in vr.SCENARIOS:
        if not isinstance(s.n, tuple):
            sizes = s.model.sizes(s.n)
            exact = vr.ENTRY.reference(s.model.at_sizes(sizes), sizes)
            assert all(np.all(np.isfinite(v)) for v in exact.values()), s


def test_full_scenarios_are_well_posed():
    full = [s for s in vr.SCENARIOS if s.full]
    assert len(full) >= 6
    for s in full:
        for n in s.sizes:
            sizes = s.model.sizes(n)
            if np.any(np.asarray(s.model.lam) == 0):
                assert abs(sizes["p"] - sizes["n"]) >= 20  # heavy-tailed ridgeless variance otherwise


@pytest.mark.slow
def test_full_scenarios_pass(only_this_family):
    with threadpool_limits(1):
        rows, ok = check.run_check([vr.FAMILY], full=True, options=runner.RunOptions(seed=2))
    assert ok, check.format_rows(rows)
