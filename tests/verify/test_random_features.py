"""Random-features registration: the scenario sets and the full check through the real pipeline (the
default check, with and without a 5 % theory error, is tests/verify/test_check_teeth.py). Figures:
tests/verify/test_figures.py."""

import numpy as np
import pytest

from overparam.verify import check, registry
from overparam.verify import random_features as vrf


@pytest.fixture
def only_this_family(monkeypatch):
    """check resolves models through the registry; restrict it to this family."""
    monkeypatch.setattr(registry, "families", lambda: {"random_features": vrf.FAMILY})


def test_scenarios_avoid_the_ridgeless_peak():
    """lam = 0 near psi1 = psi2 is heavy-tailed (module docstring): no scenario goes there."""
    quick = [s for s in vrf.SCENARIOS if not s.full]
    assert quick and len(quick) < len(vrf.SCENARIOS)
    for s in vrf.SCENARIOS:
        if np.any(np.asarray(s.model.lam) == 0):
            assert abs(float(s.model.psi1) / float(s.model.psi2) - 1) >= vrf._NEAR_PEAK


@pytest.mark.slow
@pytest.mark.parametrize("full", [False, True])
def test_check_scenarios_pass(only_this_family, full):
    rows, ok = check.run_check([vrf.FAMILY], full=full)
    assert ok, check.format_rows(rows)
