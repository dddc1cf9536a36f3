"""The verdict on hand-made simulations: what is compared, what fails, what may be skipped, the output.

Each test builds the simulation side of a scenario by hand (the runner's records), so the expected verdict
follows from the contract in verify/check.py without running a simulator."""
import json
import math

import numpy as np
import pytest

from overparam.errors import ParameterError
from overparam.models import SpikedWigner
from overparam.verify import check, stats
from overparam.verify.registry import Family, ModelEntry, Scenario


def _theory(model):
    theta = np.asarray(model.theta, dtype=float)
    return {"top_eigenvalue": theta + 1 / theta, "overlap_sq": 1 - 1 / theta**2}


def _entry(theory=_theory, **kw):
    kw.setdefault("primary", ("top_eigenvalue",))
    return ModelEntry(SpikedWigner, theory, replicate=lambda *a: {}, **kw)


def _record(n, reps=20, **metrics):
    """A runner record: metric -> (mean, se) or (mean, se, count)."""
    rec = {"theta": 2.0, "N": n, "reps": reps, "seed": 0}
    for name, value in metrics.items():
        mean, se, *count = value
        rec.update({name: mean, name + "_se": se, name + "_count": count[0] if count else reps})
    return rec


def _simulated(n, records, skip=(), model=None):
    scenario = Scenario(model or SpikedWigner(theta=2.0), n, 20, skip=skip)
    sizes = [{"N": m} for m in scenario.sizes]
    return check.Simulated(scenario, records=[[r] for r in records], sizes=sizes)


def _extrapolated(top=2.5, overlap=0.75, **kw):
    ns = (250, 500, 1000)
    recs = [_record(n, top_eigenvalue=(top + 3 / n, 0.01), overlap_sq=(overlap - 1 / n, 0.005)) for n in ns]
    return _simulated(ns, recs, **kw)


def _rows(sim, entry, family=None):
    fam = family or Family("toy", (entry,))
    return check.verdict([fam], [sim], lambda name: entry)


def _by_metric(rows):
    return {r.metric: r for r in rows}


def test_extrapolated_intercept_is_compared_with_the_limit():
    rows, ok = _rows(_extrapolated(), _entry())
    top = _by_metric(rows)["top_eigenvalue"]
    assert ok and top.verdict == "pass" and top.sim == pytest.approx(2.5, abs=1e-12)
    assert top.source == "limit, extrapolated in 1/n" and top.reps == (20, 20, 20)
    assert top.se == pytest.approx(stats.fit_rate([250, 500, 1000], [0, 0, 0], [0.01] * 3, [19] * 3)[1])


def test_a_five_percent_theory_error_fails():
    rows, ok = _rows(_extrapolated(top=2.5 * 1.05), _entry())
    assert not ok and _by_metric(rows)["top_eigenvalue"].verdict == "FAIL"


def test_nan_theory_fails_instead_of_skipping():
    nan = lambda model: {k: np.full(np.shape(v), np.nan) for k, v in _theory(model).items()}  # noqa: E731
    rows, ok = _rows(_extrapolated(), _entry(nan))
    assert not ok and {r.verdict for r in rows} == {"FAIL"}
    assert all(r.note == "limit is nan" for r in rows)


def test_metric_missing_on_either_side_fails():
    extra = lambda model: dict(_theory(model), spare=np.asarray(1.0))  # noqa: E731
    rows, ok = _rows(_extrapolated(), _entry(extra))
    assert not ok and _by_metric(rows)["spare"].note == "metric missing in the simulation"
    fewer = lambda model: {"top_eigenvalue": _theory(model)["top_eigenvalue"]}  # noqa: E731
    rows, ok = _rows(_extrapolated(), _entry(fewer))
    assert not ok and _by_metric(rows)["overlap_sq"].verdict == "FAIL"


def test_declared_skip_is_the_only_skip():
    extra = lambda model: dict(_theory(model), spare=np.asarray(1.0))  # noqa: E731
    rows, ok = _rows(_extrapolated(skip=(("spare", "not simulated"),)), _entry(extra))
    assert ok and _by_metric(rows)["spare"].verdict == "skip"
    assert _by_metric(rows)["spare"].skip_reason == "not simulated"


def test_nan_replicates_fail_unless_documented():
    ns = (250, 500, 1000)
    recs = [_record(n, top_eigenvalue=(2.5, 0.01, 17), overlap_sq=(0.75, 0.005)) for n in ns]
    rows, ok = _rows(_simulated(ns, recs), _entry())
    top = _by_metric(rows)["top_eigenvalue"]
    assert not ok and top.verdict == "FAIL" and "NaN replicate" in top.note
    rows, ok = _rows(_simulated(ns, recs), _entry(nan_ok=("top_eigenvalue",)))
    top = _by_metric(rows)["top_eigenvalue"]
    assert ok and top.reps == (17, 17, 17) and top.nan == (3, 3, 3)
    assert top.dof < 3 * 16  # degrees of freedom from the replicates actually averaged


def test_fewer_than_two_replicates_fail():
    ns = (250, 500, 1000)
    recs = [_record(n, top_eigenvalue=(2.5, math.nan, 1), overlap_sq=(0.75, 0.005)) for n in ns]
    rows, ok = _rows(_simulated(ns, recs), _entry(nan_ok=("top_eigenvalue",)))
    assert not ok and _by_metric(rows)["top_eigenvalue"].note == "fewer than 2 finite replicates"


def test_single_size_needs_an_exact_reference():
    rec = _record(1000, top_eigenvalue=(2.5, 0.01), overlap_sq=(0.75, 0.005))
    rows, ok = _rows(_simulated(1000, [rec]), _entry())
    assert not ok and all(r.note == "no exact finite-size reference" for r in rows)
    exact = lambda model, sizes: {"top_eigenvalue": np.asarray(2.5), "overlap_sq": np.asarray(0.75)}  # noqa: E731
    rows, ok = _rows(_simulated(1000, [rec]), _entry(reference=exact))
    assert ok and {r.source for r in rows} == {"finite-n"}
    assert _by_metric(rows)["top_eigenvalue"].dof == 19


def test_failed_simulation_and_uncompared_model_fail():
    sim = check.Simulated(Scenario(SpikedWigner(theta=2.0), (250, 500, 1000), 20), error="simulation raised X")
    rows, ok = _rows(sim, _entry())
    assert not ok and rows[0].note == "simulation raised X"
    all_skipped = _extrapolated(skip=(("top_eigenvalue", "r"), ("overlap_sq", "r")))
    rows, ok = _rows(all_skipped, _entry())
    assert not ok and rows[-1].note == "no compared row for this model"


def test_threshold_is_the_decision_line_and_student_t():
    """Rows fail exactly when |z| > threshold; with 20 replicates the line is Student's t with 19 dof."""
    recs = [_record(1000, top_eigenvalue=(2.503, 0.001), overlap_sq=(0.75, 0.005))]
    exact = lambda model, sizes: {"top_eigenvalue": np.asarray(2.5), "overlap_sq": np.asarray(0.75)}  # noqa: E731
    rows, _ = _rows(_simulated(1000, recs), _entry(reference=exact))
    top = _by_metric(rows)["top_eigenvalue"]
    assert top.z == pytest.approx(3.0)
    assert top.threshold == pytest.approx(stats.critical(stats.ALPHA / 2, 19))  # 2 rows, first Holm step
    assert top.threshold > 3.0 > stats.critical(stats.ALPHA / 2, np.inf)  # t_19: 3.17, normal: 2.81
    assert top.verdict == "pass"
    rows, _ = _rows(_simulated(1000, [_record(1000, top_eigenvalue=(2.5032, 0.001), overlap_sq=(0.75, 0.005))]),
                    _entry(reference=exact))
    top = _by_metric(rows)["top_eigenvalue"]
    assert top.z > top.threshold and top.verdict == "FAIL"


def test_json_rows_have_exactly_the_contract_keys():
    rows, _ = _rows(_extrapolated(), _entry())
    data = json.loads(check.format_json(rows))
    assert all(tuple(r) == check.JSON_KEYS for r in data)
    top = next(r for r in data if r["metric"] == "top_eigenvalue")
    assert top["sizes"] == [250, 500, 1000] and top["reps"] == [20, 20, 20] and top["verdict"] == "pass"
    assert top["detection_limit"] > 0 and top["skip_reason"] == ""
    assert check.format_csv(rows).splitlines()[0] == ",".join(check.JSON_KEYS)
    assert "top_eigenvalue*" in check.format_rows(rows)
    line = next(x for x in check.summary(rows, 1.0).splitlines() if "detection limit" in x)
    best, worst = check.detection_limits(rows)[rows[0].model][("top_eigenvalue", "limit")]
    assert best <= worst and f"top_eigenvalue {100 * best:.2g} %" in line and f"worst row {100 * worst:.2g} %" in line


def test_full_runs_every_scenario_at_its_full_replicates():
    quick = Scenario(SpikedWigner(theta=2.0), (250, 500, 1000), 20, full_reps=60)
    extra = Scenario(SpikedWigner(theta=1.5), (250, 500, 1000), 30, full=True)
    family = Family("toy", (), (quick, extra))
    assert [s.reps for s in check.selected_scenarios([family])] == [20]
    assert [s.reps for s in check.selected_scenarios([family], full=True)] == [60, 30]
    with pytest.raises(ParameterError, match="full_reps"):
        Scenario(SpikedWigner(theta=2.0), (250, 500, 1000), 20, full_reps=10)


def _toy_replicate(model, sizes, rng):
    """Exact-mean toy simulator: the theory plus noise of sd 0.05 (and a 1/N drift)."""
    out = _theory(model)
    return {k: float(v) + 0.05 * rng.standard_normal() + 1 / sizes["N"] for k, v in out.items()}


@pytest.fixture
def toy_registry(monkeypatch):
    from overparam.verify import registry

    state = {"factor": 1.0}
    theory = lambda m: {k: state["factor"] * v for k, v in _theory(m).items()}  # noqa: E731
    entry = ModelEntry(SpikedWigner, theory, _toy_replicate, primary=("top_eigenvalue",))
    family = Family("toy", (entry,), (Scenario(SpikedWigner(theta=2.0), (20, 40, 80), 10),))
    monkeypatch.setattr(registry, "families", lambda: {"toy": family})
    return state


def test_cli_check_formats_and_exit_codes(toy_registry, capsys):
    from overparam.verify import cli

    assert cli.main(["check", "--format", "json"]) == 0
    out = capsys.readouterr()
    data = json.loads(out.out)
    assert {r["metric"] for r in data} == {"top_eigenvalue", "overlap_sq"} and "0 failed" in out.err
    assert all(r["verdict"] == "pass" and r["reps"] == [10, 10, 10] for r in data)
    assert cli.main(["check", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == ",".join(check.JSON_KEYS)
    toy_registry["factor"] = 1.05
    assert cli.main(["check"]) == 1
    assert "FAIL" in capsys.readouterr().out
