"""Ingest: the landing-zone sources into schemas ``raw`` and ``audit``.

``pipeline/ingest/sources/<source>/`` holds each source whole (asset, template, validation, rules); the modules
directly in this package are the machinery they share (readers, files, batch runner, writes, quarantine, problems,
reference data). Order for a run: ``ensure_warehouse_schema(con)``; ``ref = load_reference(con, raw_dir)``; then
each source's ``ingest_<source>`` (e.g. ``pipeline.ingest.sources.submissions.validate.ingest_submissions``;
each idempotent, each batch one transaction).
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
