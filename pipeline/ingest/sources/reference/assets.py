"""Reference data: administrative units from the vietnam-provinces package, and the commune's registry
files in raw/reference/ (hamlets with history, population, crosswalk, reporting units)."""

import dagster as dg
import pandas as pd

from pipeline.config import get_settings
from pipeline.constants import OWNERS
from pipeline.ingest.dagster_support import reconciliation_check
from pipeline.ingest.files import BOUNDARY_FILE
from pipeline.ingest.landing import LandingReport, account_landing_zone
from pipeline.ingest.reference import load_reference
from pipeline.ingest.sources.reference.admin_units import DATA_VERSION, communes_frame, provinces_frame
from pipeline.ingest.sources.reference.boundaries import load_boundaries
from pipeline.ingest.tables import ensure_warehouse_schema
from pipeline.resources import WarehouseResource

ADMIN = {
    "provinces": "34 tỉnh, thành phố (QĐ 19/2025). / The 34 provinces (QĐ 19/2025), from vietnam-provinces.",
    "communes": "3.321 xã, phường, đặc khu. / The 3,321 communes, wards and special zones, from vietnam-provinces.",
}
REGISTRY = {
    "hamlets": "Thôn, tổ dân phố theo phiên bản hiệu lực. / Hamlets, one row per validity-dated version.",
    "hamlet_population": "Số hộ, số dân theo năm. / Households and population by year.",
    "hamlet_crosswalk": "Sáp nhập, chia tách, đổi tên thôn. / Hamlet merges, splits and renames.",
    "reporting_units": "Đơn vị báo cáo. / Reporting units (departments, organisations, cooperatives, hamlets).",
    "hamlet_boundaries": (
        "Ranh giới thôn theo phiên bản (GeoJSON, đổi về WGS84); đối tượng lỗi bị cách ly. / Hamlet boundaries "
        "per version (GeoJSON, converted to WGS84); bad features quarantined."
    ),
}
SOURCE_FILES = {name: f"reference/{name}.csv" for name in REGISTRY} | {
    "hamlet_boundaries": f"reference/{BOUNDARY_FILE}"
}


def _specs(tables: dict[str, str]) -> list[dg.AssetSpec]:
    return [
        dg.AssetSpec(
            key=dg.AssetKey(["raw", name]),
            description=text,
            group_name="ingest",
            owners=OWNERS,
            kinds={"python", "duckdb"},
        )
        for name, text in tables.items()
    ]


@dg.multi_asset(
    name="admin_units",
    specs=_specs(ADMIN),
    description="Đơn vị hành chính từ gói vietnam-provinces. / Administrative units from vietnam-provinces.",
)
def admin_units(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    provinces, communes = provinces_frame(), communes_frame()
    with warehouse.connect(context.log) as con:
        ensure_warehouse_schema(con)
        con.begin()
        for table, frame in (("raw.provinces", provinces), ("raw.communes", communes)):
            con.register("_frame", frame)
            con.execute(f"create or replace table {table} as select * from _frame")
            con.unregister("_frame")
        con.commit()
    for name, frame in (("provinces", provinces), ("communes", communes)):
        yield dg.MaterializeResult(
            asset_key=dg.AssetKey(["raw", name]),
            metadata={
                "dagster/row_count": len(frame),
                "data_version": DATA_VERSION,
                "preview": dg.MetadataValue.md(frame.head(5).to_markdown(index=False)),
            },
        )


@dg.multi_asset(
    name="reference_registry",
    specs=_specs(REGISTRY),
    description=(
        "Sổ đăng ký thôn và đơn vị báo cáo (raw/reference); ghi vào audit mọi tệp trong raw/ mà không nguồn "
        "nào nạp (mẫu trắng, tài liệu, tệp ẩn, tệp sai chỗ). / The hamlet and reporting-unit registry; "
        "records in audit every file under raw/ that no source reads (templates, docs, hidden, misplaced)."
    ),
)
def reference_registry(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    settings = get_settings()
    with warehouse.connect(context.log) as con:
        ref = load_reference(con, settings.raw_dir)
        boundaries = load_boundaries(con, settings.raw_dir, ref.hamlets)
        counts = {
            name: int(con.execute(f"select count(*) from raw.{name}").fetchone()[0]) for name in REGISTRY
        }
        landing = account_landing_zone(con, settings.raw_dir)
    attention = landing.attention()
    for f in attention:
        context.log.warning(f"Tệp không được nạp / file not loaded: {f.path} — {f.reason}")
    if boundaries.rejected:
        context.log.warning(f"Tệp ranh giới bị từ chối / boundary file rejected: {boundaries.rejected}")
    for _, record in boundaries.quarantine.head(20).iterrows():
        context.log.warning(f"{record['message_vi']} / {record['message_en']}")
    for i, (name, n) in enumerate(counts.items()):
        meta: dict = {"dagster/row_count": n, "source_file": SOURCE_FILES[name]}
        if i == 0:
            meta |= landing_metadata(landing)
        if name == "hamlet_boundaries":
            meta |= {
                "features_read": boundaries.features_read,
                "features_loaded": boundaries.features_loaded,
                "features_quarantined": boundaries.features_quarantined,
                "file_rejected": boundaries.rejected or "",
                "is_synthetic": boundaries.is_synthetic,
            }
        yield dg.MaterializeResult(asset_key=dg.AssetKey(["raw", name]), metadata=meta)


def landing_metadata(landing: LandingReport) -> dict:
    """Counts (read by the CLI summary) and the list of the files a person should look at."""
    attention = landing.attention()
    table = pd.DataFrame([{"path": f.path, "reason": (f.reason or "").split(":", 1)[0]} for f in attention])
    return {
        "files_outside_sources": len(landing.files),
        "files_not_ingested": len(attention),
        "files_outside_sources_by_reason": dg.MetadataValue.json(landing.by_reason()),
        "files_not_ingested_list": dg.MetadataValue.md(
            table.to_markdown(index=False) if len(table) else "(không có / none)"
        ),
    }


# features read = loaded + quarantined for the boundary file (and the registry CSVs: read = loaded)
reference_rows_reconcile = reconciliation_check("reference", dg.AssetKey(["raw", "hamlet_boundaries"]))

defs = dg.Definitions(assets=[admin_units, reference_registry], asset_checks=[reference_rows_reconcile])
