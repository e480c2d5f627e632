"""What the three ingest assets share: run an ingest function under the warehouse lock, turn its report into
asset metadata, and check the per-file reconciliation that the audit tables promise."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import dagster as dg
import duckdb
import pandas as pd

from pipeline.config import get_settings
from pipeline.constants import OWNERS
from pipeline.ingest.reference import ReferenceData
from pipeline.ingest.reports import IngestReport
from pipeline.ingest.tables import ensure_warehouse_schema
from pipeline.resources import WarehouseResource

INGEST_KINDS = {"python", "duckdb"}


def raw_specs(tables: dict[str, str], deps: list[dg.AssetKey] | None = None) -> list[dg.AssetSpec]:
    """Asset specs ``raw/<table>`` for the tables one ingest asset writes (description bilingual)."""
    return [
        dg.AssetSpec(
            key=dg.AssetKey(["raw", name]),
            description=description,
            group_name="ingest",
            owners=OWNERS,
            kinds=INGEST_KINDS,
            deps=deps or [],
            skippable=True,
        )
        for name, description in tables.items()
    ]


def _preview_md(rows: list[dict]) -> str:
    if not rows:
        return "(không có dòng mới / no new rows)"
    return pd.DataFrame(rows).to_markdown(index=False)


#: The ``files`` table of an ingest asset's metadata lists at most this many of the files the run read,
#: rejected or found as duplicate content; files already ingested and unchanged are one count line. Every
#: file and its outcome stays in ``audit.ingest_files`` and ``audit.file_paths``. (A table of all 48,155
#: files cost 3 s of the submissions step at province scale when none of them had changed.)
FILES_TABLE_MAX = 200


def files_table(report: IngestReport) -> str:
    """Markdown for the ``files`` metadata: the files this run did something with (up to
    :data:`FILES_TABLE_MAX`), then how many more, and how many were already ingested (not read again)."""
    acted = [f for f in report.files if f.status != "already_ingested"]
    unchanged = len(report.files) - len(acted)
    shown = acted[:FILES_TABLE_MAX]
    parts = []
    if shown:
        rows = [
            {
                "path": f.path,
                "status": f.status,
                "encoding": f.encoding,
                "rows_read": f.rows_read,
                "rows_loaded": f.rows_loaded,
                "rows_quarantined": f.rows_quarantined,
                "reason": f.reason,
            }
            for f in shown
        ]
        parts.append(pd.DataFrame(rows).to_markdown(index=False))
    if len(acted) > len(shown):
        more = len(acted) - len(shown)
        parts.append(
            f"… thêm {more} tệp (xem audit.ingest_files) / {more} more file(s) (see audit.ingest_files)"
        )
    if unchanged:
        parts.append(
            f"{unchanged} tệp đã nạp trước đó, không đổi, không đọc lại (audit.file_paths) / "
            f"{unchanged} file(s) already ingested and unchanged, not read again (audit.file_paths)"
        )
    return "\n\n".join(parts) or "(none)"


def report_metadata(report: IngestReport, con: duckdb.DuckDBPyConnection, table: str) -> dict:
    total = con.execute(f"select count(*) from {table}").fetchone()[0]
    meta: dict = {**report.metadata(), "dagster/row_count": int(total)}
    meta["files"] = dg.MetadataValue.md(files_table(report))
    meta["preview"] = dg.MetadataValue.md(_preview_md(report.preview))
    return meta


def run_ingest(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    source: str,
    ingest: Callable[..., IngestReport],
    tables: list[str],
) -> Iterator[dg.MaterializeResult]:
    """Run one source's ingest; yield one MaterializeResult per raw table it writes."""
    settings = get_settings()
    ref = ReferenceData.from_files(settings.raw_dir)
    with warehouse.connect(context.log) as con:
        ensure_warehouse_schema(con)
        report = ingest(con, settings.raw_dir, ref, today=settings.today, salt=settings.pii_salt())
        context.log.info(
            f"{source}: {report.files_new} new file(s), {report.rows_loaded} rows loaded, "
            f"{report.rows_quarantined} quarantined, {report.files_rejected} rejected"
        )
        for i, table in enumerate(tables):
            meta = (
                report_metadata(report, con, f"raw.{table}")
                if i == 0
                else {
                    "dagster/row_count": int(con.execute(f"select count(*) from raw.{table}").fetchone()[0])
                }
            )
            yield dg.MaterializeResult(asset_key=dg.AssetKey(["raw", table]), metadata=meta)


def reconciliation_check(source: str, asset_key: dg.AssetKey) -> dg.AssetChecksDefinition:
    """rows_read = rows_loaded + rows_quarantined for every file of the source, and the quarantine table
    holds exactly rows_quarantined distinct rows per file (nothing is dropped silently)."""

    @dg.asset_check(
        asset=asset_key,
        name=f"{source}_rows_reconcile",
        blocking=True,
        description=(
            "Mỗi tệp: số dòng đọc = số dòng nạp + số dòng cách ly. / "
            "Every file: rows read = rows loaded + rows quarantined."
        ),
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connect() as con:
            bad = con.execute(
                """
                with q as (
                    select file_sha256, count(distinct row_number) as n
                    from audit.quarantine group by file_sha256
                )
                select f.path, f.rows_read, f.rows_loaded, f.rows_quarantined, coalesce(q.n, 0) as in_quarantine
                from audit.ingest_files as f
                left join q using (file_sha256)
                where f.source = ?
                  and f.status <> 'rejected'
                  and (f.rows_read <> f.rows_loaded + f.rows_quarantined or f.rows_quarantined <> coalesce(q.n, 0))
                """,
                [source],
            ).df()
            files = con.execute(
                "select count(*) from audit.ingest_files where source = ?", [source]
            ).fetchone()[0]
        return dg.AssetCheckResult(
            passed=bad.empty,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "files_checked": int(files),
                "files_not_reconciled": len(bad),
                "sample_rows": dg.MetadataValue.md(
                    bad.head(10).to_markdown(index=False) if len(bad) else "-"
                ),
            },
        )

    return _check
