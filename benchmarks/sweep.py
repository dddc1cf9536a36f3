"""Sweep benchmark (issue 13 section 7): parallel efficiency and per-replicate overhead of the runner.

    python benchmarks/sweep.py [--quick] [--dask] [--rounds R]

A ridge sweep of small replicates (the ridge simulator at n = 40, p = 80, 5 lam values sharing each draw,
2000 replicates by default), where the runner's own cost matters most. Modes, run in interleaved rounds
(medians reported), each from an empty temporary store and with one BLAS thread:

* ``plain``   the serial loop a user would write: ``run_task`` for every replicate, nothing stored;
* ``jobs=1``  ``runner.run`` serially, every replicate committed to the store;
* ``jobs=2``  ``runner.run`` on two worker processes;
* ``dask``    (``--dask``) ``runner.run`` on a LocalCluster of two one-thread worker processes.

Reported per mode: replicates per second (wall), CPU time per replicate (this process, its reaped
children and, for Dask, the workers' process time), the runner's overhead over ``plain`` in CPU
microseconds per replicate, the CPU efficiency CPU(plain)/CPU(mode) and the wall speed-up over ``jobs=1``.
On a shared machine the wall numbers depend on the load; the CPU numbers much less. Results are checked
to be bit-identical across the modes.

Measured (2 CPUs shared with ~10 other busy processes, so wall rates are low and jobs=2 cannot beat
jobs=1 on wall time; 2000 replicates, medians of 5 rounds), before -> after batching tasks (about 50 ms of
work each, 0.5 s on Dask), shipping the grid to each worker once, claiming and committing per batch:
runner overhead jobs=1 310 -> 60 CPU us/replicate, jobs=2 1035 -> 215; CPU efficiency jobs=1 0.55 -> 0.86,
jobs=2 0.27 -> 0.62; jobs=2 wall rate 152 -> 444 replicates/s; Dask LocalCluster 21 -> 130 replicates/s.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import scipy
from threadpoolctl import threadpool_info, threadpool_limits

from overparam import Ridge
from overparam.verify import runner
from overparam.verify.registry import model_entry

N, LAMS = 40, np.logspace(-2, 0, 5)


def cpu_now() -> float:
    """CPU seconds of this process and of its reaped children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def measure(fn: Callable[[], object], workers_cpu: Callable[[], float] = lambda: 0.0) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds, result) of one call."""
    w0, c0, d0 = time.perf_counter(), cpu_now(), workers_cpu()
    out = fn()
    return time.perf_counter() - w0, cpu_now() - c0 + workers_cpu() - d0, out


def sweep(entry, model: Ridge, reps: int, **options) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        return runner.run(entry, model, N, reps, runner.RunOptions(store=Path(tmp) / "s.sqlite", **options))


def plain(entry, model: Ridge, reps: int) -> None:
    (group,) = runner.groups(entry, model, N)
    with threadpool_limits(limits=1):
        for k in range(reps):
            runner.run_task(entry, group, 0, k)


def header() -> None:
    blas = ", ".join(f"{i['internal_api']} {i.get('version')} ({i['num_threads']} threads)"
                     for i in threadpool_info() if i["user_api"] == "blas")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}; Python "
          f"{platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}; BLAS: {blas}")


def medians(modes: dict[str, Callable[[], tuple[float, float, object]]], rounds: int,
            results: dict[str, object]) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall and CPU seconds of each mode over interleaved rounds (last results kept)."""
    times: dict[str, list[tuple[float, float]]] = {m: [] for m in modes}
    for _ in range(rounds):
        for name, fn in modes.items():
            wall, cpu, results[name] = fn()
            times[name].append((wall, cpu))
    return ({m: statistics.median(w for w, _ in t) for m, t in times.items()},
            {m: statistics.median(c for _, c in t) for m, t in times.items()})


def table(wall: dict[str, float], cpu: dict[str, float], reps: int, serial: str) -> None:
    print(f"{'mode':<8} {'reps/s':>9} {'CPU us/rep':>11} {'overhead us/rep':>16} {'CPU efficiency':>15} "
          f"{'speed-up vs ' + serial:>19}")
    for m in wall:
        print(f"{m:<8} {reps / wall[m]:9.0f} {1e6 * cpu[m] / reps:11.0f} "
              f"{1e6 * (cpu[m] - cpu['plain']) / reps:16.0f} {cpu['plain'] / cpu[m]:15.2f} "
              f"{wall[serial] / wall[m]:19.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="400 replicates, 3 rounds")
    parser.add_argument("--dask", action="store_true", help="then a Dask LocalCluster (2 workers)")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    reps, rounds = (400, 3) if args.quick else (2000, 5)
    rounds = args.rounds or rounds
    entry, model = model_entry("ridge"), Ridge(gamma=2.0, lam=LAMS)
    header()
    plain(entry, model, 2)  # warm-up: imports
    results: dict[str, object] = {}
    wall, cpu = medians({"plain": lambda: measure(lambda: plain(entry, model, reps)),
                         "jobs=1": lambda: measure(lambda: sweep(entry, model, reps)),
                         "jobs=2": lambda: measure(lambda: sweep(entry, model, reps, jobs=2))}, rounds, results)
    print(f"ridge sweep: n = {N}, p = {2 * N}, {len(LAMS)} lam values per draw, {reps} replicates, "
          f"medians of {rounds} interleaved rounds, one BLAS thread")
    table(wall, cpu, reps, "jobs=1")
    if args.dask:  # after the local rounds: a Dask client's threads would make later local pools spawn
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            workers = lambda: sum(client.run(time.process_time).values())  # noqa: E731
            address = cluster.scheduler_address
            sweep(entry, model, 4, scheduler=address)  # warm-up: imports on the workers
            wall, cpu = medians({"plain": lambda: measure(lambda: plain(entry, model, reps)),
                                 "jobs=1": lambda: measure(lambda: sweep(entry, model, reps)),
                                 "dask": lambda: measure(lambda: sweep(entry, model, reps, scheduler=address),
                                                         workers)}, rounds, results)
        print("Dask LocalCluster (2 one-thread worker processes; CPU includes the workers' process time)")
        table(wall, cpu, reps, "jobs=1")
    runs = [json.dumps(v) for k, v in results.items() if k != "plain"]
    print(f"results bit-identical across jobs=1, jobs=2{' and Dask' if args.dask else ''}: {len(set(runs)) == 1}")


if __name__ == "__main__":
    main()
