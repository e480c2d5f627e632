"""pipeline.changes: what is new since the last successful build, per source and period (tmp landing zones)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from pipeline import changes
from pipeline.config import get_settings

Q1 = "submissions/2026/18484-KT_2026-Q1.csv"
Q2 = "submissions/2026/18484-T03_2026-Q2.csv"
SURVEY = "surveys/khao_sat_hai_long_2026.jsonl"


def _write(raw: Path, rel: str, text: str, mtime: float | None = None) -> Path:
    p = raw / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    if mtime is not None:
        os.utime(p, (mtime, mtime))
    return p


@pytest.fixture
def env(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    _write(raw, Q1, "a,b\n1,2\n", mtime=time.time() - 100)
    _write(raw, SURVEY, '{"a": 1}\n', mtime=time.time() - 100)
    _write(raw, "templates/bao_cao.csv", "template")  # not data
    _write(raw, "README.md", "readme")  # not data
    monkeypatch.setenv("NTM_RAW_DIR", str(raw))
    monkeypatch.setenv("NTM_WAREHOUSE", str(tmp_path / "wh" / "ntm.duckdb"))
    monkeypatch.setenv("NTM_OPEN_DATA_DIR", str(tmp_path / "od"))
    monkeypatch.setenv("NTM_PII_SALT", "salt-1")
    # a file written in the test is "racy" for two seconds: trust stats at once so the stat path is tested
    monkeypatch.setattr(changes, "RACY_SECONDS", 0.0)
    return raw, get_settings()


def _succeed(settings, run_id: str = "run-1", scope: str | None = None, accounted: set[str] | None = None):
    """A successful build that ingested (accounted for) every landed file, unless told otherwise."""
    if accounted is None:
        accounted = {sha for sha, _ in changes.snapshot(settings.raw_dir).values()}
    return changes.record_success(settings, run_id=run_id, release_id="r1", accounted=accounted, scope=scope)


def _kinds(found: changes.ChangeSet) -> dict[str, str]:
    return {f.path: f.kind for f in found.files}


def test_no_record_means_everything_and_every_file_is_new(env):
    raw, settings = env
    found = changes.changes_since_last_success(settings)
    assert found.everything == "no successful build recorded" and not found.nothing
    assert _kinds(found) == {Q1: "new", SURVEY: "new"}  # templates and READMEs are not data
    assert found.period() is None


def test_nothing_changed_after_a_success_and_unchanged_files_are_not_read(env, monkeypatch):
    raw, settings = env
    _succeed(settings)
    read: list[Path] = []
    monkeypatch.setattr(changes, "sha256_file", lambda p: read.append(p) or "x")
    found = changes.changes_since_last_success(settings)
    assert found.nothing and found.everything is None and found.files == ()
    assert read == []  # the recorded stat stands for the hash
    assert found.summary() == "nothing changed since the last successful build"


def test_a_new_file_is_new_with_its_source_and_period(env):
    raw, settings = env
    _succeed(settings)
    _write(raw, Q2, "a,b\n3,4\n")
    found = changes.changes_since_last_success(settings)
    assert _kinds(found) == {Q2: "new"}
    assert [(f.source, f.period) for f in found.files] == [("submissions", "2026-Q2")]
    assert found.by_source_period() == {("submissions", "2026-Q2"): list(found.files)}
    assert found.period() == "2026-Q2"


def test_changed_content_with_the_same_size_and_mtime_is_a_change(env):
    raw, settings = env
    _succeed(settings)
    p = raw / Q1
    st = p.stat()
    p.write_text("a,b\n1,9\n", encoding="utf-8")  # same size
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime: only the ctime moved
    assert p.stat().st_size == st.st_size and p.stat().st_mtime_ns == st.st_mtime_ns
    found = changes.changes_since_last_success(settings)
    assert _kinds(found) == {Q1: "changed"} and found.period() == "2026-Q1"


def test_a_touched_file_with_the_same_content_is_no_change(env):
    raw, settings = env
    _succeed(settings)
    t = time.time() - 10
    os.utime(raw / Q1, (t, t))
    assert changes.changes_since_last_success(settings).nothing


def test_a_removed_file_is_a_removal_of_its_period(env):
    raw, settings = env
    _succeed(settings)
    (raw / Q1).unlink()
    found = changes.changes_since_last_success(settings)
    assert _kinds(found) == {Q1: "removed"} and found.files[0].sha256 is None
    assert found.period() == "2026-Q1"


def test_files_of_other_periods_and_sources_widen_the_period(env):
    raw, settings = env
    _succeed(settings)
    _write(raw, Q2, "a,b\n3,4\n")
    _write(raw, "submissions/2026/18484-T04_2026-Q3.csv", "a,b\n5,6\n")
    assert changes.changes_since_last_success(settings).period() == "2026"  # quarters of one year
    _write(raw, "submissions/2027/18484-T04_2027-Q1.csv", "a,b\n7,8\n")
    assert changes.changes_since_last_success(settings).period() is None  # two years
    (raw / "submissions/2027/18484-T04_2027-Q1.csv").unlink()
    _write(raw, SURVEY, '{"a": 2}\n')
    found = changes.changes_since_last_success(settings)
    assert found.sources() == {"submissions", "surveys"} and found.period() is None


def test_a_pii_salt_or_code_change_means_everything(env, monkeypatch):
    raw, settings = env
    _succeed(settings)
    monkeypatch.setenv("NTM_PII_SALT", "salt-2")
    found = changes.changes_since_last_success(get_settings())
    assert found.files == () and "PII salt" in found.everything and found.period() is None
    monkeypatch.setenv("NTM_PII_SALT", "salt-1")
    assert changes.changes_since_last_success(get_settings()).nothing
    found = changes.changes_since_last_success(settings, code_fp="other-code")
    assert found.everything == "code changed since the last successful build"


def test_a_failed_run_does_not_count_as_success(env):
    """A run that ingested a new file and failed later wrote no record: the file is still new; a file that
    landed during a successful run (its content not accounted for by the ingest) stays new too."""
    raw, settings = env
    _succeed(settings, "run-1")
    _write(raw, Q2, "a,b\n3,4\n")
    # run-2 ingests Q2, then fails: nothing is recorded
    found = changes.changes_since_last_success(settings)
    assert _kinds(found) == {Q2: "new"} and found.last["run_id"] == "run-1"
    # run-3 succeeds, but a survey correction landed after its ingest (not accounted for)
    accounted = {sha for sha, _ in changes.snapshot(raw).values()}
    _write(raw, SURVEY, '{"a": 2}\n')
    _succeed(settings, "run-3", accounted=accounted)
    found = changes.changes_since_last_success(settings)
    assert _kinds(found) == {SURVEY: "changed"} and found.last["run_id"] == "run-3"


def test_a_run_scoped_to_one_period_leaves_other_changes_to_do(env):
    raw, settings = env
    _succeed(settings)
    _write(raw, Q2, "a,b\n3,4\n")
    _write(raw, Q1, "a,b\n1,3\n")  # a correction of another quarter, ingested on the way
    _succeed(settings, "run-2", scope="2026-Q2")
    assert _kinds(changes.changes_since_last_success(settings)) == {Q1: "changed"}
    # under a code change a scoped build keeps the old code fingerprint: the next build is still full
    record = changes.record_success(
        settings, run_id="run-3", release_id="r1", accounted=set(), scope="2026-Q1"
    )
    assert record["code_fingerprint"] == changes.code_fingerprint()
    json_path = settings.warehouse_dir / changes.STATE_FILE
    data = json.loads(json_path.read_text())
    data["code_fingerprint"] = "old-code"
    json_path.write_text(json.dumps(data))
    _succeed(settings, "run-4", scope="2026-Q1")
    assert changes.changes_since_last_success(settings).everything.startswith("code changed")
    _succeed(settings, "run-5")
    assert changes.changes_since_last_success(settings).nothing


def test_a_record_of_the_previous_format_is_no_record(env):
    """Upgrade: last_success.json of format 1 (one fingerprint of the landing zone) → a full first build."""
    raw, settings = env
    path = settings.warehouse_dir / changes.STATE_FILE
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"raw_fingerprint": "abc", "code_fingerprint": "def", "run_id": "old"}))
    found = changes.changes_since_last_success(settings)
    assert found.last is None and found.everything == "no successful build recorded"
    path.write_text("{not json")
    assert changes.read_record(settings) is None


def test_release_in_place_needs_the_warehouse_and_the_recorded_release(env):
    raw, settings = env
    record = _succeed(settings)
    assert not changes.release_in_place(settings, record)  # no warehouse, no release
    settings.warehouse.write_bytes(b"")
    release = settings.open_data_dir / "releases" / "r1"
    release.mkdir(parents=True)
    (release / "datapackage.json").write_text("{}")
    os.symlink(Path("releases") / "r1", settings.open_data_dir / "latest")
    assert changes.release_in_place(settings, record)
    assert not changes.release_in_place(settings, {**record, "release_id": "r0"})
    assert not changes.release_in_place(settings, None)


def test_racy_files_get_no_trusted_stat(env, monkeypatch):
    raw, settings = env
    monkeypatch.setattr(changes, "RACY_SECONDS", 2.0)
    _write(raw, Q2, "a,b\n3,4\n")  # written just now
    assert changes.snapshot(raw)[Q2][1] is None  # changed (ctime) < 2 s ago: read again next time
    monkeypatch.setattr(changes, "RACY_SECONDS", 0.0)
    assert changes.snapshot(raw)[Q2][1] is not None


def test_the_ingest_stat_cache_saves_reads_but_a_stale_entry_is_not_believed(env, monkeypatch):
    raw, settings = env
    st = (raw / Q1).stat()
    cache = {Q1: ("cached-sha", (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))}
    read: list[Path] = []
    real = changes.sha256_file
    monkeypatch.setattr(changes, "sha256_file", lambda p: read.append(p) or real(p))
    assert changes.snapshot(raw, [cache])[Q1][0] == "cached-sha" and raw / Q1 not in read
    stale = {Q1: ("cached-sha", (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino + 1))}
    assert changes.snapshot(raw, [stale])[Q1][0] != "cached-sha"


def test_a_release_that_fails_its_integrity_check_is_forgotten(env):
    """release_integrity runs after the record is written: on failure it drops the record naming that
    release, so the next run rebuilds everything instead of reporting nothing changed."""
    raw, settings = env
    _succeed(settings, "run-1")
    record = changes.read_record(settings)
    assert changes.changes_since_last_success(settings).nothing
    assert not changes.forget_success(settings, "another-release")  # a record of another release stays
    assert changes.read_record(settings) == record
    assert changes.forget_success(settings, record["release_id"])
    found = changes.changes_since_last_success(settings)
    assert found.last is None and found.everything and not found.nothing


def test_a_build_that_never_records_its_success_means_everything_next_time(env):
    """The dbt step marks the record before dbt starts; a killed run or a failed dbt build leaves the mark,
    so the next question answers "everything" naming that run (not "nothing changed")."""
    raw, settings = env
    _succeed(settings, "run-1")
    assert changes.mark_building(settings, "run-2")
    found = changes.changes_since_last_success(settings)
    assert not found.nothing and not found.files
    assert found.everything == "the build of run run-2 did not finish (killed or failed)"
    # the run itself, asking while it records its success, does not count its own mark
    assert changes.changes_since_last_success(settings, running="run-2").everything is None
    _succeed(settings, "run-2")
    assert "building" not in changes.read_record(settings)
    assert changes.changes_since_last_success(settings).nothing


def test_a_full_build_clears_the_marks_of_builds_started_before_it_but_not_after(env):
    raw, settings = env
    _succeed(settings, "run-1")
    changes.mark_building(settings, "killed")  # killed during dbt
    changes.mark_building(settings, "run-3")  # the next (full) build
    changes.mark_building(settings, "run-4")  # started while run-3 was publishing
    _succeed(settings, "run-3")
    assert set(changes.read_record(settings)["building"]) == {"run-4"}
    assert "run-4" in changes.changes_since_last_success(settings).everything


def test_a_scoped_build_clears_only_its_own_mark(env):
    raw, settings = env
    _succeed(settings, "run-1")
    changes.mark_building(settings, "killed")
    changes.mark_building(settings, "run-3")
    _succeed(settings, "run-3", scope="2026-Q1")
    assert set(changes.read_record(settings)["building"]) == {"killed"}


def test_without_a_record_there_is_nothing_to_mark(env):
    raw, settings = env
    assert not changes.mark_building(settings, "run-1")
    assert changes.read_record(settings) is None
