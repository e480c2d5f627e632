"""What an ingest step reports: the outcome of each file and the totals of a source.

:class:`FileOutcome` is one file (a row of ``audit.ingest_files``), :class:`IngestReport` one source's
run (Dagster metadata), :func:`rejection_reason` the bilingual reason text a rejected or unread file gets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.ingest import quarantine as q


@dataclass
class FileOutcome:
    path: str
    file_sha256: str
    status: str  # loaded | loaded_with_errors | rejected | duplicate_content | already_ingested
    reason: str | None = None
    encoding: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0


@dataclass
class IngestReport:
    source: str
    files_seen: int = 0
    files_new: int = 0
    files_skipped_duplicate: int = 0
    files_unchanged: int = 0  # of those skipped: known from the stat cache, not read
    files_rejected: int = 0
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    seconds: float = 0.0
    files: list[FileOutcome] = field(default_factory=list)
    preview: list[dict] = field(default_factory=list)

    def metadata(self) -> dict:
        """Flat numbers for Dagster asset metadata."""
        return {
            k: getattr(self, k)
            for k in (
                "files_seen",
                "files_new",
                "files_skipped_duplicate",
                "files_unchanged",
                "files_rejected",
                "rows_read",
                "rows_loaded",
                "rows_quarantined",
                "seconds",
            )
        }


def rejection_reason(code: str, detail: str | None) -> str:
    vi, en = q.REASONS.get(code, (code, code))
    return f"{code}: {en} / {vi}" + (f" ({detail})" if detail else "")
