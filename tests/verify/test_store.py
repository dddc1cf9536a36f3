"""The SQLite results store: round trip, keys, inspection, export, clear, refusal of foreign files."""
import csv
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from overparam import Ridge, __version__
from overparam.errors import StoreError
from overparam.verify import store as store_mod
from overparam.verify.store import Store

SIZES = {"n": 10, "p": 20}


def fill(store: Store, reps: int = 3, seed: int = 0) -> np.ndarray:
    """Two lam points, metrics a (k + lam) and b (NaN, inf, -0.0 patterns)."""
    params = [store_mod.point_params(Ridge(lam=lam)) for lam in (0.0, 0.5)]
    ids = store.point_ids("ridge", params, SIZES, seed)
    for k in range(reps):
        store.put(ids, k, {"a": np.array([k + 0.0, k + 0.5]), "b": np.array([np.nan, [np.inf, -0.0, 1e-300][k % 3]])})
    return ids


def test_round_trip_is_exact_and_survives_reopening(tmp_path):
    path = tmp_path / "s.sqlite"
    with Store(path) as st:
        ids = fill(st)
    with Store(path) as st:
        again = st.point_ids("ridge", [store_mod.point_params(Ridge(lam=lam)) for lam in (0.0, 0.5)], SIZES, 0)
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
        base = st.point_ids("ridge", [store_mod.point_params(Ridge())], SIZES, 0)[0]
        others = [st.point_ids("ridge", [store_mod.point_params(Ridge())], SIZES, 1)[0],
                  st.point_ids("ridge", [store_mod.point_params(Ridge())], {"n": 10, "p": 21}, 0)[0],
                  st.point_ids("ridge", [store_mod.point_params(Ridge())], SIZES, 0, version="0.0.1")[0],
                  st.point_ids("ridge", [store_mod.point_params(Ridge(sigma2=0.25))], SIZES, 0)[0],
                  st.point_ids("ridge", [store_mod.point_params(Ridge(spectrum="two-point:1,2"))], SIZES, 0)[0],
                  st.point_ids("lasso", [store_mod.point_params(Ridge())], SIZES, 0)[0]]
        assert len({base, *others}) == 7
        assert st.point_ids("ridge", [store_mod.point_params(Ridge(gamma=np.float64(2.0)))], SIZES, 0)[0] == base


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
        assert pts[1].params["lam"] == 0.5 and pts[1].sizes == SIZES and pts[1].version == __version__
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
