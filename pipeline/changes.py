"""What is new since the last successful build, per source and period: the one change-detection question.

:func:`changes_since_last_success` compares the landing zone now with one stored record of the last
successful build and answers with a :class:`ChangeSet`: per landed file (source = its first folder, period
= from its name) whether it is new, changed or removed, plus whether the code or the output-changing settings
(the PII salt, the home commune) changed. Everyone who decides what to do asks it:

* ``python -m pipeline run`` (pipeline.cli): nothing changed and the release is still in place → it says so
  and stops without a Dagster run (``--force`` runs anyway);
* the nightly schedule (pipeline.jobs): nothing changed → the tick skips with the reason;
* the landing-zone sensor (pipeline.sensors): new or changed files, once settled → one run for their sources
  and period (a removal triggers nothing: the ingest keeps the rows of a removed file);
* the dbt step (pipeline.transform.assets, pipeline.transform.selection): which dbt nodes and periods
  ``dbt build`` rebuilds: only the nodes downstream of the raw tables the changed sources' ingest writes
  (:data:`SOURCE_TABLES`, :meth:`ChangeSet.raw_tables`), and of those only one period when the only change is
  submission files of one quarter (or of quarters of one year).

**The record** is ``<warehouse dir>/last_success.json`` (format 2), written by :func:`record_success` only
by the publish step after a release is in place (whatever launched the run: CLI, UI, schedule, sensor), so a
run that fails anywhere before leaves the previous record and its changes are asked for again. It holds,
per landed file, its sha256 and the stat it had (size, mtime, ctime, inode), the code and settings
fingerprints, the run and the release. A file counts as done only when the ingest accounted for its content
(its sha256 is in ``audit.ingest_files``: a file that landed during the run stays new) and, in a run scoped to
one period (run tag ``ntm/period``), only when that run rebuilt its period (a correction of another quarter
ingested on the way stays new; likewise a code change under a scoped run).

**Hashing** is by content (sha256), so a touched file with the same content is no change and an edited file
that kept its size and mtime is one (its ctime moved). A file whose stat equals the one recorded (or the one
``audit.file_stats``, the ingest's stat cache, holds for its path) is not read: the stat is an optimisation
of hashing, never a second truth (git's "racy clean" rule: a file changed less than two seconds before its
stat was taken gets no trusted stat).

**An interrupted build** is no success: the dbt step marks the record (:func:`mark_building`, the key
``building``: run id → when it started) before ``dbt build`` starts, and :func:`record_success` drops the
marks of builds that started before its own (a full build) or only its own (a build scoped to one period).
A mark left by a run that was killed or whose dbt build failed (the marts may be half rebuilt) makes the
next question answer "everything" with that run named, so the next run rebuilds every period instead of
calling the unchanged landing zone "nothing changed".

What it replaced (issue 16, item 4), and what stays:

1. ``pipeline/state.py`` + ``last_success.json`` format 1 (one fingerprint of path, size and mtime of the
   whole landing zone, written by the CLI only): asked by the CLI's no-op check. Replaced by this record.
2. The nightly schedule's ``ntm/raw_fingerprint`` run tag (the same fingerprint compared with the tags of
   successful Dagster runs): asked by ``ntm_nightly``. Replaced; the tag is no longer set.
3. The sensor cursor's ``done`` map (path → sha256 triggered, seeded from the last successful Dagster run and
   ``audit.ingest_files``): asked by ``ntm_raw_files``. Replaced; the cursor keeps only what a file looked
   like at the previous evaluation (is it still being written?) and the last request made.
4. ``pipeline/transform/scope.py`` (``audit.dbt_built_files`` / ``audit.dbt_builds``, the files the marts were
   last built from): asked by the dbt step. Replaced; the two tables are no longer written (an existing
   warehouse keeps them, unread).
5. The stat cache ``audit.file_stats`` (pipeline.ingest.filestats): asked by the ingest so as not to read a
   file it already hashed. Stays, as the ingest's optimisation of hashing; this module also takes hashes
   from it (never a verdict).
6. The ingest's known-hash check (``audit.ingest_files``: content already loaded is skipped, a copy under
   another path is ``duplicate_content``): asked by ``run_source``. Stays: it answers "are these rows already
   in raw.*" (idempotent loading), not "what changed since the last build"; this module only reads it to
   know which contents a run accounted for.

Upgrade: a record of format 1 (or none) is no record, so the first run after the upgrade rebuilds every
period, the nightly runs once, the sensor requests one run for every file (the ingest skips what is already
loaded); from then on the record is format 2.

This module imports neither Dagster nor dbt nor DuckDB: the CLI's no-op check must stay fast.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config import (
    COMMUNE_CODE,
    DBT_PROJECT_DIR,
    PROVINCE_CODE,
    REPO_ROOT,
    home_commune,
    instance_level,
)
from pipeline.lib.hashing import sha256_file
from pipeline.lib.period_names import covers, period_for_files, period_from_name

STATE_FILE = "last_success.json"
FORMAT = 2
#: run tag set by the dbt step after a successful ``dbt build``: the period it rebuilt, or ``all``
BUILT_SCOPE_TAG = "ntm/built_scope"
#: A file changed less than this long before it was stat'ed gets no trusted stat (hashed again next time).
RACY_SECONDS = 2.0
IGNORED_DIRS = {"templates"}
IGNORED_SUFFIXES = (".tmp", ".part", ".crdownload", "~", ".swp")
CODE_GLOBS = (
    (DBT_PROJECT_DIR, ("models/**/*", "macros/**/*", "seeds/**/*", "tests/**/*", "dbt_project.yml")),
    (REPO_ROOT / "expectations", ("*.json",)),
    (REPO_ROOT / "pipeline", ("**/*.py",)),
    # the locked dependencies: dbt, DuckDB, and vietnam-provinces, whose data the ingest writes to raw.provinces
    # and raw.communes in every run (no landed file says when it changes)
    (REPO_ROOT, ("uv.lock",)),
)

#: The raw tables (schema ``raw``) each landing source's ingest writes: a changed file of the source can change
#: these and nothing else. pipeline.transform.selection rebuilds the dbt nodes downstream of them.
#: tests/transform/test_selection.py holds this map equal to the ingest assets' keys, and every dbt source to
#: a table of this map or of :data:`RAW_TABLES_WITHOUT_FILES`.
SOURCE_TABLES: dict[str, tuple[str, ...]] = {
    "submissions": ("submission_values", "submission_tasks", "submissions"),
    "surveys": ("survey_answers", "survey_reasons"),
    "ocop": ("ocop_products",),
    "reference": ("hamlets", "hamlet_population", "hamlet_crosswalk", "reporting_units", "hamlet_boundaries"),
    "communes": ("commune_packages", "commune_pkg_mart_commune_indicator", "federation_settings"),
    "dhis2": ("dhis2_values",),
}
#: Raw tables no landed file feeds, and what changes them instead (each is part of a fingerprint: a change of
#: it means everything is rebuilt).
RAW_TABLES_WITHOUT_FILES = {
    "provinces": "the vietnam-provinces package (uv.lock, code fingerprint)",
    "communes": "the vietnam-provinces package (uv.lock, code fingerprint)",
    "federation_settings": "NTM_LEVEL and NTM_HOME_PROVINCE (settings fingerprint)",
}

#: what is known of a file: (sha256, (size, mtime_ns, ctime_ns, inode) or None when the stat is not trusted)
Entry = tuple[str, tuple[int, int, int, int] | None]


def _walk(raw_dir: Path) -> list[tuple[str, os.DirEntry]]:
    """(path inside the landing zone with /, its directory entry) of every data file, in the order of
    ``sorted(Path.rglob)`` (by path components). One ``os.scandir`` per folder instead of a ``Path`` object,
    an ``is_file`` and a ``relative_to`` per file: at province scale (48,155 files) 0.2-0.4 s instead of
    2-6 s, and the change check walks the landing zone up to three times per run (the CLI, the dbt step, the
    record of the success). Like ``Path.rglob`` it does not descend into symbolic links to folders and keeps
    symbolic links to files (their target's stat)."""
    out: list[tuple[str, os.DirEntry]] = []

    def scan(folder: str, prefix: str) -> None:
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)  # each folder in name order: paths by component
        except OSError:
            return
        for e in entries:
            name = e.name
            if name.startswith("."):  # hidden files and folders
                continue
            rel = prefix + name
            try:
                if e.is_dir(follow_symlinks=False):
                    if not (prefix == "" and name in IGNORED_DIRS):
                        scan(e.path, rel + "/")
                    continue
                if not e.is_file():  # follows a link: a link to a file counts, a dangling one not
                    continue
            except OSError:
                continue
            if name.lower().startswith("readme") or name.endswith(IGNORED_SUFFIXES):
                continue
            out.append((rel, e))

    if raw_dir.is_dir():
        scan(os.fspath(raw_dir), "")
    return out


def landing_files(raw_dir: Path) -> list[Path]:
    """The data files of the landing zone (templates, READMEs, hidden and partial files left out)."""
    return [raw_dir / rel for rel, _ in _walk(raw_dir)]


def code_fingerprint() -> str:
    """Content of the dbt project, the expectation suites and the pipeline package."""
    h = hashlib.sha256()
    for base, globs in CODE_GLOBS:
        files = sorted(
            {p for g in globs for p in base.glob(g) if p.is_file() and "__pycache__" not in p.parts}
        )
        for p in files:
            h.update(str(p.relative_to(REPO_ROOT)).encode() + b"\0" + p.read_bytes() + b"\n")
    return h.hexdigest()[:16]


def settings_fingerprint(settings) -> str:
    """The settings that change what a build produces: the PII salt (hashed), the home commune, and the level
    and home province (raw.federation_settings, written from them in every run). Paths are not in it (the
    record compares files by their path inside the landing zone and by content). A setting at its default adds
    nothing, so a fingerprint recorded before it was added stays the same."""
    parts = [hashlib.sha256(settings.pii_salt().encode()).hexdigest()[:8]]
    home = home_commune()
    if home != COMMUNE_CODE:
        parts.append(f"home_commune={home}")
    try:
        level, province = instance_level()
    except ValueError as exc:  # a bad NTM_LEVEL / NTM_HOME_PROVINCE: the run's preflight names it
        level, province = "invalid", str(exc)
    if (level, province) != ("commune", PROVINCE_CODE):
        parts.append(f"level={level},home_province={province}")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def source_of(rel: str) -> str:
    """The source of a landed file: its first folder (``submissions/2026/x.csv`` → ``submissions``)."""
    return rel.split("/", 1)[0] if "/" in rel else ""


def snapshot(raw_dir: Path, hints: Iterable[Mapping[str, Entry]] = ()) -> dict[str, Entry]:
    """Every landed file now: path → (sha256, trusted stat). A file whose stat equals a hint's for its path
    takes the hint's sha256; any other is read. Racy files (changed < RACY_SECONDS before the stat) get no
    trusted stat, so they are read again next time."""
    hint_list = list(hints)
    out: dict[str, Entry] = {}
    racy_ns = int(RACY_SECONDS * 1e9)
    for rel, entry in _walk(raw_dir):
        try:
            st = entry.stat()  # follows a link, as os.stat does
        except OSError:
            continue
        taken_ns = time.time_ns()
        stat = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        sha = None
        for h in hint_list:
            hit = h.get(rel)
            if hit is not None and hit[1] == stat:
                sha = hit[0]
                break
        if sha is None:
            try:
                sha = sha256_file(raw_dir / rel)
            except OSError:
                continue
        trusted = max(st.st_mtime_ns, st.st_ctime_ns) <= taken_ns - racy_ns
        out[rel] = (sha, stat if trusted else None)
    return out


@dataclass(frozen=True)
class FileChange:
    path: str  # inside the landing zone, with /
    kind: str  # new | changed | removed
    sha256: str | None  # the content now (None: removed)

    @property
    def source(self) -> str:
        return source_of(self.path)

    @property
    def period(self) -> str | None:
        return period_from_name(self.path.rsplit("/", 1)[-1])


@dataclass(frozen=True)
class ChangeSet:
    """The answer: what changed since the last successful build."""

    last: dict[str, Any] | None  # the record of the last success (None: none, or of the previous format)
    files: tuple[FileChange, ...]
    code_changed: bool
    settings_changed: bool
    current: dict[str, Entry] = field(repr=False, default_factory=dict)
    interrupted: tuple[
        str, ...
    ] = ()  # runs whose build started after the last success and never recorded one

    @property
    def everything(self) -> str | None:
        """Why everything must be rebuilt whatever the files say (no record, code or settings changed)."""
        if self.last is None:
            return "no successful build recorded"
        if self.code_changed:
            return "code changed since the last successful build"
        if self.settings_changed:
            return "settings (PII salt or home commune) changed since the last successful build"
        if self.interrupted:
            return f"the build of run {', '.join(self.interrupted)} did not finish (killed or failed)"
        return None

    @property
    def nothing(self) -> bool:
        return self.everything is None and not self.files

    def by_source_period(self) -> dict[tuple[str, str | None], list[FileChange]]:
        out: dict[tuple[str, str | None], list[FileChange]] = {}
        for f in self.files:
            out.setdefault((f.source, f.period), []).append(f)
        return out

    def sources(self) -> set[str]:
        return {f.source for f in self.files}

    def raw_tables(self) -> tuple[set[str] | None, str]:
        """(the raw tables the changed files can have changed, why): the tables :data:`SOURCE_TABLES` gives
        for each changed file's source (new, changed or removed alike). None when every table may have
        changed: everything must be rebuilt (:attr:`everything`), or a file lies outside every known source
        (e.g. ``raw/x.csv``, ``raw/misc/…``: nothing says what it feeds, so nothing is assumed)."""
        if self.everything:
            return None, self.everything
        unknown = sorted({f.path for f in self.files if f.source not in SOURCE_TABLES})
        if unknown:
            more = f" (+{len(unknown) - 3})" if len(unknown) > 3 else ""
            return None, f"file(s) outside the known sources: {', '.join(unknown[:3])}{more}"
        tables = {t for s in self.sources() for t in SOURCE_TABLES[s]}
        groups = ", ".join(
            f"{s}/{p or '-'} {len(fs)}" for (s, p), fs in sorted(self.by_source_period().items(), key=str)
        )
        return tables, f"changed file(s): {groups}" if groups else "nothing changed"

    def period(self) -> str | None:
        """The narrowest period a rebuild of these changes needs: only submission files, of one quarter (or
        quarters of one year) → that period; anything else (or nothing, or everything) → None (every period)."""
        if self.everything or not self.files or self.sources() != {"submissions"}:
            return None
        return period_for_files([f.period for f in self.files])

    def summary(self) -> str:
        if self.everything:
            return self.everything
        if not self.files:
            return "nothing changed since the last successful build"
        kinds: dict[str, int] = {}
        for f in self.files:
            kinds[f.kind] = kinds.get(f.kind, 0) + 1
        parts = [f"{n} {k}" for k, n in sorted(kinds.items())]
        groups = ", ".join(f"{s}/{p or '-'}" for s, p in sorted(self.by_source_period(), key=str))
        return f"{', '.join(parts)} file(s) since the last successful build ({groups})"


def _entries(files: Mapping[str, Any]) -> dict[str, Entry]:
    return {
        rel: (v["sha256"], tuple(v["stat"]) if v.get("stat") else None)
        for rel, v in files.items()
        if isinstance(v, dict) and v.get("sha256")
    }


def read_record(settings) -> dict[str, Any] | None:
    """The record of the last success, or None (none, unreadable, or of an earlier format)."""
    try:
        record = json.loads((settings.warehouse_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        return None
    return record


def changes_since_last_success(
    settings,
    stat_cache: Mapping[str, Entry] | None = None,
    *,
    code_fp: str | None = None,
    running: str | None = None,
) -> ChangeSet:
    """What is new, changed or removed in the landing zone since the last successful build, and whether the
    code or settings changed. ``stat_cache`` (path → entry, e.g. from :func:`stat_cache_from`) saves reads."""
    last = read_record(settings)
    recorded = _entries(last["files"]) if last else {}
    current = snapshot(settings.raw_dir, [recorded, stat_cache or {}])
    files: list[FileChange] = []
    for rel, (sha, _) in current.items():
        if rel not in recorded:
            files.append(FileChange(rel, "new", sha))
        elif recorded[rel][0] != sha:
            files.append(FileChange(rel, "changed", sha))
    files += [FileChange(rel, "removed", None) for rel in sorted(set(recorded) - set(current))]
    return ChangeSet(
        last=last,
        files=tuple(files),
        code_changed=bool(last) and last.get("code_fingerprint") != (code_fp or code_fingerprint()),
        settings_changed=bool(last) and last.get("settings_fingerprint") != settings_fingerprint(settings),
        current=current,
        interrupted=tuple(sorted(r for r in (last or {}).get("building", {}) if r != running)),
    )


def stat_cache_from(con) -> tuple[set[str], dict[str, Entry]]:
    """(every content sha256 the ingest accounted for, the ingest's stat cache) from a warehouse connection
    (empty when the tables do not exist yet)."""
    tables = {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'audit'"
        ).fetchall()
    }
    accounted: set[str] = set()
    cache: dict[str, Entry] = {}
    if "ingest_files" in tables:
        accounted = {r[0] for r in con.execute("select file_sha256 from audit.ingest_files").fetchall()}
    if "file_stats" in tables:
        for path, sha, size, mtime_ns, ctime_ns, inode in con.execute(
            "select path, file_sha256, bytes, mtime_ns, ctime_ns, inode from audit.file_stats"
        ).fetchall():
            cache[path] = (sha, (size, mtime_ns, ctime_ns, inode))
    return accounted, cache


def record_success(
    settings,
    *,
    run_id: str,
    release_id: str,
    accounted: set[str],
    scope: str | None = None,
    stat_cache: Mapping[str, Entry] | None = None,
) -> dict[str, Any]:
    """After a successful build that ended with ``release_id``: atomically (temp file + rename) record what
    it built. ``accounted``: the sha256 of every content the ingest accounted for; ``scope``: the period the
    run rebuilt (None: every period). A change outside them keeps its previous entry (or none): still new."""
    changes = changes_since_last_success(settings, stat_cache, running=run_id)
    last = changes.last or {}
    previous = _entries(last.get("files", {}))
    code_fp, settings_fp = code_fingerprint(), settings_fingerprint(settings)
    if scope is not None and changes.everything:  # a scoped build did not rebuild every period for it
        code_fp, settings_fp = last.get("code_fingerprint"), last.get("settings_fingerprint")
    files: dict[str, Entry] = dict(previous) if scope is not None else {}
    for rel, entry in changes.current.items():
        done = entry[0] in accounted and (
            scope is None or (source_of(rel) == "submissions" and covers(scope, period_from_name(rel)))
        )
        if done:
            files[rel] = entry
        elif scope is None and rel in previous:
            files[rel] = previous[rel]
    if scope is not None:  # removals outside the scope stay to do
        for f in changes.files:
            if f.kind == "removed" and f.source == "submissions" and covers(scope, f.period):
                files.pop(f.path, None)
    marks = dict(last.get("building", {}))
    own = marks.pop(run_id, None)
    if scope is None and own is not None:  # a full build redid whatever the builds started before it left
        marks = {r: t for r, t in marks.items() if t > own}
    record = {
        "format": FORMAT,
        "run_id": run_id,
        "release_id": release_id,
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "scope": scope or "all",
        "code_fingerprint": code_fp,
        "settings_fingerprint": settings_fp,
        "files": {
            rel: {"sha256": sha, "stat": list(stat) if stat else None}
            for rel, (sha, stat) in sorted(files.items())
        },
    }
    if marks:
        record["building"] = marks
    _write_record(settings, record)
    return record


def _write_record(settings, record: Mapping[str, Any]) -> None:
    """Atomically: a temp file beside it, then rename."""
    path = settings.warehouse_dir / STATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=0, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def mark_building(settings, run_id: str) -> bool:
    """Before ``dbt build`` starts: mark the record with this run, so that a build that never reaches
    :func:`record_success` (killed, or dbt failed) is not taken for a success. True when a record was marked
    (without a record every question already answers "everything")."""
    record = read_record(settings)
    if record is None:
        return False
    record.setdefault("building", {})[run_id] = time.time()
    _write_record(settings, record)
    return True


def forget_success(settings, release_id: str | None = None) -> bool:
    """Drop the record (all of it: the next run rebuilds every period) when the release it names turned out
    bad after it was written — the ``release_integrity`` check failed on it. ``release_id``: only a record
    naming this release is dropped (None: any). True when a record was dropped."""
    record = read_record(settings)
    if record is None or (release_id is not None and record.get("release_id") != release_id):
        return False
    (settings.warehouse_dir / STATE_FILE).unlink(missing_ok=True)
    return True


def release_in_place(settings, record: Mapping[str, Any] | None) -> bool:
    """The warehouse exists and ``latest`` is still the release the record names."""
    if not record or not settings.warehouse.exists():
        return False
    latest = settings.open_data_dir / "latest"
    try:
        return latest.resolve().name == record.get("release_id") and (latest / "datapackage.json").exists()
    except OSError:
        return False
