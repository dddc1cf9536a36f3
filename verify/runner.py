"""Run finite-size replicates of any registered model and reduce them to means and standard errors.

Reproducibility: replicate k of a point is a pure function of (model name, parameters, sizes, seed, k).
Its generator is ``numpy.random.default_rng(SeedSequence([seed, *key], spawn_key=(k,)))`` - the k-th child
of ``SeedSequence([seed, *key]).spawn`` - where ``key`` is a SHA-256 digest of the model name, the
parameters that are not ``shared`` and the sizes. Shared parameters (e.g. a lam grid) use the same draw,
so every lam of replicate k sees the same data (common random numbers), whatever the grid. Replicates run
with one BLAS thread wherever they run (serially, in a worker process or on a Dask worker), so the numbers
are bit-identical with ``jobs=1``, ``jobs=2`` or a Dask cluster.

The unit of work is a *task*: one group (all points that differ only in shared parameters), one replicate
index k and the points of the group whose replicate k is not stored yet (re-running replicate k for just
those shared values reproduces the same draw). Tasks are independent, so they run in any order and in any
process; each finished task is committed to the results store (:mod:`overparam.verify.store`) by this
process as soon as it arrives, so an interrupted run loses nothing finished. Without a store the run uses
a throw-away one, so memory stays bounded on any number of replicates. Means and standard errors are then
streamed from the store in increasing k (chunk-wise Welford/Chan updates), so they do not depend on the
order in which tasks finished.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import multiprocessing
import signal
import socket
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import numpy as np

from overparam.errors import OverparamError, ParameterError
from overparam.models import Model

from . import store as store_mod
from .registry import ModelEntry

#: Tasks kept in flight per worker (keeps workers busy without queueing the whole sweep).
WINDOW_PER_WORKER = 4
#: Seconds to wait for a Dask scheduler before giving up.
CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class RunOptions:
    """How replicates run: base seed, local processes, results store (a path, or None for a throw-away
    one), Dask scheduler address, progress bar on stderr, and how often a dead worker is replaced."""

    seed: int = 0
    jobs: int = 1
    store: Any = None
    scheduler: str | None = None
    progress: bool = False
    retries: int = 2


class WorkerLost(OverparamError):
    """Worker processes kept dying; the replicates finished before are in the store."""


@dataclass(frozen=True)
class Group:
    """Grid points that share one random draw: ``model`` has scalar non-shared parameters and 1-D
    arrays for the shared ones; ``index`` maps them back to positions in the caller's grid."""

    model: Model
    sizes: dict[str, int]
    index: np.ndarray


@dataclass(frozen=True)
class Task:
    """Replicate ``k`` of group ``group`` for the group's points ``points`` (positions in the group)."""

    group: int
    k: int
    points: np.ndarray


def _point_key(model: Model, shared: tuple[str, ...]) -> tuple:
    return tuple((k, v) for k, v in model.display().items() if k not in shared)


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


def subgroup(entry: ModelEntry, group: Group, points: np.ndarray) -> Group:
    """The group restricted to some of its points (same draw: shared parameters do not enter the seed)."""
    if len(points) == len(group.index):
        return group
    changes = {k: np.asarray(getattr(group.model, k))[points] for k in entry.shared}
    return Group(group.model.replace(**changes), group.sizes, group.index[points])


def point_model(entry: ModelEntry, group: Group, j: int) -> Model:
    """The j-th point of a group as a one-point specification (shared parameters as 1-element arrays, so
    single-point-only validation, e.g. lasso's lam = 0 with delta >= 1, applies as it did in the grid)."""
    return group.model.replace(**{k: np.asarray(getattr(group.model, k))[j:j + 1] for k in entry.shared})


def seed_sequence(model: Model, shared: tuple[str, ...], sizes: dict[str, int], seed: int,
                  k: int) -> np.random.SeedSequence:
    """The seed of replicate k: a pure function of (model, non-shared parameters, sizes, seed, k)."""
    key = _key_words(model, shared, tuple(sorted(sizes.items())))
    return np.random.SeedSequence([int(seed), *key], spawn_key=(int(k),))


@functools.lru_cache(maxsize=256)
def _key_words(model: Model, shared: tuple[str, ...], sizes: tuple) -> tuple[int, ...]:
    """SHA-256 words of (model name, non-shared parameters, sizes); cached per specification object
    (specifications are frozen and hash by identity)."""
    text = json.dumps([model.NAME, _point_key(model, shared), list(sizes)], default=str)
    digest = hashlib.sha256(text.encode()).digest()
    return tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))


def run_task(entry: ModelEntry, group: Group, seed: int, k: int) -> dict[str, np.ndarray]:
    """Replicate k of a group: {metric: 1-D array over the group's points}."""
    rng = np.random.default_rng(seed_sequence(group.model, entry.shared, group.sizes, seed, k))
    out = entry.replicate(group.model, group.sizes, rng)
    m = len(group.index)
    return {name: np.broadcast_to(np.asarray(v, dtype=float), (m,)).copy() for name, v in out.items()}


# ------------------------------------------------------------------------------------ reduction
class Moments:
    """Running count, mean and sum of squared deviations of each column, NaN entries left out; rows are
    added in chunks (Chan et al.'s pairwise update), so memory does not grow with the number of rows."""

    def __init__(self, width: int | tuple[int, ...]):
        self.count = np.zeros(width)
        self.mean = np.zeros(width)
        self.m2 = np.zeros(width)

    def add(self, rows: np.ndarray) -> None:
        ok = ~np.isnan(rows)
        count = ok.sum(axis=0)
        with np.errstate(all="ignore"):
            mean = np.nansum(rows, axis=0) / count
            m2 = np.nansum((rows - mean) ** 2, axis=0)
            total = self.count + count
            delta = mean - self.mean
            merged_mean = self.mean + delta * (count / total)
            merged_m2 = self.m2 + m2 + delta ** 2 * (self.count * count / total)
        first, empty = self.count == 0, count == 0
        self.mean = np.where(first, mean, np.where(empty, self.mean, merged_mean))
        self.m2 = np.where(first, m2, np.where(empty, self.m2, merged_m2))
        self.count = total

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, standard error of the mean); NaN mean without values, NaN se with fewer than two."""
        with np.errstate(all="ignore"):
            se = np.sqrt(self.m2 / (self.count - 1) / self.count)
        return np.where(self.count > 0, self.mean, np.nan), np.where(self.count > 1, se, np.nan)


def _stats(names: Iterable[str], moments: Moments) -> dict[str, np.ndarray]:
    mean, se = moments.result()
    out: dict[str, np.ndarray] = {}
    for i, name in enumerate(names):
        out[name], out[name + "_se"] = mean[..., i], se[..., i]
    return out


def reduce(samples: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Means and standard errors over replicates; NaN replicates (e.g. a non-separable sample) are left
    out of that metric's mean. ``M_se`` is the sample std / sqrt(count) (NaN with fewer than 2 values)."""
    names = list(samples[0])
    rows = np.stack([np.column_stack([np.asarray(s[m], dtype=float).reshape(-1) for m in names])
                     for s in samples])  # (reps, points, metrics)
    moments = Moments(rows.shape[1:])
    moments.add(rows)
    return _stats(names, moments)


def stored_stats(store: store_mod.Store, pid: int, reps: int | None = None) -> dict[str, float]:
    """Mean and standard error of each metric over a stored point's replicates k < reps (all when None),
    streamed in increasing k."""
    names = store.metrics(pid)
    moments = Moments(len(names))
    for chunk in store.chunks(pid, reps):
        moments.add(chunk)
    return {k: float(v) for k, v in _stats(names, moments).items()}


# ------------------------------------------------------------------------------------------ run
def run(entry: ModelEntry, model: Model, n: int, reps: int, options: RunOptions = RunOptions()) -> list[dict]:
    """Simulate every point of ``model`` (a 1-D grid or a single point) with ``reps`` replicates at size n.

    Stored replicates are reused and only missing ones are computed (serially, on ``options.jobs``
    processes or on the Dask scheduler ``options.scheduler``), each committed to the store as it finishes.
    Returns one record per point: the parameters (display values), the sizes, ``reps``, ``seed``, and for
    each metric M its mean ``M`` and standard error ``M_se``.
    """
    if entry.replicate is None:
        raise ValueError(f"model {entry.name} has no finite-size simulator (its theory is a limit only; see `overparam figure` for the finite-N evidence)")
    if int(reps) != reps or reps < 1:
        raise ParameterError("reps", reps, "an integer >= 1")
    if int(options.jobs) != options.jobs or options.jobs < 1:
        raise ParameterError("jobs", options.jobs, "an integer >= 1")
    reps, grid = int(reps), groups(entry, model, n)
    with store_mod.open_store(options.store) as store:
        ids = [store.point_ids(entry.name, [store_mod.point_params(point_model(entry, g, j))
                                            for j in range(len(g.index))], g.sizes, options.seed)
               for g in grid]
        missing = [~store.stored(i, reps) for i in ids]
        todo = sum(int(m.any(axis=0).sum()) for m in missing)
        with _progress(len(grid) * reps, len(grid) * reps - todo, options.progress, entry.name) as bar:
            for task, values in _execute(entry, grid, _tasks(missing), options):
                store.put(ids[task.group][task.points], task.k, values)
                bar.update(1)
        return _records(grid, ids, store, reps, options.seed, int(np.prod(model.shape())))


def _tasks(missing: list[np.ndarray]) -> Iterator[Task]:
    """The tasks still to do, group by group and in increasing k (generated lazily)."""
    for gi, mask in enumerate(missing):
        for k in np.flatnonzero(mask.any(axis=0)):
            yield Task(gi, int(k), np.flatnonzero(mask[:, k]))


def _records(grid: list[Group], ids: list[np.ndarray], store: store_mod.Store, reps: int, seed: int,
             size: int) -> list[dict]:
    records: list[dict] = [{} for _ in range(size)]
    for g, gid in zip(grid, ids):
        for j, i in enumerate(g.index):
            rec = {k: _item(v, j) for k, v in g.model.display().items()}
            rec.update(g.sizes)
            rec.update(reps=reps, seed=int(seed))
            rec.update(stored_stats(store, int(gid[j]), reps))
            records[i] = rec
    return records


def _item(value: Any, j: int) -> Any:
    return value[j].item() if isinstance(value, np.ndarray) else value


# ------------------------------------------------------------------------------------ execution
def _execute(entry: ModelEntry, grid: list[Group], todo: Iterator[Task],
             options: RunOptions) -> Iterator[tuple[Task, dict[str, np.ndarray]]]:
    """(task, result) pairs in order of completion."""
    if options.scheduler:
        yield from _dask(entry, grid, todo, options)
    elif options.jobs > 1:
        yield from _processes(entry, grid, todo, options)
    else:
        with _one_blas_thread():
            for task in todo:
                yield task, _compute(entry, grid[task.group], task, options.seed)


def _compute(entry: ModelEntry, group: Group, task: Task, seed: int) -> dict[str, np.ndarray]:
    return run_task(entry, subgroup(entry, group, task.points), seed, task.k)


def _compute_single_thread(entry: ModelEntry, group: Group, task: Task, seed: int) -> dict[str, np.ndarray]:
    """A task on a Dask worker, whose BLAS thread count we do not control otherwise."""
    with _one_blas_thread():
        return _compute(entry, group, task, seed)


def _one_blas_thread() -> contextlib.AbstractContextManager:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn; without it BLAS is as set
        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


_WORKER_LIMITS: Any = None


def _worker_init() -> None:
    """Worker processes: one BLAS thread (kept for the process lifetime); Ctrl-C is handled by the parent."""
    global _WORKER_LIMITS
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER_LIMITS = _one_blas_thread()


def _pool_context() -> multiprocessing.context.BaseContext:
    """fork while this process has a single thread (fast, nothing re-imported), spawn otherwise."""
    fork_ok = "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1
    return multiprocessing.get_context("fork" if fork_ok else "spawn")


def _processes(entry: ModelEntry, grid: list[Group], todo: Iterator[Task],
               options: RunOptions) -> Iterator[tuple[Task, dict[str, np.ndarray]]]:
    """Tasks on ``options.jobs`` local processes, a bounded number in flight. A pool broken by a dying
    worker is replaced (``options.retries`` times) and its unfinished tasks resubmitted."""
    window, retry, deaths, slim = WINDOW_PER_WORKER * options.jobs, [], 0, _slim(entry)
    while True:
        pool = ProcessPoolExecutor(options.jobs, mp_context=_pool_context(), initializer=_worker_init)
        flight: dict[Any, Task] = {}
        finished = False
        try:
            while True:
                while len(flight) < window and (task := retry.pop() if retry else next(todo, None)):
                    try:
                        flight[pool.submit(_compute, slim, grid[task.group], task, options.seed)] = task
                    except BrokenProcessPool:
                        retry.append(task)
                        raise
                if not flight:
                    finished = True
                    return
                done, _ = wait(flight, return_when=FIRST_COMPLETED)
                broken = False
                for fut in done:
                    task = flight.pop(fut)
                    try:
                        result = fut.result()
                    except BrokenProcessPool:
                        retry.append(task)
                        broken = True
                        continue
                    yield task, result
                if broken:
                    raise BrokenProcessPool
        except BrokenProcessPool:
            retry += flight.values()
            deaths += 1
            if deaths > options.retries:
                raise WorkerLost(f"worker processes died {deaths} times (last running replicate {retry[0].k} "
                                 f"of {entry.name}); finished replicates are kept in the store") from None
        finally:
            _stop(pool, finished)


def _stop(pool: ProcessPoolExecutor, finished: bool) -> None:
    """Shut a pool down: wait for idle workers after a complete run, else terminate them at once (their
    tasks are not wanted any more)."""
    if finished:
        pool.shutdown(wait=True)
        return
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.join(timeout=5)


def _slim(entry: ModelEntry) -> ModelEntry:
    """The part of an entry a worker needs (the replicate function and the shared names; both pickle by
    reference when the replicate is a module-level function)."""
    return ModelEntry(entry.model, None, entry.replicate, entry.shared)  # type: ignore[arg-type]


def _dask(entry: ModelEntry, grid: list[Group], todo: Iterator[Task],
          options: RunOptions) -> Iterator[tuple[Task, dict[str, np.ndarray]]]:
    """Tasks on a Dask distributed scheduler; results stream back in order of completion. Dask retries a
    task whose worker died (``options.retries`` times) before giving up with WorkerLost."""
    address = options.scheduler
    try:
        from distributed import Client, as_completed
        from distributed.client import FutureCancelledError
        from distributed.scheduler import KilledWorker
    except ImportError:
        raise ParameterError("scheduler", address, "used only with Dask installed: "
                             "pip install 'overparam[dask]'") from None
    try:
        _probe(str(address))
        client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise ParameterError("scheduler", address, "the address of a reachable Dask scheduler (tcp://HOST:PORT)",
                             f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no reply'}") from None
    flight: dict[Any, Task] = {}
    slim = _slim(entry)
    try:
        window = WINDOW_PER_WORKER * max(1, sum(client.nthreads().values()))
        pending = as_completed(loop=client.loop)

        def submit() -> None:
            while len(flight) < window and (task := next(todo, None)):
                fut = client.submit(_compute_single_thread, slim, grid[task.group], task, options.seed,
                                    pure=False, retries=options.retries)
                flight[fut] = task
                pending.add(fut)

        submit()
        for fut in pending:
            task = flight.pop(fut)
            try:
                result = fut.result()
            except (KilledWorker, FutureCancelledError) as exc:
                raise WorkerLost(f"Dask workers died running replicate {task.k} of {entry.name} "
                                 f"({type(exc).__name__}); finished replicates are kept in the store") from None
            yield task, result
            fut.release()
            submit()
    finally:
        for fut in flight:
            fut.cancel()
        client.close()


def _probe(address: str) -> None:
    """Fail fast (OSError/ValueError) when a tcp:// scheduler does not accept connections, before a Dask
    client is built (a client that failed to connect complains again when it is garbage-collected)."""
    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port

    scheme, location = parse_address(address)
    if scheme == "tcp":
        with socket.create_connection(parse_host_port(location), timeout=CONNECT_TIMEOUT):
            pass


class _NoBar:
    def update(self, n: int) -> None:
        pass


def _progress(total: int, done: int, enabled: bool, name: str) -> contextlib.AbstractContextManager:
    """A tqdm bar (replicates done/total, rate, ETA) on stderr, or a silent stand-in."""
    if enabled and done < total:
        try:
            from tqdm import tqdm
        except ImportError:
            pass
        else:
            class Bar(tqdm):  # no monitor thread, so worker processes can still be forked
                monitor_interval = 0

            return Bar(total=total, initial=done, unit="rep", desc=name, file=sys.stderr, dynamic_ncols=True,
                       leave=False)
    return contextlib.nullcontext(_NoBar())


__all__ = ["RunOptions", "Group", "Task", "WorkerLost", "Moments", "groups", "seed_sequence", "run_task",
           "reduce", "run", "stored_stats", "subgroup", "point_model"]
