"""Ingest of the three landing-zone sources (submissions, surveys, OCOP) into schemas ``raw`` and ``audit``.

Order for a run: ``ensure_warehouse_schema(con)``; ``ref = load_reference(con, raw_dir)``; then
``ingest_submissions``, ``ingest_surveys``, ``ingest_ocop`` (each idempotent, each batch one transaction).
"""

from pipeline.ingest.reference import ReferenceData, ReferenceError, load_reference
from pipeline.ingest.reports import FileOutcome, IngestReport
from pipeline.ingest.tables import ensure_warehouse_schema

__all__ = [
    "FileOutcome",
    "IngestReport",
    "ReferenceData",
    "ReferenceError",
    "ensure_warehouse_schema",
    "load_reference",
]
