"""Discovery of landed files under ``raw/<source>/**``: identity (sha256, bytes) and safety checks.

Symbolic links are resolved only to check where they lead: a link whose target is outside the raw dir is
rejected (``symlink_escape``) and never read. Unreadable files are rejected (``unreadable_file``). A
rejected file that cannot be hashed gets a stand-in identity: sha256 of ``"<reason>:<relative path>"``
(recorded so the rejection still has one row in ``audit.ingest_files``).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SOURCES = ("submissions", "surveys", "ocop")
EXTENSIONS = frozenset({".csv", ".txt", ".xlsx", ".xlsm", ".jsonl", ".json"})
IGNORED_DIRS = frozenset({"templates", "__pycache__"})


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


def _ignored(name: str) -> bool:
    return name.startswith(".") or name.startswith("~$") or name.upper().startswith("README")


def discover(raw_dir: Path, source: str) -> list[LandedFile]:
    """All candidate files of one source, sorted by relative path (cheap: no reading)."""
    raw_dir = Path(raw_dir)
    root = raw_dir / source
    out: list[LandedFile] = []
    if not root.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not _ignored(d) and d not in IGNORED_DIRS)
        for name in filenames:
            if _ignored(name):
                continue
            p = Path(dirpath) / name
            rel = p.relative_to(raw_dir).as_posix()
            out.append(LandedFile(path=p, rel=rel, source=source, ext=p.suffix.lower()))
        # symlinked directories are listed in dirnames but not walked (followlinks=False): record them
        for d in list(dirnames):
            p = Path(dirpath) / d
            if p.is_symlink():
                out.append(LandedFile(path=p, rel=p.relative_to(raw_dir).as_posix(), source=source, ext=""))
    out.sort(key=lambda f: f.rel)
    return out


def _inside(target: Path, root: Path) -> bool:
    try:
        target.relative_to(root)
        return True
    except ValueError:
        return False


def read(f: LandedFile, raw_dir: Path, *, root: Path | None = None) -> LandedFile:
    """Fill ``data``, ``sha256`` and ``bytes`` or set a rejection; never follows an escaping link.

    ``root`` is the resolved raw dir (pass it when reading many files: resolving costs syscalls)."""
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
    try:
        with open(f.path, "rb") as fh:
            data = fh.read()
    except OSError as exc:  # permissions, broken link, I/O error
        return _reject(f, "unreadable_file", f"{type(exc).__name__}: {exc.strerror or exc}")
    f.data = data
    f.sha256 = hashlib.sha256(data).hexdigest()
    f.bytes = len(data)
    if f.ext not in EXTENSIONS:
        f.reject_code, f.reject_detail = "unsupported_format", f.ext or "(no extension)"
    return f


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
    max_files = max(1, int(max_files))
    batch: list[LandedFile] = []
    size = 0
    for f in files:
        read(f, raw_dir, root=root)
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
