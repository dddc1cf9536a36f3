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
def test_progress_only_when_asked(tmp_path, capsys):
    pytest.importorskip("tqdm")
    runner.run(TOY, GRID, N, 3, runner.RunOptions())
    assert capsys.readouterr().err == ""
    runner.run(TOY, GRID, N, 3, runner.RunOptions(progress=True))
    assert "rep" in capsys.readouterr().err


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
        (pid,) = st.point_ids("ridge", [store_mod.point_params(runner.point_model(entry, group, 0))], group.sizes, 0)
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


def test_cli_jobs_and_unreachable_scheduler(capsys, monkeypatch, tmp_path):
    args = ["simulate", "ridge", "--gamma", "0.5", "--lam", "0,1", "--n", "12", "--reps", "6", "--format", "json"]
    one = cli_run(capsys, monkeypatch, TOY, *args, "--store", tmp_path / "a.sqlite")
    two = cli_run(capsys, monkeypatch, TOY, *args, "--jobs", "2", "--store", tmp_path / "b.sqlite")
    assert one[0] == two[0] == 0 and one[1] == two[1]
    code, _, err = cli_run(capsys, monkeypatch, TOY, *args, "--no-store", "--scheduler", "tcp://127.0.0.1:1")
    assert code == 2 and "scheduler" in err and err.count("\n") == 1


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
