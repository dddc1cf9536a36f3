"""Run finite-size replicates of any registered model and reduce them to means and standard errors.

Reproducibility: replicate k of a point is a pure function of (model name, parameters, sizes, seed, k).
Its generator is ``numpy.random.default_rng(SeedSequence([seed, *key], spawn_key=(k,)))`` - the k-th child
of ``SeedSequence([seed, *key]).spawn`` - where ``key`` is a SHA-256 digest of the model name, the
parameters that are not ``shared`` (by content: a ``file:`` spectrum by its eigenvalues,
:func:`overparam.verify.store.content_label`) and the sizes. Shared parameters (e.g. a lam grid) use the
same draw, so every lam of replicate k sees the same data (common random numbers), whatever the grid.
Replicates run with one BLAS thread wherever they run (serially, in a worker process or on a Dask
worker), so the numbers are bit-identical with ``jobs=1``, ``jobs=2`` or a Dask cluster. In the calling
process the one-thread setting is a context entered and left inside :func:`run`, never a global change.

The unit of work is a *task*: one group (all points that differ only in shared parameters) and a batch of
replicate indices k, each with the points of the group whose replicate k is not stored yet (re-running
replicate k for just those shared values reproduces the same draw). Batches are sized from the measured
cost of a replicate (about :data:`TASK_SECONDS` of work, and enough tasks to keep every worker busy), so
small replicates do not pay a round trip each; batching never changes a number. Tasks are independent, so
they run in any order and in any process. Worker processes get the model grid once, when they start, and
exit by themselves when the process that started them dies (a watchdog thread polling the parent).

Finished replicates are committed to the results store (:mod:`overparam.verify.store`) by this process,
at least every :data:`FLUSH_SECONDS` and before :func:`run` returns or stops: Ctrl-C and SIGTERM (raised
here as :class:`Terminated`, a KeyboardInterrupt) lose nothing finished; SIGKILL at most the last
FLUSH_SECONDS. A persistent store is shared with concurrent runs: replicates are claimed before they are
computed (:meth:`~overparam.verify.store.Store.claim`), so a second run computes only what is not claimed
and then waits for the rest (taking over the claims of a dead run). Without a store the run uses a
throw-away one, so memory stays bounded on any number of replicates. Means and standard errors are
streamed from the store in increasing k (chunk-wise Welford/Chan updates), so they do not depend on the
order in which tasks finished.

Stored replicates are reused only when computed by the same simulator code: :func:`simulator_key` is a
digest of the replicate function's module source, of every module of ``overparam.simulate`` and of the
root package (``overparam/models.py``, ``choices.py``, ``params.py``, ``errors.py``) that it uses,
directly or through those modules, of the seeding code above and of the numpy version (which defines the
random streams).
"""
from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import inspect
import json
import math
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import threading
import time
import types
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from overparam import __version__
from overparam.errors import OverparamError, ParameterError
from overparam.models import Model

from . import store as store_mod
from .registry import Lazy, ModelEntry, lazy_functions

#: Tasks kept in flight per worker (keeps workers busy without queueing the whole sweep).
WINDOW_PER_WORKER = 4
#: Seconds to wait for a Dask scheduler before giving up.
CONNECT_TIMEOUT = 10.0
#: Target compute time of one batched task (seconds): local processes, and a Dask scheduler (whose
#: round trip costs milliseconds).
TASK_SECONDS = 0.05
DASK_TASK_SECONDS = 0.5
#: Finished replicates are committed at least this often (seconds).
FLUSH_SECONDS = 0.1
#: Lease of a claim (seconds), renewed as results are committed; a dead local owner loses it at once.
LEASE = 600.0
#: How often a run waiting for replicates claimed by another run looks again (seconds).
POLL_SECONDS = 0.25


@dataclass(frozen=True)
class RunOptions:
    """How replicates run: base seed, local processes, results store (a path, or None for a throw-away
    one), Dask scheduler address, progress bar on stderr (the CLI sets it when stderr is a terminal) with
    an optional label (default: the model name), and how often a dead worker is replaced."""

    seed: int = 0
    jobs: int = 1
    store: Any = None
    scheduler: str | None = None
    progress: bool = False
    retries: int = 2
    label: str | None = None


class WorkerLost(OverparamError):
    """Worker processes kept dying; the replicates finished before are in the store."""


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived during :func:`run`; handled like Ctrl-C (everything finished is committed)."""


@dataclass(frozen=True)
class Group:
    """Grid points that share one random draw: ``model`` has scalar non-shared parameters and 1-D
    arrays for the shared ones; ``index`` maps them back to positions in the caller's grid; ``key`` the
    seed words of its draws (:func:`seed_sequence`)."""

    model: Model
    sizes: dict[str, int]
    index: np.ndarray
    key: tuple[int, ...] = ()


@dataclass(frozen=True)
class Task:
    """Replicates of group ``group``: for each ``(k, points)`` of ``items``, replicate k of the group's
    points ``points`` (positions in the group)."""

    group: int
    items: tuple[tuple[int, np.ndarray], ...]


def _point_key(model: Model, shared: tuple[str, ...]) -> tuple:
    return tuple((k, v) for k, v in store_mod.canonical(model).items() if k not in shared)


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
        sizes = point.sizes(n)
        out.append(Group(point, sizes, idx_arr, _key_words(point, entry.shared, tuple(sorted(sizes.items())))))
    return out


def subgroup(entry: ModelEntry, group: Group, points: np.ndarray) -> Group:
    """The group restricted to some of its points (same draw: shared parameters do not enter the seed)."""
    if len(points) == len(group.index):
        return group
    changes = {k: np.asarray(getattr(group.model, k))[points] for k in entry.shared}
    return Group(group.model.replace(**changes), group.sizes, group.index[points], group.key)


def point_model(entry: ModelEntry, group: Group, j: int) -> Model:
    """The j-th point of a group as a one-point specification (shared parameters as 1-element arrays, so
    single-point-only validation, e.g. lasso's lam = 0 with delta >= 1, applies as it did in the grid)."""
    return group.model.replace(**{k: np.asarray(getattr(group.model, k))[j:j + 1] for k in entry.shared})


def seed_sequence(model: Model, shared: tuple[str, ...], sizes: dict[str, int], seed: int,
                  k: int) -> np.random.SeedSequence:
    """The seed of replicate k: a pure function of (model, non-shared parameters, sizes, seed, k)."""
    return _seed(_key_words(model, shared, tuple(sorted(sizes.items()))), seed, k)


def _seed(key: tuple[int, ...], seed: int, k: int) -> np.random.SeedSequence:
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
    key = group.key or _key_words(group.model, entry.shared, tuple(sorted(group.sizes.items())))
    out = entry.replicate(group.model, group.sizes, np.random.default_rng(_seed(key, seed, k)))
    return {name: _column(v, len(group.index)) for name, v in out.items()}


def _column(value: Any, m: int) -> np.ndarray:
    """A metric's value(s) as a float array over the group's m points (a scalar is broadcast)."""
    a = np.asarray(value, dtype=float)
    return a if a.shape == (m,) else np.broadcast_to(a, (m,)).copy()


# ---------------------------------------------------------------------------------- code identity
_SEEDING = (_point_key, _seed, _key_words, run_task, store_mod.content_label)


def simulator_key(entry: ModelEntry) -> str:
    """``<package version>+<digest>``: the identity of the code that computes the entry's replicates
    (module docstring). Stored replicates are reused only under the same key."""
    return f"{__version__}+{_code_digest(_function(entry.replicate))}"


def _function(replicate: Any) -> Callable[..., Any]:
    while True:
        if isinstance(replicate, Lazy):
            replicate = replicate.resolve()
        elif isinstance(replicate, functools.partial):
            replicate = replicate.func
        else:
            return replicate


@functools.lru_cache(maxsize=64)
def _code_digest(func: Callable[..., Any]) -> str:
    h = hashlib.sha256(f"numpy {np.__version__}".encode())
    for part in _SEEDING:
        h.update(inspect.getsource(part).encode())
    home = sys.modules.get(getattr(func, "__module__", None) or "")
    modules = _modules_used(home) if home is not None else {}
    if home is None or not modules.get(home.__name__):
        try:  # a function defined interactively: its own source, or a key that is never reused
            modules["<function>"] = inspect.getsource(func).encode()
        except (OSError, TypeError):
            modules["<function>"] = os.urandom(16)
    for digest in sorted(hashlib.sha256(source).digest() for source in modules.values()):
        h.update(digest)  # by content only: the same file imported under another name is the same code
    return h.hexdigest()[:16]


def _followed(name: str) -> bool:
    """Modules whose source is part of a simulator's identity: overparam.simulate.X and the root
    package's own modules (not the theory/verify layers, not package __init__ files)."""
    parts = name.split(".")
    return (len(parts) == 3 and parts[:2] == ["overparam", "simulate"]) or \
        (len(parts) == 2 and parts[0] == "overparam" and parts[1] not in ("theory", "simulate", "verify"))


def _referenced(value: Any) -> str | None:
    """The module a global of a module refers to (a module, a function/class, a lazy reference)."""
    if isinstance(value, types.ModuleType):
        return value.__name__
    if isinstance(value, Lazy):
        return value.target.partition(":")[0]
    if isinstance(value, lazy_functions):
        return vars(value).get("_module")
    module = getattr(type(value), "__module__", None) if not callable(value) else getattr(value, "__module__", None)
    return module if isinstance(module, str) else None


def _modules_used(home: types.ModuleType) -> dict[str, bytes]:
    """{module name: source bytes} of ``home`` and of the followed modules it reaches through globals."""
    out: dict[str, bytes] = {}
    todo = [home.__name__]
    while todo:
        name = todo.pop()
        if name in out:
            continue
        module = sys.modules.get(name) or __import__(name, fromlist=["_"])
        path = getattr(module, "__file__", None)
        out[name] = open(path, "rb").read() if path and path.endswith(".py") else b""
        for value in list(vars(module).values()):
            ref = _referenced(value)
            if ref and ref not in out and _followed(ref):
                todo.append(ref)
    return out


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
    """{M: mean, M_se: standard error, M_count: number of (non-NaN) replicates averaged}."""
    mean, se = moments.result()
    out: dict[str, np.ndarray] = {}
    for i, name in enumerate(names):
        out[name], out[name + "_se"], out[name + "_count"] = mean[..., i], se[..., i], moments.count[..., i]
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
    processes or on the Dask scheduler ``options.scheduler``) and committed to the store as they finish.
    Returns one record per point: the parameters (display values), the sizes, ``reps``, ``seed``, and for
    each metric M its mean ``M``, standard error ``M_se`` and the number of replicates averaged ``M_count``.
    """
    if entry.replicate is None:
        raise ValueError(f"model {entry.name} has no finite-size simulator (its theory is a limit only; see `overparam figure` for the finite-N evidence)")
    if int(reps) != reps or reps < 1:
        raise ParameterError("reps", reps, "an integer >= 1")
    if int(options.jobs) != options.jobs or options.jobs < 1:
        raise ParameterError("jobs", options.jobs, "an integer >= 1")
    reps, grid = int(reps), groups(entry, model, n)
    code = simulator_key(entry)
    with store_mod.open_store(options.store) as store, _one_blas_thread(), _sigterm_interrupts():
        ids = [store.point_ids(entry.name, [store_mod.point_params(point_model(entry, g, j))
                                            for j in range(len(g.index))], g.sizes, options.seed, code)
               for g in grid]
        _complete(entry, grid, ids, reps, store, options)
        return _records(grid, ids, store, reps, options.seed, int(np.prod(model.shape())))


def _complete(entry: ModelEntry, grid: list[Group], ids: list[np.ndarray], reps: int, store: store_mod.Store,
              options: RunOptions) -> None:
    """Compute and commit every missing replicate: in rounds while another run holds claims on some."""
    shared = options.store is not None
    owner = store_mod.owner_id() if shared else None
    missing = [~store.stored(i, reps) for i in ids]
    total = len(grid) * reps
    if store.readonly and _units(missing):
        raise store_mod.StorePathError(store.path, f"it is read-only and lacks {_units(missing)} of the "
                                       f"{total} replicates asked for; use another --store, or --no-store")
    with _progress(total, total - _units(missing), options.progress, options.label or entry.name) as bar:
        sink = _Sink(store, ids, bar, owner)
        try:
            while _units(missing):
                plan = _Plan(ids, missing, store, owner, options)
                try:
                    for task, results in _execute(entry, grid, plan, options):
                        plan.pace.observe(task, results[1])
                        sink.add(task, results[0])
                finally:
                    sink.flush()
                missing = [~store.stored(i, reps) for i in ids]
                bar.set(total - _units(missing))
                if plan.waiting and _units(missing):
                    time.sleep(POLL_SECONDS)
        finally:
            if owner is not None and not store.readonly:
                store.release(owner)


def _units(missing: list[np.ndarray]) -> int:
    """(group, k) pairs with at least one point still missing."""
    return sum(int(m.any(axis=0).sum()) for m in missing)


class _Pace:
    """Batch size: about ``target`` seconds of work per task (from the median seconds per replicate of the
    last few tasks, robust to a slow first call), and at most a quarter of what each of ``workers`` has
    left, so that the last tasks still spread over the workers."""

    def __init__(self, remaining: int, workers: int, target: float):
        self.remaining, self.workers, self.target = remaining, workers, target
        self.recent: collections.deque[float] = collections.deque(maxlen=5)

    def batch(self) -> int:
        share = max(1, self.remaining // (4 * self.workers))
        if not self.recent:
            return 1
        per_item = float(np.median(self.recent))
        return int(min(share, max(1, self.target // per_item))) if per_item > 0 else share

    def observe(self, task: Task, seconds: float) -> None:
        self.recent.append(seconds / len(task.items))


class _Plan:
    """The tasks still to do, group by group in increasing k, generated lazily and batched by ``pace``. In
    a shared store each batch is claimed first; replicates another live run has claimed are left to it
    (``waiting`` is then set, and the caller looks again later)."""

    def __init__(self, ids: list[np.ndarray], missing: list[np.ndarray], store: store_mod.Store,
                 owner: str | None, options: RunOptions):
        self.ids, self.missing, self.store, self.owner = ids, missing, store, owner
        dask = options.scheduler is not None  # its worker count is unknown here: assume a few
        self.pace = _Pace(_units(missing), 4 if dask else options.jobs,
                          DASK_TASK_SECONDS if dask else TASK_SECONDS)
        self.waiting = False
        self._tasks = self._generate()

    def __iter__(self) -> Iterator[Task]:
        return self._tasks

    def _generate(self) -> Iterator[Task]:
        for gi, mask in enumerate(self.missing):
            ks = np.flatnonzero(mask.any(axis=0))
            start = 0
            while start < len(ks):
                size = self.pace.batch()
                items = tuple((int(k), np.flatnonzero(mask[:, k])) for k in ks[start:start + size])
                start += size
                self.pace.remaining -= len(items)
                items = self._claim(gi, items)
                if items:
                    yield Task(gi, items)

    def _claim(self, gi: int, items: tuple) -> tuple:
        """The items this run may compute: replicate k of a group is claimed through its first missing
        point (claims only spare work: a replicate computed twice is stored once, identical)."""
        if self.owner is None:
            return items
        status = self.store.claim([(int(self.ids[gi][points[0]]), k) for k, points in items], self.owner, LEASE)
        self.waiting |= bool((status == store_mod.TAKEN).any())
        return tuple(item for item, s in zip(items, status) if s == store_mod.MINE)


class _Sink:
    """Buffers finished replicates and commits them at least every FLUSH_SECONDS (renewing the run's
    claims now and then)."""

    def __init__(self, store: store_mod.Store, ids: list[np.ndarray], bar: "_Bar", owner: str | None):
        self.store, self.ids, self.bar, self.owner = store, ids, bar, owner
        self.buffer: list[tuple[np.ndarray, int, dict[str, np.ndarray]]] = []
        self.flushed = self.renewed = time.monotonic()

    def add(self, task: Task, results: list[dict[str, np.ndarray]]) -> None:
        for (k, points), values in zip(task.items, results):
            self.buffer.append((self.ids[task.group][points], k, values))
        self.bar.update(len(task.items))
        if time.monotonic() - self.flushed >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.store.put_many(self.buffer)
            self.buffer = []
        now = self.flushed = time.monotonic()
        if self.owner is not None and now - self.renewed > LEASE / 4:
            self.store.renew(self.owner, LEASE)
            self.renewed = now


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


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (main thread only; the handler is restored)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated("terminated (SIGTERM)")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# ------------------------------------------------------------------------------------ execution
Result = tuple[list[dict[str, np.ndarray]], float]  # (one result per item, compute seconds)


def _execute(entry: ModelEntry, grid: list[Group], todo: Iterable[Task],
             options: RunOptions) -> Iterator[tuple[Task, Result]]:
    """(task, result) pairs in order of completion."""
    if options.scheduler:
        yield from _dask(entry, grid, todo, options)
    elif options.jobs > 1:
        yield from _processes(entry, grid, todo, options)
    else:
        for task in todo:
            yield task, _compute(entry, grid[task.group], task, options.seed)


def _compute(entry: ModelEntry, group: Group, task: Task, seed: int) -> Result:
    t0 = time.perf_counter()
    out = [run_task(entry, subgroup(entry, group, points), seed, k) for k, points in task.items]
    return out, time.perf_counter() - t0


def _compute_single_thread(entry: ModelEntry, group: Group, task: Task, seed: int) -> Result:
    """A task on a Dask worker, whose BLAS thread count we do not control otherwise."""
    with _one_blas_thread():
        return _compute(entry, group, task, seed)


def _one_blas_thread() -> contextlib.AbstractContextManager:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a core dependency
        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


_WORKER: dict[str, Any] = {}


def _worker_init(entry: ModelEntry, grid: list[Group], seed: int) -> None:
    """Worker processes: keep the entry and grid, one BLAS thread for the process lifetime, Ctrl-C and
    SIGTERM left to the parent's handling (default SIGTERM: die), and exit when the parent dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent = multiprocessing.parent_process()
    _WORKER.update(entry=entry, grid=grid, seed=seed, limits=_one_blas_thread())
    if parent is not None:
        threading.Thread(target=_watch_parent, args=(parent.pid,), daemon=True).start()


def _watch_parent(pid: int) -> None:
    """Exit this worker as soon as its parent is gone (re-parented: getppid() changes)."""
    while os.getppid() == pid:
        time.sleep(0.2)
    os._exit(1)


def _worker_compute(task: Task) -> Result:
    return _compute(_WORKER["entry"], _WORKER["grid"][task.group], task, _WORKER["seed"])


def _pool_context() -> multiprocessing.context.BaseContext:
    """fork while this process has a single thread (fast, nothing re-imported), spawn otherwise."""
    fork_ok = "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1
    return multiprocessing.get_context("fork" if fork_ok else "spawn")


def _processes(entry: ModelEntry, grid: list[Group], todo: Iterable[Task],
               options: RunOptions) -> Iterator[tuple[Task, Result]]:
    """Tasks on ``options.jobs`` local processes, a bounded number in flight. A pool broken by a dying
    worker is replaced (``options.retries`` times) and its unfinished tasks resubmitted."""
    window, retry, deaths, slim, todo = WINDOW_PER_WORKER * options.jobs, [], 0, _slim(entry), iter(todo)
    while True:
        pool = ProcessPoolExecutor(options.jobs, mp_context=_pool_context(), initializer=_worker_init,
                                   initargs=(slim, grid, options.seed))
        flight: dict[Any, Task] = {}
        finished = False
        try:
            while True:
                while len(flight) < window and (task := retry.pop() if retry else next(todo, None)):
                    try:
                        flight[pool.submit(_worker_compute, task)] = task
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
                raise WorkerLost(f"worker processes died {deaths} times (last running replicate "
                                 f"{retry[0].items[0][0]} of {entry.name}); finished replicates are kept in "
                                 "the store") from None
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
    reference when the replicate is a module-level function or a Lazy name)."""
    return ModelEntry(model=entry.model, theory=None, replicate=entry.replicate,  # type: ignore[arg-type]
                      shared=entry.shared)


def _dask(entry: ModelEntry, grid: list[Group], todo: Iterable[Task],
          options: RunOptions) -> Iterator[tuple[Task, Result]]:
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
    slim, todo = _slim(entry), iter(todo)
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
                raise WorkerLost(f"Dask workers died running replicate {task.items[0][0]} of {entry.name} "
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


# ------------------------------------------------------------------------------------- progress
class _Bar:
    """A one-line progress bar on stderr: label, done/total replicates, rate, ETA (redrawn at most every
    0.2 s; erased when the run ends). Drawn only when enabled."""

    def __init__(self, total: int, done: int, label: str, enabled: bool):
        self.total, self.done, self.start, self.label = total, done, done, label
        self.enabled = enabled and done < total
        self.t0 = self.drawn = time.monotonic()

    def update(self, n: int) -> None:
        self.set(self.done + n)

    def set(self, done: int) -> None:
        self.done = done
        now = time.monotonic()
        if self.enabled and (now - self.drawn >= 0.2 or done >= self.total):
            self.drawn = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        rate = (self.done - self.start) / max(now - self.t0, 1e-9)
        eta = (self.total - self.done) / rate if rate > 0 else math.inf
        width = shutil.get_terminal_size((80, 20)).columns - 1
        fill = int(20 * self.done / self.total)
        line = (f"{self.label} {self.done}/{self.total} [{'#' * fill}{'.' * (20 - fill)}] "
                f"{rate:.1f} rep/s ETA {_clock(eta)}")
        sys.stderr.write("\r" + line[:width] + "\x1b[K")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def _clock(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(int(seconds + 0.5), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}" if minutes >= 60 else f"{minutes}:{secs:02d}"


@contextlib.contextmanager
def _progress(total: int, done: int, enabled: bool, label: str) -> Iterator[_Bar]:
    bar = _Bar(total, done, label, enabled)
    try:
        yield bar
    finally:
        bar.close()


__all__ = ["RunOptions", "Group", "Task", "WorkerLost", "Terminated", "Moments", "groups", "seed_sequence",
           "run_task", "reduce", "run", "simulator_key", "stored_stats", "subgroup", "point_model"]
