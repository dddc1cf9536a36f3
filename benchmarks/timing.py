"""Timing helper shared by the benchmark scripts (run them as ``python benchmarks/<family>.py``)."""
from __future__ import annotations

import time
from typing import Callable


def best_time(func: Callable[[], object], repeat: int = 3) -> float:
    """Minimum wall time of ``repeat`` calls of ``func`` (the least load-disturbed measurement)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return min(times)
