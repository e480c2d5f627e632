"""The report package's files: the folder names in a release, and the writers of its Parquet, CSV, manifest
entries and zip (deterministic: the same table gives the same bytes)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline.lib.hashing import sha256_file
from pipeline.site.csv_export import format_timestamps

EXCHANGE_DIR = "exchange"
UPWARD_DIR = (
    "upward"  # exchange/upward/: the report package's folder of the release (others may sit beside it)
)
MANIFEST = "manifest.json"  # exchange/upward/manifest.json: every file of the folder, bytes and sha256
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can hold; every entry has it: same input, same bytes


def write_parquet(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        table,
        path,
        compression="zstd",
        use_dictionary=True,
        write_statistics=True,
        version="2.6",
        row_group_size=131_072,
    )


def write_csv(table: pa.Table, path: Path) -> None:
    """UTF-8 (no byte-order mark), comma, CRLF, RFC 4180 quoting, NULL = empty cell, booleans true/false,
    timestamps ISO 8601 with +07:00. An exact copy of the values: no formula neutralisation (a machine file,
    see raw/README.md 10.3)."""
    cols, fields = [], []
    for name, arr in zip(table.column_names, table.columns, strict=True):
        arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
        if pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_decode()
        if pa.types.is_timestamp(arr.type):
            arr = format_timestamps(arr)
        cols.append(arr)
        fields.append(pa.field(name, arr.type))
    out = pa.Table.from_arrays(cols, schema=pa.schema(fields))
    buf = io.BytesIO()
    pacsv.write_csv(out, buf, pacsv.WriteOptions(eol="\r\n", quoting_style="needed"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())


def file_entry(root: Path, path: Path) -> dict[str, Any]:
    """The manifest's entry for ``path``: its path under ``root``, bytes and sha256."""
    return {
        "path": path.relative_to(root).as_posix(),
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path),
    }


def write_zip(src_dir: Path, zip_path: Path) -> None:
    """A deterministic zip of ``src_dir`` (entries ``<src_dir name>/...``, sorted, fixed date and mode)."""
    entries = sorted(p for p in src_dir.rglob("*") if p.is_file())
    with zipfile.ZipFile(zip_path, "w") as zf:
        for p in entries:
            info = zipfile.ZipInfo(f"{src_dir.name}/{p.relative_to(src_dir).as_posix()}", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            zf.writestr(info, p.read_bytes(), compresslevel=9)
