"""What a run rebuilds: the dbt scope from what is new since the last build, and the no-op record."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from pipeline import state
from pipeline.config import get_settings
from pipeline.transform.scope import decide, record

CODE = "code-1"


@pytest.fixture
def con():
    c = duckdb.connect(":memory:")
    c.execute("create schema audit; create schema raw; create schema marts")
    c.execute(
        "create table audit.ingest_files (file_sha256 varchar, source varchar, rows_loaded bigint, status varchar)"
    )
    c.execute("create table raw.submissions (period_code varchar, _file_sha256 varchar)")
    c.execute("create table marts.fact_indicator_value (x int)")
    yield c
    c.close()


def _ingest(con, sha: str, source: str = "submissions", period: str | None = "2026-Q1", rows: int = 3):
    con.execute("insert into audit.ingest_files values (?, ?, ?, 'loaded')", [sha, source, rows])
    if source == "submissions" and rows:
        con.execute("insert into raw.submissions values (?, ?)", [period, sha])


def test_first_build_rebuilds_every_period(con):
    _ingest(con, "a")
    scope = decide(con, CODE)
    assert scope.period is None and "no previous build" in scope.reason


def test_new_files_of_one_quarter_scope_dbt_to_that_quarter(con):
    _ingest(con, "a", period="2026-Q1")
    record(con, "run-1", "all", CODE)
    _ingest(con, "b", period="2026-Q3")
    _ingest(con, "c", period="2026-Q3")
    _ingest(con, "rejected", period="2026-Q2", rows=0)  # rejected files load nothing: not new data
    scope = decide(con, CODE)
    assert (scope.period, scope.new_files) == ("2026-Q3", 2)
    # quarters of one year → the year; two years → every period
    _ingest(con, "d", period="2026-Q4")
    assert decide(con, CODE).period == "2026"
    _ingest(con, "e", period="2027-Q1")
    assert decide(con, CODE).period is None
    # once built, nothing is new
    record(con, "run-2", "all", CODE)
    scope = decide(con, CODE)
    assert scope.period is None and scope.new_files == 0


def test_anything_but_submissions_or_a_code_change_rebuilds_everything(con):
    _ingest(con, "a")
    record(con, "run-1", "all", CODE)
    _ingest(con, "b", period="2026-Q2")
    assert decide(con, "code-2").period is None
    assert "code changed" in decide(con, "code-2").reason
    _ingest(con, "s", source="surveys")
    scope = decide(con, CODE)
    assert scope.period is None and "surveys" in scope.reason


def test_no_op_record_matches_only_when_nothing_changed(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    (raw / "submissions").mkdir(parents=True)
    f = raw / "submissions" / "a_2026-Q1.csv"
    f.write_text("x")
    (raw / "templates").mkdir()
    (raw / "templates" / "t.csv").write_text("template")  # templates are not data
    monkeypatch.setenv("NTM_RAW_DIR", str(raw))
    monkeypatch.setenv("NTM_WAREHOUSE", str(tmp_path / "wh" / "ntm.duckdb"))
    monkeypatch.setenv("NTM_OPEN_DATA_DIR", str(tmp_path / "od"))
    settings = get_settings()
    fps = state.current(settings)
    assert state.unchanged_since_last_success(settings, fps) is None  # never ran

    settings.warehouse.parent.mkdir(parents=True)
    settings.warehouse.write_bytes(b"")
    release = settings.open_data_dir / "releases" / "r1"
    release.mkdir(parents=True)
    (release / "datapackage.json").write_text("{}")
    os.symlink(Path("releases") / "r1", settings.open_data_dir / "latest")
    state.write_last_success(settings, fps, "run-1", "r1")
    assert state.unchanged_since_last_success(settings, state.current(settings))["run_id"] == "run-1"

    (raw / "templates" / "t.csv").write_text("edited template")
    assert state.unchanged_since_last_success(settings, state.current(settings)) is not None
    os.utime(f, ns=(1, 1))  # same content, new mtime: runs again (the ingest then finds nothing new)
    assert state.unchanged_since_last_success(settings, state.current(settings)) is None
    state.write_last_success(settings, state.current(settings), "run-2", "r1")
    (settings.open_data_dir / "latest").unlink()  # release gone: runs again
    assert state.unchanged_since_last_success(settings, state.current(settings)) is None
