"""Sweep benchmark (issue 8): parallel speed-up, results-store overhead and resume time.

    python benchmarks/sweep.py [--quick]

1. Replicates per second of a ridge sweep (the ridge simulator when the family is installed, else a
   ridge-like stand-in: one SVD of a Gaussian n x p design serving a lam grid) with ``jobs=1`` and
   ``jobs=2``, against the plain serial loop a user would otherwise write (no store, no processes).
2. The store's overhead per replicate: the time of ``Store.put`` (one committed transaction per finished
   replicate), and the whole runner's overhead (seeding, store, reduction) around a trivial replicate.
3. Resuming a sweep whose 10^4 replicates are all stored: wall time and the number of recomputed replicates.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from overparam import Ridge
from overparam.verify import runner
from overparam.verify.registry import ModelEntry
from overparam.verify.store import Store, point_params

CALLS = [0]


def ridge_like(model, sizes, rng):
    """Ridge on an isotropic Gaussian design for every lam of the grid from one SVD."""
    n, p = sizes["n"], sizes["p"]
    lam = np.atleast_1d(np.asarray(model.lam, dtype=float))
    beta = rng.standard_normal(p) / np.sqrt(p)
    x = rng.standard_normal((n, p))
    y = x @ beta + np.sqrt(model.sigma2) * rng.standard_normal(n)
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    uty = u.T @ y
    shrink = s / (s ** 2 + n * lam[:, None])  # rows: lam values
    est = (shrink * uty) @ vt
    return {"excess_risk": np.sum((est - beta) ** 2, axis=1)}


def trivial(model, sizes, rng):
    CALLS[0] += 1
    return {"x": rng.standard_normal()}


def no_theory(model):
    return {}


def ridge_entry() -> tuple[ModelEntry, str]:
    try:
        from overparam.verify.ridge import FAMILY
    except ImportError:
        return ModelEntry(Ridge, no_theory, ridge_like, shared=("lam",)), "ridge-like stand-in"
    entry = next(e for e in FAMILY.models if e.name == "ridge")
    return entry, "overparam.simulate.ridge"


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def best(fn, repeats: int = 3) -> float:
    """Shortest of a few timings (the machine may be shared)."""
    return min(timed(fn) for _ in range(repeats))


def fresh_run(entry: ModelEntry, model: Ridge, n: int, reps: int, jobs: int) -> None:
    """A sweep from an empty store (nothing to reuse)."""
    with tempfile.TemporaryDirectory() as tmp:
        runner.run(entry, model, n, reps, runner.RunOptions(jobs=jobs, store=Path(tmp) / "s.sqlite"))


def bench_parallel(n: int, reps: int) -> None:
    entry, what = ridge_entry()
    model = Ridge(gamma=2.0, lam=np.logspace(-3, 1, 10))
    grid = runner.groups(entry, model, n)
    runner.run_task(entry, grid[0], 0, 0)  # warm-up (imports, JIT compilation)
    loop = lambda: [runner.run_task(entry, g, 0, k) for g in grid for k in range(reps)]  # noqa: E731
    plain = best(loop)
    with threadpool_limits(limits=1):
        plain1 = best(loop)
    t1 = best(lambda: fresh_run(entry, model, n, reps, 1))
    t2 = best(lambda: fresh_run(entry, model, n, reps, 2))
    print(f"ridge sweep ({what}): n = {n}, p = {2 * n}, 10 lam values, {reps} replicates, best of 3")
    print(f"  plain serial loop      {reps / plain:8.1f} replicates/s   (default BLAS threads)")
    print(f"  plain loop, 1 thread   {reps / plain1:8.1f} replicates/s")
    print(f"  run, jobs=1, store     {reps / t1:8.1f} replicates/s   (time ratio plain 1-thread loop/ours "
          f"{plain1 / t1:.2f})")
    print(f"  run, jobs=2, store     {reps / t2:8.1f} replicates/s   (speed-up over jobs=1: {t1 / t2:.2f}x)")


def bench_store(count: int) -> None:
    values = {m: np.random.default_rng(0).standard_normal(1) for m in ("a", "b", "c", "d", "e")}
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "s.sqlite") as store:
        ids = store.point_ids("ridge", [point_params(Ridge())], {"n": 100, "p": 200}, 0)
        put = timed(lambda: [store.put(ids, k, values) for k in range(count)])
    entry = ModelEntry(Ridge, no_theory, trivial)
    bare = timed(lambda: [trivial(None, None, np.random.default_rng(k)) for k in range(count)])
    with tempfile.TemporaryDirectory() as tmp:
        whole = timed(lambda: runner.run(entry, Ridge(), 10, count, runner.RunOptions(store=Path(tmp) / "s.sqlite")))
    print(f"store: Store.put {1e6 * put / count:.0f} us per replicate (5 metrics, committed; target < 1000 us)")
    print(f"  runner overhead around a trivial replicate: {1e6 * (whole - bare) / count:.0f} us per replicate "
          f"(seeding, store, reduction)")


def bench_resume(count: int) -> None:
    entry = ModelEntry(Ridge, no_theory, trivial)
    with tempfile.TemporaryDirectory() as tmp:
        options = runner.RunOptions(store=Path(tmp) / "s.sqlite")
        runner.run(entry, Ridge(), 10, count, options)
        CALLS[0] = 0
        seconds = timed(lambda: runner.run(entry, Ridge(), 10, count, options))
    print(f"resume: {count} stored replicates reused in {seconds:.3f} s, {CALLS[0]} recomputed (target < 1 s, 0)")


def main() -> None:
    quick = "--quick" in sys.argv
    bench_parallel(100 if quick else 300, 20 if quick else 100)
    bench_store(1000 if quick else 10_000)
    bench_resume(1000 if quick else 10_000)


if __name__ == "__main__":
    main()
