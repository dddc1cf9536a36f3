"""The family registry: the only place that knows every family.

Each family module ``verify/<family>.py`` defines ``FAMILY = Family(...)`` once: its models (with the
theory and simulation entry points), its default check scenarios and its figures. The CLI, ``check`` and
the figures iterate over this registry, so adding a family touches no CLI code (docs/ARCHITECTURE.md).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Callable

import numpy as np

from overparam.errors import ParameterError
from overparam.models import Model

FAMILY_MODULES = ("ridge", "random_features", "max_margin", "lasso", "bbp", "gradient_flow", "ntk", "logistic")

Metrics = dict[str, Any]


@dataclass(frozen=True)
class Lazy:
    """The function ``"package.module:function"``, imported on its first call; pickles by name (worker
    processes). Family modules reach theory and simulators through :func:`lazy_functions`, so
    ``overparam list`` and ``curve`` never import numba or a simulator they do not run."""

    target: str

    def resolve(self) -> Callable[..., Any]:
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)


class lazy_functions:  # noqa: N801 - used like a module: ``th = lazy_functions("overparam.theory.ridge")``
    """Stand-in for a module whose functions are imported on first call: ``th.theory`` is
    ``Lazy("overparam.theory.ridge:theory")``. For functions only (constants: import the module)."""

    def __init__(self, module: str):
        self._module = module

    def __getattr__(self, name: str) -> Lazy:
        if name.startswith("__"):
            raise AttributeError(name)
        return Lazy(f"{self._module}:{name}")


#: Finite-size rates r(n) accepted by ``ModelEntry.rate``: the metric's mean is a + b r(n) + o(r(n)).
RATES = ("1/n", "1/sqrt(n)", "n^-2/3", "1/log(n)")


def _check_rates(rate: str | dict[str, str] | None) -> None:
    for r in (rate.values() if isinstance(rate, dict) else (rate,) if rate else ()):
        if r not in RATES:
            raise ParameterError("rate", r, "one of " + ", ".join(RATES))


@dataclass(frozen=True)
class ModelEntry:
    """One model of a family.

    theory(model) -> {metric: array}: the n, p -> infinity limit, vectorised over array parameters.
    replicate(model, sizes, rng) -> {metric: value}: ONE finite-size replicate; parameters named in
    ``shared`` arrive as 1-D arrays served by the same random draw (e.g. a lam grid), the rest as scalars.
    reference(model, sizes) -> {metric: array} (optional): EXACT finite-size means, compared by ``check``
    with single-size scenarios (NaN where no exact value exists at a point: such a row then fails unless
    the scenario declares a skip for it).
    rate: the documented finite-size rate r(n) of every metric (one of RATES), or {metric: rate};
    multi-size scenarios extrapolate a + b r(n) to n -> infinity.
    nan_ok: metrics a replicate may return as NaN by the model's documented definition (counted and shown
    by ``check``); a NaN replicate of any other metric fails the row.
    primary: the primary metrics, whose 5 % error the default ``check`` must flag.
    """

    model: type[Model]
    theory: Callable[[Model], Metrics]
    replicate: Callable[[Model, dict, np.random.Generator], Metrics] | None = None
    shared: tuple[str, ...] = ()
    reference: Callable[[Model, dict], Metrics] | None = None
    rate: str | dict[str, str] = "1/n"
    nan_ok: tuple[str, ...] = ()
    primary: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_rates(self.rate)

    @property
    def name(self) -> str:
        return self.model.NAME

    def rate_of(self, metric: str) -> str:
        """The finite-size rate of ``metric`` (default 1/n for metrics not named in a rate dict)."""
        return self.rate.get(metric, "1/n") if isinstance(self.rate, dict) else self.rate


@dataclass(frozen=True)
class Scenario:
    """One theory-vs-simulation comparison of ``check`` at a single point (``shared`` parameters may be
    1-D arrays) with ``reps`` replicates per size.

    n: an int (the model's --n or --d): one size, compared with the entry's exact finite-size
    ``reference``; or a tuple of >= 3 increasing sizes: each metric is extrapolated to n -> infinity with
    the entry's rate (weighted least squares a + b r(n)) and the intercept compared with ``theory``.
    skip: (metric, reason) pairs, the only way a row is skipped (fixed with the scenario).
    full: run only with ``check --full``.
    full_reps: replicates per size under ``check --full`` (default ``reps``): the full run's extra power at
    a point the quick set already checks (replicate k is the same in both runs, so a store serves the first
    ``reps``).
    rate: overrides the entry's rate for this scenario (a rate or {metric: rate}), where the documented
    finite-size rate depends on the regime (e.g. a top eigenvalue at the bulk edge: n^-2/3).
    """

    model: Model
    n: int | tuple[int, ...]
    reps: int
    full: bool = False
    skip: tuple[tuple[str, str], ...] = ()
    rate: str | dict[str, str] | None = None
    full_reps: int | None = None

    def __post_init__(self) -> None:
        if self.full_reps is not None and self.full_reps < self.reps:
            raise ParameterError("full_reps", self.full_reps, f">= reps = {self.reps}")
        if isinstance(self.n, tuple):
            if len(self.n) < 3 or any(b <= a for a, b in zip(self.n, self.n[1:])):
                raise ParameterError("n", self.n, "one size, or a tuple of >= 3 increasing sizes")
        _check_rates(self.rate)
        for item in self.skip:
            if len(item) != 2 or not all(isinstance(x, str) and x for x in item):
                raise ParameterError("skip", item, "(metric, reason) pairs of non-empty strings")

    @property
    def sizes(self) -> tuple[int, ...]:
        return self.n if isinstance(self.n, tuple) else (int(self.n),)

    def skip_reason(self, metric: str) -> str | None:
        return dict(self.skip).get(metric)

    def rate_of(self, metric: str, entry: ModelEntry) -> str:
        """The extrapolation rate of ``metric`` in this scenario (its own, else the entry's)."""
        if isinstance(self.rate, dict) and metric in self.rate:
            return self.rate[metric]
        return self.rate if isinstance(self.rate, str) else entry.rate_of(metric)


@dataclass(frozen=True)
class Figure:
    """A named figure: ``draw(out_dir, options, fast=False, width=None)`` writes NAME.png, NAME.pdf,
    NAME.csv (tidy) and NAME.txt (caption) with the helpers of :mod:`overparam.verify.figures`.
    ``fast`` = tiny sizes (tests only); ``width`` "single" or "double" column (None: the figure's own)."""

    name: str
    doc: str
    draw: Callable[..., Path]


@dataclass(frozen=True)
class Family:
    name: str
    models: tuple[ModelEntry, ...]
    scenarios: tuple[Scenario, ...] = ()
    figures: tuple[Figure, ...] = field(default=())


@cache
def families() -> dict[str, Family]:
    """Module name -> Family, in the order of FAMILY_MODULES."""
    return {m: importlib.import_module(f"overparam.verify.{m}").FAMILY for m in FAMILY_MODULES}


def models() -> dict[str, ModelEntry]:
    """CLI model name -> entry."""
    return {e.name: e for fam in families().values() for e in fam.models}


def model_entry(name: str) -> ModelEntry:
    entries = models()
    if name not in entries:
        raise ParameterError("MODEL", name, "one of " + ", ".join(entries))
    return entries[name]


def figures() -> dict[str, Figure]:
    return {f.name: f for fam in families().values() for f in fam.figures}


def family_of(name: str) -> Family:
    """A family by its module name (``bbp``, ``random_features`` or ``random-features``) or by a model name."""
    fams = families()
    key = name.replace("-", "_")
    if key in fams:
        return fams[key]
    for fam in fams.values():
        if any(e.name == name for e in fam.models):
            return fam
    raise ParameterError("MODEL", name, "a family (" + ", ".join(fams) + ") or a model ("
                         + ", ".join(models()) + ")")
