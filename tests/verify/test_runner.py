"""The runner: seeding, reduction, reuse of stored replicates, parallel and Dask execution, faults.

A toy entry (the ridge specification with a replicate that draws a Gaussian matrix and takes its top
singular value) keeps these tests independent of the families.
"""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from overparam import Ridge
from overparam.errors import ParameterError
from overparam.verify import runner
from overparam.verify.registry import ModelEntry
from overparam.verify import store as store_mod
from overparam.verify.store import Store

CALLS: list[tuple[int, tuple]] = []  # (n, lam values) of every replicate computed in this process


def toy_theory(model):
    return {}


def toy_replicate(model, sizes, rng):
    """Top squared singular value / n of an n x p Gaussian matrix, shrunk by 1/(1 + lam); a NaN metric
    on some draws; an extra normal shared by the lam grid."""
    lam = np.atleast_1d(np.asarray(model.lam, dtype=float))
    CALLS.append((sizes["n"], tuple(lam)))
    x = rng.standard_normal((sizes["n"], sizes["p"]))
    top = np.linalg.svd(x, compute_uv=False)[0] ** 2 / sizes["n"]
    z = rng.standard_normal()
    if os.environ.get("TOY_SLEEP"):
        time.sleep(float(os.environ["TOY_SLEEP"]))
    return {"top": top / (1 + lam), "z": z, "pos": np.where(z > 0, z, np.nan) + 0 * lam}


def dying_replicate(model, sizes, rng):
    """Kills its worker process on the first call after the marker file is removed (or on every call when
    TOY_DIE=always)."""
    marker = Path(os.environ["TOY_MARKER"])
    if os.environ.get("TOY_DIE") == "always" or not marker.exists():
        marker.touch()
        os._exit(1)
    return toy_replicate(model, sizes, rng)


TOY = ModelEntry(Ridge, toy_theory, toy_replicate, shared=("lam",))
DYING = ModelEntry(Ridge, toy_theory, dying_replicate, shared=("lam",))
GRID = Ridge(gamma=np.array([0.5, 0.5, 0.5, 1.5]), lam=np.array([0.0, 0.1, 1.0, 0.0]))
N, REPS = 12, 8


def brute_force(entry, model, n, reps, seed):
    """Per point: replicates computed one by one with numpy, then numpy mean and std / sqrt(count)."""
    out = []
    for g in runner.groups(entry, model, n):
        samples = [runner.run_task(entry, g, seed, k) for k in range(reps)]
        for j, i in enumerate(g.index):
            rec = {}
            for m in samples[0]:
                x = np.array([s[m][j] for s in samples])
                x = x[~np.isnan(x)]
                rec[m] = x.mean()
                rec[m + "_se"] = x.std(ddof=1) / np.sqrt(len(x))
            out.append((int(i), rec))
    return [rec for _, rec in sorted(out, key=lambda t: t[0])]


def same(*runs):
    """Bit-identical records (NaN equal to NaN): float reprs round-trip exactly."""
    return len({json.dumps(r) for r in runs}) == 1


def metrics_of(records):
    return [{k: v for k, v in r.items() if k in ("top", "top_se", "z", "z_se", "pos", "pos_se")} for r in records]


# ------------------------------------------------------------------------------- reduction, seeds
def test_moments_chunked_equal_one_shot_and_numpy():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1000, 3)) * [1, 10, 1e-3] + [0, 1e6, 5]
    x[rng.random(x.shape) < 0.1] = np.nan
    m = runner.Moments(3)
    for start in range(0, 1000, 137):
        m.add(x[start:start + 137])
    mean, se = m.result()
    for c in range(3):
        col = x[:, c][~np.isnan(x[:, c])]
        assert mean[c] == pytest.approx(col.mean(), rel=1e-13)
        assert se[c] == pytest.approx(col.std(ddof=1) / np.sqrt(col.size), rel=1e-10)


def test_reduce_handles_nan_and_single_values():
    samples = [{"a": np.array([1.0, np.nan]), "b": np.array([2.0, 2.0])},
               {"a": np.array([3.0, np.nan]), "b": np.array([4.0, np.nan])}]
    out = runner.reduce(samples)
    assert out["a"][0] == 2.0 and out["a_se"][0] == pytest.approx(1.0)
    assert np.isnan(out["a"][1]) and np.isnan(out["a_se"][1])
    assert out["b"][1] == 2.0 and np.isnan(out["b_se"][1])


def test_shared_parameters_share_the_draw_and_seeds_depend_on_the_rest():
    g = runner.groups(TOY, GRID, N)
    assert [len(x.index) for x in g] == [3, 1]
    one = runner.run_task(TOY, g[0], 0, 2)
    assert one["z"][0] == one["z"][1] == one["z"][2]
    assert one["top"][1] * 1.1 == pytest.approx(one["top"][0], rel=1e-14)
    sub = runner.run_task(TOY, runner.subgroup(TOY, g[0], np.array([2])), 0, 2)
    assert sub["top"][0] == one["top"][2] and sub["z"][0] == one["z"][2]
    assert runner.run_task(TOY, g[0], 1, 2)["z"][0] != one["z"][0]
    assert runner.run_task(TOY, g[0], 0, 3)["z"][0] != one["z"][0]


def test_run_matches_brute_force_and_ignores_the_store(tmp_path):
    expected = brute_force(TOY, GRID, N, REPS, 4)
    without = runner.run(TOY, GRID, N, REPS, runner.RunOptions(seed=4))
    with_store = runner.run(TOY, GRID, N, REPS, runner.RunOptions(seed=4, store=tmp_path / "s.sqlite"))
    assert same(without, with_store)
    for got, exp in zip(metrics_of(without), expected):
        assert got == pytest.approx(exp, rel=1e-12)
    assert without[3]["gamma"] == 1.5 and (without[3]["n"], without[3]["p"]) == (N, 18)
    assert without[1]["lam"] == 0.1 and without[1]["reps"] == REPS and without[1]["seed"] == 4


# --------------------------------------------------------------------------------------- resume
def test_resume_computes_only_missing_replicates_and_shared_values(tmp_path):
    path = tmp_path / "s.sqlite"
    small = Ridge(gamma=0.5, lam=np.array([0.0, 1.0]))
    CALLS.clear()
    first = runner.run(TOY, small, N, 5, runner.RunOptions(store=path))
    assert len(CALLS) == 5
    CALLS.clear()
    assert same(runner.run(TOY, small, N, 5, runner.RunOptions(store=path)), first)
    assert CALLS == []
    more = runner.run(TOY, small, N, 7, runner.RunOptions(store=path))
    assert len(CALLS) == 2
    CALLS.clear()
    wider = Ridge(gamma=0.5, lam=np.array([0.0, 0.1, 1.0]))
    records = runner.run(TOY, wider, N, 7, runner.RunOptions(store=path))
    assert CALLS == [(N, (0.1,))] * 7  # replicate k re-run for the missing lam only
    assert same(metrics_of([records[0], records[2]]), metrics_of(more))
    assert same(metrics_of(records), metrics_of(runner.run(TOY, wider, N, 7)))


def test_fewer_reps_reuse_a_prefix(tmp_path):
    path = tmp_path / "s.sqlite"
    runner.run(TOY, GRID, N, REPS, runner.RunOptions(store=path))
    CALLS.clear()
    assert same(runner.run(TOY, GRID, N, 3, runner.RunOptions(store=path)), runner.run(TOY, GRID, N, 3))
    assert len(CALLS) == 2 * 3  # only the throw-away run computed


# ------------------------------------------------------------------------------ parallel, Dask
def test_unreachable_scheduler_is_a_one_line_parameter_error(tmp_path):
    pytest.importorskip("distributed")
    for address in ("tcp://127.0.0.1:1", "not-an-address"):
        with pytest.raises(ParameterError, match="scheduler") as info:
            runner.run(TOY, GRID, N, 2, runner.RunOptions(scheduler=address, store=tmp_path / "s.sqlite"))
        assert "\n" not in str(info.value)



def test_scheduler_without_dask_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if Dask were not installed
    with pytest.raises(ParameterError, match=r"overparam\[dask\]"):
        runner.run(TOY, GRID, N, 2, runner.RunOptions(scheduler="tcp://127.0.0.1:8786", store=tmp_path / "s.sqlite"))

def test_dead_worker_is_replaced_and_the_result_unchanged(tmp_path, monkeypatch):
    monkeypatch.setenv("TOY_MARKER", str(tmp_path / "died"))
    expected = runner.run(TOY, GRID, N, REPS, runner.RunOptions())
    got = runner.run(DYING, GRID, N, REPS, runner.RunOptions(jobs=2, store=tmp_path / "s.sqlite"))
    assert (tmp_path / "died").exists() and same(got, expected)


def test_workers_dying_for_good_give_a_clear_error_and_keep_the_store(tmp_path, monkeypatch):
    monkeypatch.setenv("TOY_MARKER", str(tmp_path / "died"))
    path = tmp_path / "s.sqlite"
    (tmp_path / "died").touch()
    first = runner.run(DYING, GRID, N, 3, runner.RunOptions(store=path))
    monkeypatch.setenv("TOY_DIE", "always")
    with pytest.raises(runner.WorkerLost, match="kept in the store"):
        runner.run(DYING, GRID, N, REPS, runner.RunOptions(jobs=2, store=path, retries=1))
    assert same(runner.run(DYING, GRID, N, 3, runner.RunOptions(store=path)), first)  # nothing recomputed
    monkeypatch.delenv("TOY_DIE")
    assert same(runner.run(DYING, GRID, N, REPS, runner.RunOptions(store=path)), runner.run(TOY, GRID, N, REPS))



@pytest.mark.slow
def test_dask_worker_death_is_retried(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    monkeypatch.setenv("TOY_MARKER", str(tmp_path / "died"))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        got = runner.run(DYING, GRID, N, REPS, runner.RunOptions(scheduler=cluster.scheduler_address,
                                                                 store=tmp_path / "s.sqlite"))
    assert (tmp_path / "died").exists() and same(got, runner.run(TOY, GRID, N, REPS))

# ------------------------------------------------------------------------------------ SIGKILL
KILL_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {here!r})
    import numpy as np
    from test_runner import TOY, Ridge
    from overparam.verify import runner
    runner.run(TOY, Ridge(gamma=np.array([0.5, 0.5, 1.5]), lam=np.array([0.0, 1.0, 0.0])), 12, 60,
               runner.RunOptions(seed=3, jobs={jobs}, store={store!r}))
""")


def _stored_rows(path: Path) -> int:
    try:
        con = sqlite3.connect(path, timeout=5)
        try:
            return con.execute("SELECT count(*) FROM replicates").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


@pytest.mark.parametrize("jobs, sig", [(1, signal.SIGKILL), (2, signal.SIGKILL), (2, signal.SIGINT)])
def test_a_killed_run_loses_nothing_and_the_rerun_matches(tmp_path, jobs, sig):
    """SIGKILL of the run and its workers, or Ctrl-C (SIGINT to the process group) which must also stop
    the workers promptly."""
    path = tmp_path / "s.sqlite"
    script = KILL_SCRIPT.format(here=str(Path(__file__).parent), jobs=jobs, store=str(path))
    env = dict(os.environ, TOY_SLEEP="0.01")
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, start_new_session=True,
                            stderr=subprocess.DEVNULL)  # Ctrl-C ends it with a KeyboardInterrupt traceback
    deadline = time.monotonic() + 60
    while _stored_rows(path) < 40 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    seen = _stored_rows(path)
    os.killpg(proc.pid, sig)
    proc.wait(timeout=30)
    assert 40 <= seen < 180, "the run must be killed mid-sweep"
    assert _stored_rows(path) >= seen
    grid = Ridge(gamma=np.array([0.5, 0.5, 1.5]), lam=np.array([0.0, 1.0, 0.0]))
    with Store(path) as store:
        c0, c1, c2 = [p.count for p in store.points()]
    assert c0 == c1  # the two lam values of a replicate are committed together
    CALLS.clear()
    resumed = runner.run(TOY, grid, 12, 60, runner.RunOptions(seed=3, store=path))
    assert len(CALLS) == (60 - c0) + (60 - c2)  # exactly the missing tasks
    assert same(resumed, runner.run(TOY, grid, 12, 60, runner.RunOptions(seed=3)))


# ---------------------------------------------------------------------------- progress, memory
def test_progress_bar_only_when_asked_with_counts_rate_and_label(capsys):
    runner.run(TOY, GRID, N, 3, runner.RunOptions())
    assert capsys.readouterr().err == ""
    runner.run(TOY, GRID, N, 3, runner.RunOptions(progress=True, label="scenario 2 of 5, n=12"))
    err = capsys.readouterr().err
    assert "scenario 2 of 5, n=12 6/6 [" in err and "rep/s ETA" in err and err.endswith("\r\x1b[K")


def test_bad_jobs_and_reps():
    with pytest.raises(ParameterError, match="jobs"):
        runner.run(TOY, GRID, N, 2, runner.RunOptions(jobs=0))
    with pytest.raises(ParameterError, match="reps"):
        runner.run(TOY, GRID, N, 0)


def scalar_replicate(model, sizes, rng):
    return {"x": rng.standard_normal()}


def peak_memory(fn):
    """Peak traced allocation (bytes) while fn runs."""
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_memory_does_not_grow_with_computed_replicates(monkeypatch):
    monkeypatch.setattr(store_mod, "CHUNK", 256)  # both runs then read back in several chunks
    entry = ModelEntry(Ridge, toy_theory, scalar_replicate)
    small = peak_memory(lambda: runner.run(entry, Ridge(gamma=0.5), 2, 1_000, runner.RunOptions()))
    large = peak_memory(lambda: runner.run(entry, Ridge(gamma=0.5), 2, 10_000, runner.RunOptions()))
    # keeping the 9000 extra samples would take ~3 MB; what grows is the task list's indices (8 B/replicate)
    assert large - small < 0.5e6


def test_1e5_stored_replicates_are_reduced_in_bounded_memory(tmp_path):
    entry = ModelEntry(Ridge, toy_theory, scalar_replicate)
    path, model, reps = tmp_path / "s.sqlite", Ridge(gamma=0.5), 100_000
    (group,) = runner.groups(entry, model, 2)
    x = np.random.default_rng(0).standard_normal(reps)
    with Store(path) as st:
        (pid,) = st.point_ids("ridge", [store_mod.point_params(runner.point_model(entry, group, 0))], group.sizes, 0,
                              runner.simulator_key(entry))
        st.put([pid], 0, {"x": x[:1]})
    con = sqlite3.connect(path)
    con.executemany("INSERT INTO replicates VALUES (?, ?, ?)", ((int(pid), k, x[k:k + 1].tobytes())
                                                                for k in range(1, reps)))
    con.commit()
    con.close()
    records = []
    peak = peak_memory(lambda: records.extend(runner.run(entry, model, 2, reps, runner.RunOptions(store=path))))
    assert records[0]["x"] == pytest.approx(x.mean(), abs=1e-14)
    assert records[0]["x_se"] == pytest.approx(x.std(ddof=1) / np.sqrt(reps), rel=1e-10)
    assert peak < 5e6  # the samples alone are 0.8 MB as floats, ~30 MB as per-replicate dicts

# ------------------------------------------------------------------------- command line (issue 8)
def shifted_replicate(model, sizes, rng):
    """Mean exactly 1 + 2/n: the a + b/n extrapolation must recover a = 1."""
    return {"x": 1 + 2 / sizes["n"] + 0.3 * rng.standard_normal()}


def one_theory(model):
    return {"x": np.ones(np.shape(model.gamma))}


SHIFTED = ModelEntry(Ridge, one_theory, shifted_replicate)


def cli_run(capsys, monkeypatch, entry, *argv):
    from overparam.verify import cli, registry

    monkeypatch.setattr(registry, "model_entry", lambda name: entry)
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_extrapolate_recovers_the_intercept(capsys, monkeypatch):
    code, out, _ = cli_run(capsys, monkeypatch, SHIFTED, "simulate", "ridge", "--gamma", "0.5,2", "--n", "10,20,40,80",
                           "--reps", "400", "--extrapolate", "--no-store", "--format", "json")
    recs = json.loads(out)
    assert code == 0 and [r["gamma"] for r in recs] == [0.5, 2.0]
    for r in recs:
        assert r["x_theory"] == 1.0 and r["sizes"] == "10,20,40,80" and r["reps"] == 400
        assert abs(r["x"] - 1) < 4 * r["x_se"] and 0 < r["x_se"] < 0.05
        assert abs(r["x_slope"] - 2) < 1.5  # se of the slope is ~0.3 here
    code, _, err = cli_run(capsys, monkeypatch, SHIFTED, "simulate", "ridge", "--n", "10", "--reps", "5",
                           "--extrapolate", "--no-store")
    assert code == 2 and "two or more sizes" in err
    code, out, err = cli_run(capsys, monkeypatch, SHIFTED, "simulate", "ridge", "--n", "10,20,40", "--reps", "1",
                             "--extrapolate", "--no-store")
    assert code == 2 and "reps = 1" in err and err.count("\n") == 1 and out == ""


def test_cli_jobs_and_unreachable_scheduler(capsys, monkeypatch, tmp_path):
    args = ["simulate", "ridge", "--gamma", "0.5", "--lam", "0,1", "--n", "12", "--reps", "6", "--format", "json"]
    one = cli_run(capsys, monkeypatch, TOY, *args, "--store", tmp_path / "a.sqlite")
    two = cli_run(capsys, monkeypatch, TOY, *args, "--jobs", "2", "--store", tmp_path / "b.sqlite")
    assert one[0] == two[0] == 0 and one[1] == two[1]
    code, _, err = cli_run(capsys, monkeypatch, TOY, *args, "--no-store", "--scheduler", "tcp://127.0.0.1:1")
    assert code == 2 and "scheduler" in err and err.count("\n") == 1


# ------------------------------------------------------------------- results keyed by content
SIM_SOURCE = textwrap.dedent("""
    import numpy as np

    def replicate(model, sizes, rng):
        return {{"x": rng.standard_normal() + {shift}}}
""")


def load_simulator(path: Path, shift: float):
    """A replicate function from a module file written now (a fresh module object each time)."""
    import importlib.util

    path.write_text(SIM_SOURCE.format(shift=shift))
    spec = importlib.util.spec_from_file_location("toy_simulator", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return ModelEntry(Ridge, toy_theory, module.replicate)


def test_changed_simulator_code_is_not_served_old_rows(tmp_path):
    path, store = tmp_path / "toy_simulator.py", tmp_path / "s.sqlite"
    old = runner.run(load_simulator(path, 0.0), Ridge(), N, 4, runner.RunOptions(store=store))
    again = load_simulator(path, 0.0)  # same source, new module object: reused
    assert runner.simulator_key(again) == runner.simulator_key(load_simulator(path, 0.0))
    assert same(runner.run(again, Ridge(), N, 4, runner.RunOptions(store=store)), old)
    changed = load_simulator(path, 1.0)
    assert runner.simulator_key(changed) != runner.simulator_key(again)
    new = runner.run(changed, Ridge(), N, 4, runner.RunOptions(store=store))
    assert new[0]["x"] == pytest.approx(old[0]["x"] + 1.0, abs=1e-12)  # same draws, new code
    with Store(store) as st:
        assert [p.count for p in st.points()] == [4, 4]  # the old rows stay readable


def test_rows_of_an_older_release_stay_readable_but_are_not_reused(tmp_path, capsys):
    from overparam import __version__
    from overparam.verify import cli

    path, model = tmp_path / "s.sqlite", Ridge(gamma=0.5)
    (group,) = runner.groups(TOY, model, N)
    with Store(path) as st:  # what release 0.1.0 wrote: the bare package version as the key
        (pid,) = st.point_ids("ridge", [store_mod.point_params(runner.point_model(TOY, group, 0))], group.sizes, 0,
                              __version__)
        st.put([pid], 0, {"top": np.array([123.0]), "z": np.array([0.0]), "pos": np.array([np.nan])})
    CALLS.clear()
    assert runner.run(TOY, model, N, 1, runner.RunOptions(store=path))[0]["top"] != 123.0 and len(CALLS) == 1
    assert cli.main(["store", "show", "--store", str(path), "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [r["version"] for r in shown] == [__version__, runner.simulator_key(TOY)] and shown[0]["top"] == 123.0


def test_simulator_key_covers_the_package_modules_it_uses():
    from overparam.verify.registry import model_entry

    entry = model_entry("ridge")
    home = sys.modules[runner._function(entry.replicate).__module__]
    used = set(runner._modules_used(home))
    assert {"overparam.simulate.ridge", "overparam.models", "overparam.choices", "overparam.errors"} <= used
    assert not any(m.startswith(("overparam.theory", "overparam.verify")) for m in used)


def spectrum_replicate(model, sizes, rng):
    CALLS.append((sizes["n"], ()))
    return {"trace": model.spectrum.for_dimension(sizes["p"]).sum() + 0 * rng.standard_normal()}


SPECTRUM = ModelEntry(Ridge, toy_theory, spectrum_replicate)


def test_changed_file_spectrum_is_recomputed_and_a_moved_one_reused(tmp_path):
    store, first, moved = tmp_path / "s.sqlite", tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("1 2 3 4")
    options = runner.RunOptions(store=store)
    spec = Ridge(gamma=2.0, spectrum=f"file:{first}")
    assert runner.run(SPECTRUM, spec, N, 3, options)[0]["trace"] == 10
    first.write_text("1 2 3 5")
    CALLS.clear()
    assert runner.run(SPECTRUM, Ridge(gamma=2.0, spectrum=f"file:{first}"), N, 3, options)[0]["trace"] == 11
    assert len(CALLS) == 3
    moved.write_text("1 2 3 5")
    CALLS.clear()
    assert runner.run(SPECTRUM, Ridge(gamma=2.0, spectrum=f"file:{moved}"), N, 3, options)[0]["trace"] == 11
    assert CALLS == []


def test_one_blas_thread_only_inside_run(tmp_path):
    import threadpoolctl  # a core dependency: a missing install must fail, not skip
    seen = []

    def replicate(model, sizes, rng):
        seen.append({i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"})
        if len(seen) == 3:
            raise RuntimeError("boom")
        return {"x": rng.standard_normal()}

    entry = ModelEntry(Ridge, toy_theory, replicate)
    before = threadpoolctl.threadpool_info()
    with threadpoolctl.threadpool_limits(limits=2):  # a caller's own setting is restored too
        inside = threadpoolctl.threadpool_info()
        with pytest.raises(RuntimeError, match="boom"):
            runner.run(entry, Ridge(), N, 5)
        assert threadpoolctl.threadpool_info() == inside
    assert threadpoolctl.threadpool_info() == before
    assert seen and all(s == {1} for s in seen if s)


# ---------------------------------------------------------------------- processes and sharing
RUN_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {here!r})
    import numpy as np
    from test_runner import CALLS, TOY
    from overparam.verify import cli, registry
    registry.model_entry = lambda name: TOY
    code = cli.main(["simulate", "ridge", "--gamma", "0.5", "--lam", "0,1", "--n", "12", "--reps", {reps!r},
                     "--jobs", {jobs!r}, "--store", {store!r}, "--format", "csv"])
    print("computed", len(CALLS), file=sys.stderr)
    sys.exit(code)
""")


def start(tmp_path, store, reps=60, jobs=2, sleep="0.01"):
    script = RUN_SCRIPT.format(here=str(Path(__file__).parent), reps=str(reps), jobs=str(jobs), store=str(store))
    return subprocess.Popen([sys.executable, "-c", script], env=dict(os.environ, TOY_SLEEP=sleep),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_rows(path, count, proc, seconds=60):
    deadline = time.monotonic() + seconds
    while _stored_rows(path) < count and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    return _stored_rows(path)


def children(pid):
    """Process ids of the children of pid (Linux /proc)."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(x) for x in (task / "children").read_text().split()]
    return out


def gone(pid):
    """Exited (absent, or a zombie nobody has reaped yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def wait_gone(pids, seconds=10):
    deadline = time.monotonic() + seconds
    while not all(gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [p for p in pids if not gone(p)]


linux_only = pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")


@linux_only
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_signal_to_the_parent_alone_stops_its_workers(tmp_path, sig):
    """SIGTERM: like Ctrl-C (one line, exit 130, everything finished committed); SIGKILL: the workers
    notice that their parent is gone and exit."""
    path = tmp_path / "s.sqlite"
    proc = start(tmp_path, path, reps=100, sleep="0.02")  # >= 0.7 s of work left when the signal comes
    seen = wait_rows(path, 30, proc)
    workers = children(proc.pid)
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=30)
    assert len(workers) == 2 and 30 <= seen < 200
    assert wait_gone(workers) == []
    if sig == signal.SIGTERM:
        lines = [x for x in err.splitlines() if not x.startswith("computed")]
        assert proc.returncode == 130 and len(lines) == 1 and "interrupted" in lines[0]
    assert _stored_rows(path) >= seen
    grid = Ridge(gamma=0.5, lam=np.array([0.0, 1.0]))
    with Store(path) as st:
        done = st.points()[0].count
    CALLS.clear()
    resumed = runner.run(TOY, grid, 12, 100, runner.RunOptions(store=path))
    assert len(CALLS) == 100 - done
    assert same(resumed, runner.run(TOY, grid, 12, 100))


def test_two_runs_on_one_store_share_the_work(tmp_path):
    """The second run starts while the first has >= 2.5 s of work left (0.1 s a replicate, claimed one
    by one): they split the replicates, each computed once, and print the same statistics."""
    path = tmp_path / "s.sqlite"
    first = start(tmp_path, path, reps=30, jobs=1, sleep="0.1")
    wait_rows(path, 2, first)
    procs = [first, start(tmp_path, path, reps=30, jobs=1, sleep="0.1")]
    outs = [p.communicate(timeout=120) for p in procs]
    computed = [int(err.split("computed")[1]) for _, err in outs]
    assert [p.returncode for p in procs] == [0, 0]
    assert sum(computed) == 30 and min(computed) > 0
    assert outs[0][0] == outs[1][0]  # both print every replicate's statistics


def test_stale_claims_are_taken_over(tmp_path):
    """A claim whose owner is a dead process on this host, or whose lease expired, does not block."""
    path, grid = tmp_path / "s.sqlite", Ridge(gamma=0.5, lam=np.array([0.0, 1.0]))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    with Store(path) as st:
        (g,) = runner.groups(TOY, grid, N)
        ids = st.point_ids("ridge", [store_mod.point_params(runner.point_model(TOY, g, j)) for j in range(2)],
                           g.sizes, 0, runner.simulator_key(TOY))
        dead_owner = f"{store_mod.HOST}:{dead}:x"
        assert (st.claim([(int(ids[0]), 0), (int(ids[1]), 0)], dead_owner, 1e6) == store_mod.MINE).all()
        assert (st.claim([(int(ids[0]), 1)], "elsewhere:1:x", -1.0) == store_mod.MINE).all()
        assert (st.claim([(int(ids[0]), 2)], "elsewhere:1:x", 1e6) == store_mod.MINE).all()
        assert st.claim([(int(ids[0]), 2), (int(ids[0]), 0)], "host2:2:y", 10).tolist() == [store_mod.TAKEN,
                                                                                              store_mod.MINE]
        st.release("elsewhere:1:x")
        st.release("host2:2:y")
        assert (st.claim([(int(ids[0]), 3)], "host3:3:z", 0.5) == store_mod.MINE).all()  # live for 0.5 s
    CALLS.clear()
    t0 = time.monotonic()
    got = runner.run(TOY, grid, N, 4, runner.RunOptions(store=path))
    assert time.monotonic() - t0 > 0.4  # waited for the live claim to expire, then took it over
    assert CALLS == [(N, (0.0, 1.0))] * 4  # a replicate of the lam grid is claimed (and computed) as one
    assert same(got, runner.run(TOY, grid, N, 4))


def test_cli_check_uses_a_throw_away_store_unless_told(tmp_path):
    from overparam.verify import cli

    def options(*argv):
        args, _ = cli.build_parser().parse_known_args(["check", "--jobs", "1", *argv])
        return cli._run_options(args)

    assert options().store is None
    assert options("--store", str(tmp_path / "s.sqlite")).store == str(tmp_path / "s.sqlite")
    args, _ = cli.build_parser().parse_known_args(["simulate", "ridge", "--n", "10", "--reps", "2"])
    assert cli._run_options(args).store == store_mod.default_path()


# ------------------------------------------------------- Dask last (its threads make later pools spawn)
def test_jobs_and_dask_are_bit_identical(tmp_path):
    distributed = pytest.importorskip("distributed")
    serial = runner.run(TOY, GRID, N, REPS, runner.RunOptions(seed=7))
    two = runner.run(TOY, GRID, N, REPS, runner.RunOptions(seed=7, jobs=2, store=tmp_path / "j2.sqlite"))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        dask = runner.run(TOY, GRID, N, REPS, runner.RunOptions(seed=7, scheduler=cluster.scheduler_address,
                                                                 store=tmp_path / "d.sqlite"))
    assert same(serial, two, dask)
    with Store(tmp_path / "j2.sqlite") as a, Store(tmp_path / "d.sqlite") as b:
        assert len(a.points()) == len(b.points()) == 4
        for pa, pb in zip(a.points(), b.points()):
            assert b"".join(c.tobytes() for c in a.chunks(pa.id)) == b"".join(c.tobytes() for c in b.chunks(pb.id))
