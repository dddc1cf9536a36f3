"""Registration of the max-margin family: model entry, finite-n allowance and reference, scenarios, figure.

Finite-n allowance (documented; formulas/max_margin.md 5-6). ``check`` accepts |sim - expected| <=
allowance + z_crit se with

* ``margin``, ``cos_angle``: 0.005; ``test_error``: 0.002 (absolute). These bound the finite-size bias: at
  psi = 1.5 and n = 100, 200, 400, 800 no drift of any metric was resolved at SE ~ 0.005 (margin) and 0.003
  (cos_angle); test_error is a smooth function of cos_angle with slope <= 1/pi near the tested points.
  These metrics are not checkable (None) within max(0.3, 5/sqrt(n)) of the threshold psi*, where samples are
  often non-separable and the mean over separable replicates is a biased conditional mean.
* ``separable``: purenoise has the exact finite-n reference (Cover's count 2^(1-n) sum_{k<p} C(n-1, k)), allowance 0.
  Otherwise the limit is 0/1 and is checked (allowance 0) only when |psi - psi*| >= 5/sqrt(n): the transition
  has width ~ 0.5-0.7/sqrt(n) (Cover: sd of p_c/n = sqrt(n-1)/(2n); flip:0.2 at n = 400: P = 0.02 / 0.96 at
  psi* -+ 0.06), so 5/sqrt(n) is >= 7 widths away and the finite-n probability is within ~1e-12 of the limit.
* ``separability_threshold`` is not simulated.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from overparam.models import MaxMargin
from overparam.simulate.max_margin import cover_probability, replicate
from overparam.theory import max_margin as mm_theory

from . import figures, runner
from .registry import Family, Figure, ModelEntry, Scenario

_BIAS = {"margin": 0.005, "cos_angle": 0.005, "test_error": 0.002}
_TRANSITION_WIDTHS = 5.0  # |psi - psi*| >= 5/sqrt(n) for a 0/1 separability check
_CONDITIONING = 0.3  # estimator metrics need psi >= psi* + max(0.3, 5/sqrt(n))


def allowance(metric: str, model: MaxMargin, sizes: dict, expected: float) -> float | None:
    """Finite-n allowance (absolute units) of ``metric`` at a single point; see the module docstring."""
    gap = float(model.psi) - mm_theory.separability_threshold(model.labels)
    near = _TRANSITION_WIDTHS / np.sqrt(sizes["n"])
    if metric == "separable":
        return 0.0 if model.labels.kind == "purenoise" or abs(gap) >= near else None
    if metric in _BIAS:
        return _BIAS[metric] if gap >= max(_CONDITIONING, near) else None
    return None


def reference(model: MaxMargin, sizes: dict) -> dict[str, np.ndarray]:
    """Exact finite-n means: the separable probability of pure-noise labels (Cover 1965)."""
    if model.labels.kind != "purenoise":
        return {}
    return {"separable": np.array(cover_probability(sizes["n"], sizes["p"]))}


ENTRY = ModelEntry(MaxMargin, mm_theory.theory, replicate, shared=(), allowance=allowance, reference=reference)


def _scenario(n: int, reps: int, psi: float, labels: str, full: bool = False) -> Scenario:
    return Scenario(MaxMargin(psi=psi, labels=labels), n, reps, full)


SCENARIOS = (
    # quick set (~10 s on one core): every label model above psi*, a non-separable point, Cover at n = 100
    _scenario(300, 40, 1.5, "noiseless"),
    _scenario(300, 40, 1.5, "flip:0.2"),
    _scenario(300, 40, 1.5, "logistic:2"),
    _scenario(300, 40, 1.2, "purenoise"),
    _scenario(300, 40, 0.1, "flip:0.2"),
    _scenario(100, 60, 0.45, "purenoise"),
    _scenario(100, 60, 0.55, "purenoise"),
    # full set: the reference points of formulas/max_margin.md 6 at n = 400, and the transition
    *(_scenario(400, 40, psi, labels, True) for labels, psi in (
        ("noiseless", 0.8), ("noiseless", 3.0), ("flip:0.2", 1.5), ("flip:0.2", 3.0), ("logistic:2", 0.8),
        ("logistic:2", 1.5), ("purenoise", 0.8), ("purenoise", 3.0), ("logistic:5", 2.0), ("flip:0.1", 6.0))),
    _scenario(400, 60, 0.47, "purenoise", True),
    _scenario(400, 60, 0.16, "flip:0.2", True),
    _scenario(400, 60, 0.7, "flip:0.2", True),
)


# --------------------------------------------------------------------------------------------- figure
_FIG_LABELS = ("noiseless", "flip:0.1", "logistic:5", "purenoise")
_SEP_LABELS = ("purenoise", "flip:0.2")


def draw_max_margin(out_dir: Path | str, options: runner.RunOptions = runner.RunOptions(),
                    fast: bool = False) -> Path:
    """max-margin: margin kappa* and test error vs psi = p/n for four label models (theory lines, simulation
    error bars), and the separability transition: fraction of separable samples vs psi at two sizes with the
    threshold psi* marked (and Cover's exact finite-n probability for pure noise)."""
    fig, (ax_m, ax_e, ax_s) = figures.new_figure(ncols=3)
    rows: list[dict] = []
    psi = np.linspace(0.02, 4.0, 60 if fast else 300)
    sim_psi = np.array([1.0, 3.0]) if fast else np.array([0.75, 1.25, 2.0, 3.0, 4.0])
    n, reps = (20, 2) if fast else (200, 20)
    for color, lab in zip(("C0", "C1", "C2", "C3"), _FIG_LABELS):
        th = mm_theory.theory(MaxMargin(psi=psi, labels=lab))
        ax_m.plot(psi, th["margin"], color=color, label=f"theory {lab}")
        ax_e.plot(psi, th["test_error"], color=color, label=f"theory {lab}")
        rows += figures.series_rows(f"theory {lab}", labels=lab, psi=psi, **th)
        recs = runner.run(ENTRY, MaxMargin(psi=sim_psi, labels=lab), n, reps, options)
        x = np.array([r["p"] / r["n"] for r in recs])
        for ax, metric in ((ax_m, "margin"), (ax_e, "test_error")):
            figures.errorbars(ax, x, [r[metric] for r in recs], [r[metric + "_se"] for r in recs], color=color,
                              label=f"simulation n = {n}" if ax is ax_m and lab == _FIG_LABELS[0] else None)
        rows += [{"series": f"simulation {lab}", "labels": lab, "psi": r["p"] / r["n"], "n": r["n"], "p": r["p"],
                  "reps": r["reps"], **{k: r[k] for k in ("margin", "margin_se", "test_error", "test_error_se",
                                                          "separable")}} for r in recs]
    ax_m.set(xlabel="psi = p/n", ylabel="margin min_i y_i<x_i,theta>, ||theta||=1")
    ax_e.set(xlabel="psi = p/n", ylabel="test error P(y != sign<x,theta>)", ylim=(0, 0.55))
    ax_m.set_title("margin (x ~ N(0, I_p), no intercept)")
    ax_e.set_title("test error incl. label noise")
    ax_m.legend(loc="lower right", fontsize=6.5)
    rows += _separability_panel(ax_s, options, fast)
    return figures.save(fig, out_dir, "max-margin", rows)


def _separability_panel(ax, options: runner.RunOptions, fast: bool) -> list[dict]:
    """Fraction of separable samples vs psi at two sizes, psi* marked, Cover's exact curve for pure noise."""
    rows: list[dict] = []
    grid = np.linspace(0.2, 0.8, 4 if fast else 13)
    sizes, reps = ((10, 20), 3) if fast else ((50, 400), 40)
    for color, lab in zip(("C3", "C1"), _SEP_LABELS):
        star = mm_theory.separability_threshold(lab)
        ax.axvline(star, color=color, ls=":", lw=1, label=f"psi* {lab} = {star:.4f}")
        rows += figures.series_rows(f"threshold {lab}", labels=lab, separability_threshold=star)
        for marker, n in zip(("o", "s"), sizes):
            recs = runner.run(ENTRY, MaxMargin(psi=grid, labels=lab), n, reps, options)
            x = np.array([r["p"] / r["n"] for r in recs])
            figures.errorbars(ax, x, [r["separable"] for r in recs], [r["separable_se"] for r in recs],
                              color=color, fmt=marker, mfc="none" if n == sizes[0] else color,
                              label=f"simulation {lab}, n = {n}")
            rows += [{"series": f"separable {lab} n={n}", "labels": lab, "psi": r["p"] / r["n"], "n": r["n"],
                      "p": r["p"], "reps": r["reps"], "separable": r["separable"],
                      "separable_se": r["separable_se"]} for r in recs]
    fine = np.linspace(0.2, 0.8, 121)
    for ls, n in zip(("--", "-"), sizes):
        p = np.unique(np.maximum(1, np.round(fine * n)).astype(int))
        cover = [cover_probability(n, int(k)) for k in p]
        ax.plot(p / n, cover, color="C3", ls=ls, lw=1, label=f"Cover exact, n = {n}")
        rows += figures.series_rows(f"Cover n={n}", psi=p / n, n=n, separable=cover)
    ax.set(xlabel="psi = p/n", ylabel="fraction of separable samples", ylim=(-0.03, 1.03))
    ax.set_title("separability transition")
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=6)
    return rows


FIGURES = (Figure("max-margin", "max-margin margin and test error vs psi for four label models with simulation "
                  "error bars, and the separability transition at two sizes with the threshold marked",
                  draw_max_margin),)

FAMILY = Family(name="max_margin", models=(ENTRY,), scenarios=SCENARIOS, figures=FIGURES)
