"""Registration of the ridge family: model entry, finite-size allowance, check scenarios, figures.

Allowance (formulas/ridge.md section 5). For lam > 0 the Rao-Blackwellised finite-n mean differs from the
limit by a genuine O(1/n) correction c |limit|/n, with c stable in n. Measured (the note's 11 lam > 0
points at n = 400, and our quick and full scenario sets, n = 300-2000): |c| <= 2.1 for excess_risk,
variance and norm2, and up to 8.3 for the metrics that are small at these points (bias at small lam: 6.2
on two-point:1,9, gamma 0.75, lam 0.05, n = 400, and 8.3 at gamma 0.95, lam 0.01, n = 800; train_error
near interpolation: 7.3 at gamma 1.05, lam 0.01). The allowance is therefore

    8 |expected|/n   for excess_risk, variance, norm2    (the note's 3-stderr + 8|theory|/n rule; ~4x max |c|),
    16 |expected|/n  for bias, train_error               (~2x the largest measured |c|),

on top of Holm's z band. Ridgeless points (lam = 0) are compared with the exact finite-(n, p) values of
``theory.ridge.finite_n_ridgeless`` where these exist (allowance 0: agreement within one standard error in
all the note's runs); the only ridgeless points without them (p > n + 1, Sigma != I) take the lam > 0
allowance (measured |c| <= 2.1 on two-point and power-law spectra at gamma 1.5-3).
Near gamma = 1 with lam = 0 the scenarios keep |p - n| >= 20 (heavy-tailed variance otherwise).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from overparam.models import Ridge
from overparam.simulate import ridge as sim
from overparam.theory import ridge as th

from . import figures as fig
from .registry import Family, Figure, ModelEntry, Scenario
from .runner import RunOptions, run

#: Coefficient c of the allowance c |expected|/n (module docstring).
ALLOWANCE_C = {"excess_risk": 8.0, "variance": 8.0, "norm2": 8.0, "bias": 16.0, "train_error": 16.0}


def allowance(metric: str, model: Ridge, sizes: dict, expected: float) -> float | None:
    """Finite-size allowance (absolute units) of ``metric`` at a single point (module docstring)."""
    if not np.isfinite(expected):
        return None
    if float(model.lam) == 0 and np.isfinite(th.finite_n_ridgeless(model, sizes)[metric]):
        return 0.0
    return ALLOWANCE_C[metric] * abs(expected) / sizes["n"]


ENTRY = ModelEntry(Ridge, th.theory, sim.replicate, shared=("lam",), allowance=allowance,
                   reference=th.finite_n_ridgeless)


def _scenario(n: int, reps: int, lam, full: bool = False, **params) -> Scenario:
    return Scenario(Ridge(lam=np.asarray(lam, dtype=float), **params), n, reps, full)


SCENARIOS = (
    # quick set: isotropic on both sides of 1 (ridgeless and ridge), gamma = 1 with ridge, two-point, power-law
    _scenario(400, 100, [0, 0.05, 0.5], gamma=0.5),
    _scenario(400, 100, [0, 0.05, 0.5], gamma=2.0),
    _scenario(400, 100, [0.5], gamma=1.0, r2=2.0, sigma2=1.0),
    _scenario(400, 100, [0.05, 0.5], gamma=0.75, spectrum="two-point:1,9"),
    _scenario(300, 100, [0, 0.1], gamma=3.0, spectrum="two-point:1,9"),
    _scenario(333, 100, [0, 0.05, 0.5], gamma=1.5, spectrum="power-law:1.5,500"),
    # full set: larger n, near-critical ridgeless points (|p - n| = 20), more spectra
    _scenario(800, 200, [0, 0.01, 0.1, 1.0], True, gamma=0.95),
    _scenario(800, 200, [0, 0.01, 0.1, 1.0], True, gamma=1.05),
    _scenario(800, 200, [0, 0.05, 0.5], True, gamma=4.0, sigma2=1.0),
    _scenario(800, 200, [0.01, 0.3], True, gamma=1.0, sigma2=0.2),
    _scenario(800, 200, [0, 0.05, 0.5], True, gamma=0.3, spectrum="two-point:1,9,0.8"),
    _scenario(600, 200, [0, 0.5], True, gamma=1.5, spectrum="two-point:1,9,0.8"),
    _scenario(2000, 200, [0, 0.01, 0.1], True, gamma=0.4, spectrum="power-law:1,800"),
    _scenario(320, 200, [0, 0.01, 0.1], True, gamma=2.5, spectrum="power-law:1,800"),
)


# --------------------------------------------------------------------------------------- figures
def _simulate(model: Ridge, n: int, reps: int, options: RunOptions) -> list[dict]:
    return run(ENTRY, model, n, reps, options)


def draw_double_descent(out_dir: Path | str, options: RunOptions = RunOptions(), fast: bool = False) -> Path:
    """Ridgeless and optimally tuned ridge excess risk vs gamma for three SNRs, with simulations."""
    name = "ridge-double-descent"
    gammas = np.geomspace(0.1, 10, 60 if fast else 600)
    sim_gammas = np.array([0.5, 2.0]) if fast else np.array([0.2, 0.5, 0.8, 1.25, 2.0, 4.0, 8.0])
    n, reps = (40, 3) if fast else (200, 60)
    f, (ax,) = fig.new_figure(width=4.6, height=3.2)
    rows: list[dict] = []
    for colour, sigma2 in zip(("C0", "C1", "C2"), (0.1, 0.3, 1.0)):
        curve = Ridge(gamma=gammas, lam=0.0, r2=1.0, sigma2=sigma2)
        ridgeless = th.theory(curve)["excess_risk"]
        tuned = th.optimal_risk(curve)
        snr = f"SNR = {1 / sigma2:.3g} (sigma2 = {sigma2:g})"
        ax.plot(gammas, ridgeless, color=colour, label=snr)
        ax.plot(gammas, tuned, color=colour, ls="--")
        rows += fig.series_rows(f"theory ridgeless sigma2={sigma2:g}", gamma=gammas, excess_risk=ridgeless)
        rows += fig.series_rows(f"theory optimal sigma2={sigma2:g}", gamma=gammas, excess_risk=tuned)
        lam_star = th.optimal_lam(Ridge(gamma=sim_gammas, sigma2=sigma2))
        points = Ridge(gamma=np.repeat(sim_gammas, 2), lam=np.column_stack([0 * lam_star, lam_star]).ravel(),
                       r2=1.0, sigma2=sigma2)
        recs = _simulate(points, n, reps, options)
        for k, label in ((0, "ridgeless"), (1, "optimal")):
            sel = recs[k::2]
            x = [r["p"] / r["n"] for r in sel]
            y, se = [r["excess_risk"] for r in sel], [r["excess_risk_se"] for r in sel]
            fig.errorbars(ax, x, y, se, color=colour, fmt="o" if k == 0 else "s", mfc="none" if k else colour)
            rows += fig.series_rows(f"simulation {label} sigma2={sigma2:g} n={n} reps={reps}", gamma=x,
                                    excess_risk=y, excess_risk_se=se)
    ax.set_xscale("log")
    ax.set_ylim(0, 3)
    ax.set_xlabel(r"$\gamma = p/n$")
    ax.set_ylabel(r"excess risk $E(\hat\beta-\beta)^\top\Sigma(\hat\beta-\beta)$" + "\n"
                  + r"(noise excluded, $\|\beta\|^2 = 1$)")
    ax.set_title("Isotropic ridge: ridgeless (solid, filled) and optimal lam (dashed, open)\n"
                 f"theory lines; markers: simulation, n = {n}, ±1 s.e.; SNR = r2/sigma2")
    ax.legend(loc="upper right")
    return fig.save(f, out_dir, name, rows)


def draw_covariance(out_dir: Path | str, options: RunOptions = RunOptions(), fast: bool = False) -> Path:
    """Excess risk vs gamma for a two-point and a power-law spectrum, ridgeless and lam = 0.1."""
    name = "ridge-covariance"
    gammas = np.geomspace(0.1, 10, 60 if fast else 400)
    sim_gammas = np.array([0.5, 2.0]) if fast else np.array([0.25, 0.5, 0.8, 1.25, 2.0, 4.0])
    n, reps = (40, 3) if fast else (200, 40)
    spectra = ("two-point:1,9", "power-law:1,40" if fast else "power-law:1,400")
    f, axes = fig.new_figure(ncols=2, width=3.6, height=3.0)
    rows: list[dict] = []
    for ax, spectrum in zip(axes, spectra):
        for colour, lam in zip(("C0", "C3"), (0.0, 0.1)):
            y = th.theory(Ridge(gamma=gammas, lam=lam, spectrum=spectrum))["excess_risk"]
            ax.plot(gammas, y, color=colour, label=f"theory, lam = {lam:g}")
            rows += fig.series_rows(f"theory {spectrum} lam={lam:g}", gamma=gammas, excess_risk=y)
        recs = [_simulate(Ridge(gamma=g, lam=np.array([0.0, 0.1]), spectrum=spectrum), n, reps, options)
                for g in sim_gammas]
        for k, (colour, lam) in enumerate(zip(("C0", "C3"), (0.0, 0.1))):
            x = [r[k]["p"] / r[k]["n"] for r in recs]
            m, se = [r[k]["excess_risk"] for r in recs], [r[k]["excess_risk_se"] for r in recs]
            fig.errorbars(ax, x, m, se, color=colour, label=f"simulation, lam = {lam:g}")
            rows += fig.series_rows(f"simulation {spectrum} lam={lam:g} reps={reps}", gamma=x, excess_risk=m,
                                    excess_risk_se=se, n=[r[k]["n"] for r in recs])
        ax.set_xscale("log")
        ax.set_ylim(0, 2.5 * float(np.nanmax(th.theory(Ridge(gamma=10.0, spectrum=spectrum))["bias"])))
        ax.set_xlabel(r"$\gamma = p/n$")
        ax.set_ylabel("excess risk (noise excluded)")
        ax.set_title(f"spectrum {spectrum}\n" + r"$\|\beta\|^2 = 1$, $\sigma^2 = 0.5$, simulation ±1 s.e.")
        ax.legend(loc="upper left")
    return fig.save(f, out_dir, name, rows)


FIGURES = (
    Figure("ridge-double-descent", "Ridgeless and optimally tuned ridge excess risk vs gamma, several SNRs, "
           "with simulation error bars", draw_double_descent),
    Figure("ridge-covariance", "General covariance (two-point and power-law spectra): excess risk vs gamma, "
           "theory and simulation", draw_covariance),
)

FAMILY = Family(name="ridge", models=(ENTRY,), scenarios=SCENARIOS, figures=FIGURES)

__all__ = ["FAMILY", "ENTRY", "allowance", "ALLOWANCE_C", "SCENARIOS", "draw_double_descent", "draw_covariance"]
