"""BBP family registration: models, documented finite-size allowances, check scenarios and figures.

Allowances (absolute, added to the z band; None = not checkable at that point, reported as skip):
- Threshold-type metrics (threshold, alpha_bbp, transition) are never simulated, so never compared.
- Critical windows: within |s - s_c| < 3 N^{-1/3} s_c of a threshold (spiked models; s = theta, or
  ell - 1 against sqrt(gamma)) and within 30 % of alpha_c/alpha_bbp (spectral-pr, hessian-init) the
  finite-size crossover is not described by the limit: skip.
- Below threshold (spiked models) the top eigenvalue sits at the bulk edge plus Tracy-Widom fluctuations
  of order N^{-2/3} (GOE TW1 mean -1.2065, sd 1.268): allowance (1.2065 + 1.268) N^{-2/3} (wigner), and
  (1.2065 + 1.268) sigma_J + |mu_J - edge| for the covariance with Johnstone's (2001) centring mu_J and
  scale sigma_J. overlap_sq is O(1/N) there, amplified by the resolvent at the edge: allowance
  1/((1 - r)^2 N) with r = theta (wigner) or (ell - 1)/sqrt(gamma) (covariance; N -> p).
- Above threshold: 0 (corrections are O(1/N) against standard errors of order N^{-1/2}).
- spectral-pr: the identity preprocessing has no finite limit (skip); below alpha_c skip.
- hessian-init: below alpha_bbp skip (hard-edge convergence is only logarithmic in N). The outlier is
  p p*-fold degenerate: for p p* > 1 the single lowest pair is biased by O(N^{-1/2}) (extreme of p p*
  values), so min_eigenvalue/overlap_sq are skipped and cluster_eigenvalue/cluster_overlap_sq compared;
  for p p* = 1 the cluster metrics duplicate the lowest pair and are skipped.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from overparam.models import HessianInit, SpectralPR, SpikedCovariance, SpikedWigner
from overparam.simulate import bbp as sim
from overparam.theory import bbp as th

from . import figures
from .registry import Family, Figure, ModelEntry, Scenario
from .runner import RunOptions, run

TW_MEAN, TW_SD = -1.2065, 1.2680  # GOE Tracy-Widom (beta = 1)


def _window(s: float, s_c: float, dim: int) -> bool:
    return abs(s - s_c) < 3 * dim ** (-1 / 3) * s_c


def wigner_allowance(metric: str, model: SpikedWigner, sizes: dict, expected: float) -> float | None:
    theta, n = float(model.theta), sizes["N"]
    if _window(theta, 1.0, n):
        return None
    if theta > 1:
        return 0.0
    if metric == "top_eigenvalue":
        return (abs(TW_MEAN) + TW_SD) * n ** (-2 / 3)
    return 1 / ((1 - theta) ** 2 * n)


def covariance_allowance(metric: str, model: SpikedCovariance, sizes: dict, expected: float) -> float | None:
    n, p = sizes["n"], sizes["p"]
    l, g = float(model.ell) - 1, float(model.gamma)
    if _window(l, np.sqrt(g), p):
        return None
    if l > np.sqrt(g):
        return 0.0
    if metric == "top_eigenvalue":
        root = np.sqrt(n - 1) + np.sqrt(p)
        mu, sigma = root**2 / n, root * (1 / np.sqrt(n - 1) + 1 / np.sqrt(p)) ** (1 / 3) / n
        return abs(mu - expected) + (abs(TW_MEAN) + TW_SD) * sigma
    return 1 / ((1 - l / np.sqrt(g)) ** 2 * p)


def spectral_allowance(metric: str, model: SpectralPR, sizes: dict, expected: float) -> float | None:
    if model.preprocessing.kind == "identity":
        return None
    alpha_c = float(th.spectral_pr(model)["threshold"])
    return 0.0 if float(model.alpha) > 1.3 * alpha_c else None


@lru_cache(maxsize=64)
def _alpha_bbp(p_star: int, p: int, a: float) -> float:
    return float(th.hessian_init(HessianInit(p_star=p_star, p=p, a=a, alpha=1.0))["alpha_bbp"])


def hessian_allowance(metric: str, model: HessianInit, sizes: dict, expected: float) -> float | None:
    p_star, p = int(model.p_star), int(model.p)
    if float(model.alpha) < 1.3 * _alpha_bbp(p_star, p, float(model.a)):
        return None
    cluster = metric.startswith("cluster_")
    return 0.0 if cluster == (p * p_star > 1) else None


SCENARIOS = (
    Scenario(SpikedWigner(theta=2.0), 1000, 10),
    Scenario(SpikedWigner(theta=0.5), 1000, 10),
    Scenario(SpikedCovariance(ell=2.5, gamma=0.25), 2000, 10),
    Scenario(SpikedCovariance(ell=1.2, gamma=0.25), 2000, 10),
    Scenario(SpectralPR(alpha=4.0, preprocessing="luo-alghamdi-lu"), 2400, 8),
    Scenario(SpectralPR(alpha=4.0, preprocessing="mondelli-montanari"), 2400, 8),
    Scenario(SpectralPR(alpha=4.0, preprocessing="truncated:9"), 2400, 8),
    Scenario(HessianInit(p_star=1, p=1, a=0.7, alpha=3.0), 600, 8),
    Scenario(HessianInit(p_star=1, p=2, a=0.7, alpha=3.0), 400, 8),
    # --full
    Scenario(SpikedWigner(theta=1.5), 2000, 20, full=True),
    Scenario(SpikedCovariance(ell=3.0, gamma=1.0), 1000, 20, full=True),
    Scenario(SpectralPR(alpha=1.5, preprocessing="luo-alghamdi-lu"), 2250, 10, full=True),
    Scenario(SpectralPR(alpha=1.5, preprocessing="mondelli-montanari"), 2250, 10, full=True),
    Scenario(SpectralPR(alpha=4.0, preprocessing="identity"), 2400, 4, full=True),
    Scenario(HessianInit(p_star=1, p=2, a=1.5, alpha=2.0), 500, 10, full=True),
    Scenario(HessianInit(p_star=2, p=3, a=1.0, alpha=4.0), 400, 6, full=True),
)


# ------------------------------------------------------------------------------------------ figures
def _sim_points(entry: ModelEntry, model, n: int, reps: int, options: RunOptions, metrics) -> dict:
    recs = run(entry, model, n, reps, options)
    return {m: (np.array([r[m] for r in recs]), np.array([r[m + "_se"] for r in recs])) for m in metrics}


def draw_transitions(out_dir, options: RunOptions = RunOptions(), fast: bool = False) -> Path:
    """Top eigenvalue and overlap_sq vs signal strength: spiked Wigner, spiked covariance (gamma = 1/4)
    and spectral PR (luo-alghamdi-lu, mondelli-montanari, truncated:9), theory lines and simulations."""
    n_w, n_c, n_pr, reps = (60, 80, 240, 3) if fast else (1000, 2000, 1500, 8)
    fig, ax = figures.new_figure(3, 2, width=3.2, height=2.5)
    rows: list[dict] = []
    metrics = ("top_eigenvalue", "overlap_sq")
    # spiked Wigner
    theta = np.linspace(0, 4, 200)
    t = th.spiked_wigner(SpikedWigner(theta=theta))
    pts = np.array([0.5, 1.5, 2.0, 3.0])
    s = _sim_points(ENTRIES[0], SpikedWigner(theta=pts), n_w, reps, options, metrics)
    for row, m in enumerate(metrics):
        ax[row * 3].plot(theta, t[m], label="theory")
        figures.errorbars(ax[row * 3], pts, *s[m], label=f"sim N={n_w}")
        rows += figures.series_rows("wigner theory", theta=theta, **{m: t[m]})
        rows += figures.series_rows(f"wigner sim N={n_w}", theta=pts, **{m: s[m][0], m + "_se": s[m][1]})
    # spiked covariance
    ell = np.linspace(1, 5, 200)
    t = th.spiked_covariance(SpikedCovariance(ell=ell, gamma=0.25))
    pts = np.array([1.2, 2.0, 3.0, 4.0])
    s = _sim_points(ENTRIES[1], SpikedCovariance(ell=pts, gamma=0.25), n_c, reps, options, metrics)
    for row, m in enumerate(metrics):
        ax[row * 3 + 1].plot(ell, t[m], label="theory (gamma = 1/4)")
        figures.errorbars(ax[row * 3 + 1], pts, *s[m], label=f"sim n={n_c}")
        rows += figures.series_rows("covariance theory gamma=0.25", ell=ell, **{m: t[m]})
        rows += figures.series_rows(f"covariance sim n={n_c}", ell=pts, **{m: s[m][0], m + "_se": s[m][1]})
    # spectral PR
    alpha = np.linspace(0.1, 6, 300)
    pts = np.array([2.5]) if fast else np.array([1.0, 2.5, 5.0])
    for prep in ("luo-alghamdi-lu", "mondelli-montanari", "truncated:9"):
        t = th.spectral_pr(SpectralPR(alpha=alpha, preprocessing=prep))
        s = _sim_points(ENTRIES[2], SpectralPR(alpha=pts, preprocessing=prep), n_pr, reps, options, metrics)
        for row, m in enumerate(metrics):
            line, = ax[row * 3 + 2].plot(alpha, t[m], label=prep)
            figures.errorbars(ax[row * 3 + 2], pts, *s[m], color=line.get_color())
            rows += figures.series_rows(f"spectral-pr theory {prep}", alpha=alpha, **{m: t[m]})
            rows += figures.series_rows(f"spectral-pr sim {prep} n={n_pr}", alpha=pts,
                                        **{m: s[m][0], m + "_se": s[m][1]})
    for j, (x, title) in enumerate([("theta", "spiked Wigner"), ("ell (population spike)", "spiked covariance"),
                                    ("alpha = n/p", f"spectral PR (sim n={n_pr})")]):
        ax[j].set_title(title)
        ax[j].set_ylabel("top eigenvalue")
        ax[3 + j].set_ylabel("overlap^2 with planted direction")
        ax[3 + j].set_xlabel(x)
        ax[j].legend()
    ax[2].set_ylim(0, 8)
    return figures.save(fig, out_dir, "bbp-transitions", rows)


def draw_hessian(out_dir, options: RunOptions = RunOptions(), fast: bool = False) -> Path:
    """alpha_bbp vs student width (p* = 1, a = 0.7 and 1.5) with the p -> inf limit (1 + a)/2 and the
    weak-recovery value 1/2; overlap_sq vs alpha at p = 2 for a = 0.7 (continuous) and a = 1.5
    (discontinuous), with finite-N simulations of the lowest Hessian eigenvector."""
    n, reps = (40, 2) if fast else (500, 6)
    fig, ax = figures.new_figure(2, 1, width=3.6, height=2.7)
    rows: list[dict] = []
    widths = np.array([1, 2, 4]) if fast else np.array([1, 2, 3, 4, 6, 8, 16, 32, 64])
    for a in (0.7, 1.5):
        tab = th.alpha_bbp_table(1, widths, a)
        line, = ax[0].plot(widths, tab["alpha_bbp"], "o-", ms=3, label=f"a = {a}")
        ax[0].axhline((1 + a) / 2, ls="--", lw=0.8, color=line.get_color(), label=f"p -> inf: (1 + a)/2 = {(1 + a) / 2:g}")
        rows += figures.series_rows(f"alpha_bbp a={a}", p=widths, alpha_bbp=tab["alpha_bbp"],
                                    transition=tab["transition"])
    ax[0].axhline(0.5, ls=":", color="k", lw=0.8, label="weak recovery 1/2")
    ax[0].set_xscale("log")
    ax[0].set_xticks(widths, [str(w) for w in widths], minor=False)
    ax[0].minorticks_off()
    ax[0].set_xlabel("student width p (p* = 1)")
    ax[0].set_ylabel("alpha_bbp = M/N")
    ax[0].set_ylim(0.0, 1.45)
    ax[0].legend(loc="lower right", fontsize=6)
    alpha = np.linspace(0.3, 4, 40 if fast else 200)
    pts = np.array([2.5]) if fast else np.array([1.5, 2.5, 3.5])
    for a, kind in ((0.7, "continuous"), (1.5, "discontinuous")):
        t = th.hessian_init(HessianInit(p_star=1, p=2, a=a, alpha=alpha))
        s = _sim_points(ENTRIES[3], HessianInit(p_star=1, p=2, a=a, alpha=pts), n, reps, options,
                        ("cluster_overlap_sq",))
        line, = ax[1].plot(alpha, t["overlap_sq"], label=f"a = {a} ({kind})")
        figures.errorbars(ax[1], pts, *s["cluster_overlap_sq"], color=line.get_color())
        rows += figures.series_rows(f"overlap theory a={a}", alpha=alpha, overlap_sq=t["overlap_sq"])
        rows += figures.series_rows(f"overlap sim a={a} N={n}", alpha=pts,
                                    cluster_overlap_sq=s["cluster_overlap_sq"][0],
                                    cluster_overlap_sq_se=s["cluster_overlap_sq"][1])
    ax[1].set_xlabel("alpha = M/N (p* = 1, p = 2)")
    ax[1].set_ylabel(f"overlap^2 (sim: N={n}, mean over 2 lowest)")
    ax[1].legend()
    return figures.save(fig, out_dir, "hessian-init", rows)


ENTRIES = (
    ModelEntry(SpikedWigner, th.spiked_wigner, sim.spiked_wigner, allowance=wigner_allowance),
    ModelEntry(SpikedCovariance, th.spiked_covariance, sim.spiked_covariance, allowance=covariance_allowance),
    ModelEntry(SpectralPR, th.spectral_pr, sim.spectral_pr, allowance=spectral_allowance),
    ModelEntry(HessianInit, th.hessian_init, sim.hessian_init, allowance=hessian_allowance),
)

FAMILY = Family(
    name="bbp",
    models=ENTRIES,
    scenarios=SCENARIOS,
    figures=(Figure("bbp-transitions", draw_transitions.__doc__, draw_transitions),
             Figure("hessian-init", draw_hessian.__doc__, draw_hessian)),
)
