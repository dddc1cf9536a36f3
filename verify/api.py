"""The top-level Python API: the command line's verbs as functions (``overparam.curve`` etc.).

    import overparam
    overparam.curve("ridge", gamma=np.geomspace(0.1, 10, 200), lam=[0, 0.1])   # theory on a grid
    overparam.simulate("ridge", gamma=2.0, lam=[0, 0.1], n=400, reps=50)       # means and standard errors
    overparam.check("ridge")                                                   # the verdict table
    overparam.figure("ridge-double-descent", out="figs")                       # PNG, PDF, CSV, caption

Parameters are given by their command-line names. A value is a number, a sequence or array of numbers,
or a string in the command line's VALUES syntax (``"0.1:10:400"``, ``"0,0.1"``); categorical parameters
take their spelling (``spectrum="power-law:1,400"``) or a list of spellings. Several gridded parameters
give their Cartesian product, the first varying slowest, exactly as on the command line; defaults fill in
the rest. Tables (one row per grid point, or per check row) are pandas DataFrames when pandas is
installed and otherwise dicts of numpy arrays (column name -> array).

``simulate``, ``check`` and ``figure`` use the results store as the command line does (``store=None``:
the default store, ``$OVERPARAM_STORE`` or ``~/.cache/overparam/results.sqlite``; a path; or ``False``
for a throw-away store), so a repeated call is served from the store.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from overparam.models import Model

from . import registry, runner

Table = Any  # pandas.DataFrame, or dict[str, np.ndarray] without pandas


def curve(model: str, **params: Any) -> Table:
    """The n, p -> infinity theory of ``model`` on the grid of ``params`` (one row per grid point)."""
    from .cli import curve_records

    entry = registry.model_entry(model)
    return _table([rec for spec in _grid(entry.model, params) for rec in curve_records(spec, entry.theory)])


def simulate(model: str, n: int, reps: int, seed: int = 0, jobs: int = 1, store: Any = None,
             **params: Any) -> Table:
    """Finite-size simulation of ``model`` at size ``n`` (the CLI's --n, or --d for random-features) with
    ``reps`` replicates per grid point: parameters, sizes, and each metric's mean M and standard error M_se."""
    entry = registry.model_entry(model)
    options = _options(seed, jobs, store)
    return _table([rec for spec in _grid(entry.model, params) for rec in runner.run(entry, spec, n, reps, options)])


def check(*models: str, full: bool = False, seed: int = 0, jobs: int = 1, store: Any = None) -> Table:
    """``overparam check [MODEL]...``: one row per compared metric with its verdict and the point's parameters
    as columns (all families when no model is named). ``(table["verdict"] != "FAIL").all()`` is the
    command's exit status 0."""
    from . import check as check_mod

    chosen = [registry.family_of(m) for m in models] if models else list(registry.families().values())
    chosen = list({f.name: f for f in chosen}.values())
    rows = check_mod.run_check(chosen, full, _options(seed, jobs, store))[0]
    return _table([_flat(dataclasses.asdict(r)) for r in rows])


def figure(name: str, out: str | Path = ".", width: str | None = None, fast: bool = False, seed: int = 0,
           jobs: int = 1, store: Any = None) -> Path | list[Path]:
    """Write figure ``name`` (``overparam list`` shows them; ``"all"`` for every figure) into ``out`` as
    NAME.png, NAME.pdf, NAME.csv and NAME.txt; return the PNG path (a list for ``"all"``). ``width``:
    "single" or "double" column (None: the figure's own); ``fast``: tiny sizes, for a quick look."""
    paths = draw_figures(name, out, width, fast, _options(seed, jobs, store))
    return paths if name == "all" else paths[0]


def draw_figures(name: str, out: str | Path, width: str | None, fast: bool, options: runner.RunOptions) -> list[Path]:
    """Draw figure ``name`` (or ``"all"``) into ``out``; return the PNG paths (shared with ``overparam figure``)."""
    from overparam.errors import ParameterError

    figs = registry.figures()
    if name != "all" and name not in figs:
        raise ParameterError("NAME", name, "all, or one of " + ", ".join(figs))
    if width not in (None, "single", "double"):
        raise ParameterError("width", width, "single or double")
    chosen = list(figs.values()) if name == "all" else [figs[name]]
    return [f.draw(Path(out), options, fast=fast, width=width) for f in chosen]


# ------------------------------------------------------------------------------------------ helpers
def _grid(model_cls: type[Model], params: dict[str, Any]) -> list[Model]:
    """Keyword values -> the command line's grid of specifications (cli.grid_models)."""
    from overparam.errors import ParameterError

    from .cli import grid_models

    specs = model_cls.params()
    unknown = set(params) - set(specs)
    if unknown:
        raise ParameterError("parameter", ", ".join(sorted(unknown)), f"one of {', '.join(specs)} for {model_cls.NAME}")
    values = {k: _values(k, spec, params.get(k, str(spec.default))) for k, spec in specs.items()}
    return grid_models(model_cls, values)


def _values(name: str, spec: Any, value: Any) -> list:
    if isinstance(value, str):
        return spec.parse(name, value)
    if spec.categorical:
        return [v for item in np.atleast_1d(np.asarray(value, dtype=object)) for v in spec.parse(name, str(item))]
    return list(np.atleast_1d(np.asarray(value, dtype=float)).ravel())


def _flat(record: dict) -> dict:
    """Dict-valued fields (a check row's point parameters) expanded into columns of their own."""
    out: dict = {}
    for k, v in record.items():
        out.update(v if isinstance(v, dict) else {k: v})
    return out


def _options(seed: int, jobs: int, store: Any) -> runner.RunOptions:
    if store is None:
        from . import store as store_mod

        store = store_mod.default_path()
    return runner.RunOptions(seed=seed, jobs=jobs, store=store or None)


def _table(records: Sequence[dict]) -> Table:
    """Records -> a pandas DataFrame (when pandas is installed) or a dict of numpy arrays."""
    try:
        import pandas as pd
    except ImportError:
        keys: list[str] = []
        for r in records:
            keys += [k for k in r if k not in keys]
        return {k: np.array([r.get(k) for r in records]) for k in keys}
    return pd.DataFrame.from_records(list(records))


__all__ = ["curve", "simulate", "check", "figure", "draw_figures"]
