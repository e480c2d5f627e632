"""Unit submissions (báo cáo định kỳ): raw/submissions/** → raw.submission_values, raw.submission_tasks,
raw.submissions (one row per submission version)."""

import dagster as dg

from pipeline.ingest.dagster_support import raw_specs, reconciliation_check, run_ingest
from pipeline.ingest.sources.submissions.validate import ingest_submissions
from pipeline.resources import WarehouseResource

TABLES = {
    "submission_values": (
        "Giá trị chỉ tiêu do các đơn vị báo cáo (mọi phiên bản). / "
        "Indicator values reported by the units (every version)."
    ),
    "submission_tasks": (
        "Tiến độ nhiệm vụ của Phụ lục kế hoạch do đơn vị báo cáo. / Progress of the plan's appendix tasks."
    ),
    "submissions": (
        "Mỗi lần nộp báo cáo (đơn vị × kỳ × phiên bản), kèm thời điểm gửi và thứ tự đến. / "
        "One row per submission version (unit × period × version) with submitted time and arrival order."
    ),
}
REFERENCE_DEPS = [dg.AssetKey(["raw", "hamlets"]), dg.AssetKey(["raw", "reporting_units"])]


@dg.multi_asset(
    name="ingest_submissions",
    specs=raw_specs(TABLES, deps=REFERENCE_DEPS),
    description="Nạp báo cáo định kỳ của các đơn vị. / Ingest the units' periodic reports.",
)
def submissions_assets(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    yield from run_ingest(context, warehouse, "submissions", ingest_submissions, list(TABLES))


defs = dg.Definitions(
    assets=[submissions_assets],
    asset_checks=[reconciliation_check("submissions", dg.AssetKey(["raw", "submission_values"]))],
)
