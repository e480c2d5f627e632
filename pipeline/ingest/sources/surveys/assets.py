"""Satisfaction-survey exports: raw/surveys/** → raw.survey_answers (long, no personal data in clear) and
raw.survey_reasons (free text, never published)."""

import dagster as dg

from pipeline.ingest.dagster_support import raw_specs, reconciliation_check, run_ingest
from pipeline.ingest.sources.surveys.validate import ingest_surveys
from pipeline.resources import WarehouseResource

TABLES = {
    "survey_answers": (
        "Câu trả lời khảo sát sự hài lòng (phiếu × câu hỏi); họ tên và số điện thoại chỉ còn mã băm. / "
        "Satisfaction answers (response × question); name and phone only as a salted hash."
    ),
    "survey_reasons": (
        "Lý do tự do người dân ghi (dữ liệu cá nhân, không công bố). / Free-text reasons (personal, never published)."
    ),
}


@dg.multi_asset(
    name="ingest_surveys",
    specs=raw_specs(TABLES, deps=[dg.AssetKey(["raw", "hamlets"])]),
    description="Nạp phiếu khảo sát sự hài lòng. / Ingest the satisfaction-survey exports.",
)
def surveys_assets(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    yield from run_ingest(context, warehouse, "surveys", ingest_surveys, list(TABLES))


defs = dg.Definitions(
    assets=[surveys_assets],
    asset_checks=[reconciliation_check("surveys", dg.AssetKey(["raw", "survey_answers"]))],
)
