"""Registration of the logistic-MLE family: model entry, exact finite-n reference, check scenarios, figure.

Finite-size handling in ``check`` (docs/ARCHITECTURE.md "The verdict"):

* bias_inflation, sigma_perp2, lrt_scale, test_error, cos_angle: simulated at three geometric sizes n at
  psi <= 0.5 psi* (a separable sample, where these are NaN by definition and not averaged, has probability
  < 1e-3 there) and extrapolated in 1/n (the means sit a few per cent above the limits at n = 100-400, a drift
  linear in 1/n within the standard errors); the intercept is compared with the Sur-Candes limit.
* mle_exists: for beta = 0 (pure-noise labels) its exact finite-n mean is 1 - Cover's separable probability
  (``theory.max_margin.cover_probability``), compared at one size near the threshold; at the extrapolated
  points P(separable) decays exponentially in n (not at a power rate), so there it is declared skipped.
* separability_threshold is a function of beta only, never simulated: declared skipped.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from overparam.models import LogisticMLE, MaxMargin

from . import figures, runner
from .max_margin import ENTRY as MM_ENTRY
from .registry import Family, Figure, ModelEntry, Scenario, lazy_functions

replicate = lazy_functions("overparam.simulate.logistic").replicate  # imported on first call
lg_theory = lazy_functions("overparam.theory.logistic")
mm_theory = lazy_functions("overparam.theory.max_margin")

_ESTIMATOR = ("bias_inflation", "sigma_perp2", "lrt_scale", "test_error", "cos_angle")


def reference(model: LogisticMLE, sizes: dict) -> dict[str, np.ndarray]:
    """Exact finite-n means: for beta = 0, mle_exists = 1 - P(separable) (Cover 1965)."""
    if float(model.beta) != 0:
        return {}
    return {"mle_exists": np.array(1.0 - mm_theory.cover_probability(sizes["n"], sizes["p"]))}


ENTRY = ModelEntry(LogisticMLE, lg_theory.theory, replicate, reference=reference, rate="1/n",
                   nan_ok=(*_ESTIMATOR, "newton_iterations", "grad_norm"),
                   primary=("bias_inflation", "test_error", "cos_angle"))

_THRESHOLD = ("separability_threshold", "a function of beta only; not a finite-size observable")
_DIAGNOSTICS = (("newton_iterations", "solver diagnostic (Newton iterations of the MLE), not a model quantity"),
                ("grad_norm", "solver diagnostic (the MLE's relative gradient, its certificate)"))
_EXISTS = ("mle_exists", "P(separable) decays exponentially in n, not at a power rate; checked exactly at beta = 0")
_NULL = (("bias_inflation", "undefined (NaN) for beta = 0"),
         ("test_error", "identically 1/2 for beta = 0 (pure-noise labels)"))
_COVER_ONLY = tuple((m, "this scenario checks the exact (Cover) existence probability only") for m in _ESTIMATOR)


def _scenario(n: int | tuple[int, ...], reps: int, psi: float, beta: float, full: bool = False,
              skip: tuple = (), full_reps: int | None = None) -> Scenario:
    extrapolated = isinstance(n, tuple)
    return Scenario(LogisticMLE(psi=psi, beta=beta), n, reps, full,
                    (_THRESHOLD, *_DIAGNOSTICS, *((_EXISTS,) if extrapolated else ()), *skip), full_reps=full_reps)


_N = (100, 200, 400)
_LARGE = (200, 400, 800)
SCENARIOS = (
    # quick set: a signal point and the global null (extrapolated), the exact existence probability at beta = 0
    _scenario(_N, 1200, 0.2, 1.0),  # bias_inflation: ~3.4 % detection limit in the whole default check
    _scenario(_N, 200, 0.2, 0.0, skip=_NULL),
    _scenario(100, 300, 0.45, 0.0, skip=_COVER_ONLY),
    # full set: reference points of the module docstrings at larger sizes; 2 % power for bias_inflation at small psi
    _scenario(_LARGE, 1600, 0.2, 1.0, True),
    _scenario(_LARGE, 2000, 0.1, float(np.sqrt(5)), True),  # bias_inflation: ~1.5 % (near separability, at
    _scenario(_LARGE, 1800, 0.05, 2.0, True),  # psi = 0.2, heavy tails keep the se from falling with replicates)
    _scenario(_LARGE, 600, 0.1, 0.0, True, skip=_NULL),
    _scenario(200, 400, 0.48, 0.0, True, skip=_COVER_ONLY),
)


# --------------------------------------------------------------------------------------------- figure
_BETAS = (0.0, 1.0, 2.0, 5.0)


def _beta_text(beta: float) -> str:
    return r"$\beta = 0$ (global null)" if beta == 0 else rf"$\beta = {beta:g}$"


@figures.styled
def draw_logistic(out_dir: Path | str, options: runner.RunOptions = runner.RunOptions(), fast: bool = False,
                  width: str | None = None) -> Path:
    """Sur-Candes: (a) the bias inflation alpha* and (b) the likelihood-ratio scale of the logistic MLE vs
    psi = p/n for several signal strengths beta, (c) the test error of the logistic MLE below the
    separability threshold joined to that of the max-margin classifier above it; theory and simulations."""
    fig, (ax_a, ax_l, ax_e) = figures.new_figure(width, panels=3, default="double", aspect=0.9)
    data = figures.Table()
    n, reps = (40, 2) if fast else (400, 20)
    for i, beta in enumerate(_BETAS):
        style = figures.look(i)
        star = float(lg_theory.separability_threshold(beta))
        psi = np.linspace(0.002, star, 40 if fast else 300)[:-1]
        th = lg_theory.theory(LogisticMLE(psi=psi, beta=beta))
        sim_psi = star * (np.array([0.3, 0.6]) if fast else np.array([0.15, 0.3, 0.45, 0.6]))
        recs = runner.run(ENTRY, LogisticMLE(psi=sim_psi, beta=beta), n, reps, options)
        x = [r["p"] / r["n"] for r in recs]
        panels = ((ax_l, "lrt_scale", "b"), (ax_e, "test_error", "c"))
        for ax, metric, panel in ((ax_a, "bias_inflation", "a"), *panels) if beta > 0 else panels:
            figures.line(ax, psi, th[metric], **style, label=_beta_text(beta))
            figures.errorbars(ax, x, recs, metric, **style)
            data.theory(panel, metric, th[metric], psi=psi, beta=beta)
            data.simulation(panel, metric, recs, n, psi=x, beta=beta)
        ax_e.axvline(star, color=style["color"], ls=":", lw=0.8)
        data.theory("c", "separability_threshold", star, beta=beta)
        if beta > 0:
            _max_margin_branch(ax_e, data, options, beta, star, style, fast)
    ax_a.set(xlabel=r"$\psi = p/n$", ylabel=r"bias inflation $\alpha^\star = \langle\hat b, b_0\rangle/\|b_0\|^2$",
             ylim=(0.9, 4.0))
    ax_l.set(xlabel=r"$\psi = p/n$", ylabel=r"LRT scale: $2\Lambda_j \to$ scale $\times\,\chi^2_1$", ylim=(0.9, 3.0))
    ax_e.set(xlabel=r"$\psi = p/n$", ylabel=r"test error $P(y \neq \mathrm{sign}\langle x, \hat b\rangle)$",
             xlim=(0, 1.5), ylim=(0, 0.55))
    ax_e.plot([], [], color="0.45", ls="--", label=r"max-margin ($\psi > \psi^\star$)")
    ax_e.plot([], [], color="0.45", ls=":", lw=0.8, label=r"threshold $\psi^\star(\beta)$")
    figures.simulation_key(ax_a)
    figures.panel_labels((ax_a, ax_l, ax_e))
    figures.legend_below(fig, ncols=4)
    caption = ("Unregularised logistic regression, x ~ N(0, I_p), P(y = 1 | x) = 1/(1 + exp(-beta <x, theta*>)), "
               "||theta*|| = 1, no intercept: (a) bias inflation alpha* of the MLE and (b) the factor by which "
               "twice the log-likelihood ratio of a null coefficient exceeds chi^2_1, vs psi = p/n, up to the "
               "separability threshold psi*(beta) where the MLE stops existing (Sur-Candes; alpha* diverges "
               "there); (c) test error including label noise: the MLE below psi* (solid) joined to the "
               "max-margin classifier above it (dashed; the limit of gradient descent on separable data).")
    return figures.save(fig, out_dir, "logistic-mle", data, caption)


def _max_margin_branch(ax, data: figures.Table, options: runner.RunOptions, beta: float, star: float,
                       style: dict, fast: bool) -> None:
    """Max-margin test error above psi*(beta) for logistic:beta labels: theory (dashed) and simulations."""
    labels = f"logistic:{beta:g}"
    psi = np.linspace(star, 1.5, 30 if fast else 200)[1:]
    err = mm_theory.theory(MaxMargin(psi=psi, labels=labels))["test_error"]
    figures.line(ax, psi, err, color=style["color"], ls="--")
    data.theory("c", "test_error", err, psi=psi, beta=beta, estimator="max-margin")
    sim_psi = np.array([1.2]) if fast else np.array([star + 0.4, 1.3])
    n, reps = (40, 2) if fast else (200, 20)
    recs = runner.run(MM_ENTRY, MaxMargin(psi=sim_psi, labels=labels), n, reps, options)
    x = [r["p"] / r["n"] for r in recs]
    figures.errorbars(ax, x, recs, "test_error", **{**style, "mfc": "white"})
    data.simulation("c", "test_error", recs, n, psi=x, beta=beta, estimator="max-margin")


FIGURES = (Figure("logistic-mle", "Sur-Candes: bias inflation and LRT scale of the logistic MLE vs psi for "
                  "several beta, and the test error of the MLE joined to max-margin above the separability "
                  "threshold, with simulations", draw_logistic),)

FAMILY = Family(name="logistic", models=(ENTRY,), scenarios=SCENARIOS, figures=FIGURES)
