"""The results store: an embedded SQLite file with one row per finished replicate and grid point.

Location: :func:`default_path` - ``$OVERPARAM_STORE`` when set, else ``~/.cache/overparam/results.sqlite``
(``--store PATH`` overrides it, ``--no-store`` disables it; ``check`` uses a throw-away store unless
``--store`` is given).

Keys by content. A *point* is one grid point of one simulation, keyed by (model, parameters, sizes, seed,
simulator code); its replicate k is a pure function of that key and k
(:func:`overparam.verify.runner.seed_sequence`), so a stored replicate is reused exactly when the same key
comes back. The parameters are keyed by value, and a ``file:`` spectrum by the SHA-256 of its eigenvalues
(``file:sha256=...``), never by its path, so an edited file is recomputed and a moved one is not. The
simulator code is :func:`overparam.verify.runner.simulator_key` (a digest of the simulator's source and of
the package modules it uses), stored in the ``version`` column as ``<package version>+<digest>``: results
of changed code are never served. Rows written by older releases (a bare package version there) stay
readable by ``overparam store list|show|export`` but are never reused. Schema (``PRAGMA application_id`` =
:data:`APPLICATION_ID`, ``PRAGMA user_version`` = :data:`SCHEMA`)::

    points(id, model, params, sizes, seed, version, metrics)   UNIQUE(model, params, sizes, seed, version)
    replicates(point, k, vals)                                  PRIMARY KEY(point, k)
    claims(point, k, owner, expires)                            PRIMARY KEY(point, k)

``params`` is the canonical JSON of the point's parameters (:func:`point_params`: numbers as floats, whose
JSON repr round-trips exactly, categorical values by their content label), ``sizes`` the JSON of the
integer sizes, ``metrics`` the JSON list of metric names and ``vals`` their values as little-endian
float64 bytes (NaN and inf survive).

Sharing. Several processes may use one store at once (WAL readers, a busy timeout for writers). A run
*claims* the replicates it is about to compute (:meth:`Store.claim`: a row of ``claims`` with a lease), so
a second run on the same store computes only what the first has not claimed and waits for the rest. A
claim is stale, and taken over, when its lease has expired or when its owner is a dead process on this
host; a live owner renews its leases as it commits (:meth:`Store.renew`).

Durability: the journal is WAL and :meth:`Store.put` commits one transaction, so a commit survives the
death of the process (with ``synchronous=NORMAL`` only an operating-system crash can roll back the last
few). A read-only store (file or directory not writable) serves whatever it holds; adding to it is refused.

Errors are one line: a path that cannot be a store (a directory, an unwritable directory, a file that is
not an overparam store, another schema, a read-only store asked to take new results) raises
:class:`StorePathError` (a :class:`~overparam.errors.ParameterError` and a
:class:`~overparam.errors.StoreError`: bad user input); a store that fails while being read or written
(corrupted pages, a lock held too long) raises :class:`~overparam.errors.StoreError`. A foreign file is
never modified.
"""
from __future__ import annotations

import csv
import functools
import hashlib
import json
import os
import shutil
import socket
import sqlite3
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TypeVar
from urllib.parse import quote

import numpy as np

from overparam.errors import ParameterError, StoreError
from overparam.models import Model
from overparam.params import label

#: SQLite ``application_id`` of an overparam store (ASCII "OPRS").
APPLICATION_ID = 0x4F505253
#: Layout version; a store with another ``user_version`` is refused. (The ``claims`` table is added to
#: older stores of this schema when they are opened for writing; older releases ignore it.)
SCHEMA = 1
#: Rows fetched per step when streaming replicates (bounded memory).
CHUNK = 8192
#: Claim status returned by :meth:`Store.claim`.
STORED, MINE, TAKEN = 0, 1, 2

_POINTS = """
CREATE TABLE points (
    id INTEGER PRIMARY KEY,
    model TEXT NOT NULL, params TEXT NOT NULL, sizes TEXT NOT NULL,
    seed INTEGER NOT NULL, version TEXT NOT NULL, metrics TEXT,
    UNIQUE (model, params, sizes, seed, version));
CREATE TABLE replicates (
    point INTEGER NOT NULL REFERENCES points(id), k INTEGER NOT NULL, vals BLOB NOT NULL,
    PRIMARY KEY (point, k)) WITHOUT ROWID
"""
_CLAIMS = """CREATE TABLE IF NOT EXISTS claims (
    point INTEGER NOT NULL, k INTEGER NOT NULL, owner TEXT NOT NULL, expires REAL NOT NULL,
    PRIMARY KEY (point, k)) WITHOUT ROWID"""


class StorePathError(StoreError, ParameterError):
    """``--store PATH`` names something that cannot serve as a results store here (exit 2)."""

    def __init__(self, path: Path, problem: str):
        ParameterError.__init__(self, "store", path, "an overparam results store, or a new file in a "
                                "writable directory", problem)


def default_path() -> Path:
    """``$OVERPARAM_STORE`` if set, else ``~/.cache/overparam/results.sqlite``."""
    env = os.environ.get("OVERPARAM_STORE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "overparam" / "results.sqlite"


def content_label(value: Any) -> Any:
    """A parameter value as keyed by seeds and the store: its label, except that a ``file:`` spectrum is
    keyed by the SHA-256 of its eigenvalues (``file:sha256=<32 hex digits>``), not by its path."""
    text = label(value)
    eigenvalues = getattr(value, "eigenvalues", None)
    if isinstance(text, str) and text.startswith("file:") and eigenvalues is not None:
        data = np.ascontiguousarray(eigenvalues, dtype="<f8").tobytes()
        return "file:sha256=" + hashlib.sha256(data).hexdigest()[:32]
    return text


def canonical(model: Model) -> dict[str, Any]:
    """Parameter name -> content label (:func:`content_label`), in declaration order."""
    return {k: content_label(v) for k, v in model.values().items()}


def point_params(model: Model) -> str:
    """Canonical JSON of a single point's parameters, in declaration order."""
    specs = model.params()
    return json.dumps({k: str(v) if specs[k].categorical else float(np.asarray(v).item())
                       for k, v in canonical(model).items()}, separators=(",", ":"))


@dataclass(frozen=True)
class StoredPoint:
    """One stored point and how many replicates it holds (``version``: the simulator key it was computed
    with, a bare package version for rows of older releases)."""

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


F = TypeVar("F", bound=Callable[..., Any])


def _guarded(method: F) -> F:
    """SQLite errors of a Store method as one-line StoreError/StorePathError."""
    @functools.wraps(method)
    def wrapper(self: "Store", *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise _classify(self.path, exc) from None
    return wrapper  # type: ignore[return-value]


class Store:
    """An open results store (use as a context manager). ``durable=False`` (throw-away stores) skips
    the WAL syncs. ``readonly`` tells whether it was opened read-only (file or directory not writable)."""

    def __init__(self, path: str | os.PathLike, durable: bool = True):
        self.path = Path(path).expanduser()
        self._con, self.readonly = _connect(self.path, durable)
        self._metrics: dict[int, tuple[str, ...] | None] = {}

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._con.close()

    # ------------------------------------------------------------------------------- simulation
    @_guarded
    def point_ids(self, model: str, params: Sequence[str], sizes: dict[str, int], seed: int,
                  version: str) -> np.ndarray:
        """Ids of the points with these canonical ``params`` and common key (``version``: the simulator
        key), created when new (refused, StorePathError, in a read-only store)."""
        size_text = json.dumps(dict(sorted(sizes.items())), separators=(",", ":"))
        rows = [(model, p, size_text, int(seed), version) for p in params]
        found = self._find(rows)
        if any(f is None for f in found):
            if self.readonly:
                raise StorePathError(self.path, "it is read-only and does not hold every replicate asked "
                                     "for; use another --store, or --no-store")
            with self._transaction():
                self._con.executemany("INSERT OR IGNORE INTO points (model, params, sizes, seed, version) "
                                      "VALUES (?, ?, ?, ?, ?)", rows)
                found = self._find(rows)
        for pid, names in found:
            self._metrics[pid] = tuple(json.loads(names)) if names else None
        return np.array([pid for pid, _ in found], dtype=np.int64)

    def _find(self, rows: list[tuple]) -> list[tuple[int, str | None] | None]:
        return [self._con.execute("SELECT id, metrics FROM points WHERE model = ? AND params = ? AND "
                                  "sizes = ? AND seed = ? AND version = ?", r).fetchone() for r in rows]

    @_guarded
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
        self.put_many([(ids, k, values)])

    @_guarded
    def put_many(self, batch: Sequence[tuple[Sequence[int], int, dict[str, np.ndarray]]]) -> None:
        """Commit several (ids, k, values) replicates (as :meth:`put`) in one transaction."""
        rows = []
        with self._transaction():
            for ids, k, values in batch:
                names = tuple(values)
                mat = np.column_stack([np.asarray(values[m], dtype="<f8").reshape(len(ids)) for m in names])
                for pid in map(int, ids):
                    self._check_metrics(pid, names)
                rows += [(int(pid), int(k), row.tobytes()) for pid, row in zip(ids, mat)]
            self._con.executemany("INSERT OR IGNORE INTO replicates (point, k, vals) VALUES (?, ?, ?)", rows)

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
        for rows in self._fetch("SELECT vals FROM replicates WHERE point = ? AND k < ? ORDER BY k",
                                (int(pid), reps if reps is not None else 2 ** 62)):
            yield np.frombuffer(b"".join(r[0] for r in rows), dtype="<f8").reshape(len(rows), width)

    def _fetch(self, sql: str, args: tuple) -> Iterator[list[tuple]]:
        """The rows of a query in lists of at most CHUNK, SQLite errors as StoreError."""
        try:
            cur = self._con.execute(sql, args)
            while rows := cur.fetchmany(CHUNK):
                yield rows
        except sqlite3.Error as exc:
            raise _classify(self.path, exc) from None

    @_guarded
    def metrics(self, pid: int) -> tuple[str, ...]:
        """Metric names of a point (empty before its first replicate)."""
        if self._metrics.get(pid) is None:
            row = self._con.execute("SELECT metrics FROM points WHERE id = ?", (int(pid),)).fetchone()
            self._metrics[pid] = tuple(json.loads(row[0])) if row and row[0] else None
        return self._metrics[pid] or ()

    # ---------------------------------------------------------------------------------- claims
    @_guarded
    def claim(self, pairs: Sequence[tuple[int, int]], owner: str, lease: float) -> np.ndarray:
        """Claim replicate k of point pid for ``owner`` for ``lease`` seconds, for each (pid, k) of
        ``pairs`` not stored and not claimed by another live owner. Returns the status of each pair:
        STORED, MINE (claimed now, or already ours) or TAKEN (another live owner's claim)."""
        keys = [(int(pid), int(k)) for pid, k in pairs]
        if not keys:
            return np.empty(0, dtype=np.int8)
        now, status, mine = time.time(), np.empty(len(keys), dtype=np.int8), []
        ks = (min(k for _, k in keys), max(k for _, k in keys))
        stored: set[tuple[int, int]] = set()
        held: dict[tuple[int, int], tuple[str, float]] = {}
        with self._transaction():
            for pid in {p for p, _ in keys}:  # index range scans: one point, a range of k
                stored.update(self._con.execute("SELECT point, k FROM replicates WHERE point = ? AND k BETWEEN ? "
                                                "AND ?", (pid, *ks)))
                held.update(((p, k), (o, e)) for p, k, o, e in self._con.execute(
                    "SELECT point, k, owner, expires FROM claims WHERE point = ? AND k BETWEEN ? AND ?", (pid, *ks)))
            for i, key in enumerate(keys):
                other = held.get(key)
                if key in stored:
                    status[i] = STORED
                elif other and other[0] != owner and _live(*other, now):
                    status[i] = TAKEN
                else:
                    status[i] = MINE
                    mine.append((*key, owner, now + lease))
            self._con.executemany("INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?)", mine)
        return status

    @_guarded
    def renew(self, owner: str, lease: float) -> None:
        """Extend every claim of ``owner`` to ``lease`` seconds from now."""
        with self._transaction():
            self._con.execute("UPDATE claims SET expires = ? WHERE owner = ?", (time.time() + lease, owner))

    @_guarded
    def release(self, owner: str) -> None:
        """Drop every claim of ``owner`` (its replicates are stored, or it stops)."""
        with self._transaction():
            self._con.execute("DELETE FROM claims WHERE owner = ?", (owner,))

    # ---------------------------------------------------------------------------- inspection
    @_guarded
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
        if out.suffix not in (".csv", ".parquet", ".pq"):
            raise ParameterError("out", str(out), "a file name ending in .csv or .parquet")
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
        try:
            import pandas as pd
        except ImportError:
            raise ParameterError("out", str(out), "a .csv file (Parquet needs pandas and pyarrow: "
                                 "pip install 'overparam[export]')") from None
        frame = pd.DataFrame(list(rows), columns=columns)
        frame.to_parquet(out, index=False)
        return len(frame)

    def _replicates(self, pid: int) -> Iterator[tuple[int, np.ndarray]]:
        width = len(self.metrics(pid))
        for rows in self._fetch("SELECT k, vals FROM replicates WHERE point = ? ORDER BY k", (int(pid),)):
            for k, blob in rows:
                yield k, np.frombuffer(blob, dtype="<f8", count=width)

    @_guarded
    def clear(self, models: Sequence[str] = ()) -> int:
        """Delete the points of ``models`` (all when empty) and their replicates; returns the number of
        replicates deleted."""
        if self.readonly:
            raise StorePathError(self.path, "it is read-only")
        where, args = _model_filter(models)
        with self._transaction():
            ids = f"SELECT id FROM points p {where}"
            deleted = self._con.execute(f"DELETE FROM replicates WHERE point IN ({ids})", args).rowcount
            self._con.execute(f"DELETE FROM claims WHERE point IN ({ids})", args)
            self._con.execute(f"DELETE FROM points WHERE id IN ({ids})", args)
        self._metrics.clear()
        return deleted

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._con.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self._con.in_transaction:
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


# ------------------------------------------------------------------------------------ claims
HOST = socket.gethostname()


def owner_id() -> str:
    """A claim owner: host, process id and a random token (``host:pid:token``)."""
    return f"{HOST}:{os.getpid()}:{os.urandom(4).hex()}"


def _live(owner: str, expires: float, now: float) -> bool:
    """Is a claim still valid: lease not expired and, for an owner on this host, its process alive?"""
    if expires < now:
        return False
    host, pid, _ = owner.rsplit(":", 2) if owner.count(":") >= 2 else ("", "", "")
    if host != HOST or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        pass
    return True


# ---------------------------------------------------------------------------------- opening
def _classify(path: Path, exc: sqlite3.Error) -> StoreError:
    """A one-line error for an SQLite failure on the store at ``path``."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    lowered = text.lower()
    if "not a database" in lowered:
        return StorePathError(path, "it is not an overparam results store")
    if "readonly" in lowered or "read-only" in lowered or "unable to open" in lowered:
        return StorePathError(path, f"it cannot be written here ({text})")
    if "malformed" in lowered or "corrupt" in lowered:
        return StoreError(f"results store {path} is corrupted ({text}); move it away or delete it")
    return StoreError(f"results store {path}: {text}")


def _connect(path: Path, durable: bool) -> tuple[sqlite3.Connection, bool]:
    """Open (creating when new or empty) and validate a store: (connection, read-only?). A file or
    directory that is not writable is opened read-only."""
    if path.is_dir():
        raise StorePathError(path, "it is a directory")
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorePathError(path, f"its directory cannot be created ({exc.strerror})") from None
        if not os.access(path.parent, os.W_OK):
            raise StorePathError(path, f"directory {path.parent} is not writable")
    readonly = path.exists() and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))
    try:
        con = _open_readonly(path) if readonly else sqlite3.connect(path, timeout=60, isolation_level=None)
    except sqlite3.Error as exc:
        raise _classify(path, exc) from None
    try:
        if not readonly:
            con.execute(f"PRAGMA synchronous = {'NORMAL' if durable else 'OFF'}")  # this connection only
        _initialise(con, path, readonly)
    except sqlite3.Error as exc:
        con.close()
        raise _classify(path, exc) from None
    except StoreError:
        con.close()
        raise
    return con, readonly


def _open_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection; a WAL store whose directory is not writable (no shared-memory file can be
    made) is opened as immutable when no write-ahead log exists (then nobody can be writing it)."""
    uri = "file:" + quote(str(path.resolve()))
    con = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=60, isolation_level=None)
    try:
        con.execute("PRAGMA application_id").fetchone()
        return con
    except sqlite3.OperationalError:
        con.close()
        if Path(str(path) + "-wal").exists():
            raise
    return sqlite3.connect(uri + "?mode=ro&immutable=1", uri=True, isolation_level=None)


def _initialise(con: sqlite3.Connection, path: Path, readonly: bool) -> None:
    """Create the schema in an empty database, or check that this one is an overparam store of our
    schema (adding the claims table to an older one opened for writing)."""
    app, schema = _identity(con)
    if not (app == APPLICATION_ID and schema == SCHEMA) and not readonly and app == 0 and schema == 0:
        if con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
            con.execute("PRAGMA journal_mode = WAL")  # persistent; set only in a new, empty database
        con.execute("BEGIN IMMEDIATE")
        try:
            app, schema = _identity(con)
            if app == 0 and schema == 0 and con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
                for statement in filter(str.strip, _POINTS.split(";")):
                    con.execute(statement)
                con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                con.execute(f"PRAGMA user_version = {SCHEMA}")
        finally:
            if con.in_transaction:
                con.execute("COMMIT")
        app, schema = _identity(con)
    if app != APPLICATION_ID:
        raise StorePathError(path, "it is not an overparam results store")
    if schema != SCHEMA:
        raise StorePathError(path, f"it was written by an incompatible overparam (store schema {schema}, this "
                             f"version reads schema {SCHEMA}); use another --store or delete it")
    if not readonly and not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'claims'").fetchone():
        con.execute(_CLAIMS)
    con.execute("SELECT count(*) FROM points").fetchone()  # a header-only check would miss a broken table


def _identity(con: sqlite3.Connection) -> tuple[int, int]:
    return con.execute("PRAGMA application_id").fetchone()[0], con.execute("PRAGMA user_version").fetchone()[0]


__all__ = ["APPLICATION_ID", "SCHEMA", "STORED", "MINE", "TAKEN", "Store", "StorePathError", "StoredPoint",
           "canonical", "content_label", "default_path", "open_store", "owner_id", "point_params"]
