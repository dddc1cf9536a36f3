"""Registration of the ridge family: model entry, check scenarios, figures.

Finite-size handling in ``check`` (docs/ARCHITECTURE.md "The verdict"):

* Ridgeless points (lam = 0) with an exact finite-(n, p) mean (inverse-Wishart moments,
  ``theory.ridge.finite_n_ridgeless``: p < n - 1 for any spectrum, p > n + 1 for Sigma = I) are single-size
  scenarios compared with that exact value.
* Every other point (lam > 0, and ridgeless points with p > n + 1 and Sigma != I) is simulated at three
  geometric sizes and its mean extrapolated in 1/n (the Rao-Blackwellised finite-n mean differs from the
  limit by c |limit|/n, the ridge family notes section 5); the intercept is compared with the limit.
* Listed spectra (power-law, file) fix p, so they are checked only where an exact reference exists.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from overparam.models import Ridge
from .registry import lazy_functions

sim = lazy_functions("overparam.simulate.ridge")  # imported on first call: `list`/`curve` stay light
th = lazy_functions("overparam.theory.ridge")

from . import figures as fig
from .registry import Family, Figure, ModelEntry, Scenario
from .runner import RunOptions, run

ENTRY = ModelEntry(Ridge, th.theory, sim.replicate, shared=("lam",), reference=th.finite_n_ridgeless,
                   rate="1/n", primary=("excess_risk",))


def _scenario(n: int | tuple[int, ...], reps: int, lam, full: bool = False, **params) -> Scenario:
    return Scenario(Ridge(lam=np.asarray(lam, dtype=float), **params), n, reps, full)


_SIZES = (100, 200, 400)
SCENARIOS = (
    # quick set. Exact finite-n references (ridgeless, p < n - 1 or isotropic p > n + 1):
    _scenario(400, 20, [0.0], gamma=0.5),
    _scenario(200, 20, [0.0], gamma=2.0),
    _scenario(1000, 10, [0.0], gamma=0.5, spectrum="power-law:1.5,500"),
    # limits by 1/n extrapolation: isotropic on both sides of 1, gamma = 1, two-point spectra
    _scenario(_SIZES, 20, [0.05, 0.5], gamma=0.5),
    _scenario((50, 100, 200), 20, [0.05, 0.5], gamma=2.0),
    _scenario(_SIZES, 20, [0.5], gamma=1.0, r2=2.0, sigma2=1.0),
    _scenario(_SIZES, 20, [0.0, 0.05, 0.5], gamma=0.75, spectrum="two-point:1,9"),
    _scenario((50, 100, 200), 20, [0.0, 0.1], gamma=3.0, spectrum="two-point:1,9"),
    # full set: larger sizes, near-critical ridgeless points (|p - n| = 20 at n = 400), more spectra
    _scenario(400, 200, [0.0], True, gamma=0.95),
    _scenario(400, 200, [0.0], True, gamma=1.05),
    _scenario(400, 100, [0.0], True, gamma=4.0, sigma2=1.0),
    _scenario((200, 400, 800), 100, [0.01, 0.1, 1.0], True, gamma=0.95),
    _scenario((200, 400, 800), 100, [0.01, 0.1, 1.0], True, gamma=1.05),
    _scenario((100, 200, 400), 100, [0.05, 0.5], True, gamma=4.0, sigma2=1.0),
    _scenario((200, 400, 800), 100, [0.01, 0.3], True, gamma=1.0, sigma2=0.2),
    _scenario((200, 400, 800), 100, [0.0, 0.05, 0.5], True, gamma=0.3, spectrum="two-point:1,9,0.8"),
    _scenario((100, 200, 400), 100, [0.0, 0.5], True, gamma=1.5, spectrum="two-point:1,9,0.8"),
    _scenario(2000, 100, [0.0], True, gamma=0.4, spectrum="power-law:1,800"),
)


# --------------------------------------------------------------------------------------- figures
_SNR_SIGMA2 = (0.1, 0.3, 1.0)


@fig.styled
def draw_double_descent(out_dir: Path | str, options: RunOptions = RunOptions(), fast: bool = False,
                        width: str | None = None) -> Path:
    """Hastie-Montanari-Rosset-Tibshirani (2022): isotropic ridgeless and optimally tuned ridge
    excess risk vs gamma for three SNRs, with simulations."""
    gammas = fig.refine(np.geomspace(0.1, 10, 60 if fast else 600), (1.0,))
    sim_gammas = np.array([0.5, 2.0]) if fast else np.array([0.2, 0.5, 0.8, 1.25, 2.0, 4.0, 8.0])
    n, reps = (40, 3) if fast else (200, 60)
    f, (ax,) = fig.new_figure(width)
    data = fig.Table()
    for i, sigma2 in enumerate(_SNR_SIGMA2):
        style = fig.look(i)
        curve = Ridge(gamma=gammas, lam=0.0, r2=1.0, sigma2=sigma2)
        ridgeless, tuned = th.theory(curve)["excess_risk"], th.optimal_risk(curve)
        fig.line(ax, gammas, ridgeless, gaps_at=(1.0,), **style, label=rf"SNR $= {1 / sigma2:.3g}$")
        fig.line(ax, gammas, tuned, **style, ls="--")
        data.theory("a", "excess_risk", ridgeless, gamma=gammas, lam=0.0, r2=1.0, sigma2=sigma2,
                    estimator="ridgeless")
        data.theory("a", "excess_risk", tuned, gamma=gammas, lam=th.optimal_lam(curve), r2=1.0, sigma2=sigma2,
                    estimator="optimal")
        lam_star = th.optimal_lam(Ridge(gamma=sim_gammas, sigma2=sigma2))
        points = Ridge(gamma=np.repeat(sim_gammas, 2), lam=np.column_stack([0 * lam_star, lam_star]).ravel(),
                       r2=1.0, sigma2=sigma2)
        recs = run(ENTRY, points, n, reps, options)
        for k, estimator in enumerate(("ridgeless", "optimal")):
            sel = recs[k::2]
            x = [r["p"] / r["n"] for r in sel]
            fig.errorbars(ax, x, sel, "excess_risk", **style, mfc="white" if k else style["color"])
            data.simulation("a", "excess_risk", sel, n, gamma=x, lam=[r["lam"] for r in sel], r2=1.0,
                            sigma2=sigma2, estimator=estimator)
    ax.plot([], [], "-o", color="0.35", label=r"ridgeless, $\lambda = 0$")
    ax.plot([], [], "--s", color="0.35", mfc="white", label=r"optimal $\lambda$")
    fig.simulation_key(ax)
    ax.set(xscale="log", ylim=(0, 3), xlabel=r"$\gamma = p/n$",
           ylabel=r"excess risk $\mathbb{E}\,\|\hat\beta - \beta\|_\Sigma^2$")
    fig.legend_below(f, ax, ncols=3)
    caption = (r"Isotropic ridge regression, x ~ N(0, I_p), E||beta||^2 = r2 = 1, SNR = r2/sigma2: excess risk "
               "(noise excluded) of the minimum-norm interpolator (solid lines, filled markers; +inf at gamma = 1, "
               "drawn as a gap) and of ridge at the optimal lam = gamma sigma2/r2 (dashed, open markers), "
               "theory lines and simulations at p = round(gamma n).")
    return fig.save(f, out_dir, "ridge-double-descent", data, caption)


@fig.styled
def draw_covariance(out_dir: Path | str, options: RunOptions = RunOptions(), fast: bool = False,
                    width: str | None = None) -> Path:
    """Excess risk vs gamma for a two-point and a power-law spectrum, ridgeless and lam = 0.1 (Hastie et
    al. 2022 section 5; Dobriban-Wager 2018)."""
    gammas = fig.refine(np.geomspace(0.1, 10, 60 if fast else 400), (1.0,))
    sim_gammas = np.array([0.5, 2.0]) if fast else np.array([0.25, 0.5, 0.8, 1.25, 2.0, 4.0])
    n, reps = (40, 3) if fast else (200, 40)
    spectra = ("two-point:1,9", "power-law:1,40" if fast else "power-law:1,400")
    f, axes = fig.new_figure(width, panels=2, default="double")
    data = fig.Table()
    for ax, spectrum, panel in zip(axes, spectra, "ab"):
        for i, lam in enumerate((0.0, 0.1)):
            y = th.theory(Ridge(gamma=gammas, lam=lam, spectrum=spectrum))["excess_risk"]
            fig.line(ax, gammas, y, gaps_at=(1.0,) if lam == 0 else (), **fig.look(i),
                     label=rf"$\lambda = {lam:g}$")
            data.theory(panel, "excess_risk", y, gamma=gammas, lam=lam, r2=1.0, sigma2=0.5, spectrum=spectrum)
        recs = [run(ENTRY, Ridge(gamma=g, lam=np.array([0.0, 0.1]), spectrum=spectrum), n, reps, options)
                for g in sim_gammas]
        for i, lam in enumerate((0.0, 0.1)):
            sel = [r[i] for r in recs]
            x = [r["p"] / r["n"] for r in sel]
            fig.errorbars(ax, x, sel, "excess_risk", **fig.look(i))
            data.simulation(panel, "excess_risk", sel, n, gamma=x, lam=lam, r2=1.0, sigma2=0.5, spectrum=spectrum)
        top = 2.5 * float(np.nanmax(th.theory(Ridge(gamma=10.0, spectrum=spectrum))["bias"]))
        ax.set(xscale="log", ylim=(0, top), xlabel=r"$\gamma = p/n$", ylabel="excess risk")
        ax.annotate(spectrum, xy=(0.03, 0.97), xycoords="axes fraction", va="top", fontsize=7)
    fig.simulation_key(axes[0])
    fig.panel_labels(axes)
    fig.legend_below(f, axes[0])
    caption = (f"Ridge with a general covariance: (a) spectrum {spectra[0]}, (b) {spectra[1]} "
               "(the --spectrum forms of overparam curve ridge), r2 = 1, sigma2 = 0.5; excess risk "
               "(noise excluded) vs gamma = p/n, ridgeless (lam = 0, gap at gamma = 1) and lam = 0.1, "
               "deterministic-equivalent theory lines and simulations.")
    return fig.save(f, out_dir, "ridge-covariance", data, caption)


FIGURES = (
    Figure("ridge-double-descent", "Hastie et al.: ridgeless and optimally tuned ridge excess risk vs "
           "gamma for three SNRs, with simulations", draw_double_descent),
    Figure("ridge-covariance", "General covariance (two-point and power-law spectra): excess risk vs gamma, "
           "ridgeless and lam = 0.1, with simulations", draw_covariance),
)

FAMILY = Family(name="ridge", models=(ENTRY,), scenarios=SCENARIOS, figures=FIGURES)

__all__ = ["FAMILY", "ENTRY", "SCENARIOS", "draw_double_descent", "draw_covariance"]
