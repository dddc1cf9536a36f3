"""The SQLite results store: round trip, content keys, inspection, export, clear, refusal of foreign files,
corrupted pages, read-only stores and unwritable directories (one line each)."""
import csv
import json
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest

from overparam import Ridge, __version__
from overparam.errors import StoreError
from overparam.verify import store as store_mod
from overparam.verify.store import Store

SIZES = {"n": 10, "p": 20}
CODE = __version__ + "+test"


def fill(store: Store, reps: int = 3, seed: int = 0) -> np.ndarray:
    """Two lam points, metrics a (k + lam) and b (NaN, inf, -0.0 patterns)."""
    params = [store_mod.point_params(Ridge(lam=lam)) for lam in (0.0, 0.5)]
    ids = store.point_ids("ridge", params, SIZES, seed, CODE)
    for k in range(reps):
        store.put(ids, k, {"a": np.array([k + 0.0, k + 0.5]), "b": np.array([np.nan, [np.inf, -0.0, 1e-300][k % 3]])})
    return ids


def test_round_trip_is_exact_and_survives_reopening(tmp_path):
    path = tmp_path / "s.sqlite"
    with Store(path) as st:
        ids = fill(st)
    with Store(path) as st:
        again = st.point_ids("ridge", [store_mod.point_params(Ridge(lam=lam)) for lam in (0.0, 0.5)], SIZES, 0, CODE)
        assert list(again) == list(ids)
        assert st.metrics(int(ids[1])) == ("a", "b")
        (chunk,) = list(st.chunks(int(ids[1])))
        assert chunk[:, 0].tolist() == [0.5, 1.5, 2.5]
        assert chunk[0, 1] == np.inf and chunk[2, 1] == 1e-300
        assert np.signbit(chunk[1, 1]) and chunk[1, 1] == 0
        assert np.isnan(list(st.chunks(int(ids[0])))[0][:, 1]).all()
        assert st.stored(ids, 5).tolist() == [[True] * 3 + [False] * 2] * 2
        assert [c.shape[0] for c in st.chunks(int(ids[0]), 2)] == [2]
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_keys_separate_seed_sizes_version_and_parameters(tmp_path):
    with Store(tmp_path / "s.sqlite") as st:
        base = st.point_ids("ridge", [store_mod.point_params(Ridge())], SIZES, 0, CODE)[0]
        others = [st.point_ids("ridge", [store_mod.point_params(Ridge())], SIZES, 1, CODE)[0],
                  st.point_ids("ridge", [store_mod.point_params(Ridge())], {"n": 10, "p": 21}, 0, CODE)[0],
                  st.point_ids("ridge", [store_mod.point_params(Ridge())], SIZES, 0, "0.0.1")[0],
                  st.point_ids("ridge", [store_mod.point_params(Ridge(sigma2=0.25))], SIZES, 0, CODE)[0],
                  st.point_ids("ridge", [store_mod.point_params(Ridge(spectrum="two-point:1,2"))], SIZES, 0, CODE)[0],
                  st.point_ids("lasso", [store_mod.point_params(Ridge())], SIZES, 0, CODE)[0]]
        assert len({base, *others}) == 7
        assert st.point_ids("ridge", [store_mod.point_params(Ridge(gamma=np.float64(2.0)))], SIZES, 0, CODE)[0] == base


def test_point_params_is_canonical_json():
    text = store_mod.point_params(Ridge(gamma=0.1 + 0.2, spectrum="power-law:1,10"))
    params = json.loads(text)
    assert params["gamma"] == 0.1 + 0.2 and params["spectrum"] == "power-law:1,10"
    assert list(params) == ["gamma", "lam", "r2", "sigma2", "spectrum"]


def test_points_export_and_clear(tmp_path):
    with Store(tmp_path / "s.sqlite") as st:
        fill(st)
        fill(st, reps=2, seed=9)
        pts = st.points()
        assert [p.count for p in pts] == [3, 3, 2, 2]
        assert pts[1].params["lam"] == 0.5 and pts[1].sizes == SIZES and pts[1].version == CODE
        assert pts[2].columns()["seed"] == 9 and pts[0].metrics == ("a", "b")
        assert st.export(tmp_path / "out" / "all.csv") == 10
        rows = list(csv.DictReader((tmp_path / "out" / "all.csv").open()))
        assert len(rows) == 10 and rows[4]["lam"] == "0.5" and rows[4]["k"] == "1" and rows[4]["a"] == "1.5"
        assert float(rows[3]["b"]) == np.inf and rows[0]["b"] == "nan" and rows[0]["n"] == "10"
        assert st.points(["lasso"]) == [] and st.export(tmp_path / "none.csv", ["lasso"]) == 0
        with pytest.raises(ValueError, match="csv"):
            st.export(tmp_path / "x.xlsx")
        assert st.clear(["lasso"]) == 0 and st.clear() == 10 and st.points() == []


def test_parquet_export(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    with Store(tmp_path / "s.sqlite") as st:
        fill(st)
        assert st.export(tmp_path / "all.parquet") == 6
    frame = pd.read_parquet(tmp_path / "all.parquet")
    assert frame["a"].tolist() == [0.0, 1.0, 2.0, 0.5, 1.5, 2.5] and frame["model"].iloc[0] == "ridge"


def test_changed_metric_names_are_refused(tmp_path):
    with Store(tmp_path / "s.sqlite") as st:
        ids = fill(st)
        with pytest.raises(StoreError, match="metrics"):
            st.put(ids, 7, {"a": np.zeros(2)})
        assert st.stored(ids, 8)[:, 7].tolist() == [False, False]  # the transaction rolled back


@pytest.mark.parametrize("kind", ["text", "other-sqlite", "schema", "directory"])
def test_foreign_or_incompatible_files_are_refused_untouched(tmp_path, kind):
    path = tmp_path / "s.sqlite"
    if kind == "text":
        path.write_text("lam,risk\n0.1,0.5\n" * 100)
    elif kind == "other-sqlite":
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE t (x)")
        con.commit()
        con.close()
    elif kind == "schema":
        with Store(path):
            pass
        con = sqlite3.connect(path)
        con.execute(f"PRAGMA user_version = {store_mod.SCHEMA + 1}")
        con.commit()
        con.close()
    else:
        path.mkdir()
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(StoreError) as info:
        Store(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert ("incompatible" in message.replace(str(path), "")) == (kind == "schema")
    if before is not None:
        assert path.read_bytes() == before


def test_empty_file_becomes_a_store(tmp_path):
    (tmp_path / "s.sqlite").touch()
    with Store(tmp_path / "s.sqlite") as st:
        assert st.points() == []


def test_default_path_honours_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("OVERPARAM_STORE", str(tmp_path / "x.sqlite"))
    assert store_mod.default_path() == tmp_path / "x.sqlite"
    monkeypatch.delenv("OVERPARAM_STORE")
    assert store_mod.default_path() == Path.home() / ".cache" / "overparam" / "results.sqlite"


def test_throw_away_store_is_removed():
    with store_mod.open_store(None) as st:
        fill(st)
        where = st.path
        assert where.exists()
    assert not where.parent.exists()


# ------------------------------------------------------------------------------ `overparam store`
def cli(capsys, *argv):
    from overparam.verify import cli as cli_mod

    code = cli_mod.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_store_command_lists_shows_exports_and_clears(tmp_path, capsys):
    path = tmp_path / "s.sqlite"
    with Store(path) as st:
        fill(st)
    code, out, _ = cli(capsys, "store", "list", "--store", path, "--format", "json")
    listed = json.loads(out)
    assert code == 0 and [(r["lam"], r["n"], r["replicates"]) for r in listed] == [(0.0, 10, 3), (0.5, 10, 3)]
    code, out, _ = cli(capsys, "store", "show", "ridge", "--store", path, "--format", "json")
    shown = json.loads(out)[1]
    assert shown["a"] == pytest.approx(1.5) and shown["a_se"] == pytest.approx(np.std([0.5, 1.5, 2.5], ddof=1) / np.sqrt(3))
    assert shown["b"] == np.inf and shown["reps"] == 3
    code, out, _ = cli(capsys, "store", "export", "--store", path, "--out", tmp_path / "x.csv")
    assert code == 0 and "6 replicates" in out and len((tmp_path / "x.csv").read_text().splitlines()) == 7
    code, out, _ = cli(capsys, "store", "clear", "lasso", "--store", path)
    assert code == 0 and "deleted 0" in out
    code, out, _ = cli(capsys, "store", "clear", "--store", path)
    assert code == 0 and "deleted 6" in out
    assert "no stored results" in cli(capsys, "store", "list", "--store", path)[1]


def test_store_command_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.sqlite"
    bad.write_text("not a database " * 100)
    code, _, err = cli(capsys, "store", "list", "--store", bad)
    assert code == 2 and "not an overparam results store" in err and err.count("\n") == 1
    code, out, _ = cli(capsys, "store", "list", "--store", tmp_path / "none.sqlite")
    assert code == 0 and "no results store" in out and not (tmp_path / "none.sqlite").exists()
    code, _, err = cli(capsys, "store", "export", "--store", tmp_path / "none.sqlite", "--out", tmp_path / "x.csv")
    assert code == 2 and err.count("\n") == 1


def test_store_export_takes_models_before_or_after_the_options(tmp_path, capsys):
    path = tmp_path / "s.sqlite"
    with Store(path) as st:
        fill(st)
    for argv in (["--out", tmp_path / "a.csv", "ridge"], ["ridge", "--out", tmp_path / "b.csv"],
                 ["--out", tmp_path / "c.csv", "ridge", "--store", path, "lasso"]):
        code, out, _ = cli(capsys, "store", "export", "--store", path, *argv)
        assert code == 0 and "6 replicates" in out
    assert cli(capsys, "store", "export", "--store", path, "--out", tmp_path / "d.csv", "lasso")[1].startswith("0 ")


def test_file_spectrum_is_keyed_by_its_eigenvalues_not_its_path(tmp_path):
    (tmp_path / "a.txt").write_text("1 2 3")
    (tmp_path / "b.txt").write_text("1.0\n2.0\n3.0\n")
    np.save(tmp_path / "c.npy", np.array([1.0, 2.0, 4.0]))
    a, b, c = (store_mod.point_params(Ridge(spectrum=f"file:{tmp_path / f}")) for f in ("a.txt", "b.txt", "c.npy"))
    assert a == b != c and json.loads(a)["spectrum"].startswith("file:sha256=") and str(tmp_path) not in a + c
    assert json.loads(store_mod.point_params(Ridge(spectrum="power-law:1,10")))["spectrum"] == "power-law:1,10"


def big_store(path: Path) -> None:
    with Store(path) as st:
        ids = st.point_ids("ridge", [store_mod.point_params(Ridge(lam=lam)) for lam in np.linspace(0, 1, 20)],
                           SIZES, 0, CODE)
        for k in range(100):
            st.put(ids, k, {"a": np.full(20, float(k)), "b": np.arange(20.0)})


def test_corrupted_pages_give_one_line_and_exit_3(tmp_path, capsys):
    path = tmp_path / "s.sqlite"
    big_store(path)
    with path.open("r+b") as fh:  # keep the header page, overwrite the table pages
        fh.seek(4096)
        fh.write(b"\xde\xad\xbe\xef" * 4096)
    for argv in (["store", "list"], ["store", "show"], ["store", "export", "--out", tmp_path / "x.csv"],
                 ["simulate", "ridge", "--n", "10", "--reps", "2"]):
        code, _, err = cli(capsys, *argv, "--store", path)
        assert code == 3 and err.count("\n") == 1 and "corrupted" in err and "Traceback" not in err, argv


UNPRIVILEGED = textwrap.dedent("""
    import contextlib, io, json, os, sys
    from overparam.verify import cli, registry, runner
    import overparam.simulate.ridge, threadpoolctl, csv
    runner.simulator_key(registry.model_entry("ridge"))  # reads sources before privileges are dropped
    threadpoolctl.threadpool_info()
    if os.geteuid() == 0:
        os.setgid(65534)
        os.setuid(65534)
    results = []
    for argv in json.loads(sys.argv[1]):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(argv)
        results.append((code, out.getvalue(), err.getvalue()))
    print(json.dumps(results))
""")


def unprivileged(*commands):
    """(exit code, stdout, stderr) of CLI commands run in one process that cannot write where its user may
    not (uid nobody when the tests run as root)."""
    argv = json.dumps([[str(a) for a in c] for c in commands])
    proc = subprocess.run([sys.executable, "-c", UNPRIVILEGED, argv], capture_output=True, text=True, timeout=300)
    return json.loads(proc.stdout)


@pytest.fixture
def locked_dir():
    """A directory that its files' readers cannot write: mode 0555, files 0444."""
    where = Path(tempfile.mkdtemp(prefix="overparam-ro-"))
    yield where
    where.chmod(0o755)
    for f in where.iterdir():
        f.unlink()
    where.rmdir()


def test_read_only_store_serves_cached_results_and_refuses_new_ones(locked_dir, capsys):
    args = ["simulate", "ridge", "--gamma", "2", "--lam", "0.1,1", "--n", "20", "--format", "csv"]
    path = locked_dir / "s.sqlite"
    code, cached, _ = cli(capsys, *args, "--reps", "6", "--store", path)
    assert code == 0
    path.chmod(0o444)
    locked_dir.chmod(0o555)
    served, more, listed, cleared, created = unprivileged(
        [*args, "--reps", "6", "--store", path], [*args, "--reps", "7", "--store", path],
        ["store", "list", "--store", path], ["store", "clear", "--store", path],
        [*args, "--reps", "1", "--store", locked_dir / "new.sqlite"])
    assert served == [0, cached, ""]
    assert more[0] == 2 and more[1] == "" and "read-only" in more[2] and more[2].count("\n") == 1
    assert listed[0] == 0 and "replicates" in listed[1]
    assert cleared[0] == 2 and "read-only" in cleared[2] and cleared[2].count("\n") == 1
    assert created[0] == 2 and "not writable" in created[2] and "not an overparam" not in created[2]
