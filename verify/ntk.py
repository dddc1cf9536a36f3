"""Registration of the ntk family (``ntk-init``): model entry, check scenarios and the ``ntk-spectrum`` figure.

What ``check`` compares (theory/ntk.py has the model and the formulas):

* Single-size scenarios compare with the finite-(n, d) deterministic equivalent
  (``theory.ntk.deterministic_equivalent``) where it is accurate: hard edges (linear scaling, gamma > 1,
  the left edge), outliers (phi = z^2/2 and Hermite lists with m1 > a) and everything that depends only on them.
  There the limit itself is off by up to 27 % at n = 400 (O(sqrt(n)/d) in linear, O(1/d) in quadratic
  scaling). Soft edges carry a Tracy-Widom shift O(n^{-2/3}) that the equivalent omits (about 1 % of
  lambda_max at n = 400, and the train losses inherit it through eta = 1/lambda_max): such rows are skipped
  in single-size scenarios, with that reason, and checked by extrapolation instead. The equivalent is itself
  accurate to about 1e-3 relative at hard edges (measured, relu gamma = 2: +0.0002..0.0006 at n = 100..800,
  0.3-0.4 replicate standard deviations at n = 200-400; erf: -0.1 % at n = 400). A hard-edge lambda_min is
  also skewed (a left tail), which gives the t statistic of a few replicates a heavy right tail: hard-edge
  scenarios use 6 replicates (standard error about 2.5 times the equivalent's bias; ~2-4 % detection).
* Multi-size scenarios extrapolate to the limit with the rates below (measured: relu, erf, n = 100..800):
  min_eigenvalue and gd_rate 1/sqrt(n) (the degree-2 Gegenbauer block has ratio y_2 ~ 2n/d^2, its edge moves
  by sqrt(y_2) ~ n^{-1/2}; for activations with mu_1 = 0 it is degree 3 and the rate is 1/n: skipped there),
  max_eigenvalue and the train losses n^{-2/3} (the Tracy-Widom shift of the right edge). A soft left edge
  (gamma < 1) mixes Tracy-Widom O(n^{-2/3}) and degree-2 O(n^{-1/2}) corrections of opposite signs: its
  min_eigenvalue and gd_rate are skipped in the relu gamma = 1/2 extrapolation. Finite width adds O(1/k) = O(1/n)
  corrections, which dominate the train losses at n <= 800
  (measured: -5 % to -14 % off after an n^{-2/3} extrapolation): skipped in finite-width scenarios.
* The limit of min_eigenvalue itself (a 5 % error in it moves no finite-size row): erf at gamma = 2, a hard
  edge with mu_1 = 0, extrapolated in 1/n (scenario rate). Measured (8 replicates, n = 50..800): the relative
  deviation from the limit times n is -10.8, -11.5, -11.5, -11.0, -10.7 (a clean 1/n; the O(1/n^2) residual
  moves the n = 100..400 intercept by about +0.2 %), relative replicate spread 1.7 % at n = 100, 0.1 % at
  n = 400; 4 replicates give a 0.7 % detection limit for about 0.5 CPU seconds.
* Quadratic scaling: only min_eigenvalue has an honest limit; gd_rate and the train losses are NaN there
  (not covered) and max_eigenvalue is +inf: skipped.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from overparam.models import NtkInit

from . import figures as fig
from .registry import Family, Figure, ModelEntry, Scenario, lazy_functions
from .runner import RunOptions, run

th = lazy_functions("overparam.theory.ntk")  # imported on first call: `list`/`curve` stay light
sim = lazy_functions("overparam.simulate.ntk")

ENTRY = ModelEntry(NtkInit, th.theory, sim.replicate, shared=("steps",), reference=th.deterministic_equivalent,
                   rate={"min_eigenvalue": "1/sqrt(n)", "gd_rate": "1/sqrt(n)", "max_eigenvalue": "n^-2/3",
                         "train_loss": "n^-2/3", "train_loss_signal": "n^-2/3"},
                   primary=("min_eigenvalue", "max_eigenvalue", "gd_rate"))

_SOFT = "soft right edge: its Tracy-Widom shift O(n^-2/3) is not in the finite-size equivalent"
_SOFT_LEFT = "soft left edge: its Tracy-Widom shift O(n^-2/3) is not in the finite-size equivalent"
_VIA_MAX = "inherits the Tracy-Widom shift of lambda_max (eta = 1/lambda_max)"
_QUAD = "quadratic scaling: not covered (the limit is NaN, lambda_max -> inf)"
_FLUCTUATING = "Tracy-Widom fluctuations of lambda_max leave < 80 % power at 5 % with 6 replicates: in --full"
_HARD = ("hard-edge lambda_min: the 1/sqrt(n) extrapolation keeps a -0.15 % O(1/n) residual, ~1 se at 6 "
         "skewed replicates: in --full (24 replicates) and against the equivalent at width inf")
_MIXED = ("soft left edge at gamma < 1: Tracy-Widom O(n^-2/3) and degree-2 O(n^-1/2) corrections of opposite "
          "signs, no single rate")
_WIDTH = "finite width: O(1/k) corrections dominate, not the entry's n^-2/3 rate"
SOFT_MAX = (("max_eigenvalue", _SOFT), *((m, _VIA_MAX) for m in ("gd_rate", "train_loss", "train_loss_signal")))
WIDTH = (("train_loss", _WIDTH), ("train_loss_signal", _WIDTH))
_ODD = "mu_1 = 0: lambda_min has Tracy-Widom or degree-3 O(1/n) corrections, not the entry's 1/sqrt(n)"
ODD = (("min_eigenvalue", _ODD), ("gd_rate", _ODD))
MIXED = (("min_eigenvalue", _MIXED), ("gd_rate", _MIXED))
_MIN_ONLY = "this scenario checks the limit of lambda_min (1/n extrapolation); the rest: the relu scenarios, --full"
ERF_MIN_ONLY = tuple((m, _MIN_ONLY) for m in ("max_eigenvalue", "gd_rate", "train_loss", "train_loss_signal"))
QUADRATIC = tuple((m, _QUAD) for m in ("max_eigenvalue", "gd_rate", "train_loss", "train_loss_signal"))

SCENARIOS = (
    # quick set: the equivalent at hard edges and outliers, where the limit is off by 12-27 % ...
    Scenario(NtkInit(gamma=2.0, activation="relu"), 200, 6, skip=SOFT_MAX),
    Scenario(NtkInit(gamma=2.0, activation="quadratic"), 400, 10),
    Scenario(NtkInit(gamma=0.5, activation="0.2,0.5"), 400, 12, skip=(("min_eigenvalue", _SOFT_LEFT),)),
    Scenario(NtkInit(gamma=0.5, activation="relu", scaling="quadratic"), 400, 6, skip=QUADRATIC),
    # ... and the limits by extrapolation (soft edges, finite width)
    Scenario(NtkInit(gamma=0.5, activation="relu"), (100, 200, 400), 10,
             skip=MIXED),
    Scenario(NtkInit(gamma=2.0, activation="relu", width=1.0), (200, 400, 800), 6,
             skip=(("min_eigenvalue", _HARD), ("max_eigenvalue", _FLUCTUATING), *WIDTH)),
    Scenario(NtkInit(gamma=2.0, activation="erf"), (100, 200, 400), 4, rate={"min_eigenvalue": "1/n"},
             skip=ERF_MIN_ONLY),
    # --full: other activations, longer training, larger sizes
    Scenario(NtkInit(gamma=0.5, activation="tanh"), (200, 400, 800), 64, full=True, skip=ODD),  # lambda_max: 2 % power
    Scenario(NtkInit(gamma=2.0, activation="erf"), (200, 400, 800), 24, full=True, skip=ODD),
    Scenario(NtkInit(gamma=2.0, activation="relu", steps=np.array([5, 15])), (200, 400, 800), 24,
             full=True),
    Scenario(NtkInit(gamma=3.0, activation="quadratic", steps=np.array([1, 10, 30])), 600, 12, full=True),
    Scenario(NtkInit(gamma=1.5, activation="0,0.6,0.3"), 600, 12, full=True),
    Scenario(NtkInit(gamma=2.0, activation="relu", width=1.0), (200, 400, 800), 24, full=True, skip=WIDTH),
)


# ------------------------------------------------------------------------------------------- figure
_ACTIVATIONS = ("relu", "tanh", "erf")


def _spectrum(ax, data: fig.Table, options: RunOptions, fast: bool) -> None:
    """Panel (a): lambda_min and the right bulk edge vs gamma (linear scaling), theory and simulations."""
    gammas = np.linspace(0.05, 4, 400)
    pts = np.array([0.5, 2.0]) if fast else np.array([0.25, 0.5, 2.0, 3.0])
    n, reps = (60, 2) if fast else (600, 6)
    for i, act in enumerate(_ACTIVATIONS):
        style = fig.look(i)
        t = th.theory(NtkInit(gamma=gammas, activation=act))
        recs = run(ENTRY, NtkInit(gamma=pts, activation=act), n, reps, options)
        realised = [r["n"] / r["d"] for r in recs]
        for metric, ls in (("min_eigenvalue", "-"), ("max_eigenvalue", "--")):
            fig.line(ax, gammas, t[metric], **style, ls=ls, label=act if metric == "min_eigenvalue" else None)
            fig.errorbars(ax, realised, recs, metric, **style)
            data.theory("a", metric, t[metric], gamma=gammas, activation=act)
            data.simulation("a", metric, recs, n, gamma=realised, activation=act)
    ax.plot([], [], "-", color="0.35", label=r"$\lambda_{\min}$")
    ax.plot([], [], "--", color="0.35", label=r"$\lambda_{\max}$ (bulk edge)")
    fig.simulation_key(ax)
    ax.set(xlabel=r"$\gamma = n/d$", ylabel=r"eigenvalue of $\Sigma(X)$", yscale="log")


def _training(ax, data: fig.Table, options: RunOptions, fast: bool) -> None:
    """Panel (b): training loss vs GD steps, pure-noise and aligned labels (relu, gamma = 1/2 and 2)."""
    steps = np.arange(0, 41)
    pts = np.array([0, 5, 10, 20, 40])
    n, reps = (60, 2) if fast else (600, 6)
    for i, gamma in enumerate((0.5, 2.0)):
        style = fig.look(i)
        t = th.theory(NtkInit(gamma=gamma, steps=steps))
        recs = run(ENTRY, NtkInit(gamma=gamma, steps=pts), n, reps, options)
        for metric, ls, what in (("train_loss", "-", "noise"), ("train_loss_signal", ":", "signal")):
            fig.line(ax, steps, t[metric], **style, ls=ls, label=rf"$\gamma = {gamma:g}$, {what}")
            fig.errorbars(ax, pts, recs, metric, **style)
            data.theory("b", metric, t[metric], steps=steps, gamma=gamma)
            data.simulation("b", metric, recs, n, steps=pts, gamma=[r["n"] / r["d"] for r in recs])
    ax.set(xlabel=r"GD steps $t$ (step $1/\lambda_{\max}$)", ylabel=r"$L_t/L_0$", yscale="log", ylim=(1e-7, 1.5))


@fig.styled
def draw(out_dir: Path | str, options: RunOptions = RunOptions(), fast: bool = False,
         width: str | None = None) -> Path:
    """(a) lambda_min and lambda_max of the infinite-width NTK vs gamma = n/d for relu, tanh, erf with
    simulations; (b) lazy-GD training loss vs steps for pure-noise and aligned labels (relu)."""
    f, axes = fig.new_figure(width, panels=2, default="double")
    data = fig.Table()
    _spectrum(axes[0], data, options, fast)
    _training(axes[1], data, options, fast)
    fig.panel_labels(axes)
    fig.legend_below(f, axes[0], ncols=6)
    axes[1].legend(loc="lower left")
    caption = ("Infinite-width NTK Gram matrix Sigma(X) of a two-layer network at initialisation, x uniform on "
               "the unit sphere of R^d, linear scaling gamma = n/d. (a) Smallest eigenvalue (solid) and largest "
               "eigenvalue (dashed, the right bulk edge: relu, tanh and erf have no outlier) versus gamma: limits "
               "(lines) and simulations (markers, d = round(n/gamma)); at gamma > 1 the simulated lambda_min sits "
               "below its limit by the O(sqrt(n)/d) finite-size correction. (b) Lazy gradient descent with step "
               "1/lambda_max, relu: training loss L_t/L_0 for pure-noise labels (solid) and for labels aligned "
               "with the data, y = sqrt(d) X beta (dotted): the signal is fitted orders of magnitude faster.")
    return fig.save(f, out_dir, "ntk-spectrum", data, caption)


FIGURES = (
    Figure("ntk-spectrum", "NTK at initialisation: lambda_min and lambda_max vs gamma (relu, tanh, erf) with "
           "simulations, and lazy-GD training curves for noise and signal labels", draw),
)

FAMILY = Family(name="ntk", models=(ENTRY,), scenarios=SCENARIOS, figures=FIGURES)

__all__ = ["FAMILY", "ENTRY", "SCENARIOS", "draw"]
