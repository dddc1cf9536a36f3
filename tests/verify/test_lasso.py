"""Lasso family registration: theory vs simulation (exact solver and AMP), BP success vs DT, figures."""
import numpy as np
import pytest

from overparam.models import L1Transition, Lasso
from overparam.simulate import lasso as S
from overparam.theory import lasso as T
from overparam.verify import stats
from overparam.verify.lasso import FAMILY, LASSO, allowance
from overparam.verify.runner import RunOptions, run


def _compare(model, n, reps):
    """Holm-judged comparison of every metric at every lam (allowances of verify/lasso.py)."""
    sizes = model.sizes(n)
    limit = T.theory(model.at_sizes(sizes))
    z = []
    for j, rec in enumerate(run(LASSO, model, n, reps, RunOptions(seed=1))):
        point = model.at_sizes(sizes).replace(lam=rec["lam"])
        for metric in Lasso.METRICS:
            expected = float(np.atleast_1d(limit[metric])[j])
            z.append(stats.excess_z(rec[metric], rec[metric + "_se"], expected,
                                    allowance(metric, point, sizes, expected)))
    reject, _ = stats.holm(np.array(z, dtype=float))
    return np.array(z, dtype=float), reject


def test_theory_vs_exact_solver_quick():
    z, reject = _compare(Lasso(delta=0.5, eps=0.2, sigma2=0.04, prior="gauss", lam=np.array([0.0, 0.1, 0.5])),
                         n=150, reps=6)
    assert not reject.any(), z


def test_registration():
    assert [e.name for e in FAMILY.models] == ["lasso", "l1-transition"]
    assert LASSO.shared == ("lam",) and FAMILY.models[1].replicate is None
    assert {f.name for f in FAMILY.figures} == {"lasso-risk", "l1-transition"}
    assert any(not s.full for s in FAMILY.scenarios) and any(s.full for s in FAMILY.scenarios)


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
        allow = 0.0 if metric == "lam" else allowance(metric, model.at_sizes(sizes), sizes, expected)
        assert stats.excess_z(x.mean(), x.std(ddof=1) / np.sqrt(len(x)), expected, allow) < 3.5, metric


@pytest.mark.slow
def test_bp_success_brackets_dt():
    """formulas/lasso.md section 5: success >= 0.9 at 0.8 k_DT and <= 0.1 at 1.2 k_DT (delta 0.6, p = 200)."""
    n, p = 120, 200
    k_dt = float(T.transition(L1Transition(delta=n / p))["rho"]) * n
    rng = np.random.default_rng(0)
    assert S.bp_success(n, p, int(round(0.8 * k_dt)), 30, rng).mean() >= 0.9
    assert S.bp_success(n, p, int(round(1.2 * k_dt)), 30, rng).mean() <= 0.1


@pytest.mark.parametrize("name", ["lasso-risk", "l1-transition"])
def test_figures_fast(tmp_path, name):
    fig = {f.name: f for f in FAMILY.figures}[name]
    png = fig.draw(tmp_path, RunOptions(seed=0), fast=True)
    assert png.exists() and (tmp_path / f"{name}.pdf").exists()
    assert len((tmp_path / f"{name}.csv").read_text().splitlines()) > 50
