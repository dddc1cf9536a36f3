"""The results store: an embedded SQLite file with one row per finished replicate and grid point.

Location: :func:`default_path` - ``$OVERPARAM_STORE`` when set, else ``~/.cache/overparam/results.sqlite``
(``--store PATH`` overrides it, ``--no-store`` disables it).

A *point* is one grid point of one simulation, keyed by (model, parameters, sizes, seed, package version);
its replicate k is a pure function of that key and k (:func:`overparam.verify.runner.seed_sequence`), so a
stored replicate is reused whenever the same key comes back and is recomputed by nobody. Schema
(``PRAGMA application_id`` = :data:`APPLICATION_ID`, ``PRAGMA user_version`` = :data:`SCHEMA`)::

    points(id, model, params, sizes, seed, version, metrics)   UNIQUE(model, params, sizes, seed, version)
    replicates(point, k, vals)                                  PRIMARY KEY(point, k)

``params`` is the canonical JSON of the point's parameters (:func:`point_params`: numbers as floats, whose
JSON repr round-trips exactly, categorical values by their label), ``sizes`` the JSON of the integer sizes,
``metrics`` the JSON list of metric names and ``vals`` their values as little-endian float64 bytes (NaN and
inf survive).

Durability: the journal is WAL and every :meth:`Store.put` is one committed transaction issued by the
process that owns the store, so killing it at any moment (Ctrl-C, SIGKILL) loses no finished replicate.
With ``synchronous=NORMAL`` a commit survives the death of the process; only an operating-system crash can
roll back the last few. Several processes may share one store (WAL readers, a busy timeout for writers).

A file that is not an overparam store, or one written with another schema, raises
:class:`~overparam.errors.StoreError` with a one-line message and is never modified.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import sqlite3
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from overparam import __version__
from overparam.errors import ParameterError, StoreError
from overparam.models import Model

#: SQLite ``application_id`` of an overparam store (ASCII "OPRS").
APPLICATION_ID = 0x4F505253
#: Layout version; a store with another ``user_version`` is refused.
SCHEMA = 1
#: Rows fetched per step when streaming replicates (bounded memory).
CHUNK = 8192

_TABLES = """
CREATE TABLE points (
    id INTEGER PRIMARY KEY,
    model TEXT NOT NULL, params TEXT NOT NULL, sizes TEXT NOT NULL,
    seed INTEGER NOT NULL, version TEXT NOT NULL, metrics TEXT,
    UNIQUE (model, params, sizes, seed, version));
CREATE TABLE replicates (
    point INTEGER NOT NULL REFERENCES points(id), k INTEGER NOT NULL, vals BLOB NOT NULL,
    PRIMARY KEY (point, k)) WITHOUT ROWID;
"""


def default_path() -> Path:
    """``$OVERPARAM_STORE`` if set, else ``~/.cache/overparam/results.sqlite``."""
    env = os.environ.get("OVERPARAM_STORE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "overparam" / "results.sqlite"


def point_params(model: Model) -> str:
    """Canonical JSON of a single point's parameters, in declaration order."""
    specs = model.params()
    return json.dumps({k: str(v) if specs[k].categorical else float(np.asarray(v).item())
                       for k, v in model.display().items()},
                      separators=(",", ":"))


@dataclass(frozen=True)
class StoredPoint:
    """One stored point and how many replicates it holds."""

    id: int
    model: str
    params: dict[str, Any]
    sizes: dict[str, int]
    seed: int
    version: str
    metrics: tuple[str, ...]
    count: int

    def columns(self) -> dict[str, Any]:
        """Parameters, sizes and seed as one flat record (the columns of ``simulate``)."""
        return {"model": self.model, **self.params, **self.sizes, "seed": self.seed, "version": self.version}


class Store:
    """An open results store (use as a context manager). ``durable=False`` (throw-away stores) skips
    the WAL syncs."""

    def __init__(self, path: str | os.PathLike, durable: bool = True):
        self.path = Path(path).expanduser()
        self._con = _connect(self.path, durable)
        self._metrics: dict[int, tuple[str, ...] | None] = {}

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._con.close()

    # ------------------------------------------------------------------------------- simulation
    def point_ids(self, model: str, params: Sequence[str], sizes: dict[str, int], seed: int,
                  version: str = __version__) -> np.ndarray:
        """Ids of the points (created when new) with these canonical ``params`` and common key."""
        size_text = json.dumps(dict(sorted(sizes.items())), separators=(",", ":"))
        rows = [(model, p, size_text, int(seed), version) for p in params]
        with self._transaction():
            self._con.executemany("INSERT OR IGNORE INTO points (model, params, sizes, seed, version) "
                                  "VALUES (?, ?, ?, ?, ?)", rows)
            found = [self._con.execute("SELECT id, metrics FROM points WHERE model = ? AND params = ? AND "
                                       "sizes = ? AND seed = ? AND version = ?", r).fetchone() for r in rows]
        for pid, names in found:
            self._metrics[pid] = tuple(json.loads(names)) if names else None
        return np.array([pid for pid, _ in found], dtype=np.int64)

    def stored(self, ids: Sequence[int], reps: int) -> np.ndarray:
        """Boolean matrix (len(ids), reps): is replicate k of point ids[i] stored?"""
        have = np.zeros((len(ids), reps), dtype=bool)
        row = {int(pid): i for i, pid in enumerate(ids)}
        for start in range(0, len(ids), 500):
            part = [int(x) for x in ids[start:start + 500]]
            cur = self._con.execute(f"SELECT point, k FROM replicates WHERE point IN ({','.join('?' * len(part))}) "
                                    "AND k < ?", (*part, reps))
            for pid, k in cur:
                have[row[pid], k] = True
        return have

    def put(self, ids: Sequence[int], k: int, values: dict[str, np.ndarray]) -> None:
        """Commit replicate k of the points ``ids``: ``values[metric][i]`` belongs to ``ids[i]``."""
        names = tuple(values)
        mat = np.column_stack([np.asarray(values[m], dtype="<f8").reshape(len(ids)) for m in names])
        with self._transaction():
            for pid in map(int, ids):
                self._check_metrics(pid, names)
            self._con.executemany("INSERT OR IGNORE INTO replicates (point, k, vals) VALUES (?, ?, ?)",
                                  [(int(pid), int(k), row.tobytes()) for pid, row in zip(ids, mat)])

    def _check_metrics(self, pid: int, names: tuple[str, ...]) -> None:
        known = self._metrics.get(pid)
        if known is None:
            self._con.execute("UPDATE points SET metrics = ? WHERE id = ?", (json.dumps(names), pid))
            self._metrics[pid] = names
        elif known != names:
            raise StoreError(f"{self.path}: point {pid} stores metrics {list(known)} but the simulator now "
                             f"returns {list(names)}; clear it with `overparam store clear`")

    def chunks(self, pid: int, reps: int | None = None) -> Iterator[np.ndarray]:
        """The point's replicates k < reps (all when None) in increasing k, as (rows, metrics) arrays of at
        most :data:`CHUNK` rows."""
        width = len(self.metrics(pid))
        cur = self._con.execute("SELECT vals FROM replicates WHERE point = ? AND k < ? ORDER BY k",
                                (int(pid), reps if reps is not None else 2 ** 62))
        while rows := cur.fetchmany(CHUNK):
            yield np.frombuffer(b"".join(r[0] for r in rows), dtype="<f8").reshape(len(rows), width)

    def metrics(self, pid: int) -> tuple[str, ...]:
        """Metric names of a point (empty before its first replicate)."""
        if self._metrics.get(pid) is None:
            row = self._con.execute("SELECT metrics FROM points WHERE id = ?", (int(pid),)).fetchone()
            self._metrics[pid] = tuple(json.loads(row[0])) if row and row[0] else None
        return self._metrics[pid] or ()

    # ---------------------------------------------------------------------------- inspection
    def points(self, models: Sequence[str] = ()) -> list[StoredPoint]:
        """Every stored point (of ``models`` when given) with its replicate count, in creation order."""
        where, args = _model_filter(models)
        cur = self._con.execute(
            "SELECT p.id, p.model, p.params, p.sizes, p.seed, p.version, p.metrics, "
            "(SELECT count(*) FROM replicates r WHERE r.point = p.id) "
            f"FROM points p {where} ORDER BY p.id", args)
        return [StoredPoint(pid, model, json.loads(params), json.loads(sizes), seed, version,
                            tuple(json.loads(metrics)) if metrics else (), count)
                for pid, model, params, sizes, seed, version, metrics, count in cur]

    def export(self, out: str | os.PathLike, models: Sequence[str] = ()) -> int:
        """Write one row per stored replicate (parameters, sizes, seed, version, k, metrics) to ``out``:
        ``.csv`` (streamed, standard library) or ``.parquet`` (needs pandas and pyarrow). Returns the
        number of rows."""
        out = Path(out)
        points = [p for p in self.points(models) if p.count]
        columns = _union([*p.columns(), "k", *p.metrics] for p in points) or ["model", "k"]
        rows = (dict(p.columns(), k=k, **dict(zip(p.metrics, vals.tolist())))
                for p in points for k, vals in self._replicates(p.id))
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".csv":
            with out.open("w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
                writer.writeheader()
                count = 0
                for row in rows:
                    writer.writerow(row)
                    count += 1
                return count
        if out.suffix in (".parquet", ".pq"):
            try:
                import pandas as pd
            except ImportError:
                raise ParameterError("out", str(out), "a .csv file (Parquet needs pandas and pyarrow: "
                                     "pip install 'overparam[export]')") from None
            frame = pd.DataFrame(list(rows), columns=columns)
            frame.to_parquet(out, index=False)
            return len(frame)
        raise ParameterError("out", str(out), "a file name ending in .csv or .parquet")

    def _replicates(self, pid: int) -> Iterator[tuple[int, np.ndarray]]:
        width = len(self.metrics(pid))
        cur = self._con.execute("SELECT k, vals FROM replicates WHERE point = ? ORDER BY k", (int(pid),))
        for k, blob in cur:
            yield k, np.frombuffer(blob, dtype="<f8", count=width)

    def clear(self, models: Sequence[str] = ()) -> int:
        """Delete the points of ``models`` (all when empty) and their replicates; returns the number of
        replicates deleted."""
        where, args = _model_filter(models)
        with self._transaction():
            ids = f"SELECT id FROM points p {where}"
            deleted = self._con.execute(f"DELETE FROM replicates WHERE point IN ({ids})", args).rowcount
            self._con.execute(f"DELETE FROM points WHERE id IN ({ids})", args)
        self._metrics.clear()
        return deleted

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._con.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")


@contextmanager
def open_store(path: str | os.PathLike | None) -> Iterator[Store]:
    """The store at ``path``, or a throw-away one in a temporary directory when ``path`` is None (so a
    ``--no-store`` run streams replicates to disk too, and its memory stays bounded)."""
    if path is not None:
        with Store(path) as store:
            yield store
        return
    tmp = tempfile.mkdtemp(prefix="overparam-run-")
    try:
        with Store(Path(tmp) / "run.sqlite", durable=False) as store:
            yield store
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _model_filter(models: Sequence[str]) -> tuple[str, tuple]:
    if not models:
        return "", ()
    return f"WHERE p.model IN ({','.join('?' * len(models))})", tuple(models)


def _union(lists: Any) -> list[str]:
    out: dict[str, None] = {}
    for names in lists:
        out.update(dict.fromkeys(names))
    return list(out)


def _connect(path: Path, durable: bool) -> sqlite3.Connection:
    """Open (creating when new or empty) and validate a store; StoreError with one line otherwise."""
    if path.is_dir():
        raise StoreError(f"results store {path} is a directory, not a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(path, timeout=60, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot open results store {path}: {exc}") from None
    try:
        con.execute(f"PRAGMA synchronous = {'NORMAL' if durable else 'OFF'}")  # this connection only
        _initialise(con, path)
    except sqlite3.DatabaseError as exc:
        con.close()
        raise StoreError(f"{path} is not an overparam results store ({exc})") from None
    except StoreError:
        con.close()
        raise
    return con


def _initialise(con: sqlite3.Connection, path: Path) -> None:
    """Create the schema in an empty database, or check that this one is an overparam store of our schema."""
    app, schema = _identity(con)
    if app == APPLICATION_ID and schema == SCHEMA:
        return
    if app == 0 and schema == 0 and con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
        con.execute("PRAGMA journal_mode = WAL")  # persistent; set only in a new, empty database
    con.execute("BEGIN IMMEDIATE")
    try:
        app, schema = _identity(con)
        empty = con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
        if app == 0 and schema == 0 and empty:
            for statement in filter(str.strip, _TABLES.split(";")):
                con.execute(statement)
            con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            con.execute(f"PRAGMA user_version = {SCHEMA}")
    finally:
        if con.in_transaction:
            con.execute("COMMIT")
    app, schema = _identity(con)
    if app != APPLICATION_ID:
        raise StoreError(f"{path} is not an overparam results store (use --store to choose another file)")
    if schema != SCHEMA:
        raise StoreError(f"{path} was written by an incompatible overparam (store schema {schema}, this "
                         f"version {__version__} reads schema {SCHEMA}); use another --store or delete it")


def _identity(con: sqlite3.Connection) -> tuple[int, int]:
    return con.execute("PRAGMA application_id").fetchone()[0], con.execute("PRAGMA user_version").fetchone()[0]


__all__ = ["APPLICATION_ID", "SCHEMA", "Store", "StoredPoint", "default_path", "open_store", "point_params"]
