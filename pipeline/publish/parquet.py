"""Parquet files of the open-data release: what a published table is (``TableSpec``), its explicit Arrow
schema, and streaming it from DuckDB into zstd Parquet (deterministic row groups, optional one file per
partition value; the fault point ``publish.file_written`` after each file, :mod:`pipeline.lib.faults`). The release itself (audit, content
hash, staging and the atomic swap) is pipeline.publish.release."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.lib.faults import fault_point
from pipeline.lib.hashing import sha256_file

NULL_PARTITION = "NULL"
# Every published timestamp is an instant in this zone: the warehouse keeps the wall-clock time of Vietnam
# (raw/README.md rule 7.5: "submitted at" is read as Vietnam time) in naive TIMESTAMP columns; the release
# stores it as a Parquet timestamp with isAdjustedToUTC=true and the Arrow time zone Asia/Ho_Chi_Minh, so
# pyarrow, pandas and DuckDB read 2026-03-20 08:15 as 2026-03-20T08:15:00+07:00 (01:15 UTC).
PUBLISH_TZ = "Asia/Ho_Chi_Minh"


class ReleaseIntegrityError(RuntimeError):
    """An audit check (keys, types) failed on the staged release; publishing is blocked."""


@dataclass(frozen=True)
class TableSpec:
    """One published table (a Data Package resource)."""

    name: str
    sql: str  # SELECT producing the published rows; ordered by primary_key automatically
    title_vi: str
    title_en: str
    description_vi: str = ""
    description_en: str = ""
    fields: dict[str, tuple[str, str]] = field(default_factory=dict)  # column -> (vi, en)
    primary_key: Sequence[str] = ()
    foreign_keys: Sequence[tuple[Sequence[str], str, Sequence[str]]] = ()  # (fields, resource, ref fields)
    partition_by: str | None = None  # e.g. "period_code": one file per value when the table is large
    pii_exempt_columns: Sequence[str] = ()  # structured code columns not scanned (justify each one)


# ---------------------------------------------------------------------------------------------------------
# Arrow schema
# ---------------------------------------------------------------------------------------------------------


def _target_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_dictionary(t):
        return _target_type(t.value_type)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_null(t):
        return pa.string()
    if pa.types.is_timestamp(t):
        return pa.timestamp("us", PUBLISH_TZ)
    if pa.types.is_date(t):
        return pa.date32()
    if pa.types.is_time(t):
        return pa.time64("us")
    if pa.types.is_float16(t):
        return pa.float32()
    if pa.types.is_boolean(t) or pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return t
    raise TypeError(f"unsupported column type for publishing: {t} (cast it in the TableSpec SQL)")


def arrow_schema_for(source: pa.Schema, spec: TableSpec) -> pa.Schema:
    """The explicit schema written to Parquet: normalised types, key columns non-null, descriptions."""
    fields = []
    for f in source:
        meta = {}
        if f.name in spec.fields:
            meta = {
                b"description_vi": spec.fields[f.name][0].encode(),
                b"description_en": spec.fields[f.name][1].encode(),
            }
        fields.append(
            pa.field(
                f.name, _target_type(f.type), nullable=f.name not in spec.primary_key, metadata=meta or None
            )
        )
    return pa.schema(fields, metadata={b"ntm:resource": spec.name.encode()})


# ---------------------------------------------------------------------------------------------------------
# Parquet writing
# ---------------------------------------------------------------------------------------------------------


def fsync_path(p: Path) -> None:
    fd = os.open(p, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _ParquetSink:
    """Writes batches to one Parquet file with fixed-size row groups (deterministic bytes)."""

    def __init__(self, path: Path, schema: pa.Schema, row_group_rows: int, compression_level: int | None):
        self.path = path
        self.schema = schema
        self.row_group_rows = row_group_rows
        self.buf: list[pa.RecordBatch] = []
        self.buffered = 0
        self.rows = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self.writer = pq.ParquetWriter(
            str(path),
            schema,
            compression="zstd",
            compression_level=compression_level,
            use_dictionary=True,
            write_statistics=True,
            version="2.6",
        )

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        self.buf.append(batch)
        self.buffered += batch.num_rows
        while self.buffered >= self.row_group_rows:
            table = pa.Table.from_batches(self.buf, self.schema)
            head, tail = table.slice(0, self.row_group_rows), table.slice(self.row_group_rows)
            self.writer.write_table(head, row_group_size=self.row_group_rows)
            self.buf = tail.to_batches()
            self.buffered = tail.num_rows
        self.rows += batch.num_rows

    def close(self) -> dict[str, Any]:
        if self.buffered:
            self.writer.write_table(
                pa.Table.from_batches(self.buf, self.schema), row_group_size=self.row_group_rows
            )
        self.writer.close()
        fsync_path(self.path)
        return {"bytes": self.path.stat().st_size, "sha256": sha256_file(self.path), "rows": self.rows}


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _ordered_sql(spec: TableSpec, first: str | None = None) -> str:
    keys = ([first] if first else []) + [k for k in spec.primary_key if k != first]
    order = ", ".join(f"{quote_ident(k)} asc nulls last" for k in keys)
    # all columns as a tie-breaker when there is no key: the order (and so the bytes) stay deterministic
    return f"select * from ({spec.sql}) as _t order by {order if order else 'all'}"


def _localise(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Naive timestamps are Vietnam wall-clock time: make them instants in PUBLISH_TZ (Vietnam has no DST, so
    no time is ambiguous or missing; were one, ``raise`` stops the publish instead of guessing)."""
    cols = list(batch.columns)
    changed = False
    for i, f in enumerate(batch.schema):
        if pa.types.is_timestamp(f.type) and f.type.tz is None:
            cols[i] = pc.assume_timezone(cols[i], PUBLISH_TZ, ambiguous="raise", nonexistent="raise")
            changed = True
    return pa.RecordBatch.from_arrays(cols, names=batch.schema.names) if changed else batch


def _cast(batch: pa.RecordBatch, schema: pa.Schema, spec: TableSpec) -> pa.RecordBatch:
    try:
        return _localise(batch).cast(schema)
    except (ValueError, pa.ArrowInvalid) as e:  # e.g. a null in a primary-key column
        raise ReleaseIntegrityError(f"{spec.name}: {e}") from e


def _partition_file_name(v: Any) -> str:
    """``<value>.parquet``; no ``key=value`` folders, so no reader infers a (conflicting) hive column."""
    if v is None:
        return NULL_PARTITION + ".parquet"
    s = str(v)
    bad = set('/\\:*?"<>|') | {"\0"}
    if any(ch in bad for ch in s) or not s.strip() or s[0] in "._" or s == NULL_PARTITION:
        # readers skip files starting with . or _ (pyarrow); path separators would escape the folder
        raise ValueError(f"partition value {s!r} cannot be a file name")
    return s + ".parquet"


def write_table(
    con,
    spec: TableSpec,
    data_dir: Path,
    rel_root: Path,
    *,
    partition_min_rows: int,
    rows_per_batch: int,
    row_group_rows: int,
    compression_level: int | None,
    require_descriptions: bool = False,
) -> tuple[pa.Schema, list[dict[str, Any]], int, bool]:
    """Stream one table into Parquet. Returns (schema, files, rows, partitioned)."""
    n_rows = con.execute(f"select count(*) from ({spec.sql}) as _t").fetchall()[0][0]
    partitioned = bool(spec.partition_by) and n_rows > partition_min_rows
    reader = con.sql(_ordered_sql(spec, spec.partition_by if partitioned else None)).to_arrow_reader(
        rows_per_batch
    )
    if require_descriptions:
        undocumented = [n for n in reader.schema.names if n not in spec.fields]
        if undocumented:
            raise ReleaseIntegrityError(f"{spec.name}: no (vi, en) description for columns {undocumented}")
    schema = arrow_schema_for(reader.schema, spec)
    files: list[dict[str, Any]] = []

    def finish(sink: _ParquetSink) -> None:
        info = sink.close()
        files.append({"path": sink.path.relative_to(rel_root).as_posix(), **info})
        fault_point("publish.file_written")

    if not partitioned:
        sink = _ParquetSink(data_dir / f"{spec.name}.parquet", schema, row_group_rows, compression_level)
        for batch in reader:
            sink.write(_cast(batch, schema, spec))
        finish(sink)
        return schema, files, n_rows, False

    part_col = spec.partition_by
    sink: _ParquetSink | None = None
    current: Any = object()
    seen: set[str] = set()
    for batch in reader:
        batch = _cast(batch, schema, spec)
        col = batch.column(part_col)
        # the stream is sorted by the partition column: split the batch where the value changes
        if len(col) > 1:
            changed = pc.invert(pc.fill_null(pc.equal(col.slice(1), col.slice(0, len(col) - 1)), False))
            # two nulls in a row are "equal" for partitioning
            both_null = pc.and_(pc.is_null(col.slice(1)), pc.is_null(col.slice(0, len(col) - 1)))
            changed = pc.and_not(changed, both_null)
            cuts = [i + 1 for i in pc.indices_nonzero(changed).to_pylist()]
        else:
            cuts = []
        starts = [0, *cuts]
        ends = [*cuts, len(col)]
        for s, e in zip(starts, ends, strict=True):
            value = col[s].as_py()
            if sink is None or value != current or (value is None) != (current is None):
                if sink is not None:
                    finish(sink)
                fname = _partition_file_name(value)
                if fname in seen:
                    raise ReleaseIntegrityError(
                        f"{spec.name}: partition file {fname} twice (unstable order?)"
                    )
                seen.add(fname)
                path = data_dir / spec.name / fname
                sink = _ParquetSink(path, schema, row_group_rows, compression_level)
                current = value
            sink.write(batch.slice(s, e - s))
    if sink is not None:
        finish(sink)
    files.sort(key=lambda f: f["path"])
    return schema, files, n_rows, True
