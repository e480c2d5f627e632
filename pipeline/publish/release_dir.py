"""The open-data directory (layout: :mod:`pipeline.publish.release`): which release ``latest`` points to,
the publisher's lock, durable writes, the atomic swap of ``latest``, stale staging folders and pruning."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from .parquet import fsync_path

STAGING = ".staging"
RELEASES = "releases"
LOCK_FILE = ".publish.lock"


class PublishLockedError(RuntimeError):
    """Another publisher holds the lock."""


def current_release(open_data_dir: Path) -> tuple[str | None, Path | None]:
    """(release id, folder) that ``latest`` points to, or (None, None)."""
    latest = Path(open_data_dir) / "latest"
    if not latest.is_symlink() and not latest.exists():
        return None, None
    target = latest.resolve()
    if not (target / "datapackage.json").is_file():
        return None, None
    return target.name, target


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def fsync_write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def fsync_tree_dirs(root: Path) -> None:
    for dirpath, _dirs, _files in os.walk(root):
        fsync_path(Path(dirpath))


def swap_latest(open_data_dir: Path, release_id: str) -> None:
    latest = open_data_dir / "latest"
    if latest.exists() and not latest.is_symlink():
        raise RuntimeError(f"{latest} exists and is not a symlink; refusing to replace it")
    tmp = open_data_dir / f"latest.tmp-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(f"{RELEASES}/{release_id}", tmp)
    os.replace(tmp, latest)
    atomic_write_text(open_data_dir / "LATEST", release_id + "\n")
    fsync_path(open_data_dir)


@contextlib.contextmanager
def publish_lock(open_data_dir: Path, timeout: float = 600.0) -> Iterator[None]:
    open_data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(open_data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                    raise PublishLockedError(
                        f"{open_data_dir / LOCK_FILE} is held by another publisher"
                    ) from e
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # releases the flock


def clean_staging(open_data_dir: Path, keep: Path | None = None) -> list[Path]:
    """Under the lock, every staging folder but ours was left by a failed or killed run."""
    removed = []
    staging = open_data_dir / STAGING
    if staging.is_dir():
        for d in staging.iterdir():
            if keep is not None and d == keep:
                continue
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


def _release_created(d: Path) -> str:
    try:
        return json.loads((d / "datapackage.json").read_text(encoding="utf-8")).get("created", "")
    except (OSError, ValueError):
        return ""


def prune_releases(open_data_dir: Path, keep: int) -> list[str]:
    """Keep the newest ``keep`` releases (by ``created``) and always the one ``latest`` points to."""
    rel_dir = open_data_dir / RELEASES
    if not rel_dir.is_dir():
        return []
    latest_id, _ = current_release(open_data_dir)
    dirs = sorted(
        (d for d in rel_dir.iterdir() if d.is_dir()),
        key=lambda d: (_release_created(d), d.name),
        reverse=True,
    )
    keep_ids = {d.name for d in dirs[:keep]} | ({latest_id} if latest_id else set())
    removed = []
    for d in dirs:
        if d.name not in keep_ids:
            # rename first so a half-deleted folder never looks like a release
            trash = open_data_dir / STAGING / f"prune-{d.name}-{secrets.token_hex(4)}"
            trash.parent.mkdir(parents=True, exist_ok=True)
            os.replace(d, trash)
            shutil.rmtree(trash, ignore_errors=True)
            removed.append(d.name)
    return removed
