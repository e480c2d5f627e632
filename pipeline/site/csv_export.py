"""CSV copies of a release's tables for spreadsheet users, and the one formula-cell rule.

The one thing not to miss: a text cell that a spreadsheet would run as a formula (it starts with = + - @,
also after leading whitespace, or with a TAB or CR) gets a leading apostrophe ' (OWASP "CSV injection"),
in CSV and XLSX alike (:func:`neutralise`); numeric cells are never touched, so -3.5 stays a number.

CSV format (for Excel users and for machines): UTF-8 with a byte-order mark, comma separator, CRLF line ends
and RFC 4180 quoting (every text value and the header names in double quotes, a quote doubled); NULL is an
empty unquoted cell, an empty text is ""; dates yyyy-mm-dd; timestamps yyyy-mm-dd hh:mm:ss[.ffffff], or ISO 8601
yyyy-mm-ddThh:mm:ss[.ffffff]+07:00 when the column has a time zone (every published timestamp does); booleans true/false; numbers with '.' as decimal
separator and no thousands separator (machine-readable). Same input, same bytes. README section "Bảng tính /
For spreadsheet users" says how to open them.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline.lib.hashing import sha256_file

BOM = b"\xef\xbb\xbf"
CSV_EOL = "\r\n"
BATCH_ROWS = 65_536


class DownloadError(ValueError):
    """A release file cannot be turned into a download (missing, outside the release, incompatible)."""


# ---------------------------------------------------------------------------------------------- the rule


def neutralise(arr: pa.Array) -> tuple[pa.Array, int]:
    """Prefix ' to text cells a spreadsheet would run as a formula. Returns (array, cells changed).

    Risky: starts with = + - @ after any leading Unicode whitespace, or starts with TAB or CR."""
    if len(arr) == 0:
        return arr, 0
    trimmed = pc.utf8_ltrim_whitespace(arr)
    risky = pc.or_(
        pc.match_substring_regex(trimmed, r"^[=+\-@]"),
        pc.match_substring_regex(arr, r"^[\t\r]"),
    )
    risky = pc.fill_null(risky, False)
    n = pc.sum(risky).as_py() or 0
    if not n:
        return arr, 0
    return pc.if_else(risky, pc.utf8_replace_slice(arr, 0, 0, "'"), arr), int(n)


def neutralise_text(value: str | None) -> str | None:
    """:func:`neutralise` for one value."""
    return neutralise(pa.array([value], pa.string()))[0][0].as_py()


# ---------------------------------------------------------------------------------------------- CSV


def is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _csv_type(field: pa.Field) -> pa.DataType:
    """The Arrow type a column is written as (the CSV writer renders it)."""
    t = field.type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if is_text(t) or pa.types.is_timestamp(t):
        return pa.string()
    if pa.types.is_date64(t):
        return pa.date32()
    if (
        pa.types.is_boolean(t)
        or pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_decimal(t)
        or pa.types.is_date32(t)
        or pa.types.is_time(t)
        or pa.types.is_null(t)
    ):
        return t
    raise DownloadError(
        f"Cột {field.name!r} có kiểu {t} không ghi được ra CSV. / Column {field.name!r} of type {t} cannot be "
        "written to CSV."
    )


_FRACTION_ZEROS = r"\.0+($|[+-])"


def format_timestamps(arr: pa.Array) -> pa.Array:
    """ISO 8601 text (fraction only when not zero): yyyy-mm-ddThh:mm:ss+hh:mm in the column's own zone when
    the type has one, else yyyy-mm-dd hh:mm:ss (the form spreadsheets read as a date-time). Each distinct
    instant is formatted once (a column repeats a few thousand submission times over a million rows)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if len(arr) < 64:
        return _format_timestamp_values(arr)
    encoded = pc.dictionary_encode(arr)
    return pc.take(_format_timestamp_values(encoded.dictionary), encoded.indices)


def _format_timestamp_values(arr: pa.Array) -> pa.Array:
    tz = arr.type.tz
    text = pc.strftime(arr, "%Y-%m-%dT%H:%M:%S%z" if tz else "%Y-%m-%d %H:%M:%S")
    text = pc.replace_substring_regex(text, _FRACTION_ZEROS, r"\1")
    if tz:
        text = pc.replace_substring_regex(text, r"([+-]\d\d)(\d\d)$", r"\1:\2")
    return text


def _neutralise_dictionary(arr: pa.DictionaryArray) -> tuple[pa.Array, int]:
    """:func:`neutralise` of a dictionary-encoded text column, decoded: the rule runs on the distinct values
    only; the count is of the cells (rows) changed."""
    if 2 * len(arr.dictionary) > len(arr):  # mostly distinct values (keys): the rule on the rows is cheaper
        return neutralise(arr.dictionary_decode().cast(pa.string()))
    values = arr.dictionary.cast(pa.string())
    fixed, n = neutralise(values)
    if not n:
        return arr.dictionary_decode().cast(pa.string()), 0
    changed = pc.fill_null(pc.not_equal(fixed, values), False)
    cells = pc.sum(pc.fill_null(pc.take(changed, arr.indices), False)).as_py() or 0
    return pa.DictionaryArray.from_arrays(arr.indices, fixed).dictionary_decode(), int(cells)


def _csv_batch(batch: pa.RecordBatch, out_schema: pa.Schema) -> tuple[pa.RecordBatch, int]:
    cols, changed = [], 0
    for arr, out_field in zip(batch.columns, out_schema, strict=True):
        if pa.types.is_dictionary(arr.type) and is_text(arr.type.value_type):
            arr, n = _neutralise_dictionary(arr)
            changed += n
            cols.append(arr.cast(out_field.type))
            continue
        if pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_decode()
        if pa.types.is_timestamp(arr.type):
            arr = format_timestamps(arr)
        elif is_text(arr.type):
            arr, n = neutralise(arr.cast(pa.string()))
            changed += n
        cols.append(arr.cast(out_field.type))
    return pa.RecordBatch.from_arrays(cols, schema=out_schema), changed


def write_csv(parquet_paths: list[Path], out: Path) -> dict:
    """One published table (its Parquet files, in order) as one CSV file, streamed batch by batch.

    Returns {path, rows, bytes, sha256, neutralised_cells}."""
    if not parquet_paths:
        raise DownloadError(f"{out.name}: không có tệp Parquet nào. / no Parquet file given.")
    first = pq.read_schema(parquet_paths[0])
    out_schema = pa.schema([pa.field(f.name, _csv_type(f)) for f in first])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    rows = changed = 0
    try:
        with open(tmp, "wb") as fh:
            fh.write(BOM)
            options = pacsv.WriteOptions(eol=CSV_EOL, quoting_style="needed", quoting_header="needed")
            with pacsv.CSVWriter(fh, out_schema, write_options=options) as writer:
                if all(pq.ParquetFile(p).metadata.num_rows == 0 for p in parquet_paths):
                    writer.write_table(out_schema.empty_table())  # the header alone
                for path in parquet_paths:
                    pf = pq.ParquetFile(path)
                    if pf.schema_arrow.names != first.names:
                        raise DownloadError(
                            f"{path}: các cột {pf.schema_arrow.names} khác tệp đầu {first.names}. / columns "
                            f"{pf.schema_arrow.names} differ from the first file's {first.names}."
                        )
                    if (
                        pf.schema_arrow != first
                    ):  # a later file typed otherwise: read plain, cast to the first
                        batches = (b.cast(first) for b in pf.iter_batches(batch_size=BATCH_ROWS))
                    else:  # text read as dictionaries: the formula rule runs once per distinct value
                        pf = pq.ParquetFile(path, read_dictionary=[f.name for f in first if is_text(f.type)])
                        batches = pf.iter_batches(batch_size=BATCH_ROWS)
                    for batch in batches:
                        out_batch, n = _csv_batch(batch, out_schema)
                        writer.write_batch(out_batch)
                        rows += batch.num_rows
                        changed += n
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return {
        "path": str(out),
        "rows": rows,
        "bytes": out.stat().st_size,
        "sha256": sha256_file(out),
        "neutralised_cells": changed,
    }


def _neutralised_reader(parquet_paths: Sequence[Path]) -> pa.RecordBatchReader:
    """The Parquet rows as the CSV should hold them (text neutralised), streamed."""
    first = pq.read_schema(parquet_paths[0])
    schema = pa.schema(
        [
            pa.field(f.name, pa.string()) if is_text(f.type) or pa.types.is_dictionary(f.type) else f
            for f in first
        ]
    )

    def batches():
        for path in parquet_paths:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS):
                cols = []
                for arr, field in zip(batch.columns, schema, strict=True):
                    if pa.types.is_dictionary(arr.type):
                        arr = arr.dictionary_decode()
                    cols.append(
                        neutralise(arr.cast(pa.string()))[0] if is_text(field.type) else arr.cast(field.type)
                    )
                yield pa.RecordBatch.from_arrays(cols, schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


def verify_csv(csv_path: Path, parquet_paths: list[Path]) -> list[str]:
    """Re-read a CSV download with DuckDB, typed as the Parquet columns, and compare it with the Parquet rows
    (text neutralised) as multisets. Returns problems (bilingual); [] when the CSV holds exactly the table."""
    import duckdb

    problems = []
    with open(csv_path, "rb") as fh:
        has_bom = fh.read(3) == BOM
    if not has_bom:
        problems.append(f"{csv_path.name}: thiếu BOM UTF-8 / no UTF-8 byte-order mark")
    con = duckdb.connect()
    try:
        reader = _neutralised_reader(parquet_paths)
        con.register("parquet_rows", reader.schema.empty_table())
        types = con.execute("describe select * from parquet_rows").fetchall()
        con.unregister("parquet_rows")
        spec = "{" + ", ".join(f"'{n.replace(chr(39), chr(39) * 2)}': '{t}'" for n, t, *_ in types) + "}"
        csv_sql = (
            f"select * from read_csv(?, header = true, delim = ',', quote = '\"', escape = '\"', "
            f"columns = {spec}, auto_detect = false, allow_quoted_nulls = false)"
        )
        with open(csv_path, encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), None)
        if header != [n for n, *_ in types]:
            problems.append(
                f"{csv_path.name}: tiêu đề {header} khác cột Parquet / header differs from the Parquet columns"
            )
            return problems
        n_parquet = sum(pq.ParquetFile(p).metadata.num_rows for p in parquet_paths)
        n_csv = con.execute(f"select count(*) from ({csv_sql})", [str(csv_path)]).fetchall()[0][0]
        if n_csv != n_parquet:
            problems.append(
                f"{csv_path.name}: {n_csv} dòng, Parquet {n_parquet} / {n_csv} rows, Parquet has {n_parquet}"
            )
        con.register("parquet_rows", reader)
        # equal counts and nothing of the Parquet missing from the CSV: the same multiset of rows
        n_missing = con.execute(
            f"select count(*) from (select * from parquet_rows except all {csv_sql})", [str(csv_path)]
        ).fetchall()[0][0]
        if n_missing:
            problems.append(
                f"{csv_path.name}: {n_missing} dòng Parquet không có trong CSV / {n_missing} Parquet rows not in the CSV"
            )
    finally:
        con.close()
    return problems
