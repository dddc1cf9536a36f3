"""``overparam check``: every registered scenario computed by theory and by simulation, compared honestly.

For each scenario the theory is evaluated at the ratios the simulation realises (``model.at_sizes``), and
replaced by the entry's exact finite-size ``reference`` wherever that is finite. Each simulated metric
gives a row; rows are judged together by :func:`overparam.verify.stats.holm` (family-wise false-alarm rate
``stats.ALPHA``) after subtracting the family's documented finite-size allowance. A row is ``skip`` when
the metric is not checkable there (allowance None, or a non-finite expected/simulated value such as a
documented singularity); skipped rows never count as passed.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Iterable

import numpy as np

from . import registry, runner, stats
from .registry import Family, Scenario


@dataclass(frozen=True)
class Row:
    model: str
    point: str
    metric: str
    expected: float
    source: str  # "limit" or "finite-n"
    sim: float
    se: float
    allowance: float | None
    z: float = math.nan
    tol: float = math.nan
    verdict: str = "skip"


def _describe(record: dict, metrics: Iterable[str]) -> str:
    skip = set(metrics) | {"reps", "seed"}
    return " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in record.items() if k not in skip and not k.endswith("_se"))


def scenario_rows(scenario: Scenario, options: runner.RunOptions) -> list[Row]:
    """Unjudged rows of one scenario (verdict ``skip`` until :func:`judge`)."""
    model = scenario.model
    entry = registry.model_entry(model.NAME)
    sizes = model.sizes(scenario.n)
    realised = model.at_sizes(sizes)
    limit = entry.theory(realised)
    exact = entry.reference(realised, sizes) if entry.reference else {}
    records = runner.run(entry, model, scenario.n, scenario.reps, options)
    rows = []
    for j, rec in enumerate(records):
        point = _describe(rec, [m for m in rec if m in limit or m + "_se" in rec])
        for metric in (m for m in rec if m + "_se" in rec and m in limit):
            lim = float(np.broadcast_to(limit[metric], (len(records),))[j])
            ex = float(np.broadcast_to(exact[metric], (len(records),))[j]) if metric in exact else math.nan
            expected, source = (ex, "finite-n") if math.isfinite(ex) else (lim, "limit")
            sim, se = rec[metric], rec[metric + "_se"]
            ok = math.isfinite(expected) and math.isfinite(sim)
            allow = entry.allowance(metric, realised.replace(**_point_values(rec, entry.shared)), sizes,
                                    expected) if ok else None
            rows.append(Row(model.NAME, point, metric, expected, source, sim, se, allow))
    return rows


def _point_values(rec: dict, shared: tuple[str, ...]) -> dict:
    return {k: rec[k] for k in shared}


def judge(rows: list[Row], alpha: float = stats.ALPHA) -> list[Row]:
    """Holm's step-down over all checkable rows; fills z, tolerance and verdict."""
    live = [i for i, r in enumerate(rows) if r.allowance is not None]
    if not live:
        return rows
    exp = np.array([rows[i].expected for i in live])
    z = stats.excess_z([rows[i].sim for i in live], [rows[i].se for i in live], exp,
                       [rows[i].allowance for i in live])
    reject, z_crit = stats.holm(z, alpha)
    se = stats.effective_se([rows[i].se for i in live], exp)
    out = list(rows)
    for k, i in enumerate(live):
        r = rows[i]
        out[i] = replace(r, z=(r.sim - r.expected) / se[k], tol=r.allowance + z_crit[k] * se[k],
                         verdict="FAIL" if reject[k] else "pass")
    return out


def selected_scenarios(families: Iterable[Family], full: bool = False) -> list[Scenario]:
    return [s for fam in families for s in fam.scenarios if full or not s.full]


def run_check(families: Iterable[Family], full: bool = False,
              options: runner.RunOptions = runner.RunOptions()) -> tuple[list[Row], bool]:
    """Run the scenarios of ``families`` (quick set, or all with ``full``); return (rows, all passed)."""
    rows: list[Row] = []
    for scenario in selected_scenarios(families, full):
        rows += scenario_rows(scenario, options)
    rows = judge(rows)
    return rows, not any(r.verdict == "FAIL" for r in rows)


def format_rows(rows: list[Row]) -> str:
    """The verdict table: point, metric, expected (source), sim +- se, z, tolerance, verdict."""
    head = ("model", "point", "metric", "expected", "sim +- se", "z", "tol", "verdict")
    body = [(r.model, r.point, r.metric, f"{r.expected:.6g} ({r.source})", f"{r.sim:.6g} +- {r.se:.2g}",
             f"{r.z:+.2f}" if math.isfinite(r.z) else "-", f"{r.tol:.3g}" if math.isfinite(r.tol) else "-",
             r.verdict) for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip() for line in [head, *body]]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def summary(rows: list[Row], seconds: float) -> str:
    n = {v: sum(r.verdict == v for r in rows) for v in ("pass", "FAIL", "skip")}
    judged = [r for r in rows if r.verdict != "skip"]
    worst = max((abs(r.z) for r in judged), default=math.nan)
    used = max((abs(r.sim - r.expected) / r.tol for r in judged), default=math.nan)
    return (f"{n['pass']} passed, {n['FAIL']} failed, {n['skip']} skipped; worst |z| = {worst:.2f} "
            f"(before the finite-size allowance); largest |sim - expected|/tol = {used:.2f}; "
            f"Holm family-wise alpha = {stats.ALPHA}; {seconds:.1f} s")


def timed_check(families: Iterable[Family], full: bool, options: runner.RunOptions) -> tuple[list[Row], bool, float]:
    t0 = time.perf_counter()
    rows, ok = run_check(families, full, options)
    return rows, ok, time.perf_counter() - t0
