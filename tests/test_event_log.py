"""The CLI's event log (pipeline/event_log.py, switched on by ``keep_connections`` in pipeline/cli.py) stores
what Dagster's own SQLite event log stores, in the same files: a run written through it reads back the same
through Dagster's default storage (the UI's), its connections use synchronous=NORMAL, wiping the history
closes the kept connections before the files go, and a storage that is not Dagster's SQLite one is left
alone."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg

from pipeline.event_log import NtmSqliteEventLogStorage, keep_connections

REPO = Path(__file__).resolve().parents[1]


@dg.asset
def tiny() -> int:
    return 1


@dg.asset_check(asset=tiny)
def tiny_positive() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    shutil.copy(REPO / ".dagster" / "dagster.yaml", home / "dagster.yaml")
    return home


def test_runs_written_with_kept_connections_read_the_same_through_dagsters_storage(tmp_path):
    home = _home(tmp_path)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        base_dir = instance.event_log_storage._base_dir
        assert keep_connections(instance)
        storage = instance.event_log_storage
        assert isinstance(storage, NtmSqliteEventLogStorage) and storage._base_dir == base_dir
        results = [dg.materialize([tiny, tiny_positive], instance=instance) for _ in range(2)]
        assert all(r.success for r in results)
        written = {r.run_id: len(instance.all_logs(r.run_id)) for r in results}
        assert all(n > 10 for n in written.values())
        with storage.index_connection() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL

    with dg.DagsterInstance.from_config(str(home)) as default:  # what the UI and the daemon use
        assert type(default.event_log_storage).__name__ == "SqliteEventLogStorage"
        assert {r.run_id for r in default.get_runs()} == set(written)
        assert {run_id: len(default.all_logs(run_id)) for run_id in written} == written
        record = default.get_latest_materialization_event(dg.AssetKey("tiny"))
        assert record is not None and record.run_id == results[-1].run_id
        checks = default.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey("tiny"), "tiny_positive"), limit=5
        )
        assert len(checks) == 2


def test_wipe_closes_kept_connections_and_deletes_run_files(tmp_path):
    home = _home(tmp_path)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        keep_connections(instance)
        run_id = dg.materialize([tiny], instance=instance).run_id
        storage = instance.event_log_storage
        assert run_id in storage._engines  # kept open after the run
        storage.wipe()
        assert set(storage._engines) <= {"index"}  # the run's connection closed (wipe reopens the index)
        assert not (home / "history" / "runs" / f"{run_id}.db").exists()
        assert instance.all_logs(run_id) == []


def test_an_event_log_that_is_not_dagsters_sqlite_one_is_left_alone(tmp_path):
    with dg.DagsterInstance.ephemeral() as instance:  # in-memory event log
        before = type(instance.event_log_storage)
        assert keep_connections(instance) is False
        assert type(instance.event_log_storage) is before
