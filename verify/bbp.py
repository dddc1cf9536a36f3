"""BBP family registration: models, check scenarios and figures.

Finite-size handling in ``check`` (docs/ARCHITECTURE.md "The verdict"): no exact finite-size means are
known, so every checked point is simulated at three geometric sizes and extrapolated to N -> infinity:

* above a threshold (spiked models, spectral-pr, hessian-init beyond alpha_bbp) the outlier and the
  overlap have O(1/N) mean corrections: rate 1/n;
* below the threshold of a spiked model the top eigenvalue sits at the bulk edge plus Tracy-Widom
  fluctuations of order N^{-2/3} (mean -1.2065 N^{-2/3} for GOE): rate n^-2/3 for top_eigenvalue, and
  overlap_sq is O(1/N) (limit 0): rate 1/n.
Points inside the critical window |s - s_c| ~ N^{-1/3} are not among the scenarios.
Declared skips: the threshold-type metrics (threshold, alpha_bbp, transition) are functions of the
parameters, never simulated. hessian-init's outlier is p p*-fold degenerate: for p p* > 1 the single lowest
pair is the extreme of p p* values, biased by O(N^{-1/2}), so min_eigenvalue/overlap_sq are skipped and the
cluster averages compared; for p p* = 1 the cluster metrics repeat the lowest pair and are skipped.

hessian-init's min_eigenvalue has a large replicate spread at moderate alpha (p = p* = 1, a = 0.7, alpha = 8:
49 %, 29 %, 21 % of the limit at N = 100, 200, 400), so 300 replicates leave a ~9.5 % detection limit. The
relative spread falls like 1/alpha (about 2.3/alpha at N = 200) while the cost grows like alpha, and at
alpha = 64 it is 13 %, 7 %, 6 % already at N = 25, 50, 100: that point, 150 replicates at N = 25, 50, 100
(about 14 CPU s), extrapolated in 1/n, gives a ~4 % detection limit for min_eigenvalue in the whole default
check (100 replicates: 4.8 %; measured intercept +1.2 % +- 0.9 %, overlap_sq +0.01 % +- 0.1 %); the
alpha = 8 point keeps overlap_sq away from 1.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from overparam.models import HessianInit, SpectralPR, SpikedCovariance, SpikedWigner
from .registry import lazy_functions

sim = lazy_functions("overparam.simulate.bbp")  # imported on first call: `list`/`curve` stay light
th = lazy_functions("overparam.theory.bbp")

from . import figures
from .registry import Family, Figure, ModelEntry, Scenario
from .runner import RunOptions, run

_PARAMETER_ONLY = "a function of the parameters only; not a finite-size observable"
_THRESHOLD = (("threshold", _PARAMETER_ONLY),)
_HESSIAN_LIMITS = (("alpha_bbp", _PARAMETER_ONLY), ("transition", _PARAMETER_ONLY))
_DEGENERATE = tuple((m, "p p* > 1: the lowest pair is the extreme of p p* outliers (O(N^-1/2) bias); "
                     "the cluster average is compared") for m in ("min_eigenvalue", "overlap_sq"))
_SINGLE = tuple((m, "p p* = 1: repeats the lowest pair") for m in ("cluster_eigenvalue", "cluster_overlap_sq"))
_EDGE = {"top_eigenvalue": "n^-2/3", "overlap_sq": "1/n"}  # below a spiked model's threshold


def _hessian(sizes: tuple[int, ...], reps: int, full: bool = False, full_reps: int | None = None,
            **params) -> Scenario:
    single = params["p_star"] * params["p"] == 1
    return Scenario(HessianInit(**params), sizes, reps, full, _HESSIAN_LIMITS + (_SINGLE if single else _DEGENERATE),
                    full_reps=full_reps)


SCENARIOS = (
    Scenario(SpikedWigner(theta=2.0), (250, 500, 1000), 30, full_reps=100),  # --full: overlap_sq 2 %
    Scenario(SpikedWigner(theta=0.5), (250, 500, 1000), 30, rate=_EDGE),
    Scenario(SpikedCovariance(ell=2.5, gamma=0.25), (500, 1000, 2000), 30, skip=_THRESHOLD, full_reps=180),
    Scenario(SpikedCovariance(ell=1.2, gamma=0.25), (500, 1000, 2000), 30, skip=_THRESHOLD, rate=_EDGE),
    Scenario(SpectralPR(alpha=4.0, preprocessing="luo-alghamdi-lu"), (600, 1200, 2400), 30, skip=_THRESHOLD),
    Scenario(SpectralPR(alpha=4.0, preprocessing="mondelli-montanari"), (600, 1200, 2400), 30, skip=_THRESHOLD),
    Scenario(SpectralPR(alpha=4.0, preprocessing="truncated:9"), (600, 1200, 2400), 200, skip=_THRESHOLD),
    _hessian((100, 200, 400), 300, p_star=1, p=1, a=0.7, alpha=8.0),
    _hessian((100, 200, 400), 20, p_star=1, p=2, a=0.7, alpha=6.0),
    _hessian((25, 50, 100), 150, p_star=1, p=1, a=0.7, alpha=64.0, full_reps=1100),  # min_eigenvalue's power
    # --full
    Scenario(SpikedWigner(theta=1.5), (500, 1000, 2000), 40, full=True),
    Scenario(SpikedCovariance(ell=3.0, gamma=1.0), (250, 500, 1000), 40, full=True, skip=_THRESHOLD),
    Scenario(SpectralPR(alpha=1.5, preprocessing="luo-alghamdi-lu"), (750, 1500, 3000), 20, full=True,
             skip=_THRESHOLD),
    Scenario(SpectralPR(alpha=1.5, preprocessing="mondelli-montanari"), (750, 1500, 3000), 20, full=True,
             skip=_THRESHOLD),
    _hessian((150, 300, 600), 40, True, p_star=1, p=1, a=0.7, alpha=3.0),
    _hessian((125, 250, 500), 20, True, p_star=1, p=2, a=1.5, alpha=2.0),
    _hessian((100, 200, 400), 10, True, p_star=2, p=3, a=1.0, alpha=4.0),
)


# ------------------------------------------------------------------------------------------ figures
def _overlay(ax, data: figures.Table, panel: str, entry_index: int, model, x_name: str, metric: str, n: int,
             reps: int, options: RunOptions, style: dict) -> None:
    """Simulate ``model`` (a 1-D grid in ``x_name``), draw +-1 s.e. markers and record them."""
    recs = run(ENTRIES[entry_index], model, n, reps, options)
    x = np.asarray(getattr(model, x_name), float)
    figures.errorbars(ax, x, recs, metric, **style)
    data.simulation(panel, metric, recs, n, **{x_name: x})


@figures.styled
def draw_transitions(out_dir, options: RunOptions = RunOptions(), fast: bool = False,
                     width: str | None = None) -> Path:
    """BBP transitions (Baik-Ben Arous-Peche; Benaych-Georges-Nadakuditi): top eigenvalue and squared
    overlap vs the spike for the spiked Wigner matrix and the spiked covariance (gamma = 1/4)."""
    n_w, n_c, reps = (60, 80, 3) if fast else (1000, 2000, 8)
    fig, axes = figures.new_figure(width, panels=4, default="double", max_cols=2, aspect=0.6)
    data = figures.Table()
    cases = (  # panel column: model family, x name, grid, simulated points, threshold, size, x label
        (0, lambda x: SpikedWigner(theta=x), "theta", np.linspace(0, 4, 401), [0.5, 1.5, 2.0, 3.0], 1.0, n_w,
         r"spike $\theta$"),
        (1, lambda x: SpikedCovariance(ell=x, gamma=0.25), "ell", np.linspace(1, 5, 401), [1.2, 2.0, 3.0, 4.0],
         1.5, n_c, r"population spike $\ell$ ($\gamma = p/n = 1/4$)"),
    )
    for col, make, x_name, grid, pts, threshold, n, xlabel in cases:
        t = ENTRIES[col].theory(make(grid))
        for row, metric in enumerate(("top_eigenvalue", "overlap_sq")):
            ax, panel = axes[2 * row + col], "abcd"[2 * row + col]
            figures.line(ax, grid, t[metric], **figures.look(col), label="theory")
            _overlay(ax, data, panel, col, make(np.array(pts)), x_name, metric, n, reps, options, figures.look(col))
            ax.axvline(threshold, color="0.6", ls=":", lw=0.8)
            data.theory(panel, metric, t[metric], **{x_name: grid})
            ax.set(xlabel=xlabel)
    axes[0].set_ylabel(r"top eigenvalue $\lambda_{\max}$")
    axes[1].set_ylabel(r"top eigenvalue $\lambda_{\max}$")
    axes[2].set_ylabel(r"overlap $\langle \hat v, v\rangle^2$")
    axes[3].set_ylabel(r"overlap $\langle \hat v, v\rangle^2$")
    figures.simulation_key(axes[0])
    axes[0].plot([], [], ls=":", color="0.6", label="BBP threshold")
    figures.panel_labels(axes)
    figures.legend_below(fig, axes[0])
    caption = ("BBP transitions. (a, c) Spiked Wigner Y = theta v v^T + W (GOE, off-diagonal variance 1/N): top "
               "eigenvalue and squared overlap of its eigenvector with v vs theta; (b, d) spiked covariance, "
               "S = X^T X/n with population covariance I + (ell - 1) v v^T, p/n = 1/4, vs ell. Dotted: thresholds "
               "theta = 1 and ell = 1 + sqrt(gamma). Simulation sizes: n is N for the Wigner matrix and the "
               "number of samples for the covariance.")
    return figures.save(fig, out_dir, "bbp-transitions", data, caption)


_PREPS = ("identity", "truncated:9", "mondelli-montanari", "luo-alghamdi-lu")


@figures.styled
def draw_spectral_pr(out_dir, options: RunOptions = RunOptions(), fast: bool = False,
                     width: str | None = None) -> Path:
    """Spectral phase retrieval (Lu-Li; Mondelli-Montanari; Luo-Alghamdi-Lu): squared overlap of the
    spectral estimator vs alpha = n/p for four preprocessings, theory and simulations."""
    n, reps = (240, 3) if fast else (1500, 8)
    alpha = np.linspace(0.05, 6, 400)
    pts = np.array([2.5]) if fast else np.array([1.0, 2.0, 3.5, 5.0])
    fig, (ax,) = figures.new_figure(width)
    data = figures.Table()
    for i, prep in enumerate(_PREPS):
        t = th.spectral_pr(SpectralPR(alpha=alpha, preprocessing=prep))
        figures.line(ax, alpha, t["overlap_sq"], **figures.look(i), label=prep)
        data.theory("a", "overlap_sq", t["overlap_sq"], alpha=alpha, preprocessing=prep)
        recs = run(ENTRIES[2], SpectralPR(alpha=pts, preprocessing=prep), n, reps, options)
        x = [r["n"] / r["p"] for r in recs]
        figures.errorbars(ax, x, recs, "overlap_sq", **figures.look(i))
        data.simulation("a", "overlap_sq", recs, n, alpha=x, preprocessing=prep)
    figures.simulation_key(ax)
    ax.set(xlabel=r"$\alpha = n/p$", ylabel=r"overlap $\langle \hat x, x\rangle^2$", ylim=(-0.02, 1.0))
    figures.legend_below(fig, ax, ncols=2)
    caption = ("Spectral estimator of real Gaussian phase retrieval, y_i = <a_i, x>^2, a_i ~ N(0, I_p): squared "
               "overlap of the top eigenvector of D = (1/n) sum T(y_i) a_i a_i^T with x vs alpha = n/p for the "
               "identity T(y) = y (overlap 0 in the limit, where the top eigenvalue diverges; at finite n it decays only "
               "logarithmically), the truncated identity "
               "(cut at 9), and the preprocessings of Mondelli-Montanari and Luo-Alghamdi-Lu; theory lines and "
               "simulations (n samples, p = round(n/alpha)).")
    return figures.save(fig, out_dir, "spectral-pr", data, caption)


def _jump_at(a: float, p: int, alpha_c: float) -> tuple[float, float]:
    """(overlap just below, just above) a discontinuous transition at alpha_c."""
    t = th.hessian_init(HessianInit(p_star=1, p=p, a=a, alpha=np.array([alpha_c * (1 - 1e-9), alpha_c * (1 + 1e-9)])))
    return float(t["overlap_sq"][0]), float(t["overlap_sq"][1])


@figures.styled
def draw_hessian(out_dir, options: RunOptions = RunOptions(), fast: bool = False,
                 width: str | None = None) -> Path:
    """Annesi-Bocchi-Cammarota: the Hessian at initialisation of a quadratic network. (a) alpha_bbp vs
    the student width p at a = 0.7 and 1.5 with the transition type (their Fig. 1); (b) alpha_bbp vs the
    loss parameter a for several widths (their Fig. 2); (c) overlap vs alpha at p = 2: a continuous
    (a = 0.7) and a discontinuous (a = 1.5) transition, with simulations."""
    n, reps = (40, 2) if fast else (500, 6)
    fig, (ax_p, ax_a, ax_o) = figures.new_figure(width, panels=3, default="double", aspect=0.9)
    data = figures.Table()
    widths = np.array([1, 3]) if fast else np.array([1, 2, 3, 4, 6, 8, 16, 32, 64])
    for i, a in enumerate((0.7, 1.5)):
        tab = th.alpha_bbp_table(1, widths, a)
        _by_type(ax_p, widths, tab["alpha_bbp"], tab["transition"], figures.look(i)["color"], rf"$a = {a}$")
        ax_p.axhline((1 + a) / 2, ls="--", lw=0.8, color=figures.look(i)["color"])
        data.theory("a", "alpha_bbp", tab["alpha_bbp"], p=widths, a=a, p_star=1, transition=tab["transition"])
    ax_p.axhline(0.5, ls=":", color="k", lw=0.8)
    ax_p.set(xscale="log", xlabel=r"student width $p$ ($p^\star = 1$)", ylabel=r"$\alpha_{\rm BBP} = M/N$",
             ylim=(0.4, 1.45))
    ax_p.set_xticks(widths, [str(w) for w in widths])
    ax_p.minorticks_off()
    a_grid = np.array([0.5, 2.0]) if fast else np.linspace(0.1, 3.0, 25)
    for i, p in enumerate((1, 2) if fast else (1, 2, 4, 16)):
        res = th.hessian_init(HessianInit(p_star=1, p=p, a=a_grid, alpha=1.0))
        _by_type(ax_a, a_grid, res["alpha_bbp"], res["transition"], figures.look(i + 2)["color"], rf"$p = {p}$")
        data.theory("b", "alpha_bbp", res["alpha_bbp"], a=a_grid, p=p, p_star=1, transition=res["transition"])
    ax_a.plot(a_grid, (1 + a_grid) / 2, ls="--", lw=0.8, color="k", label=r"$p \to \infty$: $(1 + a)/2$")
    ax_a.set(xlabel=r"loss parameter $a$", ylabel=r"$\alpha_{\rm BBP}$")
    alpha = np.linspace(0.3, 4, 40 if fast else 400)
    pts = np.array([2.5]) if fast else np.array([1.5, 2.5, 3.5])
    for i, a in enumerate((0.7, 1.5)):
        style = figures.look(i)
        t = th.hessian_init(HessianInit(p_star=1, p=2, a=a, alpha=alpha))
        alpha_c = float(t["alpha_bbp"][0])
        discontinuous = str(t["transition"][0]) == "discontinuous"
        figures.line(ax_o, alpha, t["overlap_sq"], gaps_at=(alpha_c,) if discontinuous else (), **style)
        if discontinuous:
            figures.jump(ax_o, alpha_c, *_jump_at(a, 2, alpha_c), color=style["color"])
        data.theory("c", "overlap_sq", t["overlap_sq"], alpha=alpha, a=a, p=2, p_star=1)
        recs = run(ENTRIES[3], HessianInit(p_star=1, p=2, a=a, alpha=pts), n, reps, options)
        x = [r["M"] / r["N"] for r in recs]
        figures.errorbars(ax_o, x, recs, "cluster_overlap_sq", **style)
        data.simulation("c", "cluster_overlap_sq", recs, n, alpha=x, a=a, p=2, p_star=1)
    ax_o.set(xlabel=r"$\alpha = M/N$ ($p^\star = 1$, $p = 2$)", ylabel=r"overlap$^2$ with the teacher")
    grey = "0.45"
    ax_p.plot([], [], "o", color=grey, label="continuous")
    ax_p.plot([], [], "o", color=grey, mfc="white", label="discontinuous (jump)")
    figures.simulation_key(ax_o)
    figures.panel_labels((ax_p, ax_a, ax_o))
    figures.legend_below(fig, ncols=5)
    caption = ("Hessian at initialisation of a quadratic teacher-student network, loss (yhat - y)^2/(a + y), "
               "teacher width p* = 1: (a) threshold alpha_BBP = M/N of the outlier vs student width p at a = 0.7 "
               "and 1.5, filled markers for a continuous and open markers for a discontinuous transition, dashed "
               "the p -> infinity limit (1 + a)/2, dotted the weak-recovery value 1/2; (b) alpha_BBP vs a for "
               "p = 1, 2, 4, 16; (c) squared overlap of the lowest eigenvectors with the teacher at p = 2: "
               "continuous at a = 0.7, a jump at a = 1.5 (open/filled circles; no vertical segment); markers: the "
               "simulated mean overlap over the lowest p p* eigenvectors, input dimension N = n, M = round(alpha N).")
    return figures.save(fig, out_dir, "hessian-init", data, caption)


def _by_type(ax, x, y, kind, color: str, label: str) -> None:
    """A line through (x, y) with filled markers where the transition is continuous, open where not."""
    ax.plot(x, y, color=color, lw=1.0, label=label)
    cont = np.asarray(kind) == "continuous"
    ax.plot(np.asarray(x)[cont], np.asarray(y)[cont], "o", color=color, ls="none", ms=2.8)
    ax.plot(np.asarray(x)[~cont], np.asarray(y)[~cont], "o", color=color, mfc="white", ls="none", ms=2.8,
            mew=0.7)


_PRIMARY = ("top_eigenvalue", "overlap_sq")
ENTRIES = (
    ModelEntry(SpikedWigner, th.spiked_wigner, sim.spiked_wigner, primary=_PRIMARY),
    ModelEntry(SpikedCovariance, th.spiked_covariance, sim.spiked_covariance, primary=_PRIMARY),
    ModelEntry(SpectralPR, th.spectral_pr, sim.spectral_pr, primary=("overlap_sq",)),
    ModelEntry(HessianInit, th.hessian_init, sim.hessian_init, primary=("min_eigenvalue", "overlap_sq")),
)

FAMILY = Family(
    name="bbp",
    models=ENTRIES,
    scenarios=SCENARIOS,
    figures=(Figure("bbp-transitions", "BBP: top eigenvalue and overlap vs the spike, spiked Wigner and spiked "
                    "covariance, with simulations", draw_transitions),
             Figure("spectral-pr", "Spectral phase retrieval: overlap vs alpha for four preprocessings, with "
                    "simulations", draw_spectral_pr),
             Figure("hessian-init", "Hessian at init: alpha_BBP vs width (a = 0.7, 1.5) and vs a, transition "
                    "type marked; overlap vs alpha with a marked jump, with simulations", draw_hessian)),
)
