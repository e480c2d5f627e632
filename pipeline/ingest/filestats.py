"""Skip re-reading landed files that have not changed since they were ingested (a stat cache).

Every run used to read and sha256 every file under ``raw/`` to learn that it was already ingested: 48k
files and 35 s at province scale, 4 GB at national scale, for a nightly run or one new quarter.
``audit.file_stats`` remembers, per path, the identity of the file that was read there: size, mtime, ctime
and inode (what ``git`` uses for its index) and its sha256. A later run that finds the same path with the
same four values takes the sha256 from the cache instead of reading the file; anything else (a new, edited,
replaced, copied or restored file) is read and hashed as before.

Safe by construction:

- the ``lstat`` is taken *before* the file is read, so a file written while it was being read is recorded
  with its old stat and read again next time;
- a file whose mtime or ctime is less than :data:`RACY_SECONDS` older than that ``lstat`` is not cached
  (a write in the same timestamp tick could keep size and mtime), as in git's "racy clean" rule;
- only regular files are cached (a symbolic link is always resolved and checked again), and only while
  ``audit.ingest_files`` still has the content (a cached sha256 it does not know is ignored);
- ``NTM_INGEST_REHASH=1`` ignores the cache for a run (it is rewritten as files are read).
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterable

import duckdb
import pandas as pd

from pipeline.config import ingest_rehash
from pipeline.ingest.files import LandedFile

#: A file changed less than this long before it was stat'ed is not cached.
RACY_SECONDS = 2.0


def rehash_forced() -> bool:
    return ingest_rehash()


def load(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, tuple[str, int, int, int, int]]:
    """path -> (sha256, bytes, mtime_ns, ctime_ns, inode) for the source's cached files whose content
    ``audit.ingest_files`` knows (the table is created by ``tables.ensure_warehouse_schema``)."""
    if rehash_forced():
        return {}
    rows = con.execute(
        """select s.path, s.file_sha256, s.bytes, s.mtime_ns, s.ctime_ns, s.inode
           from audit.file_stats as s
           semi join audit.ingest_files as f on f.file_sha256 = s.file_sha256
           where s.path like ?""",
        [f"{source}/%"],
    ).fetchall()
    return {r[0]: (r[1], r[2], r[3], r[4], r[5]) for r in rows}


def annotate(candidates: Iterable[LandedFile], cache: dict[str, tuple[str, int, int, int, int]]) -> int:
    """``lstat`` every candidate (before any is read). A regular file whose stat matches its cache entry
    gets its sha256 and size from the cache and ``unchanged = True`` (it will not be read). Returns how
    many matched."""
    hits = 0
    for f in candidates:
        try:
            st = os.lstat(f.path)
        except OSError:
            continue  # vanished or unreadable: reading reports it
        if not stat.S_ISREG(st.st_mode):
            continue
        f.stat = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, time.time_ns())
        hit = cache.get(f.rel)
        if hit is not None and hit[1:] == f.stat[:4]:
            f.sha256, f.bytes, f.unchanged = hit[0], st.st_size, True
            hits += 1
    return hits


def rows(files: Iterable[LandedFile]) -> list[tuple]:
    """Cache rows for the files read in this batch: regular, not rejected, not racy, hashed from content."""
    out = []
    racy_ns = int(RACY_SECONDS * 1e9)
    for f in files:
        if f.unchanged or f.stat is None or f.rejected or f.sha256 is None:
            continue
        size, mtime_ns, ctime_ns, inode, taken_ns = f.stat
        if max(mtime_ns, ctime_ns) > taken_ns - racy_ns or f.bytes != size:
            continue
        out.append((f.rel, f.sha256, size, mtime_ns, ctime_ns, inode))
    return out


def write(con: duckdb.DuckDBPyConnection, stat_rows: list[tuple], now) -> None:
    """Upsert the batch's cache rows (inside the batch's transaction)."""
    if not stat_rows:
        return
    frame = pd.DataFrame(stat_rows, columns=["path", "file_sha256", "bytes", "mtime_ns", "ctime_ns", "inode"])
    frame["recorded_at"] = now
    con.register("_file_stats", frame)
    try:
        con.execute("insert or replace into audit.file_stats select * from _file_stats")
    finally:
        con.unregister("_file_stats")
