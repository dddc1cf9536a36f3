"""CPU-time measurement shared by the benchmark scripts (run them as ``python benchmarks/<family>.py``).

The rules of every comparison (issue 13): CPU time of this process (``time.process_time``); ONE BLAS thread
for every contender (threadpoolctl, entered after all imports: a BLAS library loaded later, e.g. scipy's by a
lazy import, would otherwise keep its default thread count); contenders timed in interleaved rounds
(A B C A B C ...) and the median of each reported; each contender's accuracy (duality gap, KKT residual,
fixed-point residual, difference to a reference) printed beside its time; a comparison with what nobody
competent would run is labelled "what a naive user runs".
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from contextlib import contextmanager
from typing import Callable, Iterator

import numpy as np


def environment() -> str:
    """Machine, library versions and BLAS, for the header of every benchmark's output."""
    import numba
    import scipy
    from threadpoolctl import threadpool_info

    blas = ", ".join(f"{d['internal_api']} {d.get('version')} ({d['prefix']}, {d.get('architecture')})"
                     for d in threadpool_info() if d["user_api"] == "blas")
    libs = f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, numba " \
           f"{numba.__version__}"
    try:
        import sklearn
        libs += f", scikit-learn {sklearn.__version__}"
    except ImportError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, load {load:.1f}; "
            f"{libs}\nBLAS: {blas}; CPU time (process_time), 1 BLAS thread, interleaved rounds, medians")


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Every loaded BLAS/OpenMP library limited to one thread (enter after the imports)."""
    from threadpoolctl import threadpool_info, threadpool_limits

    with threadpool_limits(1):
        assert all(d["num_threads"] == 1 for d in threadpool_info()), "a BLAS library kept several threads"
        yield


def cpu_time(func: Callable[[], object]) -> tuple[float, object]:
    """(CPU seconds, result) of one call."""
    t0 = time.process_time()
    out = func()
    return time.process_time() - t0, out


def interleaved(contenders: dict[str, Callable[[], object]], rounds: int = 5) -> dict[str, tuple[float, object]]:
    """{name: (median CPU seconds, result of the last call)}: one warm-up call each (imports, JIT, caches), then
    ``rounds`` rounds calling every contender once in turn."""
    results = {name: func() for name, func in contenders.items()}
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, func in contenders.items():
            t, results[name] = cpu_time(func)
            times[name].append(t)
    return {name: (float(np.median(times[name])), results[name]) for name in contenders}


def report(title: str, rows: dict[str, tuple[float, str]], base: str) -> None:
    """Print a table: contender, median CPU ms, ratio (contender time / base time), accuracy."""
    print(title)
    t_base = rows[base][0]
    for name, (t, accuracy) in rows.items():
        print(f"  {name:52s} {t * 1e3:10.1f} ms  {t / t_base:7.2f}x  {accuracy}")


def main(doc: str, *benches: Callable[[int, argparse.Namespace], None], **flags: str) -> None:
    """Command line of a benchmark script: ``--quick`` (3 rounds instead of 5, smaller sizes where the script
    says so) and the boolean ``flags`` (name: help), the environment header, then every
    ``bench(rounds, options)`` with one BLAS thread."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 rounds instead of 5, smaller sizes")
    for name, help_text in flags.items():
        ap.add_argument(f"--{name}", action="store_true", help=help_text)
    options = ap.parse_args()
    print(environment())
    with one_blas_thread():
        for bench in benches:
            bench(3 if options.quick else 5, options)
