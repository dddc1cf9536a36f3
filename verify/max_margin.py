"""Registration of the max-margin family: model entry, exact finite-n reference, check scenarios, figure.

Finite-size handling in ``check`` (docs/ARCHITECTURE.md "The verdict"):

* margin, cos_angle, test_error: simulated at three geometric n well above the separability threshold
  (psi >= psi* + 0.3, where every sample is separable; the max_margin family notes 5) and extrapolated in 1/n;
  the intercept is compared with the limit. Below the threshold they are NaN by definition (documented:
  ``nan_ok``), and scenarios there declare them skipped.
* separable: for purenoise labels the exact finite-n mean is Cover's probability
  (``theory.max_margin.cover_probability``), compared at one size; elsewhere the extrapolated fraction is
  compared with the 0/1 limit at points far (>= 7 transition widths) from psi*.
* separability_threshold is a function of the labels only, never simulated: declared skipped.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from overparam.models import MaxMargin
from .registry import lazy_functions

replicate = lazy_functions("overparam.simulate.max_margin").replicate  # imported on first call
mm_theory = lazy_functions("overparam.theory.max_margin")
cover_probability = mm_theory.cover_probability

from . import figures, runner
from .registry import Family, Figure, ModelEntry, Scenario

def reference(model: MaxMargin, sizes: dict) -> dict[str, np.ndarray]:
    """Exact finite-n means: the separable probability of pure-noise labels (Cover 1965)."""
    if model.labels.kind != "purenoise":
        return {}
    return {"separable": np.array(cover_probability(sizes["n"], sizes["p"]))}


ENTRY = ModelEntry(MaxMargin, mm_theory.theory, replicate, reference=reference, rate="1/n",
                   nan_ok=("margin", "cos_angle", "test_error"), primary=("margin", "test_error"))

_THRESHOLD = ("separability_threshold", "a function of the labels only; not a finite-size observable")
_NONSEPARABLE = tuple((m, "NaN by definition below the separability threshold")
                      for m in ("margin", "cos_angle", "test_error"))
_COVER_ONLY = tuple((m, "this scenario checks Cover's exact separable probability only")
                    for m in ("margin", "cos_angle", "test_error"))


def _scenario(n: int | tuple[int, ...], reps: int, psi: float, labels: str, full: bool = False,
              skip: tuple = ()) -> Scenario:
    return Scenario(MaxMargin(psi=psi, labels=labels), n, reps, full, (_THRESHOLD, *skip))


_POWER = ("noiseless", 3.0)  # the --full point with the most precise margin: 80 replicates for 2 % power


_N = (100, 200, 400)
SCENARIOS = (
    # quick set: every label model above psi* (extrapolated), a non-separable point, Cover at n = 100
    _scenario(_N, 50, 1.5, "noiseless"),
    _scenario(_N, 50, 1.5, "flip:0.2"),
    _scenario(_N, 50, 1.5, "logistic:2"),
    _scenario(_N, 90, 1.2, "purenoise"),
    _scenario(_N, 10, 0.1, "flip:0.2", skip=_NONSEPARABLE),
    _scenario(100, 60, 0.45, "purenoise", skip=_COVER_ONLY),
    _scenario(100, 60, 0.55, "purenoise", skip=_COVER_ONLY),
    # full set: the reference points of the max_margin family notes 6, and the transition
    *(_scenario((200, 400, 800), 80 if (labels, psi) == _POWER else 20, psi, labels, True) for labels, psi in (
        ("noiseless", 0.8), ("noiseless", 3.0), ("flip:0.2", 1.5), ("flip:0.2", 3.0), ("logistic:2", 0.8),
        ("logistic:2", 1.5), ("purenoise", 0.8), ("purenoise", 3.0), ("logistic:5", 2.0), ("flip:0.1", 6.0))),
    _scenario(400, 60, 0.47, "purenoise", True, skip=_COVER_ONLY),
    _scenario((100, 200, 400), 30, 0.16, "flip:0.2", True, skip=_NONSEPARABLE),
)


# --------------------------------------------------------------------------------------------- figures
_FIG_LABELS = ("noiseless", "flip:0.1", "logistic:5", "purenoise")
_SEP_LABELS = ("purenoise", "flip:0.1")


def _label_text(labels: str) -> str:
    kind, _, value = labels.partition(":")
    return {"noiseless": "noiseless", "purenoise": "pure noise", "flip": f"flip $q = {value}$",
            "logistic": rf"logistic $\beta = {value}$"}[kind]


@figures.styled
def draw_max_margin(out_dir: Path | str, options: runner.RunOptions = runner.RunOptions(), fast: bool = False,
                    width: str | None = None) -> Path:
    """Montanari-Ruan-Sohn-Yan: (a) margin and (b) test error of the max-margin classifier vs psi = p/n
    for four label models, (c) the separability transition at two sizes (Cover's exact curve for pure
    noise), theory and simulations."""
    fig, (ax_m, ax_e, ax_s) = figures.new_figure(width, panels=3, default="double", aspect=0.9)
    data = figures.Table()
    psi = np.linspace(0.02, 4.0, 60 if fast else 400)
    sim_psi = np.array([1.0, 3.0]) if fast else np.array([0.75, 1.25, 2.0, 3.0, 4.0])
    n, reps = (20, 2) if fast else (200, 20)
    for i, lab in enumerate(_FIG_LABELS):
        th = mm_theory.theory(MaxMargin(psi=psi, labels=lab))
        recs = runner.run(ENTRY, MaxMargin(psi=sim_psi, labels=lab), n, reps, options)
        x = [r["p"] / r["n"] for r in recs]
        for ax, metric, panel in ((ax_m, "margin", "a"), (ax_e, "test_error", "b")):
            figures.line(ax, psi, th[metric], **figures.look(i), label=_label_text(lab))
            figures.errorbars(ax, x, recs, metric, **figures.look(i))
            data.theory(panel, metric, th[metric], psi=psi, labels=lab)
            data.simulation(panel, metric, recs, n, psi=x, labels=lab)
    ax_m.set(xlabel=r"$\psi = p/n$", ylabel=r"margin $\kappa = \min_i\, y_i\langle x_i, \hat\theta\rangle$")
    ax_e.set(xlabel=r"$\psi = p/n$", ylabel=r"test error $P(y \neq \mathrm{sign}\langle x, \hat\theta\rangle)$",
             ylim=(0, 0.55))
    _separability_panel(ax_s, data, options, fast)
    figures.simulation_key(ax_m)
    figures.panel_labels((ax_m, ax_e, ax_s))
    figures.legend_below(fig, ncols=4)
    caption = ("Max-margin (hard-margin SVM, no intercept) classification, x ~ N(0, I_p), unit teacher: (a) margin "
               "(||theta|| = 1) and (b) test error including label noise vs psi = p/n for four label models "
               "(theory undefined below the separability threshold psi*); (c) fraction of separable samples vs "
               "psi at two sizes n (open and filled markers), Cover's exact finite-n probability for pure noise "
               "(dashed, solid) and the thresholds psi* (dotted).")
    return figures.save(fig, out_dir, "max-margin", data, caption)


def _separability_panel(ax, data: figures.Table, options: runner.RunOptions, fast: bool) -> None:
    """Fraction of separable samples vs psi at two sizes, psi* marked, Cover's exact curve for pure noise."""
    grid = np.linspace(0.2, 0.8, 4 if fast else 13)
    sizes, reps = ((10, 20), 3) if fast else ((50, 400), 40)
    for lab in _SEP_LABELS:
        style = figures.look(_FIG_LABELS.index(lab))
        star = mm_theory.separability_threshold(lab)
        ax.axvline(star, color=style["color"], ls=":", lw=0.8)
        data.theory("c", "separability_threshold", star, labels=lab)
        for n in sizes:
            recs = runner.run(ENTRY, MaxMargin(psi=grid, labels=lab), n, reps, options)
            x = [r["p"] / r["n"] for r in recs]
            figures.errorbars(ax, x, recs, "separable", **style, mfc="white" if n == sizes[0] else style["color"])
            data.simulation("c", "separable", recs, n, psi=x, labels=lab)
    fine = np.linspace(0.2, 0.8, 121)
    for ls, n in zip(("--", "-"), sizes):
        p = np.unique(np.maximum(1, np.round(fine * n)).astype(int))
        cover = [cover_probability(n, int(k)) for k in p]
        ax.plot(p / n, cover, color=figures.look(_FIG_LABELS.index("purenoise"))["color"], ls=ls, lw=0.8)
        data.add("c", "finite-n exact", "separable", cover, n=n, psi=p / n, labels="purenoise")
    grey = "0.45"
    for n, ls, mfc in ((sizes[0], "--", "white"), (sizes[1], "-", grey)):
        ax.plot([], [], ls=ls, marker="o", mfc=mfc, color=grey, label=f"$n = {n}$ (Cover: exact)")
    ax.plot([], [], ls=":", color=grey, label=r"threshold $\psi^\star$")
    ax.set(xlabel=r"$\psi = p/n$", ylabel="fraction of separable samples", ylim=(-0.03, 1.03))


_CS_LABEL = r"$P(\mathrm{separable})$"


@figures.styled
def draw_candes_sur(out_dir: Path | str, options: runner.RunOptions = runner.RunOptions(), fast: bool = False,
                    width: str | None = None) -> Path:
    """Candes-Sur (2020): the phase transition for the existence of the logistic MLE in the
    (kappa = p/n, signal strength beta) plane, with the simulated fraction of separable samples."""
    kappas = np.linspace(0.05, 0.6, 6) if fast else np.linspace(0.025, 0.6, 24)
    betas = np.array([2.0, 5.0, 8.0]) if fast else np.linspace(0.5, 10.0, 20)
    n, reps = (20, 3) if fast else (200, 24)
    fig, (ax,) = figures.new_figure(width, aspect=0.8)
    data = figures.Table()
    frac = np.empty((betas.size, kappas.size))
    for j, beta in enumerate(betas):
        lab = f"logistic:{beta:g}"
        recs = runner.run(ENTRY, MaxMargin(psi=kappas, labels=lab), n, reps, options)
        frac[j] = [r["separable"] for r in recs]
        data.simulation("a", "separable", recs, n, psi=[r["p"] / r["n"] for r in recs], beta=beta, labels=lab)
    figures.heatmap(ax, kappas, betas, frac, label="fraction of separable samples")
    fine = np.linspace(0.05, 10.5, 120)
    boundary = np.array([mm_theory.separability_threshold(f"logistic:{b:.6g}") for b in fine])
    figures.boundary(ax, boundary, fine, r"theory: $\psi^\star(\beta)$")
    data.theory("a", "separability_threshold", boundary, beta=fine, labels=[f"logistic:{b:.6g}" for b in fine])
    ax.annotate("MLE exists\n(not separable)", xy=(0.04, 0.05), xycoords="axes fraction", fontsize=7, color="white")
    ax.annotate("separable:\nno MLE", xy=(0.96, 0.95), xycoords="axes fraction", ha="right", va="top", fontsize=7)
    ax.set(xlabel=r"$\kappa = p/n$", ylabel=r"signal strength $\beta$")
    figures.legend_below(fig, ax)
    caption = ("Existence of the logistic maximum-likelihood estimate (Candes-Sur): labels P(y = 1 | x) = "
               "1/(1 + exp(-beta <x, theta*>)), x ~ N(0, I_p), ||theta*|| = 1, no intercept; heat map: simulated "
               "fraction of samples that are linearly separable (MLE does not exist) at kappa = p/n and beta; "
               "line: the n -> infinity threshold psi*(beta) (Candes-Sur, Theorem 1; psi*(0) = 1/2, Cover).")
    return figures.save(fig, out_dir, "candes-sur", data, caption)


FIGURES = (Figure("max-margin", "Montanari et al.: max-margin margin and test error vs psi for four label "
                  "models, and the separability transition at two sizes, with simulations", draw_max_margin),
           Figure("candes-sur", "Candes-Sur: logistic-MLE existence transition in the (kappa, beta) plane "
                  "with the simulated separable fraction as a heat map", draw_candes_sur))

FAMILY = Family(name="max_margin", models=(ENTRY,), scenarios=SCENARIOS, figures=FIGURES)
