"""Registration of the gradient-flow family: model entry, check scenarios, figure.

Finite-size handling in ``check``: the simulator's Rao-Blackwellised mean at (n, p) differs from the limit
by a smooth O(1/n) correction (a linear spectral statistic of X^T X/n; measured at n = 400: +5.8e-3
relative on isotropic gamma 0.5, t 2, and at most a few 1e-3 elsewhere), so every scenario is simulated at
three geometric sizes and extrapolated in 1/n (rate "1/n" for every metric) to the limit. This includes the
t -> infinity points (t = 1e4: the minimum-norm least-squares limit, equal to ``ridge`` at lam = 0), whose
finite-n mean sigma2 p/(n - p - 1) (gamma < 1) is itself a + b/n to first order. Listed spectra
(power-law, file) fix p and have no exact finite-n mean at finite t, so they are not check scenarios (the
tests compare them with simulation directly). ``optimal_time``/``optimal_risk`` are theory-only.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from overparam.models import GradientFlow, Ridge

from . import figures as fig
from .registry import Family, Figure, ModelEntry, Scenario, lazy_functions
from .runner import RunOptions, run

th = lazy_functions("overparam.theory.gradient_flow")  # imported on first call: `list`/`curve` stay light
sim = lazy_functions("overparam.simulate.gradient_flow")
ridge_th = lazy_functions("overparam.theory.ridge")

ENTRY = ModelEntry(GradientFlow, th.theory, sim.replicate, shared=("t", "eta"), rate="1/n",
                   primary=("excess_risk",))
#: Metrics of the limit curve only (a property of the whole t path, not of one simulated point).
THEORY_ONLY = tuple((m, "theory only: optimal stopping is a property of the limit risk curve")
                    for m in ("optimal_time", "optimal_risk"))


def _scenario(sizes: tuple[int, ...], reps: int, t, eta=0.0, full: bool = False, **params) -> Scenario:
    t = np.asarray(t, dtype=float)
    return Scenario(GradientFlow(t=t, eta=np.broadcast_to(np.asarray(eta, dtype=float), t.shape).copy(),
                                 **params), sizes, reps, full, skip=THEORY_ONLY)


LONG_TIME = 1e4  # "t = infinity": exp(-t x) < 1e-100 on the supports of these scenarios (ridgeless limit)
SCENARIOS = (
    # quick set: flow on both sides of gamma = 1 (early, optimal-ish, late and the ridgeless limit),
    # an ill-conditioned two-point spectrum, and gradient descent (isotropic and two-point)
    _scenario((100, 200, 400), 30, [0.5, 2.0, 10.0, LONG_TIME], gamma=0.5, sigma2=0.25),
    _scenario((50, 100, 200), 12, [0.5, 2.0, 10.0, LONG_TIME], gamma=2.0, sigma2=0.25),
    _scenario((100, 200, 400), 12, [2.0, 10.0], gamma=1.5, sigma2=0.25, spectrum="two-point:1,0.05"),
    _scenario((100, 200, 400), 12, [1.0, 4.0], 0.25, gamma=1.5, sigma2=0.25),
    _scenario((100, 200, 400), 12, [2.0], 0.1, gamma=0.6, sigma2=0.25, spectrum="two-point:2,0.5,0.3"),
    # full set: larger sizes, gamma = 1 (hard edge), strong noise, a divergent GD step, more spectra
    _scenario((200, 400, 800), 40, [0.5, 2.0, 10.0, 50.0], full=True, gamma=1.0, sigma2=0.5),
    _scenario((100, 200, 400), 40, [0.2, 1.0, 5.0, LONG_TIME], full=True, gamma=4.0, sigma2=1.0),
    _scenario((200, 400, 800), 60, [0.8, 1.6], 0.8, full=True, gamma=0.5, sigma2=0.25),  # eta s_+ = 2.3 > 2
    _scenario((200, 400, 800), 40, [1.0, 5.0, 30.0], full=True, gamma=0.3, spectrum="two-point:1,9,0.8"),
    _scenario((100, 200, 400), 40, [0.5, 2.0, LONG_TIME], full=True, gamma=2.5, spectrum="two-point:1,0.1,0.5"),
    _scenario((200, 400, 800), 40, [0.5, 2.0, 8.0], 0.5, full=True, gamma=0.8, spectrum="two-point:1,0.2,0.5"),
)


# --------------------------------------------------------------------------------------- figure
_GAMMAS = (0.5, 1.0, 2.0)


def _paths(ax, data: fig.Table, options: RunOptions, fast: bool) -> None:
    """Panel (a): excess risk vs t for several gamma; ridge at lam = 1/t dashed."""
    times = np.geomspace(0.05, 200, 60 if fast else 400)
    sim_t = np.array([0.3, 3.0]) if fast else np.array([0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0])
    n, reps = (40, 3) if fast else (200, 20)
    for i, gamma in enumerate(_GAMMAS):
        style = fig.look(i)
        gf = th.theory(GradientFlow(gamma=gamma, t=times))["excess_risk"]
        ridge = ridge_th.theory(Ridge(gamma=gamma, lam=1.0 / times))["excess_risk"]
        fig.line(ax, times, gf, **style, label=rf"$\gamma = {gamma:g}$")
        fig.line(ax, times, ridge, **style, ls="--", lw=0.9)
        data.theory("a", "excess_risk", gf, t=times, gamma=gamma, estimator="gradient flow")
        data.theory("a", "excess_risk", ridge, t=times, lam=1.0 / times, gamma=gamma, estimator="ridge lam=1/t")
        recs = run(ENTRY, GradientFlow(gamma=gamma, t=sim_t, eta=np.zeros_like(sim_t)), n, reps, options)
        fig.errorbars(ax, sim_t, recs, "excess_risk", **style)
        data.simulation("a", "excess_risk", recs, n, t=sim_t, gamma=[r["p"] / r["n"] for r in recs],
                        estimator="gradient flow")
    ax.plot([], [], "-", color="0.35", label="gradient flow")
    ax.plot([], [], "--", color="0.35", lw=0.9, label=r"ridge, $\lambda = 1/t$")
    fig.simulation_key(ax)
    ax.set(xscale="log", ylim=(0, 2.0), xlabel=r"training time $t$",
           ylabel=r"excess risk $\mathbb{E}\,\|\hat\beta_t - \beta\|_\Sigma^2$")


def _ratios(ax, data: fig.Table, fast: bool) -> None:
    """Panel (b): optimally stopped flow risk / optimally tuned ridge risk vs gamma."""
    gammas = np.geomspace(0.1, 10, 25 if fast else 120)
    for i, sigma2 in enumerate((0.1, 0.5, 2.0)):
        best_gf = th.optimal(GradientFlow(gamma=gammas, sigma2=sigma2))["optimal_risk"]
        best_ridge = ridge_th.optimal_risk(Ridge(gamma=gammas, sigma2=sigma2))
        ratio = best_gf / best_ridge
        fig.line(ax, gammas, ratio, **fig.look(i), label=rf"SNR $= {1 / sigma2:.3g}$")
        data.theory("b", "optimal_risk_ratio", ratio, gamma=gammas, sigma2=sigma2, r2=1.0)
    ax.set(xscale="log", xlabel=r"$\gamma = p/n$", ylabel="optimal flow risk / optimal ridge risk")


@fig.styled
def draw(out_dir: Path | str, options: RunOptions = RunOptions(), fast: bool = False,
         width: str | None = None) -> Path:
    """Early stopping versus ridge (Ali, Kolter & Tibshirani 2019): (a) excess risk along the gradient-flow
    path for several gamma with ridge at lam = 1/t; (b) optimally stopped over optimally tuned ridge risk."""
    f, axes = fig.new_figure(width, panels=2, default="double")
    data = fig.Table()
    _paths(axes[0], data, options, fast)
    _ratios(axes[1], data, fast)
    fig.panel_labels(axes)
    fig.legend_below(f, axes[0], ncols=4)
    axes[1].legend(loc="upper right")
    caption = ("Gradient flow on (1/2n)||y - X b||^2 from b = 0, isotropic x ~ N(0, I_p), E||beta||^2 = r2 = 1. "
               "(a) Excess risk (noise excluded, sigma2 = 0.5) versus training time t for gamma = p/n = 0.5, 1, 2: "
               "theory (solid), simulations (markers, p = round(gamma n)) and ridge at lam = 1/t (dashed). "
               "(b) Risk of the optimally stopped flow divided by the risk of optimally tuned ridge, versus gamma, "
               "for three SNR = r2/sigma2 (Ali, Kolter and Tibshirani 2019 bound it by 1.22 for Sigma = I).")
    return fig.save(f, out_dir, "gradient-flow", data, caption)


FIGURES = (
    Figure("gradient-flow", "Early stopping vs ridge: excess risk along the gradient-flow path for several gamma "
           "(ridge at lam = 1/t dashed, simulations), and optimal-stopping over optimal-ridge risk vs gamma", draw),
)

FAMILY = Family(name="gradient_flow", models=(ENTRY,), scenarios=SCENARIOS, figures=FIGURES)

__all__ = ["FAMILY", "ENTRY", "SCENARIOS", "THEORY_ONLY", "LONG_TIME", "draw"]
