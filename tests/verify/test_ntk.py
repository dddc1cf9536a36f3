"""ntk-init registration: a quick theory-vs-simulation check through the real check pipeline, its power
(a 5 % error in the theory and the finite-size equivalent fails), the scenarios' well-posedness, the figure."""
import csv
import dataclasses

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from overparam.models import NtkInit
from overparam.verify import check, cli, registry, runner
from overparam.verify import ntk as vn
from overparam.verify.registry import Scenario


@pytest.fixture
def only_this_family(monkeypatch):
    monkeypatch.setattr(registry, "families", lambda: {"ntk": vn.FAMILY})


def _scaled(factor: float):
    """entry_of for check.verdict: the ntk entry with theory and reference multiplied by ``factor``."""
    def scale(fn):
        return lambda *a: {k: factor * np.asarray(v) for k, v in fn(*a).items()}
    wrong = dataclasses.replace(vn.ENTRY, theory=scale(vn.ENTRY.theory), reference=scale(vn.ENTRY.reference))
    return lambda name: wrong


def test_quick_check_passes_and_catches_a_five_percent_error(only_this_family):
    """Small versions of the default scenarios (about 3 s): the finite-size equivalent at the outlier of
    phi = z^2/2 and the hard edge of relu, and the relu limit by extrapolation."""
    scenarios = [Scenario(NtkInit(gamma=2.0, activation="quadratic"), 300, 10),
                 Scenario(NtkInit(gamma=2.0), 200, 6, skip=vn.SOFT_MAX),
                 Scenario(NtkInit(gamma=0.5, steps=np.array([2, 10])), (75, 150, 300), 8, skip=vn.MIXED)]
    with threadpool_limits(1):
        sims = [check.simulate(s, runner.RunOptions(seed=3)) for s in scenarios]
    rows, ok = check.verdict([vn.FAMILY], sims)
    assert ok, check.format_rows(rows)
    judged = [r for r in rows if r.verdict == "pass"]
    assert {r.source.split(",")[0] for r in judged} == {"finite-n", "limit"}
    assert {r.metric for r in judged} == set(NtkInit.METRICS)
    wrong, ok = check.verdict([vn.FAMILY], sims, entry_of=_scaled(1.05))
    assert not ok
    sharp = [r for r in wrong if r.verdict in ("pass", "FAIL") and r.detection_limit < 0.025]
    assert len(sharp) >= 4 and all(r.verdict == "FAIL" for r in sharp), check.format_rows(wrong)


def test_limit_of_lambda_min_by_one_over_n_extrapolation(only_this_family):
    """erf at gamma = 2 (mu_1 = 0, hard edge): lambda_min extrapolated in 1/n from small sizes (about 2 s)
    agrees with the limit, and the limit x 1.05 or x 0.95 fails (the default check's erf scenario, smaller)."""
    default = next(s for s in vn.SCENARIOS if not s.full and s.model.activation.label == "erf")
    scenario = dataclasses.replace(default, n=(50, 100, 200), reps=6)
    with threadpool_limits(1):
        sims = [check.simulate(scenario, runner.RunOptions(seed=5))]
    rows, ok = check.verdict([vn.FAMILY], sims)
    assert ok and [r.metric for r in rows if r.verdict == "pass"] == ["min_eigenvalue"], check.format_rows(rows)
    for factor in (1.05, 0.95):
        wrong, ok = check.verdict([vn.FAMILY], sims, entry_of=_scaled(factor))
        assert not ok, check.format_rows(wrong)


def test_scenarios_are_well_posed():
    quick = [s for s in vn.SCENARIOS if not s.full]
    for s in vn.SCENARIOS:
        for n in s.sizes:
            s.model.sizes(n)
        assert {m for m, _ in s.skip} <= set(NtkInit.METRICS)
        if len(s.sizes) == 1:  # single size: the finite-size equivalent, which exists for width = inf only
            assert np.isinf(s.model.width)
    checked = {m for s in quick for m in NtkInit.METRICS if m not in dict(s.skip)}
    assert set(vn.ENTRY.primary) <= checked
    assert {s.model.scaling for s in quick} == {"linear", "quadratic"}
    assert any(np.isfinite(s.model.width) for s in quick)


def test_figure_fast(tmp_path):
    with threadpool_limits(1):
        png = vn.draw(tmp_path, runner.RunOptions(seed=1), fast=True)
    assert png.exists() and (tmp_path / "ntk-spectrum.pdf").exists()
    rows = list(csv.DictReader(open(tmp_path / "ntk-spectrum.csv")))
    kinds = {(r["panel"], r["kind"], r["metric"]) for r in rows}
    for panel, metrics in (("a", ("min_eigenvalue", "max_eigenvalue")), ("b", ("train_loss", "train_loss_signal"))):
        for m in metrics:
            assert (panel, "theory", m) in kinds and (panel, "simulation", m) in kinds


@pytest.mark.parametrize("argv", [["--gamma", "0"], ["--activation", "swish"], ["--activation", "0,0"],
                                  ["--width", "0"], ["--steps", "-1"], ["--scaling", "cubic"]])
def test_cli_bad_input_is_one_line_and_exit_2(capsys, argv):
    assert cli.main(["curve", "ntk-init", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and argv[0].lstrip("-") in err


def test_cli_curve_grid_and_json_conventions(capsys):
    assert cli.main(["curve", "ntk-init", "--gamma", "0.5,2", "--activation", "relu,0.2,0.5", "--scaling",
                     "quadratic", "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert '"max_eigenvalue": Infinity' in out and '"gd_rate": NaN' in out and '"activation": "0.2,0.5"' in out


@pytest.mark.slow
def test_full_scenarios_pass(only_this_family):
    with threadpool_limits(1):
        rows, ok = check.run_check([vn.FAMILY], full=True, options=runner.RunOptions(seed=2))
    assert ok, check.format_rows(rows)
