"""Figure helpers shared by every family: one journal style, tidy data, and one way to write a figure.

A figure is a function ``draw(out_dir, options=RunOptions(), fast=False, width=None) -> Path`` registered
as ``registry.Figure(name, doc, draw)`` in its family module. It is written with these helpers::

    @styled
    def draw_x(out_dir, options=RunOptions(), fast=False, width=None):
        fig, (ax,) = new_figure(width)                    # "single" (3.4 in) or "double" (7 in) column
        data = Table()
        x = np.linspace(0.1, 4, 400)
        y = theory(...)["risk"]
        line(ax, x, y, gaps_at=(1.0,), **look(0), label=r"$\\lambda = 0$")   # inf -> gap, never a spike
        data.theory("a", "risk", y, gamma=x, lam=0.0)
        recs = run(ENTRY, model, n, reps, options)         # stored: a rerun is instant
        errorbars(ax, [r["p"] / r["n"] for r in recs], recs, "risk", **look(0))
        data.simulation("a", "risk", recs, n, gamma=[r["p"] / r["n"] for r in recs])
        ax.set(xlabel=r"$\\gamma = p/n$", ylabel="risk")      # mathtext, no title inside the axes
        legend_below(fig, ax)                               # legends never cover data
        return save(fig, out_dir, "name", data, "One-sentence caption.")

Helpers: :func:`new_figure` (single/double column, panels), :func:`look` (colour + marker of series i),
:func:`line`, :func:`refine` (grid points approaching a singularity), :func:`errorbars`,
:func:`simulation_key`, :func:`jump`, :func:`heatmap` + :func:`boundary`, :func:`panel_labels`,
:func:`legend_below`, :class:`Table` (tidy data) and :func:`save`.

Style (:data:`STYLE`): 8-9 pt text with mathtext symbols, the Okabe-Ito colour-blind-safe palette with a
distinct marker per series (:func:`look`), PDF with embedded TrueType fonts (``pdf.fonttype`` 42), PNG at
300 dpi. Figures are built with the object-oriented API (``matplotlib.figure.Figure``, no pyplot state);
the style is applied by ``matplotlib.rc_context`` around the drawing (:func:`styled`), never globally, and
matplotlib's backend is never changed. matplotlib is imported only when a figure is drawn.

Singularities are drawn as gaps (:func:`line` turns +-inf into NaN and breaks the line at ``gaps_at``);
a discontinuous transition is two branches with the jump marked by :func:`jump` (open and filled end
points joined by a thin dotted line), never a solid vertical segment.

Output of :func:`save`: ``NAME.png`` (300 dpi), ``NAME.pdf`` (vector), ``NAME.csv`` and ``NAME.txt``.
The CSV is tidy, one row per plotted value, columns ``figure, panel, kind, metric, value, se, n, reps,
seed`` then one column per parameter: ``kind`` is ``theory`` or ``simulation``; for simulations ``value``
is the mean over ``reps`` replicates, ``se`` its standard error, ``n`` the simulation size (the CLI's
``--n``, or ``--d`` for random-features) and ``size_<k>`` the realised dimensions. ``NAME.txt`` holds the
caption with the simulation sizes, replicate counts and seeds (also written into the PNG/PDF metadata).
"""
from __future__ import annotations

import csv
import functools
import math
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

#: Column widths of a journal page, inches.
WIDTHS = {"single": 3.4, "double": 7.0}
#: Okabe & Ito (2008) colour-blind-safe palette (black last).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
#: Sequential colour map for heat maps (perceptually uniform and colour-blind safe).
CMAP = "cividis"

STYLE = {
    "font.size": 8, "axes.labelsize": 8, "legend.fontsize": 7, "xtick.labelsize": 7, "ytick.labelsize": 7,
    "axes.linewidth": 0.6, "lines.linewidth": 1.2, "lines.markersize": 3.5, "errorbar.capsize": 1.5,
    "xtick.major.width": 0.6, "ytick.major.width": 0.6, "xtick.minor.width": 0.4, "ytick.minor.width": 0.4,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": False,
    "legend.frameon": False, "legend.handlelength": 1.8, "legend.columnspacing": 1.2,
    "mathtext.fontset": "dejavusans", "pdf.fonttype": 42, "ps.fonttype": 42, "savefig.dpi": 300,
    "figure.dpi": 100, "figure.constrained_layout.use": True,
}

Draw = Callable[..., Path]


def styled(draw: Draw) -> Draw:
    """Decorator: run a figure function inside ``rc_context(STYLE)`` (the global rcParams stay untouched)."""
    @functools.wraps(draw)
    def wrapper(*args: Any, **kwargs: Any) -> Path:
        import matplotlib

        with matplotlib.rc_context(STYLE):
            return draw(*args, **kwargs)
    return wrapper


def look(i: int) -> dict[str, Any]:
    """Colour and marker of series ``i`` (``ax.plot(x, y, **look(i))`` or ``errorbars(..., **look(i))``)."""
    return {"color": PALETTE[i % len(PALETTE)], "marker": MARKERS[i % len(MARKERS)]}


def new_figure(width: str | None = None, panels: int = 1, default: str = "single", aspect: float = 0.75,
               max_cols: int = 3) -> tuple[Any, list[Any]]:
    """A ``matplotlib.figure.Figure`` with ``panels`` axes (constrained layout), ``width`` "single"
    (3.4 in) or "double" (7 in); None takes the figure's ``default``. At single width panels are stacked,
    at double width they sit side by side (up to ``max_cols`` per row). Panel height = aspect x its width."""
    from matplotlib.figure import Figure

    from overparam.errors import ParameterError

    width = width or default
    if width not in WIDTHS:
        raise ParameterError("width", width, "single or double")
    cols = 1 if width == "single" else min(panels, max_cols)
    rows = math.ceil(panels / cols)
    inches = WIDTHS[width]
    fig = Figure(figsize=(inches, rows * aspect * inches / cols + 0.45))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[panels:]:
        ax.remove()
    return fig, list(axes[:panels])


def panel_labels(axes: Sequence[Any]) -> None:
    """(a), (b), ... in the top-left corner of each panel, outside the data area."""
    for k, ax in enumerate(axes):
        ax.annotate(f"({chr(97 + k)})", xy=(0, 1), xycoords="axes fraction", xytext=(-2, 4),
                    textcoords="offset points", ha="right", va="bottom", fontweight="bold")


def with_gaps(x, y, gaps_at: Iterable[float] = ()) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) with +-inf turned into NaN and a NaN inserted at each x in ``gaps_at`` (a break in the line)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    y = np.where(np.isfinite(y), y, np.nan)
    for g in gaps_at:
        k = int(np.searchsorted(x, g))
        x, y = np.insert(x, k, g), np.insert(y, k, np.nan)
    return x, y


def refine(x, at: Iterable[float], decades: int = 8) -> np.ndarray:
    """The sorted grid x plus the points a (1 +- 10^-k), k = 1..decades, for each a in ``at`` inside its
    range, so that a curve visibly runs off to its singularity at a (used with ``line(..., gaps_at=at)``)."""
    x = np.asarray(x, dtype=float)
    extra = [a * (1 + s * 10.0 ** -k) for a in at for s in (-1, 1) for k in range(1, decades + 1)]
    extra = [e for e in extra if x.min() < e < x.max()]
    return np.unique(np.concatenate([x, extra]))


def line(ax, x, y, gaps_at: Iterable[float] = (), **kw) -> Any:
    """A theory line (no markers) with gaps at singularities (:func:`with_gaps`)."""
    kw.pop("marker", None)
    return ax.plot(*with_gaps(x, y, gaps_at), **kw)[0]


def errorbars(ax, x, mean, se=None, **kw) -> Any:
    """Simulation means +- 1 standard error as markers. ``mean`` may be runner records and ``se`` the
    metric name: ``errorbars(ax, x, recs, "risk")``."""
    if se is None or isinstance(se, str):
        recs, metric = mean, se
        mean, se = [r[metric] for r in recs], [r[metric + "_se"] for r in recs]
    kw = {"ls": "none", "marker": "o", "elinewidth": 0.7, "markeredgewidth": 0.7, **kw}
    return ax.errorbar(np.asarray(x, float), np.asarray(mean, float), yerr=np.asarray(se, float), **kw)


def simulation_key(ax, label: str = r"simulation, $\pm 1$ s.e.") -> None:
    """A grey marker-with-error-bar legend entry that explains the simulation markers."""
    ax.errorbar([], [], yerr=[], ls="none", marker="o", color="0.45", elinewidth=0.7, label=label)


def jump(ax, at: float, below: float, above: float, color: str) -> None:
    """Mark a discontinuous transition at x = ``at`` from ``below`` to ``above``: an open circle on the
    branch that ends, a filled one where the new branch starts, a thin dotted line between them."""
    ax.plot([at, at], [below, above], ls=":", lw=0.8, color=color)
    ax.plot([at], [below], ls="none", marker="o", mfc="white", mec=color, ms=4, zorder=3)
    ax.plot([at], [above], ls="none", marker="o", color=color, ms=4, zorder=3)


def heatmap(ax, x, y, z, label: str, vmin: float = 0.0, vmax: float = 1.0) -> Any:
    """Cell values z[len(y), len(x)] at centres (x, y) as a heat map with a colour bar labelled ``label``;
    the axes limits are fixed to the outer cell edges (lines drawn later do not widen them)."""
    xe, ye = _edges(x), _edges(y)
    mesh = ax.pcolormesh(xe, ye, np.asarray(z, float), cmap=CMAP, vmin=vmin, vmax=vmax, shading="flat",
                         rasterized=True)
    ax.set(xlim=(xe[0], xe[-1]), ylim=(ye[0], ye[-1]))
    ax.figure.colorbar(mesh, ax=ax, label=label, pad=0.02, fraction=0.06)
    return mesh


def boundary(ax, x, y, label: str) -> None:
    """A theory curve over a heat map: black with a white halo, visible on any cell colour."""
    ax.plot(x, y, color="white", lw=2.2)
    ax.plot(x, y, color="k", lw=1.0, label=label)


def _edges(c) -> np.ndarray:
    c = np.asarray(c, float)
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[2 * c[0] - mid[0]], mid, [2 * c[-1] - mid[-1]]])


def legend_below(fig, ax=None, ncols: int | None = None, **kw) -> Any:
    """One legend for the figure, outside the axes below them (so it never covers data). Handles come
    from ``ax`` (default: every panel, duplicates removed)."""
    axes = [ax] if ax is not None else fig.axes
    seen: dict[str, Any] = {}
    for a in axes:
        for h, lab in zip(*a.get_legend_handles_labels()):
            seen.setdefault(lab, h)
    widths = np.cumsum(sorted((_text_width(lab) for lab in seen), reverse=True))
    fit = max(1, int(np.sum(widths <= fig.get_figwidth())))  # columns that surely fit the figure's width
    ncols = min(ncols or len(seen), fit)
    return fig.legend(list(seen.values()), list(seen), loc="outside lower center", ncols=ncols, **kw)


def _text_width(label: str) -> float:
    """Rough width (inches) of a legend entry at 7 pt: handle plus ~0.055 in per rendered character."""
    import re

    plain = re.sub(r"\\[a-zA-Z]+", "x", label).translate(str.maketrans("", "", "${}^_\\"))
    return 0.45 + 0.055 * len(plain)


class Table:
    """The plotted data, tidy: one row per plotted value (module docstring for the columns)."""

    HEAD = ("figure", "panel", "kind", "metric", "value", "se", "n", "reps", "seed")

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def theory(self, panel: str, metric: str, value, **params: Any) -> None:
        """Theory values (an array) with their parameters (arrays broadcast against it, or scalars)."""
        self._add(panel, "theory", metric, value, {}, params)

    def simulation(self, panel: str, metric: str, records: Sequence[dict], n: int, **params: Any) -> None:
        """Runner records (mean ``metric``, ``metric_se``, reps, seed and the realised sizes) at size n;
        ``params`` are the plotted parameters (e.g. the realised ratio), broadcast over the records."""
        dims = [k for k in records[0] if k in {"n", "p", "d", "N", "M"} and k not in params] if records else []
        fixed = {"se": [r[metric + "_se"] for r in records], "n": n, "reps": [r["reps"] for r in records],
                 "seed": [r["seed"] for r in records], **{f"size_{k}": [r[k] for r in records] for k in dims}}
        self._add(panel, "simulation", metric, [r[metric] for r in records], fixed, params)

    def add(self, panel: str, kind: str, metric: str, value, **columns: Any) -> None:
        """Anything else (e.g. a heat-map cell): ``se``, ``n``, ``reps``, ``seed`` and parameters by name."""
        fixed = {k: columns.pop(k) for k in ("se", "n", "reps", "seed") if k in columns}
        self._add(panel, kind, metric, value, fixed, columns)

    def _add(self, panel: str, kind: str, metric: str, value, fixed: dict, params: dict) -> None:
        cols = {"value": value, **fixed, **params}
        arrays = {k: _column(v) for k, v in cols.items()}
        size = int(np.prod(np.broadcast_shapes(*(a.shape for a in arrays.values()))))
        flat = {k: np.broadcast_to(a, (size,)) if a.ndim else np.full(size, a.item(), dtype=a.dtype)
                for k, a in arrays.items()}
        for i in range(size):
            self.rows.append({"panel": panel, "kind": kind, "metric": metric,
                              **{k: _cell(v[i]) for k, v in flat.items()}})

    def sizes_text(self) -> str:
        """'Simulations: n = ..., reps = ..., seed = ...' over the simulation rows ('' if there are none)."""
        sim = [r for r in self.rows if r["kind"] == "simulation"]
        if not sim:
            return ""
        parts = [f"{k} = {', '.join(_distinct(r.get(k) for r in sim))}" for k in ("n", "reps", "seed")]
        return "Simulations: " + "; ".join(parts) + " (error bars: +-1 standard error of the mean)."

    def write(self, path: Path, figure: str) -> None:
        keys = list(self.HEAD)
        for r in self.rows:
            keys += [k for k in r if k not in keys]
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=keys, restval="")
            writer.writeheader()
            writer.writerows({"figure": figure, **r} for r in self.rows)


def _column(v: Any) -> np.ndarray:
    a = np.asarray(v)
    return a.astype(object) if a.dtype.kind in "OUS" else a.astype(float)


def _cell(v: Any) -> Any:
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return int(f) if f.is_integer() and abs(f) < 2**53 else f
    return v.item() if isinstance(v, np.generic) else v


def _distinct(values: Iterable[Any]) -> list[str]:
    out: list[str] = []
    for v in values:
        if v not in ("", None) and str(v) not in out:
            out.append(str(v))
    return out


def save(fig, out_dir: str | Path, name: str, data: Table, caption: str) -> Path:
    """Write NAME.png (300 dpi), NAME.pdf, NAME.csv (tidy) and NAME.txt (caption + simulation sizes, also
    in the PNG/PDF metadata) into out_dir; return the PNG path."""
    from overparam import __version__

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text = " ".join(s for s in (caption.strip(), data.sizes_text()) if s)
    software = f"overparam {__version__} (overparam figure {name})"
    fig.savefig(out / f"{name}.png", dpi=300, metadata={"Title": name, "Description": text, "Software": software})
    fig.savefig(out / f"{name}.pdf", metadata={"Title": name, "Subject": text, "Creator": software})
    data.write(out / f"{name}.csv", name)
    (out / f"{name}.txt").write_text(f"{name}: {text}\n")
    return out / f"{name}.png"
