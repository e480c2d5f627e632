"""OCOP product records: raw/ocop/** → raw.ocop_products."""

import dagster as dg

from pipeline.ingest.dagster_support import raw_specs, reconciliation_check, run_ingest
from pipeline.ingest.sources.ocop.validate import ingest_ocop
from pipeline.resources import WarehouseResource

TABLES = {
    "ocop_products": (
        "Sản phẩm OCOP và giấy chứng nhận (điểm, hạng sao, ngày cấp, ngày hết hạn). / "
        "OCOP products and certificates (score, stars, issued, expires)."
    ),
}


@dg.multi_asset(
    name="ingest_ocop",
    specs=raw_specs(TABLES, deps=[dg.AssetKey(["raw", "hamlets"])]),
    description="Nạp danh sách sản phẩm OCOP. / Ingest the OCOP records.",
)
def ocop_assets(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    yield from run_ingest(context, warehouse, "ocop", ingest_ocop, list(TABLES))


defs = dg.Definitions(
    assets=[ocop_assets],
    asset_checks=[reconciliation_check("ocop", dg.AssetKey(["raw", "ocop_products"]))],
)
