"""Command-line latency as ratios to ``python -c "import numpy"`` (issue 12 targets).

Each command runs as a fresh process; the rounds are interleaved (baseline, then every command, repeated)
so machine-speed drift hits all alike, and the medians of the whole-process wall time and CPU time
(user + sys of the child, from ``resource.getrusage(RUSAGE_CHILDREN)``) are compared with the baseline's.
A warm-up round is not counted (it fills the OS file cache). Run ``python benchmarks/cli.py [ROUNDS]``.

    target ratio (wall): --help, list <= 3; one-point curve <= 4; 1000-point power-law ridge curve and
    200-point random-features curve <= 6
"""
from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time

PY = sys.executable
CLI = [PY, "-m", "overparam.verify.cli"]
COMMANDS = {
    "--help": (CLI + ["--help"], 3.0),
    "list": (CLI + ["list"], 3.0),
    "curve ridge (1 point)": (CLI + ["curve", "ridge"], 4.0),
    "curve ridge 1000 x power-law:1,10000": (CLI + ["curve", "ridge", "--gamma", "0.1:10:1000", "--lam", "0.1",
                                                    "--spectrum", "power-law:1,10000"], 6.0),
    "curve random-features (200 points)": (CLI + ["curve", "random-features", "--psi1", "0.1:10:200"], 6.0),
}
BASELINE = [PY, "-c", "import numpy"]


def measure(argv: list[str]) -> tuple[float, float]:
    """(wall, cpu) seconds of one fresh process running ``argv`` (output discarded)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(rounds: int = 7) -> int:
    names = ["baseline", *COMMANDS]
    argvs = {"baseline": BASELINE, **{k: v[0] for k, v in COMMANDS.items()}}
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in names}
    for r in range(rounds + 1):
        for name in names:
            result = measure(argvs[name])
            if r:  # round 0 is the warm-up
                times[name].append(result)
    base_wall = statistics.median(w for w, _ in times["baseline"])
    base_cpu = statistics.median(c for _, c in times["baseline"])
    print(f"baseline `python -c 'import numpy'`: wall {base_wall:.3f} s, cpu {base_cpu:.3f} s "
          f"(medians of {rounds} interleaved rounds)")
    print(f"{'command':<40} {'wall s':>7} {'ratio':>6} {'cpu s':>7} {'ratio':>6} {'target':>6}")
    ok = True
    for name, (_, target) in COMMANDS.items():
        wall = statistics.median(w for w, _ in times[name])
        cpu = statistics.median(c for _, c in times[name])
        ratio = wall / base_wall
        ok &= ratio <= target
        print(f"{name:<40} {wall:7.3f} {ratio:6.2f} {cpu:7.3f} {cpu / base_cpu:6.2f} {target:6.1f}"
              f"{'' if ratio <= target else '  OVER'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 7))
