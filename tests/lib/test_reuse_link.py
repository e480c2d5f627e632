"""pipeline/lib/reuse.py: a previous release's file is placed in the new one only when it still has its
recorded size and sha256; a hard link, or a checked copy when links are refused."""

from __future__ import annotations

import errno
import hashlib
import os

import pytest

from pipeline.lib import reuse


def _file(path, data: bytes):
    path.write_bytes(data)
    return path, len(data), hashlib.sha256(data).hexdigest()


def test_an_intact_file_is_hard_linked(tmp_path):
    src, size, sha = _file(tmp_path / "old.parquet", b"PAR1 some bytes")
    dst = tmp_path / "new" / "data" / "t.parquet"
    assert reuse.link_verified(src, dst, size, sha)
    assert os.path.samefile(src, dst)


@pytest.mark.parametrize("damage", ["bytes", "size", "missing"])
def test_a_damaged_file_is_not_placed(tmp_path, damage):
    src, size, sha = _file(tmp_path / "old.parquet", b"PAR1 some bytes")
    if damage == "bytes":
        src.write_bytes(b"PAR1 some bytez")  # same size
    elif damage == "size":
        src.write_bytes(b"PAR1 some bytes!")
    else:
        src.unlink()
    dst = tmp_path / "new.parquet"
    assert not reuse.link_verified(src, dst, size, sha)
    assert not dst.exists()


def test_across_filesystems_the_file_is_copied_and_checked(tmp_path, monkeypatch):
    src, size, sha = _file(tmp_path / "old.csv", b'\xef\xbb\xbf"a"\r\n1\r\n')

    def no_link(a, b):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(reuse.os, "link", no_link)
    dst = tmp_path / "new.csv"
    assert reuse.link_verified(src, dst, size, sha)
    assert dst.read_bytes() == src.read_bytes() and not os.path.samefile(src, dst)


def test_another_link_error_is_raised(tmp_path, monkeypatch):
    src, size, sha = _file(tmp_path / "old.csv", b"x")

    def denied(a, b):
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(reuse.os, "link", denied)
    with pytest.raises(OSError, match="Permission denied"):
        reuse.link_verified(src, tmp_path / "new.csv", size, sha)


def test_code_digest_changes_with_the_code(tmp_path):
    a = tmp_path / "writer.py"
    a.write_text("x = 1\n")
    before = reuse.code_digest(a)
    a.write_text("x = 2\n")
    assert reuse.code_digest(a) != before
