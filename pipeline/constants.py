"""Names shared by the code location."""

OWNERS = ["team:phong-kinh-te"]  # Phòng Kinh tế (Economic Department) owns every asset
OWNER_LABEL = "Phòng Kinh tế xã Đồng Lộc / Economic Department, Đồng Lộc commune"

# What the commune publishes: (mart, primary key, partition column or None). pipeline.publish writes them,
# the quality gate (pipeline.quality.checks) checks every one. fact_survey_answer, fact_submission's file
# paths, raw.* and audit.* never leave the warehouse.
PUBLISHED: dict[str, tuple[tuple[str, ...], str | None]] = {
    "dim_province": (("province_code",), None),
    "dim_commune": (("commune_code",), None),
    "dim_hamlet": (("hamlet_key",), None),
    "dim_period": (("period_code",), None),
    "dim_indicator": (("indicator_code",), None),
    "dim_reporting_unit": (("reporting_unit_key",), None),
    "dim_plan_task": (("task_code",), None),
    "dim_hamlet_boundary": (("hamlet_key",), None),
    "fact_indicator_value": (("indicator_value_key",), "period_code"),
    "mart_hamlet_indicator": (("indicator_value_key",), "period_code"),
    "mart_commune_indicator": (("commune_indicator_key",), "period_code"),
    "mart_province_indicator": (("province_indicator_key",), None),
    "mart_plan_targets": (("plan_target_key",), None),
    "mart_reporting_compliance": (("compliance_key",), None),
    "mart_commune_report_compliance": (("commune_report_key",), None),
    "mart_satisfaction": (("satisfaction_key",), None),
    "mart_ocop_portfolio": (("portfolio_key",), None),
    "fact_ocop_certificate": (("certificate_key",), None),
    "fact_task_progress": (("task_progress_key",), None),
}
