"""Run finite-size replicates of any registered model and reduce them to means and standard errors.

Reproducibility: replicate k of a point is a pure function of (model name, parameters, sizes, seed, k).
Its generator is ``numpy.random.default_rng(SeedSequence([seed, *key], spawn_key=(k,)))`` - the k-th child
of ``SeedSequence([seed, *key]).spawn`` - where ``key`` is a SHA-256 digest of the model name, the
parameters that are not ``shared`` and the sizes. Shared parameters (e.g. a lam grid) use the same draw,
so every lam of replicate k sees the same data (common random numbers), whatever the grid.

The unit of work is a *task*: one group (all points that differ only in shared parameters) and one
replicate index. Tasks are independent, so they can run in any order and in any process.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from overparam.errors import ParameterError
from overparam.models import Model

from .registry import ModelEntry


@dataclass(frozen=True)
class RunOptions:
    """How replicates run: base seed, local processes, results store, Dask scheduler, progress bar."""

    seed: int = 0
    jobs: int = 1
    store: Any = None  # a path (str/Path) of the SQLite store, or None for no store
    scheduler: str | None = None
    progress: bool = False


@dataclass(frozen=True)
class Group:
    """Grid points that share one random draw: ``model`` has scalar non-shared parameters and 1-D
    arrays for the shared ones; ``index`` maps them back to positions in the caller's grid."""

    model: Model
    sizes: dict[str, int]
    index: np.ndarray


def _point_key(model: Model, shared: tuple[str, ...]) -> tuple:
    return tuple((k, v) for k, v in model.labels().items() if k not in shared)


def groups(entry: ModelEntry, model: Model, n: int) -> list[Group]:
    """Split a (flattened, 1-D) grid into groups of points that differ only in shared parameters."""
    size = int(np.prod(model.shape()))
    values = {k: np.broadcast_to(v, (size,)) if not model.params()[k].categorical else v
              for k, v in model.values().items()}
    keyed: dict[tuple, list[int]] = {}
    for i in range(size):
        key = tuple((k, float(v[i])) for k, v in values.items()
                    if k not in entry.shared and not model.params()[k].categorical)
        keyed.setdefault(key, []).append(i)
    out = []
    for key, idx in keyed.items():
        idx_arr = np.array(idx)
        changes = {k: v for k, v in key}
        changes.update({k: np.asarray(values[k])[idx_arr] for k in entry.shared})
        point = model.replace(**changes)
        out.append(Group(point, point.sizes(n), idx_arr))
    return out


def seed_sequence(model: Model, shared: tuple[str, ...], sizes: dict[str, int], seed: int,
                  k: int) -> np.random.SeedSequence:
    """The seed of replicate k: a pure function of (model, non-shared parameters, sizes, seed, k)."""
    text = json.dumps([model.NAME, _point_key(model, shared), sorted(sizes.items())], default=str)
    digest = hashlib.sha256(text.encode()).digest()
    key = [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)]
    return np.random.SeedSequence([int(seed), *key], spawn_key=(int(k),))


def run_task(entry: ModelEntry, group: Group, seed: int, k: int) -> dict[str, np.ndarray]:
    """Replicate k of a group: {metric: 1-D array over the group's points}."""
    rng = np.random.default_rng(seed_sequence(group.model, entry.shared, group.sizes, seed, k))
    out = entry.replicate(group.model, group.sizes, rng)
    m = len(group.index)
    return {name: np.broadcast_to(np.asarray(v, dtype=float), (m,)).copy() for name, v in out.items()}


def reduce(samples: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Means and standard errors over replicates; NaN replicates (e.g. a non-separable sample) are left
    out of that metric's mean. ``M_se`` is the sample std / sqrt(count) (NaN with fewer than 2 values)."""
    out: dict[str, np.ndarray] = {}
    for name in samples[0]:
        x = np.stack([s[name] for s in samples])
        count = np.sum(~np.isnan(x), axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.nansum(x, axis=0) / count
            var = np.nansum((x - mean) ** 2, axis=0) / (count - 1)
            se = np.where(count > 1, np.sqrt(var / count), np.nan)
        out[name] = np.where(count > 0, mean, np.nan)
        out[name + "_se"] = se
    return out


def run(entry: ModelEntry, model: Model, n: int, reps: int, options: RunOptions = RunOptions()) -> list[dict]:
    """Simulate every point of ``model`` (a 1-D grid or a single point) with ``reps`` replicates at size n.

    Returns one record per point: the parameters (display values), the sizes, ``reps``, ``seed``, and for
    each metric M its mean ``M`` and standard error ``M_se``.
    """
    if entry.replicate is None:
        raise ValueError(f"model {entry.name} has no simulator")
    if int(reps) != reps or reps < 1:
        raise ParameterError("reps", reps, "an integer >= 1")
    grid = groups(entry, model, n)
    results = _execute(entry, grid, int(reps), options)
    size = int(np.prod(model.shape()))
    records: list[dict] = [{} for _ in range(size)]
    for g, samples in zip(grid, results):
        stats = reduce(samples)
        for j, i in enumerate(g.index):
            rec = {k: _item(v, j) for k, v in g.model.labels().items()}
            rec.update(g.sizes)
            rec.update(reps=int(reps), seed=int(options.seed))
            rec.update({k: float(v[j]) for k, v in stats.items()})
            records[i] = rec
    return records


def _item(value: Any, j: int) -> Any:
    return value[j].item() if isinstance(value, np.ndarray) else value


def _execute(entry: ModelEntry, grid: list[Group], reps: int, options: RunOptions) -> list[list[dict]]:
    """All replicates of all groups, serially (the store, processes and Dask plug in here)."""
    return [[run_task(entry, g, options.seed, k) for k in range(reps)] for g in grid]


def tasks(grid: Iterable[Group], reps: int) -> list[tuple[int, int]]:
    """(group number, replicate index) of every task."""
    return [(i, k) for i, _ in enumerate(grid) for k in range(reps)]


__all__ = ["RunOptions", "Group", "groups", "seed_sequence", "run_task", "reduce", "run", "tasks"]
