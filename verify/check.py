"""``overparam check``: every registered scenario computed by theory and by simulation, compared honestly.

What is compared (one row per point and metric; docs/ARCHITECTURE.md "The verdict"):

* single-size scenario (``Scenario.n`` an int): the mean of the replicates at that size against the entry's
  EXACT finite-size ``reference`` (e.g. ridgeless inverse-Wishart moments, Cover's count), evaluated at the
  realised sizes. No reference for a metric (or a non-finite one) fails the row.
* multi-size scenario (``n`` a tuple of >= 3 increasing sizes): the means at every size are extrapolated
  with the entry's documented rate by weighted least squares, mean(n) = a + b r(n), and the intercept a
  (standard error from the fit, Welch-Satterthwaite degrees of freedom) is compared with the limit
  ``theory`` at the nominal parameters. Before the fit each mean is shifted by theory(nominal) -
  theory(realised) (zero when the sizes realise the ratios exactly), which removes the rounding of the
  realised ratios.

Rows are judged together by Holm's step-down over Student-t p-values at family-wise level ``stats.ALPHA``;
each row shows its decision threshold (it fails exactly when |z| > threshold) and its detection limit (the
relative theory error it flags with probability 0.8). No tolerance depends on the theory value under test.

A row is skipped only when its scenario declares ``(metric, reason)`` in ``skip``. Without a declared skip
a row FAILS (outside Holm) when: the metric is missing on either side; the expected value is not finite;
a replicate returned NaN for a metric not in the entry's ``nan_ok`` (NaN replicates of ``nan_ok`` metrics
are counted and shown); fewer than two replicates are finite; or the simulation raised. A model of a
checked family that has a simulator but no compared row fails too.
"""
from __future__ import annotations

import csv
import io
import json
import math
import sys
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable

import numpy as np

from overparam.errors import OverparamError

from . import registry, runner, stats
from .registry import Family, ModelEntry, Scenario

#: Keys of a row in ``--format json`` (and the columns of ``--format csv``), in order.
JSON_KEYS = ("model", "parameters", "sizes", "metric", "expected", "source", "sim", "se", "reps", "z",
             "threshold", "detection_limit", "verdict", "skip_reason")


@dataclass(frozen=True)
class Row:
    """One compared (or skipped, or structurally failed) metric at one point. ``reps`` and ``nan`` are the
    replicates averaged and the NaN replicates left out, per size; ``note`` explains a structural FAIL."""

    model: str
    parameters: dict
    sizes: tuple[int, ...]
    metric: str
    expected: float
    source: str
    sim: float = math.nan
    se: float = math.nan
    dof: float = math.nan
    reps: tuple[int, ...] = ()
    nan: tuple[int, ...] = ()
    primary: bool = False
    z: float = math.nan
    threshold: float = math.nan
    detection_limit: float = math.nan
    verdict: str = "pending"  # pending (to be judged), pass, FAIL, skip
    skip_reason: str = ""
    note: str = ""

    def json(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in JSON_KEYS}
        out.update(parameters={k: _plain(v) for k, v in self.parameters.items()}, sizes=list(self.sizes),
                   reps=list(self.reps))
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in out.items()}


def _plain(value: Any) -> Any:
    """A JSON-ready parameter value (arrays as lists, numpy scalars as Python numbers, labels as text)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)


@dataclass
class Simulated:
    """The simulation side of one scenario: the runner's records at every size (None if it raised)."""

    scenario: Scenario
    records: list[list[dict]] | None = None
    error: str = ""
    sizes: list[dict] = field(default_factory=list)


# ------------------------------------------------------------------------------------ simulation
def simulate(scenario: Scenario, options: runner.RunOptions, label: str = "") -> Simulated:
    """Run the scenario's replicates at each of its sizes (progress line on stderr when asked)."""
    entry = registry.model_entry(scenario.model.NAME)
    out = Simulated(scenario, sizes=[scenario.model.sizes(n) for n in scenario.sizes])
    try:
        recs = []
        for n in scenario.sizes:
            if options.progress:
                print(f"{label}{entry.name} n={n} reps={scenario.reps}", file=sys.stderr, flush=True)
            recs.append(runner.run(entry, scenario.model, n, scenario.reps, options))
        out.records = recs
    except (OverparamError, ArithmeticError, np.linalg.LinAlgError) as exc:
        out.error = f"simulation raised {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return out


# ------------------------------------------------------------------------------------ comparison
def _at(values: dict, metric: str, j: int, size: int) -> float:
    """Point j of a theory/reference output (scalars broadcast over the grid); NaN if absent."""
    try:
        return float(np.broadcast_to(np.asarray(values[metric], dtype=float), (size,))[j])
    except (KeyError, ValueError, TypeError):  # absent, or not a number (e.g. a transition type)
        return math.nan


def _metrics(rec: dict) -> list[str]:
    return [m for m in rec if m + "_se" in rec]


def _parameters(rec: dict, model) -> dict:
    return {k: rec[k] for k in model.params() if k in rec}


def compare(sim: Simulated, entry: ModelEntry | None = None) -> list[Row]:
    """Unjudged rows of one simulated scenario (verdict ``pending``, ``skip`` or a structural ``FAIL``).
    ``entry`` defaults to the registered one; tests pass a wrapped theory to re-judge the same simulation."""
    sc = sim.scenario
    entry = entry or registry.model_entry(sc.model.NAME)
    size = int(np.prod(sc.model.shape()))
    base = dict(model=entry.name, sizes=sc.sizes)
    if sim.records is None:
        return [Row(parameters=sc.model.display(), metric="*", expected=math.nan, source="-", verdict="FAIL",
                    note=sim.error, **base)]
    multi = len(sc.sizes) > 1
    if multi:
        expected_at = entry.theory(sc.model)
        shifts = [entry.theory(sc.model.at_sizes(s)) for s in sim.sizes]
        source = "limit"
    else:
        realised = sc.model.at_sizes(sim.sizes[0])
        expected_at = entry.reference(realised, sim.sizes[0]) if entry.reference else {}
        source = "finite-n"
    theory_names = entry.theory(sc.model).keys() if not multi else expected_at.keys()
    rows = []
    for j in range(size):
        recs = [r[j] for r in sim.records]
        params = _parameters(recs[0], sc.model)
        names = list(dict.fromkeys([*_metrics(recs[0]), *theory_names]))
        for metric in names:
            row = Row(parameters=params, metric=metric, expected=_at(expected_at, metric, j, size), source=source,
                      primary=metric in entry.primary, **base)
            reason = sc.skip_reason(metric)
            if reason:
                rows.append(replace(row, verdict="skip", skip_reason=reason))
                continue
            realised_theory = [_at(s, metric, j, size) for s in shifts] if multi else [0.0]
            rows.append(_measure(row, entry, recs, metric, realised_theory, sc.rate_of(metric, entry)))
    return rows


def _measure(row: Row, entry: ModelEntry, recs: list[dict], metric: str, realised_theory: list[float],
             rate: str) -> Row:
    """Fill sim, se, dof and reps of a row (the extrapolated intercept for several sizes), or FAIL it."""
    fail = lambda note: replace(row, verdict="FAIL", note=note)  # noqa: E731
    if metric not in recs[0]:
        return fail("metric missing in the simulation")
    if not math.isfinite(row.expected):
        return fail("no exact finite-size reference" if row.source == "finite-n" else f"limit is {row.expected}")
    counts = [int(r.get(metric + "_count", r["reps"])) for r in recs]
    nans = [int(r["reps"]) - c for r, c in zip(recs, counts)]
    row = replace(row, reps=tuple(counts), nan=tuple(nans))
    if any(nans) and metric not in entry.nan_ok:
        return fail(f"{sum(nans)} NaN replicate(s) (not a documented NaN of {entry.name})")
    if min(counts) < 2:
        return fail("fewer than 2 finite replicates")
    means = np.array([r[metric] for r in recs], dtype=float)
    ses = np.array([r[metric + "_se"] for r in recs], dtype=float)
    if not (np.all(np.isfinite(means)) and np.all(np.isfinite(ses))):
        return fail("non-finite simulated mean or standard error")
    ses = np.maximum(ses, stats.SE_FLOOR * np.maximum(np.abs(means), 1.0))
    dofs = np.array(counts, dtype=float) - 1
    if len(recs) == 1:
        return replace(row, sim=float(means[0]), se=float(ses[0]), dof=float(dofs[0]))
    shift = np.array(realised_theory, dtype=float) - row.expected  # theory(realised) - theory(nominal)
    if not np.all(np.isfinite(shift)):
        return fail("theory at the realised ratios is not finite")
    ns = [int(n) for n in row.sizes]
    a, se_a, _, dof = stats.fit_rate(ns, means - shift, ses, dofs, rate)
    return replace(row, sim=a, se=se_a, dof=dof, source=f"limit, extrapolated in {rate}")


def judge(rows: list[Row], alpha: float = stats.ALPHA) -> list[Row]:
    """Holm's step-down over the pending rows: fills z, threshold, detection limit and verdict."""
    live = [i for i, r in enumerate(rows) if r.verdict == "pending"]
    out = list(rows)
    if not live:
        return out
    z = np.array([(rows[i].sim - rows[i].expected) / rows[i].se for i in live])
    dof = np.array([rows[i].dof for i in live])
    reject, level = stats.holm(stats.p_values(z, dof), alpha)
    crit = stats.critical(level, dof)
    m = len(live)
    for k, i in enumerate(live):
        r = rows[i]
        out[i] = replace(r, z=float(z[k]), threshold=float(crit[k]),
                         detection_limit=stats.detection_limit(r.se, r.expected, r.dof, m, alpha),
                         verdict="FAIL" if reject[k] else "pass")
    return out


def _uncompared(families: Iterable[Family], rows: list[Row]) -> list[Row]:
    """A FAIL row for every simulated model of the checked families without a compared row."""
    compared = {r.model for r in rows if r.verdict in ("pass", "FAIL", "pending")}
    return [Row(e.name, {}, (), "*", math.nan, "-", verdict="FAIL", note="no compared row for this model")
            for fam in families for e in fam.models if e.replicate is not None and e.name not in compared]


def selected_scenarios(families: Iterable[Family], full: bool = False) -> list[Scenario]:
    """The quick set, or with ``full`` every scenario at its ``full_reps``."""
    if not full:
        return [s for fam in families for s in fam.scenarios if not s.full]
    return [replace(s, reps=s.full_reps or s.reps) for fam in families for s in fam.scenarios]


def simulate_all(families: Iterable[Family], full: bool = False,
                 options: runner.RunOptions = runner.RunOptions()) -> list[Simulated]:
    chosen = selected_scenarios(families, full)
    return [simulate(s, options, f"scenario {i} of {len(chosen)}: ") for i, s in enumerate(chosen, 1)]


def verdict(families: Iterable[Family], sims: list[Simulated],
            entry_of: Callable[[str], ModelEntry] | None = None) -> tuple[list[Row], bool]:
    """Compare and judge simulated scenarios; ``entry_of(name)`` overrides the registered entries (tests).
    Returns (rows, all passed)."""
    rows: list[Row] = []
    for sim in sims:
        rows += compare(sim, entry_of(sim.scenario.model.NAME) if entry_of else None)
    rows = judge(rows)
    rows += _uncompared(families, rows)
    return rows, not any(r.verdict == "FAIL" for r in rows)


def run_check(families: Iterable[Family], full: bool = False,
              options: runner.RunOptions = runner.RunOptions()) -> tuple[list[Row], bool]:
    """Run the scenarios of ``families`` (quick set, or all with ``full``); return (rows, all passed)."""
    families = list(families)
    return verdict(families, simulate_all(families, full, options))


def timed_check(families: Iterable[Family], full: bool,
                options: runner.RunOptions) -> tuple[list[Row], bool, float]:
    t0 = time.perf_counter()
    rows, ok = run_check(families, full, options)
    return rows, ok, time.perf_counter() - t0


# ------------------------------------------------------------------------------------------ output
def _num(x: float, fmt: str = ".6g") -> str:
    return "-" if not math.isfinite(x) else format(x, fmt)


def _point(r: Row) -> str:
    return " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.parameters.items())


def _reps(r: Row) -> str:
    text = ",".join(map(str, r.reps)) or "-"
    return text + (f" ({sum(r.nan)} NaN)" if any(r.nan) else "")


def format_rows(rows: list[Row]) -> str:
    """The verdict table."""
    head = ("model", "point", "n", "metric", "expected (source)", "sim +- se", "reps", "z", "thresh", "detect",
            "verdict")
    body = []
    for r in rows:
        why = f" ({r.skip_reason or r.note})" if r.skip_reason or r.note else ""
        body.append((r.model, _point(r), ",".join(map(str, r.sizes)), r.metric + ("*" if r.primary else ""),
                     f"{_num(r.expected)} ({r.source})", f"{_num(r.sim)} +- {_num(r.se, '.2g')}", _reps(r),
                     _num(r.z, "+.2f"), _num(r.threshold, ".2f"), _num(100 * r.detection_limit, ".2g") + "%",
                     r.verdict + why))
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip() for line in [head, *body]]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def format_json(rows: list[Row]) -> str:
    return json.dumps([r.json() for r in rows], indent=1)


def format_csv(rows: list[Row]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=JSON_KEYS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        rec = r.json()
        rec.update(parameters=" ".join(f"{k}={v}" for k, v in r.parameters.items()),
                   sizes=";".join(map(str, r.sizes)), reps=";".join(map(str, r.reps)))
        writer.writerow(rec)
    return buf.getvalue().rstrip("\n")


def detection_limits(rows: list[Row]) -> dict[str, dict[tuple[str, str], tuple[float, float]]]:
    """model -> (primary metric, "limit" | "finite-n") -> (best, worst) detection limit over its judged rows
    with a nonzero expected value (a relative error of 0 is undefined: those rows show an infinite limit),
    apart for the rows judging the limit ``theory`` and those judging the exact finite-size ``reference``.
    The best is the error of that function in that metric the check flags with probability >= 0.8 (one row
    suffices); the worst, its weakest row."""
    out: dict[str, dict[tuple[str, str], tuple[float, float]]] = {}
    for r in rows:
        if r.primary and r.verdict in ("pass", "FAIL") and r.expected != 0:
            key = (r.metric, "finite-n" if r.source == "finite-n" else "limit")
            best, worst = out.setdefault(r.model, {}).get(key, (math.inf, 0.0))
            out[r.model][key] = (min(best, r.detection_limit), max(worst, r.detection_limit))
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.2g} %"


def summary(rows: list[Row], seconds: float) -> str:
    n = {v: sum(r.verdict == v for r in rows) for v in ("pass", "FAIL", "skip")}
    judged = [r for r in rows if math.isfinite(r.z)]
    worst = max((abs(r.z) / r.threshold for r in judged), default=math.nan)
    lines = [f"{n['pass']} passed, {n['FAIL']} failed, {n['skip']} skipped; largest |z|/threshold = "
             f"{worst:.2f} (a row fails when > 1); Holm family-wise alpha = {stats.ALPHA} over {len(judged)} "
             f"rows; {seconds:.1f} s"]
    limits = detection_limits(rows)
    for m in dict.fromkeys(r.model for r in rows):
        text = f"  {m}: {sum(r.model == m and r.verdict == 'FAIL' for r in rows)} failed; "
        if m not in limits:
            lines.append(text + "no primary metric judged")
            continue
        parts = [", ".join(f"{k} {_pct(b)}" for (k, kind), (b, _) in limits[m].items() if kind == which)
                 for which in ("limit", "finite-n")]
        worst = max(w for _, w in limits[m].values())
        lines.append(text + "detection limit (best row) of the limit theory: " + (parts[0] or "-")
                     + (f"; of the exact finite-n reference: {parts[1]}" if parts[1] else "")
                     + f"; worst row {_pct(worst)}")
    return "\n".join(lines)


FORMATS: dict[str, Callable[[list[Row]], str]] = {"table": format_rows, "csv": format_csv, "json": format_json}
