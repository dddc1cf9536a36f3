"""BBP family registration: the quick check scenarios pass (theory vs simulation), allowances skip what
is not a finite-size observable, and both figures are written."""
import dataclasses
from unittest import mock

import pytest

from overparam.models import HessianInit, SpectralPR, SpikedCovariance, SpikedWigner
from overparam.verify import bbp, check, registry


@pytest.fixture
def only_bbp():
    with mock.patch.object(registry, "families", lambda: {"bbp": bbp.FAMILY}):
        yield


def test_quick_check_passes(only_bbp):
    rows, ok = check.run_check([bbp.FAMILY])
    assert ok, check.format_rows(rows)
    judged = [r for r in rows if r.verdict == "pass"]
    assert {r.model for r in judged} == {"spiked-wigner", "spiked-covariance", "spectral-pr", "hessian-init"}
    assert len(judged) >= 16
    assert all(r.metric not in ("threshold", "alpha_bbp", "transition") for r in rows)


def test_check_detects_a_wrong_theory(only_bbp):
    """A theory off by 5 % in the outlier location must fail (the check is not vacuous)."""
    scenario = bbp.SCENARIOS[0]
    entry = bbp.ENTRIES[0]
    wrong = lambda m: {k: v * (1.05 if k == "top_eigenvalue" else 1.0) for k, v in bbp.th.spiked_wigner(m).items()}
    with mock.patch.object(registry, "model_entry", lambda name: dataclasses.replace(entry, theory=wrong)):
        rows = check.judge(check.scenario_rows(scenario, check.runner.RunOptions()))
    assert any(r.verdict == "FAIL" for r in rows)


def test_allowances_skip_non_observables():
    assert bbp.wigner_allowance("top_eigenvalue", SpikedWigner(theta=1.05), {"N": 1000}, 2.0) is None
    assert bbp.wigner_allowance("top_eigenvalue", SpikedWigner(theta=2.0), {"N": 1000}, 2.5) == 0
    below = bbp.wigner_allowance("top_eigenvalue", SpikedWigner(theta=0.5), {"N": 1000}, 2.0)
    assert below == pytest.approx((1.2065 + 1.268) * 1000 ** (-2 / 3))
    assert bbp.covariance_allowance("overlap_sq", SpikedCovariance(ell=1.5, gamma=0.25), {"n": 2000, "p": 500},
                                    0.0) is None
    assert bbp.spectral_allowance("overlap_sq", SpectralPR(alpha=4.0, preprocessing="identity"),
                                  {"n": 2400, "p": 600}, 0.0) is None
    assert bbp.spectral_allowance("overlap_sq", SpectralPR(alpha=0.55, preprocessing="luo-alghamdi-lu"),
                                  {"n": 2400, "p": 600}, 0.0) is None
    h = HessianInit(p_star=1, p=2, a=0.7, alpha=3.0)
    assert bbp.hessian_allowance("min_eigenvalue", h, {"N": 400, "M": 1200}, -1.0) is None
    assert bbp.hessian_allowance("cluster_eigenvalue", h, {"N": 400, "M": 1200}, -1.0) == 0
    assert bbp.hessian_allowance("overlap_sq", h.replace(alpha=0.6), {"N": 400, "M": 240}, 0.0) is None


def test_covariance_tracy_widom_allowance_covers_johnstone_mean():
    """Below threshold the allowance contains the Johnstone finite-n mean 2.2328 (p = 500, n = 2000)."""
    allow = bbp.covariance_allowance("top_eigenvalue", SpikedCovariance(ell=1.2, gamma=0.25),
                                     {"n": 2000, "p": 500}, 2.25)
    assert allow > 2.25 - 2.2328


@pytest.mark.parametrize("name", ["bbp-transitions", "hessian-init"])
def test_figures_write_png_pdf_csv(tmp_path, name):
    fig = {f.name: f for f in bbp.FAMILY.figures}[name]
    png = fig.draw(tmp_path, fast=True)
    for ext in ("png", "pdf", "csv"):
        assert (tmp_path / f"{name}.{ext}").stat().st_size > 0
    assert png == tmp_path / f"{name}.png"
    assert "series" in (tmp_path / f"{name}.csv").read_text().splitlines()[0]


@pytest.mark.slow
def test_full_check_passes(only_bbp):
    """The --full scenarios: larger sizes, near-threshold spectral PR, discontinuous hessian-init cases."""
    rows, ok = check.run_check([bbp.FAMILY], full=True)
    assert ok, check.format_rows(rows)
