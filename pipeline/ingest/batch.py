"""What a source's ``validate`` receives and returns for one batch of rows (the runner is
:func:`pipeline.ingest.manifest.run_source`).

A batch holds the rows of many files; besides the template's columns every row has ``_sha`` (the file's
sha256), ``_path``, ``_source``, ``_row`` (the row number a person sees) and ``_fidx`` (the file's place in the
batch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from pipeline.ingest.reference import ReferenceData
from pipeline.lib.pii import NameIndex


@dataclass
class BatchResult:
    tables: dict[str, pd.DataFrame]  # raw table -> rows to insert (with _file_sha256 etc.)
    quarantine: pd.DataFrame  # quarantine records (q.QUARANTINE_COLUMNS)
    loaded_rows: pd.DataFrame  # one row per loaded input row: _sha, _row


@dataclass(frozen=True)
class IngestContext:
    """What a source's validator needs besides the rows: the reference data, the day a future period is
    judged against, and (sources with personal data) the salt of the respondent hash and the index of the
    names free text is masked against (pipeline.ingest.masking)."""

    ref: ReferenceData
    today: date
    salt: str = ""
    names: NameIndex | None = None


# validate(batch_rows, context) -> BatchResult ; batch_rows has _sha, _path, _source, _row, _fidx
Validator = Callable[[pd.DataFrame, IngestContext], BatchResult]
Finalizer = Callable[[duckdb.DuckDBPyConnection, BatchResult], None]


def source_columns(b: pd.DataFrame) -> dict[str, pd.Series]:
    """The columns every raw table carries to name where a row came from: ``_file_sha256``, ``_source_file``
    and ``_source_row``, for each row of the batch."""
    return {"_file_sha256": b["_sha"], "_source_file": b["_path"], "_source_row": b["_row"].astype("int64")}
