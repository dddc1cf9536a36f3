"""Shared figure plumbing: one style for every family and a single way to write a figure.

A figure function (registered in a family module) builds a matplotlib figure with :func:`new_figure`,
plots theory as lines and simulations with :func:`errorbars`, and calls :func:`save`, which writes
``NAME.png`` (300 dpi), ``NAME.pdf`` and ``NAME.csv`` - the plotted data, one row per plotted value
with a ``series`` column - into the output folder.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

STYLE = {
    "font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "legend.fontsize": 7.5,
    "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.grid": True, "grid.alpha": 0.25,
    "lines.linewidth": 1.4, "errorbar.capsize": 2, "savefig.bbox": "tight", "figure.dpi": 100,
    "axes.spines.top": False, "axes.spines.right": False,
}


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 3.4, height: float = 2.6):
    """A figure of ncols x nrows panels, each width x height inches, in the project style."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    return fig, axes.ravel()


def errorbars(ax, x, mean, se, **kw) -> None:
    """Simulation means with +-1 standard error bars, drawn as markers."""
    kw = {"fmt": "o", "ms": 3, "elinewidth": 0.9, **kw}
    with plt.rc_context(STYLE):
        ax.errorbar(np.asarray(x), np.asarray(mean), yerr=np.asarray(se), **kw)


def save(fig, out_dir: str | Path, name: str, rows: Iterable[dict[str, Any]]) -> Path:
    """Write NAME.png, NAME.pdf and NAME.csv into out_dir; return the PNG path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with plt.rc_context(STYLE):
        fig.tight_layout()
        fig.savefig(out / f"{name}.png", dpi=300)
        fig.savefig(out / f"{name}.pdf")
    plt.close(fig)
    rows = list(rows)
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    with open(out / f"{name}.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    return out / f"{name}.png"


def series_rows(series: str, **columns: Any) -> list[dict[str, Any]]:
    """CSV rows of one plotted series: ``series_rows("theory lam=0", gamma=x, excess_risk=y)``."""
    cols = {k: np.atleast_1d(np.asarray(v)) for k, v in columns.items()}
    n = max(len(v) for v in cols.values())
    return [{"series": series, **{k: (v[i] if len(v) == n else v[0]).item() for k, v in cols.items()}}
            for i in range(n)]
