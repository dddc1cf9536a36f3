"""ntk-init benchmarks (standalone: ``python benchmarks/ntk.py``), CPU time with one BLAS thread, each pair
timed back to back in every round (interleaved) and reported as medians over the rounds.

1. A 1000-point theory curve (gamma in [0.1, 3], steps = 10 and 100) against what a user would write: a loop
   of ``scipy.integrate.quad`` over the Marchenko-Pastur density per point for train_loss and
   train_loss_signal (the eigenvalues are closed forms either way). The largest relative difference among
   values above 1e-12 is printed (ours is exact to 1e-12 relative down to 1e-70, tests/theory/test_ntk.py).
2. One replicate at n = 2000 against its floor, one n x n matrix product plus one symmetric eigensolve with
   eigenvectors (``numpy.linalg.eigh``), which any exact computation of the metrics needs.
3. The finite-width Gram matrix K = (D D^T/k) o (X X^T) against forming the Jacobian J (n x kd) and J J^T,
   at n = 200, k = 200, d = 400 (J has 1.6e7 entries; at n = 2000 it would not fit in memory).
"""
from __future__ import annotations

import time

import numpy as np
from scipy import integrate
from threadpoolctl import threadpool_limits

from overparam.models import NtkInit
from overparam.simulate import ntk as sim
from overparam.theory import ntk as th


def _cpu(f) -> tuple[float, object]:
    t0 = time.process_time()
    out = f()
    return time.process_time() - t0, out


def _quad_losses(gamma: np.ndarray, steps: int, a: float, v: float, lam_max: np.ndarray) -> np.ndarray:
    """Per-point quad over the MP density (atom at 0 added for gamma > 1): (train_loss, train_loss_signal)."""
    out = np.empty((len(gamma), 2))
    for i, (g, lm) in enumerate(zip(gamma, lam_max)):
        lo, hi = (1 - np.sqrt(g)) ** 2, (1 + np.sqrt(g)) ** 2
        dens = lambda s: np.sqrt(max((hi - s) * (s - lo), 0.0)) / (2 * np.pi * g * s)  # noqa: E731
        f = lambda s: (1 - (v + a * s) / lm) ** (2 * steps)  # noqa: E731
        atom = max(1 - 1 / g, 0.0) * f(0.0)
        out[i, 0] = atom + integrate.quad(lambda s: f(s) * dens(s), lo, hi, epsabs=1e-14, epsrel=1e-12, limit=200)[0]
        out[i, 1] = integrate.quad(lambda s: s * f(s) * dens(s), lo, hi, epsabs=1e-14, epsrel=1e-12, limit=200)[0]
    return out


def bench_curve(rounds: int = 5, points: int = 1000) -> None:
    gamma = np.linspace(0.1, 3, points)
    for act in ("relu", "tanh", "erf", "0.2,0.5"):
        for steps in (10, 100):
            model = NtkInit(gamma=gamma, activation=act, steps=steps)
            th.theory(model)  # warm-up (activation moments are cached)
            mu0, _, second = th.gaussian_moments(model.activation)
            ours_t, loop_t = [], []
            for _ in range(rounds):
                t, ours = _cpu(lambda: th.theory(model))
                ours_t.append(t)
                sub = slice(None, None, 20)  # the loop on every 20th point, scaled to the whole curve
                t, loop = _cpu(lambda: _quad_losses(gamma[sub], steps, mu0**2, second - mu0**2,
                                                    ours["max_eigenvalue"][sub]))
                loop_t.append(t * 20)
            ref = np.column_stack([ours["train_loss"][sub], ours["train_loss_signal"][sub]])
            big = ref > 1e-12  # quad's absolute tolerance leaves smaller values to a few digits
            diff = np.max(np.abs(loop[big] / ref[big] - 1))
            print(f"curve {points} points {act:8s} steps={steps:3d}: ours {np.median(ours_t) * 1e3:6.1f} ms CPU, "
                  f"quad loop {np.median(loop_t):6.2f} s, ratio {np.median(loop_t) / np.median(ours_t):6.0f}x "
                  f"(max relative difference {diff:.1e})")


def bench_replicate(n: int = 2000, rounds: int = 3) -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n))
    s = a + a.T
    for params in (dict(gamma=0.5), dict(gamma=2.0), dict(gamma=0.5, activation="tanh"),
                   dict(gamma=0.5, width=1.0), dict(gamma=0.5, scaling="quadratic")):
        model = NtkInit(**params)
        sizes = model.sizes(n)
        ours_t, floor_t = [], []
        for k in range(rounds):
            ours_t.append(_cpu(lambda: sim.replicate(model, sizes, np.random.default_rng(k)))[0])
            floor_t.append(_cpu(lambda: (a @ a, np.linalg.eigh(s)))[0])
        print(f"replicate n={n} {params} sizes {sizes}: {np.median(ours_t):.2f} s CPU, floor (n x n product + "
              f"eigh) {np.median(floor_t):.2f} s, ratio {np.median(ours_t) / np.median(floor_t):.2f}")


def bench_jacobian(n: int = 200, k: int = 200, d: int = 400, rounds: int = 3) -> None:
    model = NtkInit(gamma=n / d, width=k / n)
    sizes = {"n": n, "d": d, "k": k}

    def brute():
        rng = np.random.default_rng(1)
        x = rng.standard_normal((n, d))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        w = rng.standard_normal((k, d))
        dd = (x @ w.T > 0) / np.sqrt(k)
        jac = (dd[:, :, None] * x[:, None, :]).reshape(n, k * d)  # row i: [v_l phi'(<w_l, x_i>) x_i]_l
        return jac @ jac.T

    ours_t, brute_t = [], []
    for _ in range(rounds):
        t, (_, _, kk) = _cpu(lambda: sim.gram(model, sizes, np.random.default_rng(1)))
        ours_t.append(t)
        t, kb = _cpu(brute)
        brute_t.append(t)
    print(f"finite-width Gram n={n} k={k} d={d}: Hadamard form {np.median(ours_t) * 1e3:.1f} ms CPU, explicit "
          f"Jacobian {np.median(brute_t) * 1e3:.0f} ms, ratio {np.median(brute_t) / np.median(ours_t):.0f}x "
          f"(max |difference| {np.max(np.abs(kk - kb)):.1e})")


if __name__ == "__main__":
    with threadpool_limits(1):
        bench_curve()
        bench_replicate()
        bench_jacobian()
