"""Swap a freshly built folder into place: what the site, the DHIS2 export and the report package do when an
unchanged release gets a missing or stale part rebuilt."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path


def replace_dir(built: Path, final: Path, scratch_dir: Path) -> None:
    """Put ``built`` at ``final``: the old ``final`` (if any) is first renamed into ``scratch_dir`` (same file
    system) and removed, then ``built`` is renamed into place, so a reader sees the old folder, briefly none,
    then the new one - never a half-written one."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        old = Path(scratch_dir) / f"old-{final.name}-{secrets.token_hex(4)}"
        os.replace(final, old)
        shutil.rmtree(old, ignore_errors=True)
    os.replace(built, final)
