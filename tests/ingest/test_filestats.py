"""The stat cache (``audit.file_stats``): unchanged files are not read again, anything else is.

Each test ingests real files twice and counts the files the second run reads (``files.read`` wrapped)."""

from __future__ import annotations

import os

import pytest

from pipeline.ingest import files, filestats
from pipeline.ingest.sources.submissions.validate import ingest_submissions
from tests.ingest.ingest_builders import SALT, SUB_HEADER, TODAY, csv_text, sub_row


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """Relative paths read by ``files.read`` (the only place a landed file's bytes are read)."""
    seen: list[str] = []
    real = files.read

    def spy(f, raw_dir, **kw):
        seen.append(f.rel)
        return real(f, raw_dir, **kw)

    monkeypatch.setattr(files, "read", spy)
    return seen


@pytest.fixture
def not_racy(monkeypatch):
    """The files of a test are seconds old at most: let the cache take them."""
    monkeypatch.setattr(filestats, "RACY_SECONDS", 0.0)


def _write(raw_dir, name: str, value: str = "85", period: str = "2026-Q3"):
    p = raw_dir / "submissions" / name
    p.write_text(csv_text(SUB_HEADER, [sub_row(value=value, period=period)]), encoding="utf-8")
    return p


def _ingest(con, raw_dir, ref):
    return ingest_submissions(con, raw_dir, ref, today=TODAY, salt=SALT)


def test_unchanged_files_are_not_read_again(con, raw_dir, ref, reads, not_racy):
    for i in range(3):
        _write(raw_dir, f"kt_{i}.csv", value=str(80 + i))
    first = _ingest(con, raw_dir, ref)
    assert first.files_new == 3 and first.files_unchanged == 0 and len(reads) == 3
    reads.clear()
    second = _ingest(con, raw_dir, ref)
    assert reads == []
    assert second.files_unchanged == 3 and second.files_skipped_duplicate == 3 and second.files_new == 0
    assert {o.status for o in second.files} == {"already_ingested"}
    # the paths stay present (not "missing") and nothing was loaded twice
    states = con.execute("select distinct state from audit.file_paths").fetchall()
    assert states == [("present",)]
    assert con.execute("select count(*) from raw.submission_values").fetchone()[0] == 3


def test_an_edited_file_is_read_even_with_its_old_size_and_mtime(con, raw_dir, ref, reads, not_racy):
    p = _write(raw_dir, "kt.csv", value="85")
    _ingest(con, raw_dir, ref)
    st = p.stat()
    _write(raw_dir, "kt.csv", value="86")  # same size
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))  # mtime put back, as `cp -p` or a restore would
    assert p.stat().st_size == st.st_size and p.stat().st_mtime_ns == st.st_mtime_ns
    reads.clear()
    again = _ingest(con, raw_dir, ref)
    assert reads == ["submissions/kt.csv"]  # the ctime moved: read, hashed, found new
    assert again.files_new == 1 and again.files_unchanged == 0
    assert con.execute("select state from audit.file_paths order by first_seen").fetchall() == [
        ("changed",),
        ("present",),
    ]


def test_a_file_replaced_by_another_inode_is_read(con, raw_dir, ref, reads, not_racy):
    p = _write(raw_dir, "kt.csv")
    _ingest(con, raw_dir, ref)
    tmp = raw_dir / "submissions" / ".kt.csv.tmp"  # hidden: not a candidate itself
    tmp.write_bytes(p.read_bytes())
    os.replace(tmp, p)
    reads.clear()
    again = _ingest(con, raw_dir, ref)
    assert reads == ["submissions/kt.csv"]
    assert again.files_new == 0 and again.files_skipped_duplicate == 1  # same content: already ingested


def test_files_younger_than_the_racy_window_are_not_cached(con, raw_dir, ref, reads):
    _write(raw_dir, "kt.csv")  # written just now: its mtime is inside filestats.RACY_SECONDS
    _ingest(con, raw_dir, ref)
    assert con.execute("select count(*) from audit.file_stats").fetchone()[0] == 0
    reads.clear()
    assert _ingest(con, raw_dir, ref).files_unchanged == 0
    assert reads == ["submissions/kt.csv"]


def test_rehash_env_reads_everything_and_cache_needs_known_content(
    con, raw_dir, ref, reads, not_racy, monkeypatch
):
    _write(raw_dir, "a.csv", value="1")
    _write(raw_dir, "b.csv", value="2")
    _ingest(con, raw_dir, ref)
    monkeypatch.setenv("NTM_INGEST_REHASH", "1")
    reads.clear()
    forced = _ingest(con, raw_dir, ref)
    assert sorted(reads) == ["submissions/a.csv", "submissions/b.csv"] and forced.files_unchanged == 0
    monkeypatch.delenv("NTM_INGEST_REHASH")
    # a cached sha256 that audit.ingest_files no longer knows is not trusted
    con.execute("delete from audit.ingest_files where path = 'submissions/a.csv'")
    reads.clear()
    again = _ingest(con, raw_dir, ref)
    assert reads == ["submissions/a.csv"] and again.files_unchanged == 1


def test_symlinks_and_rejected_files_are_never_cached(con, raw_dir, ref, not_racy):
    target = _write(raw_dir, "real.csv")
    (raw_dir / "submissions" / "link.csv").symlink_to(target)
    # rejected by name, before reading (the content decides how any other file is read)
    (raw_dir / "submissions" / "notes.csv.part").write_bytes(b"not a template")
    _ingest(con, raw_dir, ref)
    cached = [r[0] for r in con.execute("select path from audit.file_stats order by 1").fetchall()]
    assert cached == ["submissions/real.csv"]
