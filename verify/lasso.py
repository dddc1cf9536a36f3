"""Registration of the lasso family: models ``lasso`` and ``l1-transition``, check scenarios, figures.

Finite-size handling in ``check`` (docs/ARCHITECTURE.md "The verdict"): no exact finite-size mean is known,
so every checked point is simulated at three geometric sizes and each metric extrapolated in 1/n (the LASSO
mse and the residual estimate of tau_star carry an O(1/p) bias of a few percent at p = 1000,
the lasso family notes section 5); the intercept is compared with the limit.

* lam = 0 (minimum-l1 interpolation, n < p): the simulator has no finite-n estimate of tau_star (the
  residual estimate is 0/0; the state-evolution identity would only repeat mse), so those scenarios declare
  tau_star skipped. With sigma2 = 0 the BP dual is degenerate under exact recovery and the theory's
  threshold is a sigma2 -> 0+ definition: skipped there.
* ``gap`` is the solver's certified duality gap, a diagnostic without theory: skipped.
* ``l1-transition`` has no simulator: its finite-N observable is the basis-pursuit success fraction shown
  by the ``l1-transition`` figure (and tested in tests/verify/test_lasso.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from overparam.models import L1Transition, Lasso, Model
from overparam.params import number
from .registry import lazy_functions

sim = lazy_functions("overparam.simulate.lasso")  # imported on first call: `list`/`curve` stay light
th = lazy_functions("overparam.theory.lasso")

from . import figures
from .registry import Family, Figure, ModelEntry, Scenario
from .runner import RunOptions, run

LASSO = ModelEntry(Lasso, th.theory, sim.replicate, shared=("lam",), rate="1/n", primary=("mse", "tau_star"))
L1 = ModelEntry(L1Transition, th.transition, None)

_GAP = ("gap", "solver diagnostic (certified duality gap), no theory")
_NO_TAU = ("tau_star", "lam = 0: no finite-n estimate of tau_star independent of mse")
_DEGENERATE = ("threshold", "sigma2 = 0, lam = 0: degenerate BP dual; the limit is a sigma2 -> 0+ definition")


def _scenario(sizes: tuple[int, ...], reps: int, prior: str, delta: float, lams, full: bool = False,
              full_reps: int | None = None, **kw) -> Scenario:
    lam = np.asarray(lams, dtype=float)
    skip = (_GAP, _NO_TAU) if np.all(lam == 0) else (_GAP,)
    if np.all(lam == 0) and kw.get("sigma2", 0.04) == 0:
        skip += (_DEGENERATE,)
    model = Lasso(delta=delta, eps=kw.get("eps", 0.2), sigma2=kw.get("sigma2", 0.04), prior=prior, lam=lam)
    return Scenario(model, sizes, reps, full, skip, full_reps=full_reps)


SCENARIOS = (
    # quick set: dense and sparse Rademacher signals on both sides of delta = 1, min-l1 interpolation
    _scenario((60, 120, 240), 150, "rademacher", 1.5, [0.5, 1.0], eps=1.0, full_reps=350),  # --full: mse 2 %
    _scenario((60, 120, 240), 150, "rademacher", 0.8, [0.3, 1.0], eps=0.5),
    _scenario((40, 80, 160), 150, "gauss", 0.6, [0.0], eps=1.0),
    # --full
    _scenario((100, 200, 400), 100, "gauss", 0.4, [0.05, 0.3], True),
    _scenario((150, 300, 600), 300, "gauss", 1.5, [0.05, 0.3], True),  # tau_star: 2 % power
    _scenario((100, 200, 400), 100, "rademacher", 0.4, [0.05, 0.3], True),
    _scenario((75, 150, 300), 30, "gauss", 0.6, [0.0], True),
    _scenario((75, 150, 300), 20, "rademacher", 0.6, [0.0], True, sigma2=0.0),
)


# --------------------------------------------------------------------------------------- figures
@figures.styled
def draw_lasso_risk(out_dir, options: RunOptions = RunOptions(), fast: bool = False,
                    width: str | None = None) -> Path:
    """LASSO / minimum-l1 double descent (Bayati-Montanari state evolution): mse vs p/n for lam in
    {0, 0.05, 0.5} and the optimal lam (gauss prior, eps 0.1, sigma2 0.01), with simulations."""
    eps, sigma2, lams = 0.1, 0.01, (0.0, 0.05, 0.5)
    ratio = figures.refine(np.geomspace(1 / 3, 10, 80 if fast else 400), (1.0,))  # p/n = 1/delta
    fig, (ax,) = figures.new_figure(width)
    data = figures.Table()
    for i, lam in enumerate(lams):
        mse = th.theory(Lasso(delta=1 / ratio, eps=eps, sigma2=sigma2, lam=np.full(ratio.shape, lam)))["mse"]
        label = r"$\lambda = 0$ (least squares | min-$\ell_1$)" if lam == 0 else rf"$\lambda = {lam:g}$"
        figures.line(ax, ratio, mse, gaps_at=(1.0,) if lam == 0 else (), **figures.look(i), label=label)
        data.theory("a", "mse", mse, delta=1 / ratio, p_over_n=ratio, eps=eps, sigma2=sigma2, lam=lam)
    coarse = np.geomspace(1 / 3, 10, 20 if fast else 60)
    lam_grid = np.geomspace(1e-3, 3.0, 25)
    R, L = np.meshgrid(coarse, lam_grid)
    mse_grid = th.theory(Lasso(delta=1 / R.ravel(), eps=eps, sigma2=sigma2, lam=L.ravel()))["mse"].reshape(R.shape)
    best = np.nanmin(mse_grid, axis=0)
    figures.line(ax, coarse, best, color="k", ls="--", label=r"optimal $\lambda$")
    data.theory("a", "mse", best, delta=1 / coarse, p_over_n=coarse, eps=eps, sigma2=sigma2,
                lam=lam_grid[np.nanargmin(mse_grid, axis=0)])
    n, reps, sim_ratios = (40, 2, (0.5, 2.0)) if fast else (300, 8, (0.4, 0.67, 1.5, 2.5, 3.5))
    for r in sim_ratios:  # lam = 0 is simulated (min-l1) only for p > n; least squares is the theory line
        model = Lasso(delta=1 / r, eps=eps, sigma2=sigma2, lam=np.array([lam for lam in lams if lam > 0 or r > 1]))
        for rec in run(LASSO, model, n, reps, options):
            i = lams.index(rec["lam"])
            x = rec["p"] / rec["n"]
            figures.errorbars(ax, [x], [rec], "mse", **figures.look(i))
            data.simulation("a", "mse", [rec], n, delta=1 / x, p_over_n=x, eps=eps, sigma2=sigma2, lam=rec["lam"])
    figures.simulation_key(ax)
    ax.set(xscale="log", yscale="log", ylim=(None, 30), xlabel=r"$p/n = 1/\delta$",
           ylabel=r"mse $\|\hat\beta - \beta\|^2/p$")
    figures.legend_below(fig, ax, ncols=2)
    caption = (f"LASSO (1/2)||y - Xb||^2 + lam ||b||_1 with X_ij ~ N(0, 1/n), Bernoulli-Gaussian signal (eps = {eps}), "
               f"noise sigma2 = {sigma2}: mse vs p/n from AMP state evolution for several lam and the optimal lam "
               "(dashed); lam = 0 is least squares for p < n and the minimum-l1 interpolator for p > n, infinite "
               "at p = n (gap). Simulations: exact LASSO / minimum-l1 solutions at p = round(n/delta).")
    return figures.save(fig, out_dir, "lasso-risk", data, caption)


@dataclass(frozen=True, eq=False)
class BPSuccess(Model):
    """Figure-only simulation model: does basis pursuit recover a k-sparse +-1 signal from n Gaussian
    measurements in dimension p (n = round(delta p), k = max(1, round(rho n)); size = p)?"""

    NAME = "bp-success"
    FAMILY = "lasso"
    METRICS = ("success",)
    SIZE_DOC = "--n: dimension p; n = round(delta p) measurements, k = round(rho n) nonzeros"

    delta: Any = number(0.5, "n/p", lo=0, hi=1, lo_open=True)
    rho: Any = number(0.3, "k/n", lo=0, hi=1, lo_open=True)

    def sizes(self, p: int) -> dict[str, int]:
        n = max(1, int(round(float(self.delta) * p)))
        return {"p": int(p), "n": n, "k": max(1, int(round(float(self.rho) * n)))}


def bp_replicate(model: BPSuccess, sizes: dict, rng: np.random.Generator) -> dict:
    """One basis-pursuit trial: success 1/0 (:func:`overparam.simulate.lasso.bp_success`)."""
    return {"success": float(sim.bp_success(sizes["n"], sizes["p"], sizes["k"], 1, rng)[0])}


def bp_limit(model: BPSuccess) -> dict:
    """p -> infinity success probability: 1 below the Donoho-Tanner weak threshold, 0 above."""
    rho_w = th.transition(L1Transition(delta=np.minimum(model.delta, 1 - 1e-12)))["rho"]
    return {"success": np.where(np.asarray(model.rho) < rho_w, 1.0, 0.0)}


BP = ModelEntry(BPSuccess, bp_limit, bp_replicate)


@figures.styled
def draw_l1_transition(out_dir, options: RunOptions = RunOptions(), fast: bool = False,
                       width: str | None = None) -> Path:
    """Donoho-Tanner: the weak threshold rho(delta) of basis pursuit over the simulated success
    probability as a heat map in the (delta = n/p, rho = k/n) plane."""
    step = 0.2 if fast else 0.05
    grid = np.arange(step, 1.0 - step / 2, step)
    p, trials = (20, 2) if fast else (100, 16)
    fig, (ax,) = figures.new_figure(width, aspect=0.8)
    data = figures.Table()
    D, R = (g.ravel() for g in np.meshgrid(grid, grid))
    recs = run(BP, BPSuccess(delta=D, rho=R), p, trials, options)
    figures.heatmap(ax, grid, grid, np.array([r["success"] for r in recs]).reshape(grid.size, grid.size),
                    label="basis-pursuit success probability")
    data.simulation("a", "success", recs, p, delta=[r["n"] / r["p"] for r in recs],
                    rho=[r["k"] / r["n"] for r in recs])
    delta = np.linspace(0.005, 0.995, 200)
    rho = th.transition(L1Transition(delta=delta))["rho"]
    figures.boundary(ax, delta, rho, r"Donoho-Tanner weak threshold $\rho_W(\delta)$")
    data.theory("a", "rho", rho, delta=delta)
    ax.set(xlabel=r"$\delta = n/p$", ylabel=r"$\rho = k/n$")
    figures.legend_below(fig, ax)
    caption = ("Basis pursuit min ||b||_1 s.t. Xb = y, X with iid Gaussian entries, k-sparse signal with +-1 "
               "entries on a random support: simulated probability of exact recovery (max |b - beta| < 1e-6) "
               "at delta = n/p and rho = k/n (heat map), and the Donoho-Tanner weak threshold (line, signed "
               "signals; Donoho-Tanner 2009).")
    return figures.save(fig, out_dir, "l1-transition", data, caption)


FIGURES = (Figure("lasso-risk", "LASSO / minimum-l1 double descent: mse vs p/n for several lam and the optimal lam, "
                  "with simulations", draw_lasso_risk),
           Figure("l1-transition", "Donoho-Tanner diagram: weak threshold over the simulated basis-pursuit "
                  "success probability (heat map)", draw_l1_transition))


FAMILY = Family(
    name="lasso",
    models=(LASSO, L1),
    scenarios=SCENARIOS,
    figures=FIGURES,
)
