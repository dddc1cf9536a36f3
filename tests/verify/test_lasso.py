"""Lasso family registration: scenarios, AMP vs theory, BP success vs DT (the default check, with and without
a 5 % theory error, is tests/verify/test_check_teeth.py; figures: tests/verify/test_figures.py)."""
import numpy as np
import pytest

from overparam.models import L1Transition, Lasso
from overparam.simulate import lasso as S
from overparam.theory import lasso as T
from overparam.verify.lasso import FAMILY, LASSO


def test_registration():
    assert [e.name for e in FAMILY.models] == ["lasso", "l1-transition"]
    assert LASSO.shared == ("lam",) and FAMILY.models[1].replicate is None
    assert {f.name for f in FAMILY.figures} == {"lasso-risk", "l1-transition"}
    assert any(not s.full for s in FAMILY.scenarios) and any(s.full for s in FAMILY.scenarios)
    for s in FAMILY.scenarios:  # lam = 0 has no finite-n tau_star: declared skipped, never compared
        skipped = {m for m, _ in s.skip}
        assert "gap" in skipped and ("tau_star" in skipped) == bool(np.all(np.asarray(s.model.lam) == 0))


@pytest.mark.slow
def test_theory_vs_amp():
    """AMP at the theory's threshold alpha(lam): its lam_N and metrics against the state evolution."""
    model = Lasso(delta=1.5, eps=0.2, sigma2=0.04, prior="gauss", lam=0.3)
    sizes = model.sizes(1500)
    th = T.theory(model.at_sizes(sizes))
    reps = [S.amp_metrics(model, sizes, np.random.default_rng(k), float(th["threshold"]), iterations=2000)
            for k in range(8)]
    for metric, expected in [("lam", 0.3)] + [(m, float(th[m])) for m in ("mse", "tau_star", "frac_nonzero")]:
        x = np.array([r[metric] for r in reps])
        bias = 0.0 if metric == "lam" else 0.05 * abs(expected)  # O(1/p) drift, < 3.5 % at delta 1.5 (lasso.md 5)
        assert abs(x.mean() - expected) < bias + 3.5 * x.std(ddof=1) / np.sqrt(len(x)), metric


@pytest.mark.slow
def test_bp_success_brackets_dt():
    """the lasso family notes section 5: success >= 0.9 at 0.8 k_DT and <= 0.1 at 1.2 k_DT (delta 0.6, p = 200)."""
    n, p = 120, 200
    k_dt = float(T.transition(L1Transition(delta=n / p))["rho"]) * n
    rng = np.random.default_rng(0)
    assert S.bp_success(n, p, int(round(0.8 * k_dt)), 30, rng).mean() >= 0.9
    assert S.bp_success(n, p, int(round(1.2 * k_dt)), 30, rng).mean() <= 0.1
