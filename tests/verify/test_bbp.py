"""BBP family registration: the scenario design (no critical windows, declared skips of the
parameter-only metrics) and the full check (the default check, with and without a 5 % theory error, is
tests/verify/test_check_teeth.py). Figures: tests/verify/test_figures.py."""
from unittest import mock

import numpy as np
import pytest

from overparam.models import HessianInit, SpikedCovariance, SpikedWigner
from overparam.verify import bbp, check, registry


@pytest.fixture
def only_bbp():
    with mock.patch.object(registry, "families", lambda: {"bbp": bbp.FAMILY}):
        yield


def test_scenarios_avoid_critical_windows_and_skip_parameter_metrics():
    """Spiked points lie outside |s - s_c| < 3 N^-1/3 s_c at every simulated size; threshold-type metrics
    are declared skipped (never compared); below threshold the top eigenvalue extrapolates in n^-2/3."""
    for s in bbp.SCENARIOS:
        skipped = {m for m, _ in s.skip}
        model = s.model
        if isinstance(model, (SpikedWigner, SpikedCovariance)):
            sig, crit = ((float(model.theta), 1.0) if isinstance(model, SpikedWigner)
                         else (float(model.ell) - 1, np.sqrt(float(model.gamma))))
            dim = min(min(model.sizes(n).values()) for n in s.sizes)
            assert abs(sig - crit) >= 3 * dim ** (-1 / 3) * crit, s
            assert (s.rate or {}).get("top_eigenvalue", "1/n") == ("n^-2/3" if sig < crit else "1/n")
        if isinstance(model, HessianInit):
            assert {"alpha_bbp", "transition"} <= skipped
            lowest = {"min_eigenvalue", "overlap_sq"}
            assert lowest <= skipped if int(model.p) * int(model.p_star) > 1 else not lowest & skipped
        elif not isinstance(model, SpikedWigner):
            assert "threshold" in skipped


@pytest.mark.slow
def test_full_check_passes(only_bbp):
    """The --full scenarios: larger sizes, near-threshold spectral PR, discontinuous hessian-init cases."""
    rows, ok = check.run_check([bbp.FAMILY], full=True)
    assert ok, check.format_rows(rows)
