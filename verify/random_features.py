"""Registration of the random-features family: model entry, check scenarios, figure.

Finite-d handling in ``check`` (docs/ARCHITECTURE.md "The verdict"): no exact finite-d mean is known, so
every checked point is simulated at three geometric input dimensions d and each metric's mean is
extrapolated in 1/d (the finite-d drift decays like 1/d, the random_features family notes section 6: train
error at lam = 0.01 +4.6 %, +2.9 %, +1.6 % at d = 100, 200, 400); the intercept is compared with the limit.
Ridgeless points with |psi1/psi2 - 1| < 0.2 are not among the scenarios: there the error is heavy-tailed
(smallest singular value of Z) and a mean of a few dozen replicates is not a reliable finite-d observable.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from overparam.models import RandomFeatures
from .registry import lazy_functions

replicate = lazy_functions("overparam.simulate.random_features").replicate  # imported on first call
rf_theory = lazy_functions("overparam.theory.random_features")

from . import figures, runner
from .registry import Family, Figure, ModelEntry, Scenario

_NEAR_PEAK = 0.2

ENTRY = ModelEntry(RandomFeatures, rf_theory.theory, replicate, shared=("lam",), rate="1/n",
                   primary=("test_error",))


def _scenario(d: tuple[int, ...], reps: int, full: bool = False, full_reps: int | None = None,
              **params) -> Scenario:
    params["lam"] = np.atleast_1d(np.asarray(params.get("lam", 0.01), dtype=float))
    return Scenario(RandomFeatures(**params), d, reps, full, full_reps=full_reps)


_D = (50, 100, 200)
SCENARIOS = (
    # quick set: both sides of the peak (psi1/psi2 = 2/3 and 2), relu and tanh with f_NL > 0
    _scenario(_D, 150, psi1=2.0, psi2=3.0, lam=[0.01, 0.1, 1.0]),
    _scenario(_D, 150, psi1=4.0, psi2=2.0, lam=[0.1, 1.0], full_reps=400),  # --full: 2 % power (test_error)
    _scenario(_D, 100, psi1=1.0, psi2=2.0, lam=[0.1], activation="tanh", fstar2=0.25, sigma2=0.25),
    # full set: ridgeless points, erf and a custom activation, larger d
    _scenario((100, 200, 400), 60, True, psi1=2.0, psi2=3.0, lam=[0, 0.01, 0.1, 1.0]),
    _scenario((100, 200, 400), 60, True, psi1=4.0, psi2=2.0, lam=[0, 0.01, 1.0]),
    _scenario((100, 200, 400), 60, True, psi1=0.5, psi2=2.0, lam=[0, 0.01, 0.1]),
    _scenario((100, 200, 400), 60, True, psi1=3.0, psi2=1.5, lam=[0.1, 1.0], activation="erf"),
    _scenario((100, 200, 400), 60, True, psi1=4.0, psi2=2.0, lam=[0.01], activation="tanh", fstar2=0.25,
              sigma2=0.25),
    _scenario((100, 200, 400), 60, True, psi1=6.0, psi2=1.0, lam=[0, 0.1], activation="0.2,0.6,0.4", fstar2=0.3),
    _scenario((100, 200, 400), 40, True, psi1=3.0, psi2=1.5, lam=[0, 0.01, 0.1, 1.0], r2=0.0, sigma2=1.0),
)


# --------------------------------------------------------------------------------------------- figure
_FIG_LAMS = (0.0, 0.01, 0.1)


def _sim_points(psi2: float, fast: bool) -> np.ndarray:
    ratios = np.array([0.3, 2.0]) if fast else np.array([0.2, 0.4, 0.6, 1.5, 2.5, 4.0])
    return ratios * psi2


@figures.styled
def draw_double_descent(out_dir, options: runner.RunOptions = runner.RunOptions(), fast: bool = False,
                        width: str | None = None) -> Path:
    """Mei-Montanari (2022): test and train error vs psi1/psi2 = N/n at psi2 = 3 (relu) for
    several lam, the ridgeless peak at psi1 = psi2 and the optimally tuned lam, with simulations."""
    psi2 = 3.0
    base = RandomFeatures(psi2=psi2, r2=1.0, fstar2=0.0, sigma2=0.5)
    psi1 = psi2 * figures.refine(np.geomspace(0.05, 8, 60 if fast else 400), (1.0,))
    fig, axes = figures.new_figure(width, panels=2, default="double")
    data = figures.Table()
    for i, lam in enumerate(_FIG_LAMS):
        th = rf_theory.theory(base.replace(psi1=psi1, lam=lam))
        for ax, metric, panel in zip(axes, _METRICS, "ab"):
            singular = (1.0,) if lam == 0 and metric == "test_error" else ()
            figures.line(ax, psi1 / psi2, th[metric], gaps_at=singular, **figures.look(i),
                         label=rf"$\lambda = {lam:g}$")
            data.theory(panel, metric, th[metric], psi1=psi1, psi2=psi2, lam=lam, **_FIXED)
    best = rf_theory.optimal_lam(base.replace(psi1=psi1))
    figures.line(axes[0], psi1 / psi2, best["test_error"], color="k", ls="--", label=r"optimal $\lambda$")
    data.theory("a", "test_error", best["test_error"], psi1=psi1, psi2=psi2, lam=best["lam"], **_FIXED)

    d, reps = (12, 2) if fast else (100, 20)
    grid_psi1, grid_lam = (g.ravel() for g in np.meshgrid(_sim_points(psi2, fast), _FIG_LAMS, indexing="ij"))
    records = runner.run(ENTRY, base.replace(psi1=grid_psi1, lam=grid_lam), d, reps, options)
    for i, lam in enumerate(_FIG_LAMS):
        recs = [r for r in records if r["lam"] == lam]
        x = np.array([r["N"] / r["n"] for r in recs])
        for ax, metric, panel in zip(axes, _METRICS, "ab"):
            figures.errorbars(ax, x, recs, metric, **figures.look(i))
            data.simulation(panel, metric, recs, d, psi1=[r["N"] / r["d"] for r in recs],
                            psi2=[r["n"] / r["d"] for r in recs], lam=lam, **_FIXED)
    for ax, label in zip(axes, (r"test error $\mathbb{E}_x (f_\star(x) - \hat f(x))^2$",
                                r"train error (noisy labels)")):
        ax.axvline(1.0, color="0.6", ls=":", lw=0.8)
        ax.set(xscale="log", xlabel=r"$\psi_1/\psi_2 = N/n$", ylabel=label)
    axes[0].set_ylim(0, 2.0)
    axes[1].set_ylim(-0.02, 1.45)
    figures.simulation_key(axes[0])
    figures.panel_labels(axes)
    figures.legend_below(fig, axes[0], ncols=5)
    caption = ("Random-features ridge regression (Mei-Montanari), ReLU features, psi2 = n/d = 3, linear "
               "target with r2 = 1, label noise sigma2 = 0.5: (a) test error (label noise excluded) and (b) "
               "training error vs psi1/psi2 = N/n for lam = 0, 0.01, 0.1 and the optimal lam (dashed). The "
               "ridgeless test error is infinite at N = n (dotted line; drawn as a gap); lam = 0 "
               "interpolates (train error 0) for N > n. Theory lines and simulations at N = round(psi1 d), "
               "n = round(psi2 d).")
    return figures.save(fig, out_dir, "rf-double-descent", data, caption)


_METRICS = ("test_error", "train_error")
_FIXED = {"activation": "relu", "r2": 1.0, "fstar2": 0.0, "sigma2": 0.5}

FIGURES = (Figure("rf-double-descent", "Mei-Montanari: random-features test/train error vs psi1/psi2 for several "
                  "lam, the ridgeless peak and the optimal lam, with simulations", draw_double_descent),)

FAMILY = Family(name="random_features", models=(ENTRY,), scenarios=SCENARIOS, figures=FIGURES)
