"""Reusing an unchanged file of the previous release: verify it against its recorded size and sha256, then
hard-link it into the new release (a copy across filesystems).

The one thing not to miss: a hard link shares its bytes with the previous release, so nothing may write into
a release file in place afterwards; every writer of a release writes a new file and renames it.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from pathlib import Path

from .hashing import sha256_file


def code_digest(*paths: Path) -> str:
    """sha256 of the source files (name and bytes) that produce an output: a changed file changes the key."""
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def link_verified(src: Path, dst: Path, size: int, sha256: str) -> bool:
    """Place ``src`` at ``dst`` when it still has the recorded ``size`` and ``sha256`` (a damaged or edited
    previous file is not reused: False, nothing placed). ``dst`` must not exist."""
    try:
        if not src.is_file() or src.is_symlink() or src.stat().st_size != size:
            return False
        if sha256_file(src) != sha256:
            return False
    except OSError:
        return False
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError as e:
        if e.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
        shutil.copyfile(src, dst)  # another filesystem, or links refused: a copy, then checked again
        if dst.stat().st_size != size or sha256_file(dst) != sha256:
            dst.unlink()
            return False
    return True
