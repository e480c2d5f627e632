"""Discovery of landed files under ``raw/<source>/**``: identity (sha256, bytes) and safety checks.

Symbolic links are resolved only to check where they lead: a link whose target is outside the raw dir is
rejected (``symlink_escape``) and never read. Unreadable files are rejected (``unreadable_file``); a file
larger than ``NTM_MAX_FILE_BYTES`` is hashed in chunks but not read (``file_too_large``). A rejected file
that cannot be hashed gets a stand-in identity: sha256 of ``"<reason>:<relative path>"`` (recorded so the
rejection still has one row in ``audit.ingest_files``). The extension does not decide how a file is read
(:func:`pipeline.ingest.readers.read_any` looks at the content); only names of unfinished downloads and
editor swap files (``PARTIAL_SUFFIXES``) are refused by name.

Files no source reads (:func:`not_ingested`): everything under the raw dir that :func:`discover` does not
return for a source — the registries of ``reference/``, the blank ``templates/``, README/Markdown
documentation, hidden files and files in folders no source owns — each with one reason code, so that
``pipeline.ingest.landing.account_landing_zone`` records every file under ``raw/``.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import IngestLimits, ingest_limits
from pipeline.ingest.reference import REGISTRY

#: the DHIS2 mapping (pipeline.exchange.dhis2.MAPPING_FILE): read by the DHIS2 export, not loaded by the ingest
DHIS2_MAPPING_FILE = "dhis2_mapping.csv"

#: "dhis2" is ingested by pipeline.exchange.dhis2_import (its own reader), the others by manifest.run_source
SOURCES = ("submissions", "surveys", "ocop", "dhis2")
#: the commune report packages a province-level instance reads (pipeline.exchange.federation, its own reader)
PACKAGE_SOURCE = "communes"
#: the names the templates are saved as (documentation; the content decides how a file is read)
EXTENSIONS = frozenset({".csv", ".txt", ".xlsx", ".xlsm", ".jsonl", ".json"})
#: unfinished downloads and editor swap files: never read, whatever they hold
PARTIAL_SUFFIXES = (".tmp", ".part", ".crdownload", "~", ".swp")
IGNORED_DIRS = frozenset({"templates", "__pycache__"})
#: hidden files that are folder metadata, never data (status ``ignored`` rather than ``not_ingested``)
OS_METADATA = frozenset({".ds_store", ".gitkeep", ".gitignore", ".keep"})
#: the hamlet boundary file of raw/reference/, loaded by pipeline.ingest.sources.reference.boundaries into
#: BOUNDARY_TABLE; a whole file refused is one quarantine record with one of BOUNDARY_FILE_REASONS (here, below the
#: sources, because the landing-zone accounting of every file needs them too)
BOUNDARY_FILE = "hamlet_boundaries.geojson"
BOUNDARY_TABLE = "raw.hamlet_boundaries"
BOUNDARY_FILE_REASONS = ("malformed_geojson",)
#: registry files of raw/reference/ (loaded by pipeline.ingest.reference and pipeline.ingest.sources.reference.boundaries)
REFERENCE_FILES = frozenset(REGISTRY) | {BOUNDARY_FILE, DHIS2_MAPPING_FILE}


@dataclass
class LandedFile:
    path: Path  # absolute path as found (not resolved)
    rel: str  # POSIX path relative to the raw dir, e.g. "submissions/2026/q3/kt.csv"
    source: str
    ext: str
    reject_code: str | None = None
    reject_detail: str | None = None
    data: bytes | None = None
    sha256: str | None = None
    bytes: int | None = None
    stat: tuple[int, int, int, int, int] | None = None  # size, mtime_ns, ctime_ns, inode, when taken (ns)
    unchanged: bool = False  # identity taken from audit.file_stats: not read (pipeline.ingest.filestats)

    @property
    def rejected(self) -> bool:
        return self.reject_code is not None


def is_hidden(name: str) -> bool:
    """Hidden on Unix ('.name') or an Office owner/lock file ('~$name', hidden on Windows)."""
    return name.startswith(".") or name.startswith("~$")


def is_documentation(name: str) -> bool:
    return name.upper().startswith("README") or name.lower().endswith(".md")


def _ignored(name: str) -> bool:
    return is_hidden(name) or is_documentation(name)


def discover(raw_dir: Path, source: str) -> list[LandedFile]:
    """All candidate files of one source, sorted by relative path (cheap: no reading; the relative paths are
    built as strings, one folder at a time: at province scale 48,155 ``relative_to`` calls were 1 s)."""
    raw_dir = Path(raw_dir)
    root = raw_dir / source
    out: list[LandedFile] = []
    if not root.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not _ignored(d) and d not in IGNORED_DIRS)
        folder = Path(dirpath)
        rel_dir = Path(os.path.relpath(dirpath, raw_dir)).as_posix() + "/"
        for name in filenames:
            if _ignored(name):
                continue
            ext = os.path.splitext(name)[1].lower()
            out.append(LandedFile(path=folder / name, rel=rel_dir + name, source=source, ext=ext))
        # symlinked directories are listed in dirnames but not walked (followlinks=False): record them
        for d in list(dirnames):
            p = folder / d
            if p.is_symlink():
                out.append(LandedFile(path=p, rel=rel_dir + d, source=source, ext=""))
    out.sort(key=lambda f: f.rel)
    return out


def _inside(target: Path, root: Path) -> bool:
    try:
        target.relative_to(root)
        return True
    except ValueError:
        return False


def read(
    f: LandedFile, raw_dir: Path, *, root: Path | None = None, limits: IngestLimits | None = None
) -> LandedFile:
    """Fill ``data``, ``sha256`` and ``bytes`` or set a rejection; never follows an escaping link.

    ``root`` is the resolved raw dir and ``limits`` the run's ingest limits (pass both when reading many
    files: resolving costs syscalls, and the limits are read from the environment once per run)."""
    try:
        mode = os.lstat(f.path).st_mode
    except OSError:
        mode = 0  # vanished or unreadable: read_bytes below reports it
    if stat.S_ISLNK(mode):
        root = root if root is not None else Path(raw_dir).resolve()
        target = Path(os.path.realpath(f.path))
        if not _inside(target, root):
            return _reject(f, "symlink_escape", f"-> {os.readlink(f.path)}")
        if f.path.is_dir():
            return _reject(f, "unsupported_format", "directory link")
    elif stat.S_ISDIR(mode):
        return _reject(f, "unsupported_format", "directory link")
    limit = (limits or ingest_limits()).max_file_bytes
    try:
        with open(f.path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > limit:
                f.sha256, f.bytes = hash_stream(fh)
                f.reject_code = "file_too_large"
                f.reject_detail = f"{f.bytes} bytes > {limit} (NTM_MAX_FILE_BYTES); not read"
                return f
            data = fh.read(limit + 1)
    except OSError as exc:  # permissions, broken link, I/O error
        return _reject(f, "unreadable_file", f"{type(exc).__name__}: {exc.strerror or exc}")
    f.sha256 = hashlib.sha256(data).hexdigest()
    f.bytes = len(data)
    if len(data) > limit:  # grew while being read
        f.reject_code, f.reject_detail = "file_too_large", f"> {limit} bytes (NTM_MAX_FILE_BYTES); not read"
        return f
    f.data = data
    if f.path.name.lower().endswith(PARTIAL_SUFFIXES):
        f.reject_code = "unsupported_format"
        f.reject_detail = "tệp đang tải dở hoặc tệp tạm / unfinished download or temporary file"
    return f


def hash_stream(fh) -> tuple[str, int]:
    """(sha256, bytes) of an open binary file, read in 1 MiB chunks (constant memory)."""
    h = hashlib.sha256()
    n = 0
    while chunk := fh.read(1 << 20):
        h.update(chunk)
        n += len(chunk)
    return h.hexdigest(), n


def _reject(f: LandedFile, code: str, detail: str) -> LandedFile:
    f.reject_code, f.reject_detail = code, detail
    f.sha256 = hashlib.sha256(f"{code}:{f.rel}".encode()).hexdigest()
    f.bytes = None
    try:
        if code != "symlink_escape":
            f.bytes = f.path.lstat().st_size
    except OSError:
        pass
    return f


def read_batches(
    files: list[LandedFile], raw_dir: Path, max_files: int, max_bytes: int | None = None
) -> Iterator[list[LandedFile]]:
    """Read ``files`` in order and yield them in batches of at most ``max_files`` files; a batch also
    closes once it holds ``max_bytes`` bytes (so a few large files do not make one huge batch)."""
    root = Path(raw_dir).resolve()
    limits = ingest_limits()
    max_files = max(1, int(max_files))
    batch: list[LandedFile] = []
    size = 0
    for f in files:
        read(f, raw_dir, root=root, limits=limits)
        batch.append(f)
        size += len(f.data) if f.data is not None else 0
        if len(batch) >= max_files or (max_bytes is not None and size >= max_bytes):
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def chunks(files: list[LandedFile], size: int) -> Iterator[list[LandedFile]]:
    size = max(1, int(size))
    for i in range(0, len(files), size):
        yield files[i : i + size]


# ------------------------------------------------------------------ files no source reads


@dataclass
class OtherFile:
    """A file under the raw dir that no source ingests, with the reason (a code of
    :mod:`pipeline.ingest.quarantine`) and the status it gets in ``audit.ingest_files``."""

    path: Path
    rel: str
    reason: str  # reference_file | template_file | documentation | hidden_file | unknown_location
    area: str  # first folder of rel, or "" for a file directly in raw/

    @property
    def status(self) -> str:
        """``reference`` (loaded by the registry step), ``ignored`` (expected, nothing to do) or
        ``not_ingested`` (a person should look: the file is in a place no source reads)."""
        if self.reason == "reference_file":
            return "reference"
        if self.reason in ("template_file", "documentation"):
            return "ignored"
        if self.reason == "hidden_file" and self.path.name.lower() in OS_METADATA:
            return "ignored"  # folder metadata of macOS / git, never data: recorded, not warned about
        return "not_ingested"


def classify(rel: str) -> str | None:
    """The reason a raw-relative path is not read by any source, or None when a source discovers it.
    Same rules as :func:`discover`: hidden names and hidden folders anywhere, README/Markdown files,
    ``templates/`` and ``__pycache__/`` folders; a source reads only below its own folder."""
    parts = rel.split("/")
    name = parts[-1]
    if any(is_hidden(p) for p in parts):
        return "hidden_file"
    if is_documentation(name):
        return "documentation"
    if any(is_documentation(p) for p in parts[1:-1]):
        return "documentation"  # discover() does not walk README* folders
    if len(parts) >= 2 and parts[0] in (*SOURCES, PACKAGE_SOURCE):
        if any(p in IGNORED_DIRS for p in parts[1:-1]):
            return "template_file" if "templates" in parts[1:-1] else "unknown_location"
        return None
    if parts[0] == "templates" and len(parts) >= 2:
        return "template_file"
    if parts[0] == "reference" and len(parts) == 2 and name in REFERENCE_FILES:
        return "reference_file"
    return "unknown_location"


def not_ingested(raw_dir: Path) -> list[OtherFile]:
    """Every file (and symbolic link) under ``raw_dir`` that no source's :func:`discover` returns, sorted
    by path. Symbolic links are listed, never followed."""
    raw_dir = Path(raw_dir)
    out: list[OtherFile] = []
    if not raw_dir.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(raw_dir, followlinks=False):
        dirnames.sort()
        folder = Path(dirpath)
        rel_dir = os.path.relpath(dirpath, raw_dir)
        prefix = "" if rel_dir == "." else Path(rel_dir).as_posix() + "/"
        links = [d for d in dirnames if (folder / d).is_symlink()]
        for name in [*filenames, *links]:
            rel = prefix + name  # a string per file: a Path per file cost 1 s for 48,155 files
            if rel in (*SOURCES, PACKAGE_SOURCE):
                continue  # a source folder that is a link: discover() reads it
            reason = classify(rel)
            if reason is not None:
                out.append(OtherFile(folder / name, rel, reason, rel.split("/")[0] if "/" in rel else ""))
    out.sort(key=lambda f: f.rel)
    return out
