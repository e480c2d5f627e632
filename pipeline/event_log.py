"""Dagster's SQLite event log with its connections kept open, for the run of ``python -m pipeline run``.

A commune run writes about 1,400 Dagster events: the planned materializations and checks before the run
starts (one per asset and per dbt test), then one STEP_OUTPUT + ASSET_MATERIALIZATION per dbt model and one
check evaluation per dbt test after dbt has finished. Dagster's ``SqliteEventLogStorage`` creates a new
SQLAlchemy engine and SQLite connection for every write and closes it again; its databases are in WAL mode,
so every close of the last connection checkpoints the WAL into the database file, and every commit waits
for an fsync. Measured at commune scale (bench/results/commune_fixed_cost.md) that was the largest part of
the run's fixed cost: most of the 12-22 s before the first step (the planned events) and 15-17 s of events
after dbt had finished, on this busy 2-core machine.

``NtmSqliteEventLogStorage`` stores exactly the same rows in the same files; only the connection handling
differs:

* one engine per database file, kept for the life of the process (pooled connections: a write no longer
  opens and closes a file, so a close no longer checkpoints after each event; SQLite checkpoints the WAL
  itself every 1,000 pages, and when the process ends);
* ``PRAGMA synchronous=NORMAL`` on each connection (SQLite's recommended setting in WAL mode): a commit
  no longer waits for an fsync. The run history cannot be corrupted by a crash; a power cut (not a killed
  process) may lose the last events written just before it, and run monitoring then treats that run like
  any run whose process died (pipeline.run_monitor). The warehouse and the releases are not affected.

``keep_connections(instance)`` switches the CLI's own instance to it when that instance uses Dagster's
SQLite event log (the default, .dagster/dagster.yaml); a PostgreSQL run history is left alone. The UI, the
daemon and the tests keep Dagster's storage: both read and write the same files, so one run history.
It can also be configured in dagster.yaml (``event_log_storage``, with ``config: base_dir:`` the
``history/runs`` folder of DAGSTER_HOME).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

# database files held open at once (a long-lived process reads many runs: the least recently used closes)
MAX_OPEN_SHARDS = 8


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


class NtmSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` with one pooled engine per database file and ``synchronous=NORMAL``."""

    def __init__(self, base_dir: str, inst_data: Any = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value):  # ty: ignore[invalid-method-override]
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        engine = create_engine(
            self.conn_string_for_shard(shard), connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        self._engines[shard] = engine
        while len(self._engines) > MAX_OPEN_SHARDS:
            _, old = self._engines.popitem(last=False)
            old.dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Any]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def close_connections(self) -> None:
        """Close every kept connection (the WAL is checkpointed as the last one closes)."""
        with self._db_lock:
            while self._engines:
                _, engine = self._engines.popitem(last=False)
                engine.dispose()

    def wipe(self) -> None:
        self.close_connections()  # the run databases are deleted next
        super().wipe()

    def dispose(self) -> None:
        self.close_connections()
        super().dispose()


def keep_connections(instance: Any) -> bool:
    """Switch ``instance``'s event log to :class:`NtmSqliteEventLogStorage` when it is Dagster's plain SQLite
    event log (same object, same files, same base directory). Returns whether it did."""
    storage = instance.event_log_storage
    if type(storage) is not SqliteEventLogStorage:  # PostgreSQL, or configured otherwise: left alone
        return False
    storage._engines = OrderedDict()
    storage.__class__ = NtmSqliteEventLogStorage
    return True
