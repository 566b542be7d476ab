"""The SQLite trial store of one run: every trial, per-epoch metrics, strategy updates.

One writer (the search driver) in WAL mode, one transaction per event, so a kill -9 loses at most
the event being written and readers (a leaderboard while the search runs) never block it or see
half a trial.

Trial states: ``pending`` (asked, not started), ``running``, ``complete``, ``failed``, ``cached``
(an architecture already evaluated in this run: its stored result was reused, nothing trained),
``stopped`` (the scheduler ended it at an epoch rung: its reward and metrics are those of the
model at that epoch, a partial result that never counts as a full one: it is not the run's best,
not cached from, and its model is not kept).
"""

from __future__ import annotations

import enum
import functools
import json
import sqlite3
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from typing import TypeVar

from automl.errors import RunError
from automl.errors import short
from automl.space import ARCH_ID_LENGTH
from automl.space import Architecture

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    trial_id      INTEGER PRIMARY KEY,
    arch_id       TEXT NOT NULL,
    status        TEXT NOT NULL,
    architecture  TEXT NOT NULL,
    flat          TEXT NOT NULL,
    summary       TEXT NOT NULL,
    reward        REAL,
    metrics       TEXT,
    test_metrics  TEXT,
    params        INTEGER,
    train_seconds REAL,
    host          TEXT,
    node          TEXT,
    gpus          TEXT,
    error         TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    cached_from   INTEGER,
    ask_seq       INTEGER,
    told_seq      INTEGER,
    created_at    REAL NOT NULL,
    started_at    REAL,
    finished_at   REAL
);
CREATE INDEX IF NOT EXISTS trials_arch ON trials (arch_id);
CREATE INDEX IF NOT EXISTS trials_status ON trials (status);
CREATE TABLE IF NOT EXISTS epochs (
    trial_id INTEGER NOT NULL,
    epoch    INTEGER NOT NULL,
    metrics  TEXT NOT NULL,
    PRIMARY KEY (trial_id, epoch)
);
CREATE TABLE IF NOT EXISTS strategy_updates (
    step       INTEGER PRIMARY KEY AUTOINCREMENT,
    told_seq   INTEGER NOT NULL,
    stats      TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS keras_summaries (
    trial_id INTEGER PRIMARY KEY,
    text     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS costs (
    trial_id INTEGER PRIMARY KEY,
    costs    TEXT NOT NULL
);
"""


class TrialStatus(enum.StrEnum):
    """State of a trial in the store."""

    PENDING = "pending"  # asked, not yet started
    RUNNING = "running"  # training in a worker
    COMPLETE = "complete"  # trained; reward stored
    FAILED = "failed"  # the child failed (error text stored); never tops a leaderboard
    CACHED = "cached"  # same architecture as an earlier trial; its result was reused
    STOPPED = "stopped"  # ended early by the scheduler (--scheduler): a partial result

    def is_finished(self) -> bool:
        return self in (TrialStatus.COMPLETE, TrialStatus.FAILED, TrialStatus.CACHED,
                        TrialStatus.STOPPED)


@dataclass(frozen=True)
class TrialRecord:
    """One row of the ``trials`` table, decoded."""

    trial_id: int
    arch_id: str
    status: TrialStatus
    architecture: dict[str, Any]
    flat: dict[str, Any]
    summary: str
    reward: float | None
    metrics: dict[str, float]
    test_metrics: dict[str, float]
    params: int | None
    train_seconds: float | None
    host: str | None
    node: str | None
    gpus: str | None
    error: str | None
    attempts: int
    cached_from: int | None
    ask_seq: int | None
    told_seq: int | None
    created_at: float
    started_at: float | None
    finished_at: float | None

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["status"] = self.status.value
        return out

    @property
    def arch(self) -> Architecture:
        return Architecture.from_dict(self.architecture)


def ranking_key(reward: float | None, metrics: Mapping[str, Any], trial_id: int
                ) -> tuple[float, float, int]:
    """Sort key of a trial, best first: the higher reward; among equal rewards the lower
    validation loss (small validation sets tie often, e.g. accuracy in steps of 1/30, and the
    loss still tells the more confident child apart); then the earlier trial."""
    loss = metrics.get("loss")
    tie_break = float(loss) if isinstance(loss, (int, float)) and loss == loss else float("inf")
    return (-(reward if reward is not None else float("-inf")), tie_break, trial_id)


def _best_first(records: list[TrialRecord]) -> list[TrialRecord]:
    return sorted(records, key=lambda r: ranking_key(r.reward, r.metrics, r.trial_id))


REQUIRED_TABLES = ("meta", "trials", "epochs", "strategy_updates")
"""Tables every run's store has had (``keras_summaries`` and ``costs`` came later: an older
run's store lacks them, and reads of them fall back)."""


class _Damaged(ValueError):
    """A stored value the store did not write: the file was edited or damaged."""


def _json(text: Any, where: str, kind: type = dict) -> Any:
    """``text`` decoded as JSON of ``kind``; anything else is a damaged store."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        raise _Damaged(f"{where} holds {short(text)}, not JSON") from None
    if not isinstance(value, kind):
        raise _Damaged(f"{where} holds {short(value)}; expected a JSON "
                       f"{'object' if kind is dict else kind.__name__}")
    return value


def _number_or_none(value: Any, where: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise _Damaged(f"{where} holds {short(value)}; expected a number or nothing")


def _decode(row: sqlite3.Row) -> TrialRecord:
    data = dict(row)
    trial = f"trial {short(data.get('trial_id'))}"
    for key in ("architecture", "flat"):
        data[key] = _json(data[key], f"{trial}: {key}")
    for key in ("metrics", "test_metrics"):
        data[key] = _json(data[key], f"{trial}: {key}") if data[key] else {}
        for name, value in data[key].items():
            _number_or_none(value, f"{trial}: {key}.{name}")
    for key in ("reward", "train_seconds", "params"):
        _number_or_none(data[key], f"{trial}: {key}")
    if not isinstance(data["trial_id"], int) or not isinstance(data["arch_id"], str):
        raise _Damaged(f"{trial}: its id or architecture id is not what the store writes")
    try:
        data["status"] = TrialStatus(data["status"])
    except ValueError:
        raise _Damaged(f"{trial}: status {short(data['status'])} is not one of "
                       f"{', '.join(s.value for s in TrialStatus)}") from None
    return TrialRecord(**data)


_Read = TypeVar("_Read", bound=Callable[..., Any])


def _read(method: _Read) -> _Read:
    """A read of a store that SQLite cannot read, or whose rows this code did not write,
    is one line naming the file (leaderboards, reports and exports of a damaged run)."""

    @functools.wraps(method)
    def read(self: TrialStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except _Damaged as exc:
            raise RunError(f"the run's store is damaged: {exc}", source=str(self.path)) from None
        except sqlite3.DatabaseError as exc:
            raise RunError(f"the run's store cannot be read ({exc})",
                           source=str(self.path)) from None

    return read  # type: ignore[return-value]


class TrialStore:
    """SQLite store of one run. Open read-only for leaderboards (``readonly=True``)."""

    def __init__(self, path: str | Path, *, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        if readonly and not self.path.is_file():
            raise RunError("the run's store is missing: the folder is not a whole run",
                           source=str(self.path))
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            raise RunError(f"the run's store cannot be {'read' if readonly else 'opened'} "
                           f"({exc})", source=str(self.path)) from None
        self._db.row_factory = sqlite3.Row

    def _open(self) -> None:
        if self.readonly:
            uri = f"file:{self.path}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, timeout=30)
            try:
                tables = {row[0] for row in self._db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'")}
            except sqlite3.DatabaseError:  # not a database, or cut short
                self._db.close()
                raise
            missing = [name for name in REQUIRED_TABLES if name not in tables]
            if "trials" in missing:
                # the search creating it has not written its tables yet (a moment after start)
                self._db.close()
                raise RunError("the run's store has no tables yet: its search is starting "
                               "(try again in a moment), or was killed while starting "
                               "(resume the run)", source=str(self.path))
            if missing:
                self._db.close()
                raise RunError(f"the run's store lacks its table {missing[0]!r} (a search "
                               "killed while starting); resuming the run repairs it",
                               source=str(self.path))
        else:
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                             (str(SCHEMA_VERSION),))

    @staticmethod
    def check_readable(path: str | Path) -> None:
        """Refuse, before a resume changes anything, a store that is missing or that SQLite
        cannot read. Tables a search killed while starting did not write are no reason: the
        resume's writer creates them."""
        path = Path(path)
        if not path.is_file():
            raise RunError("the run's store is missing: the folder is not a whole run",
                           source=str(path))
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            try:
                verdict = db.execute("PRAGMA quick_check").fetchone()[0]
            finally:
                db.close()
        except sqlite3.DatabaseError as exc:
            raise RunError(f"the run's store cannot be read ({exc})", source=str(path)) from None
        if verdict != "ok":
            raise RunError(f"the run's store is damaged ({short(verdict)})", source=str(path))

    def close(self) -> None:
        """Close. A writer first leaves the file in rollback-journal mode: a read-only reader
        of a WAL file creates -wal and -shm files beside it that it cannot remove, so every
        leaderboard of a finished run would leave two. The next writer turns WAL back on."""
        if not self.readonly:
            try:
                self._db.execute("PRAGMA busy_timeout = 1000")
                self._db.execute("PRAGMA journal_mode=DELETE")
            except sqlite3.OperationalError:
                pass  # a reader has it open: the file stays in WAL mode, which is fine
        self._db.close()

    def __enter__(self) -> TrialStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # ------------------------------------------------------------------ writes (driver only)
    def add_trial(self, trial_id: int, architecture: Architecture, *,
                  status: TrialStatus = TrialStatus.RUNNING, ask_seq: int | None = None,
                  summary: str | None = None) -> None:
        """Record an asked trial; ``summary`` is its one-line description (the engine passes
        the builder's, in each layer type's words; default: the architecture's plain one)."""
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "INSERT INTO trials (trial_id, arch_id, status, architecture, flat, summary, "
                "ask_seq, created_at, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (trial_id, architecture.id, status.value, architecture.to_json(),
                 json.dumps(architecture.flat), summary or architecture.summary(), ask_seq, now,
                 now if status == TrialStatus.RUNNING else None))

    def mark_running(self, trial_id: int, attempts: int) -> None:
        with self._transaction() as db:
            db.execute("UPDATE trials SET status=?, attempts=?, started_at=? WHERE trial_id=?",
                       (TrialStatus.RUNNING.value, attempts, time.time(), trial_id))

    def requeue_running(self) -> int:
        """Running trials become pending (their children were ended: a resume reruns them,
        and no listing shows them as training); returns how many."""
        with self._transaction() as db:
            return db.execute("UPDATE trials SET status=? WHERE status=?",
                              (TrialStatus.PENDING.value, TrialStatus.RUNNING.value)).rowcount

    def finish_trial(self, trial_id: int, *, status: TrialStatus, reward: float | None = None,
                     metrics: Mapping[str, float] | None = None,
                     test_metrics: Mapping[str, float] | None = None,
                     params: int | None = None, train_seconds: float | None = None,
                     host: str | None = None, node: str | None = None,
                     gpus: str | None = None, error: str | None = None,
                     attempts: int | None = None, cached_from: int | None = None,
                     epochs: list[Mapping[str, float]] | None = None,
                     told_seq: int | None = None, keras_summary: str | None = None,
                     costs: Mapping[str, float] | None = None) -> None:
        """Record a finished trial, its epochs, its Keras summary and its costs (seconds per
        phase in the worker and the driver, the worker's memory) in one transaction."""
        with self._transaction() as db:
            db.execute(
                "UPDATE trials SET status=?, reward=?, metrics=?, test_metrics=?, params=?, "
                "train_seconds=?, host=?, node=?, gpus=?, error=?, "
                "attempts=COALESCE(?, attempts), cached_from=?, told_seq=?, finished_at=? "
                "WHERE trial_id=?",
                (status.value, reward, json.dumps(dict(metrics or {})),
                 json.dumps(dict(test_metrics or {})), params, train_seconds, host, node, gpus,
                 error, attempts, cached_from, told_seq, time.time(), trial_id))
            for entry in epochs or []:
                db.execute("INSERT OR REPLACE INTO epochs VALUES (?, ?, ?)",
                           (trial_id, int(entry["epoch"]), json.dumps(dict(entry))))
            if keras_summary:
                db.execute("INSERT OR REPLACE INTO keras_summaries VALUES (?, ?)",
                           (trial_id, keras_summary))
            if costs:
                db.execute("INSERT OR REPLACE INTO costs VALUES (?, ?)",
                           (trial_id, json.dumps(dict(costs))))

    def add_strategy_update(self, told_seq: int, stats: Mapping[str, Any]) -> None:
        with self._transaction() as db:
            db.execute("INSERT INTO strategy_updates (told_seq, stats, created_at) "
                       "VALUES (?, ?, ?)", (told_seq, json.dumps(dict(stats)), time.time()))

    def set_meta(self, key: str, value: Any) -> None:
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    # ------------------------------------------------------------------ reads
    @_read
    def meta(self, key: str, default: Any = None) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return _json(row["value"], f"meta {key!r}", object) if row else default

    @_read
    def trials(self, *, status: TrialStatus | None = None) -> list[TrialRecord]:
        if status is None:
            rows = self._db.execute("SELECT * FROM trials ORDER BY trial_id").fetchall()
        else:
            rows = self._db.execute("SELECT * FROM trials WHERE status=? ORDER BY trial_id",
                                    (status.value,)).fetchall()
        return [_decode(row) for row in rows]

    @_read
    def trial(self, trial_id: int) -> TrialRecord | None:
        row = self._db.execute("SELECT * FROM trials WHERE trial_id=?", (trial_id,)).fetchone()
        return _decode(row) if row else None

    @_read
    def find_trial(self, key: str) -> TrialRecord | None:
        """A trial by number, or by architecture id or a prefix of it that names one
        architecture. A number that is no trial's is not read as the start of an id (``15``
        in a run of 3 trials would pick whichever child's id starts with 15), unless it is a
        whole id; a prefix of several ids is a RunError that lists them."""
        if key.isdigit():
            found = self.trial(int(key)) if int(key) < 2**63 else None  # SQLite: 64-bit
            if found or len(key) != ARCH_ID_LENGTH:
                return found
        if not key or any(c not in "0123456789abcdef" for c in key.lower()):
            return None  # ids are hex: an empty key or LIKE's wildcards would match any trial
        rows = self._db.execute(
            "SELECT * FROM trials WHERE arch_id LIKE ? ORDER BY (status='complete') DESC, "
            "trial_id", (f"{key.lower()}%",)).fetchall()
        ids = sorted({row["arch_id"] for row in rows})
        if len(ids) > 1:
            raise RunError(f"{key!r} starts {len(ids)} architecture ids ("
                           + ", ".join(ids[:4]) + (", ..." if len(ids) > 4 else "")
                           + "); give more of the id, or a trial number", key="TRIAL")
        return _decode(rows[0]) if rows else None

    @_read
    def best(self) -> TrialRecord | None:
        """The complete (or cached) trial first by :func:`ranking_key`; failed trials never
        top."""
        rows = self._db.execute(
            "SELECT * FROM trials WHERE status IN ('complete', 'cached') AND reward = "
            "(SELECT MAX(reward) FROM trials WHERE status IN ('complete', 'cached'))").fetchall()
        ranked = _best_first([_decode(row) for row in rows])
        return ranked[0] if ranked else None

    @_read
    def top_trained(self, k: int) -> list[int]:
        """The ``k`` complete trials first by :func:`ranking_key`, the ones whose models a run
        keeps; cached trials trained nothing and are not among them."""
        if k <= 0:
            return []
        rows = self._db.execute(
            "SELECT trial_id, reward, metrics FROM trials WHERE status='complete' "
            "AND reward IS NOT NULL").fetchall()
        keys = sorted(ranking_key(r["reward"], _json(r["metrics"] or "{}", "metrics"),
                                  r["trial_id"]) for r in rows)
        return [trial_id for _, _, trial_id in keys[:k]]

    @_read
    def keras_summary(self, trial_id: int) -> str | None:
        """The Keras ``model.summary()`` text the worker captured; None for runs made before
        summaries were stored (their database has no such table) or trials never trained."""
        try:
            row = self._db.execute("SELECT text FROM keras_summaries WHERE trial_id=?",
                                   (trial_id,)).fetchone()
        except sqlite3.OperationalError:  # an older run's database, opened read-only
            return None
        return row["text"] if row else None

    @_read
    def costs(self) -> dict[int, dict[str, float]]:
        """Each trained trial's costs (``ChildTrainer.train``'s ``costs`` plus the loop's
        ``round_trip`` and ``driver_gap``), by trial id; empty for an older run's database."""
        try:
            rows = self._db.execute("SELECT trial_id, costs FROM costs").fetchall()
        except sqlite3.OperationalError:  # an older run's database, opened read-only
            return {}
        return {int(r["trial_id"]): _json(r["costs"], f"costs of trial {r['trial_id']}")
                for r in rows}

    @_read
    def completed_result(self, arch_id: str) -> TrialRecord | None:
        """The first complete trial of this architecture, if any (for caching)."""
        row = self._db.execute(
            "SELECT * FROM trials WHERE arch_id=? AND status='complete' ORDER BY trial_id "
            "LIMIT 1", (arch_id,)).fetchone()
        return _decode(row) if row else None

    @_read
    def epochs(self, trial_id: int) -> list[dict[str, float]]:
        rows = self._db.execute("SELECT metrics FROM epochs WHERE trial_id=? ORDER BY epoch",
                                (trial_id,)).fetchall()
        return [_json(row["metrics"], f"trial {trial_id}: epoch metrics") for row in rows]

    @_read
    def epoch_counts(self) -> dict[int, int]:
        """Epochs stored per trial (the last epoch each reported), in one query."""
        rows = self._db.execute("SELECT trial_id, MAX(epoch) AS n FROM epochs GROUP BY trial_id")
        return {int(r["trial_id"]): int(r["n"]) for r in rows}

    @_read
    def strategy_updates(self) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT step, told_seq, stats, created_at FROM strategy_updates ORDER BY step"
        ).fetchall()
        return [{"step": r["step"], "told_seq": r["told_seq"], "created_at": r["created_at"],
                 **_json(r["stats"], f"strategy update {r['step']}")} for r in rows]

    @_read
    def counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT status, COUNT(*) AS n FROM trials GROUP BY status")
        return {row["status"]: row["n"] for row in rows}

    @_read
    def max_trial_id(self) -> int:
        row = self._db.execute("SELECT MAX(trial_id) AS m FROM trials").fetchone()
        return -1 if row["m"] is None else int(row["m"])

    @_read
    def max_event_seq(self) -> int:
        """Largest ask or tell sequence number (events are numbered in one sequence)."""
        row = self._db.execute(
            "SELECT MAX(MAX(COALESCE(ask_seq, 0)), MAX(COALESCE(told_seq, 0))) AS m FROM trials"
        ).fetchone()
        return 0 if row["m"] is None else int(row["m"])

    @_read
    def integrity_ok(self) -> bool:
        return self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
