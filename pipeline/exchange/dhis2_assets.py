"""DHIS2 dataValueSets landed in raw/dhis2/** → raw.dhis2_values (the fourth landing source), with one
DHIS2-style import summary per file in the run's folder (``runs/<run_id>/dhis2/``)."""

import dagster as dg

from pipeline.config import DBT_PROJECT_DIR, get_settings
from pipeline.exchange.dhis2 import MAPPING_FILE, load_mapping
from pipeline.exchange.dhis2_import import SOURCE, TABLE, ingest_dhis2
from pipeline.exchange.dhis2_values import Catalog
from pipeline.ingest.dagster_support import raw_specs, reconciliation_check
from pipeline.resources import WarehouseResource

TABLES = {
    "dhis2_values": (
        "Giá trị dữ liệu nhập từ tệp dataValueSets của DHIS2 (raw/dhis2/), mỗi giá trị một dòng, kèm chỉ tiêu, "
        "thôn/xã, kỳ đã đối chiếu qua bảng ánh xạ. / Data values imported from DHIS2 dataValueSets files "
        "(raw/dhis2/), one row per value, with the indicator, place and period resolved through the mapping."
    ),
}


@dg.multi_asset(
    name="ingest_dhis2",
    specs=raw_specs(TABLES, deps=[dg.AssetKey(["raw", "hamlets"])]),
    description="Nạp tệp dataValueSets của DHIS2. / Ingest DHIS2 dataValueSets files.",
)
def dhis2_assets(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    settings = get_settings()
    mapping_path = settings.raw_dir / "reference" / MAPPING_FILE
    mapping = load_mapping(mapping_path) if mapping_path.is_file() else None
    catalog = Catalog.from_files(
        DBT_PROJECT_DIR / "seeds" / "indicators.csv", settings.raw_dir / "reference" / "hamlets.csv"
    )
    with warehouse.connect(context.log) as con:
        summaries = ingest_dhis2(
            con,
            settings.raw_dir,
            mapping,
            catalog,
            summary_dir=settings.runs_dir / context.run.run_id / SOURCE,
        )
        total = int(con.execute(f"select count(*) from {TABLE}").fetchone()[0])
    counts = {k: sum(getattr(s, k) for s in summaries) for k in ("imported", "updated", "ignored", "deleted")}
    context.log.info(
        f"dhis2: {len(summaries)} new file(s); imported {counts['imported']}, updated {counts['updated']}, "
        f"ignored {counts['ignored']}, deleted {counts['deleted']}, "
        f"conflicts {sum(len(s.conflicts) for s in summaries)}"
    )
    yield dg.MaterializeResult(
        asset_key=dg.AssetKey(["raw", "dhis2_values"]),
        metadata={
            "dagster/row_count": total,
            "files_new": len(summaries),
            **{f"values_{k}": v for k, v in counts.items()},
            "conflicts": sum(len(s.conflicts) for s in summaries),
        },
    )


defs = dg.Definitions(
    assets=[dhis2_assets],
    asset_checks=[reconciliation_check(SOURCE, dg.AssetKey(["raw", "dhis2_values"]))],
)
