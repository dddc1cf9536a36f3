"""The default ``overparam check`` has teeth, for every registered model (new families are included
automatically): simulated ONCE (the default scenarios, seed 0, as the command line runs them), the same
rows are judged with the registered theory (must pass) and with a theory in which ONE primary metric is
multiplied by 1.05 or 0.95 (a wrapper, no source edit: must fail), for every (model, primary metric) pair.
A model without primary metrics fails. The slow variant does the same for ``check --full`` with a 2 % error
(run with ``pytest -m slow``; about twice ``overparam check --full``).
CI cost: one default check (about the time of ``overparam check``)."""
import numpy as np
import pytest

from overparam.verify import check, registry, runner

SIMULATED = sorted(name for name, e in registry.models().items() if e.replicate is not None)
PRIMARY = [(name, metric) for name in SIMULATED for metric in registry.model_entry(name).primary]


def _simulated_check(full: bool):
    """(simulated scenarios, their unjudged rows with the registered entries)."""
    families = list(registry.families().values())
    sims = check.simulate_all(families, full=full, options=runner.RunOptions(seed=0, jobs=2))
    return sims, [check.compare(sim) for sim in sims]


@pytest.fixture(scope="module")
def default_check():
    return _simulated_check(full=False)


@pytest.fixture(scope="module")
def full_check():
    return _simulated_check(full=True)


def _scaled(entry: registry.ModelEntry, factor: float, side: str = "theory",
            metrics: tuple[str, ...] | None = None) -> registry.ModelEntry:
    """The entry with ``metrics`` (default: its primary metrics) multiplied by ``factor`` in ``theory`` or
    in ``reference``."""
    def wrap(function):
        def scaled(*args):
            out = dict(function(*args))
            for metric in set(entry.primary if metrics is None else metrics) & set(out):
                out[metric] = np.asarray(out[metric], dtype=float) * factor
            return out
        return scaled

    theory = wrap(entry.theory) if side == "theory" else entry.theory
    reference = wrap(entry.reference) if side == "reference" else entry.reference
    return registry.ModelEntry(entry.model, theory, entry.replicate, entry.shared, reference, entry.rate,
                               entry.nan_ok, entry.primary)


def _verdict(default_check, name, factor=None, side="theory", metrics=None):
    """Rows of model ``name`` after judging the whole default check, with that model's ``metrics`` (default:
    its primary metrics) scaled by ``factor`` in its theory or reference (the other models' rows are
    compared once)."""
    sims, compared = default_check
    rows = []
    for sim, base in zip(sims, compared):
        ours = sim.scenario.model.NAME == name and factor is not None
        scaled = _scaled(registry.model_entry(name), factor, side, metrics) if ours else None
        rows += check.compare(sim, scaled) if ours else base
    judged = check.judge(rows)
    return [r for r in judged if r.model == name], judged


@pytest.mark.parametrize("name", SIMULATED)
def test_model_declares_primary_metrics(name):
    entry = registry.model_entry(name)
    assert entry.primary, f"{name}: ModelEntry.primary is empty (the metrics a 5 % error must be caught in)"
    assert set(entry.primary) <= set(entry.model.METRICS)


@pytest.mark.parametrize("name", SIMULATED)
def test_default_check_passes(default_check, name):
    rows, _ = _verdict(default_check, name)
    judged = [r for r in rows if r.verdict in ("pass", "FAIL")]
    assert judged, f"{name}: no compared row in the default check"
    assert all(r.verdict == "pass" for r in rows if r.verdict != "skip"), check.format_rows(rows)
    assert any(r.primary and r.verdict == "pass" for r in rows), f"{name}: no primary metric compared"


@pytest.mark.parametrize("factor", [1.05, 0.95])
@pytest.mark.parametrize("name, metric", PRIMARY)
def test_five_percent_error_in_each_primary_metric_fails(default_check, name, metric, factor):
    rows, _ = _verdict(default_check, name, factor, metrics=(metric,))
    failed = [r for r in rows if r.verdict == "FAIL"]
    assert failed, f"{name}: theory {metric} x {factor} passed\n" + check.format_rows(rows)
    assert {r.metric for r in failed} == {metric}, check.format_rows(failed)  # only the perturbed metric fails


@pytest.mark.slow
def test_full_check_passes(full_check):
    _, rows = _verdict(full_check, SIMULATED[0])
    assert all(r.verdict != "FAIL" for r in rows), check.format_rows([r for r in rows if r.verdict == "FAIL"])


@pytest.mark.slow
@pytest.mark.parametrize("factor", [1.02, 0.98])
@pytest.mark.parametrize("name, metric", PRIMARY)
def test_full_check_flags_two_percent_in_each_primary_metric(full_check, name, metric, factor):
    rows, _ = _verdict(full_check, name, factor, metrics=(metric,))
    assert any(r.verdict == "FAIL" and r.metric == metric for r in rows), check.format_rows(rows)


@pytest.mark.parametrize("name", SIMULATED)
def test_five_percent_error_in_an_exact_reference_fails(default_check, name):
    rows, _ = _verdict(default_check, name)
    if not any(r.primary and r.source == "finite-n" and r.verdict == "pass" for r in rows):
        pytest.skip(f"{name}: no primary metric is compared with an exact finite-size reference")
    rows, _ = _verdict(default_check, name, 1.05, "reference")
    assert any(r.verdict == "FAIL" for r in rows), check.format_rows(rows)


@pytest.mark.parametrize("name", SIMULATED)
def test_scenarios_are_well_posed(default_check, name):
    """Every scenario of the model: geometric sizes or an exact reference; skips name real metrics."""
    entry = registry.model_entry(name)
    scenarios = [s for fam in registry.families().values() for s in fam.scenarios if s.model.NAME == name]
    assert any(not s.full for s in scenarios), f"{name}: no default scenario"
    for s in scenarios:
        if len(s.sizes) == 1:
            assert entry.reference is not None, f"{name}: a single-size scenario needs an exact reference"
        else:
            ratios = np.diff(np.log(s.sizes))
            assert np.allclose(ratios, ratios[0], rtol=0.1), s.sizes  # geometric
    simulated = {m for sim in default_check[0] if sim.scenario.model.NAME == name and sim.records
                 for recs in sim.records for r in recs for m in r if m + "_se" in r}
    for s in scenarios:
        assert {m for m, _ in s.skip} <= set(entry.theory(s.model)) | simulated, s.skip
