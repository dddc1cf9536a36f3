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

FAMILY_MODULES = ("ridge", "random_features", "max_margin", "lasso", "bbp")

Metrics = dict[str, Any]
#: Allowance for one compared metric: ``allowance(metric, model, sizes, expected) -> float`` is the
#: documented finite-size correction added to the z band (absolute units), or ``None`` when the metric is
#: not checkable at this point (it is then reported as skipped, never as passed).
Allowance = Callable[[str, Model, dict, float], "float | None"]


def no_allowance(metric: str, model: Model, sizes: dict, expected: float) -> float:
    return 0.0


@dataclass(frozen=True)
class ModelEntry:
    """One model of a family.

    theory(model) -> {metric: array}: the n, p -> infinity limit, vectorised over array parameters.
    replicate(model, sizes, rng) -> {metric: value}: ONE finite-size replicate; parameters named in
    ``shared`` arrive as 1-D arrays served by the same random draw (e.g. a lam grid), the rest as scalars.
    reference(model, sizes) -> {metric: array} (optional): exact finite-size means that replace the limit
    in ``check`` wherever they are finite (e.g. ridgeless inverse-Wishart moments).
    """

    model: type[Model]
    theory: Callable[[Model], Metrics]
    replicate: Callable[[Model, dict, np.random.Generator], Metrics] | None = None
    shared: tuple[str, ...] = ()
    allowance: Allowance = no_allowance
    reference: Callable[[Model, dict], Metrics] | None = None

    @property
    def name(self) -> str:
        return self.model.NAME


@dataclass(frozen=True)
class Scenario:
    """One theory-vs-simulation comparison of ``check``: a single point (``shared`` parameters may be
    1-D arrays), the simulation size ``n`` (the model's --n or --d) and the number of replicates."""

    model: Model
    n: int
    reps: int
    full: bool = False  # run only with ``check --full``


@dataclass(frozen=True)
class Figure:
    """A named figure: ``draw(out_dir, options, fast)`` writes NAME.png, NAME.pdf and NAME.csv.
    ``fast`` = tiny sizes (tests only)."""

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
