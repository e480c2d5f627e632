"""Jobs and schedules."""

import dagster as dg

ntm_full_refresh = dg.define_asset_job(
    name="ntm_full_refresh",
    selection=dg.AssetSelection.all(),
    description=(
        "Nạp toàn bộ, dựng kho, kiểm tra và công bố dữ liệu mở. / "
        "Ingest everything, build the warehouse, run the checks and publish the open data."
    ),
)

nightly = dg.ScheduleDefinition(
    name="ntm_nightly",
    job=ntm_full_refresh,
    cron_schedule="30 1 * * *",
    execution_timezone="Asia/Ho_Chi_Minh",
    description="Hằng đêm 01:30 / nightly at 01:30 Asia/Ho_Chi_Minh: ingest what is new, rebuild, check, publish.",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

defs = dg.Definitions(jobs=[ntm_full_refresh], schedules=[nightly])
