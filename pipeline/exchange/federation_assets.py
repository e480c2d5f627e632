"""The commune report packages landed in raw/communes/<commune_code>/ → raw.commune_pkg_<table> (a
province-level instance, NTM_LEVEL=province), with the history raw.commune_packages and a reconcile
check. At level commune the asset only creates the (empty) tables the dbt roll-up reads."""

import dagster as dg

from pipeline.config import get_settings, instance_level
from pipeline.exchange.federation import HISTORY, PREFIX, SOURCE, ingest_commune_packages, reconcile
from pipeline.ingest.dagster_support import raw_specs, reconciliation_check
from pipeline.resources import WarehouseResource

MART_KEY = dg.AssetKey(["raw", "commune_pkg_mart_commune_indicator"])
HISTORY_KEY = dg.AssetKey(["raw", "commune_packages"])
SETTINGS_KEY = dg.AssetKey(["raw", "federation_settings"])

TABLES = {
    "commune_packages": (
        "Lịch sử mọi gói báo cáo của xã đã nhận (raw/communes/): trạng thái accepted / superseded / unchanged "
        "/ rejected, lý do song ngữ, gói đang dùng của mỗi xã. / Every commune report package received "
        "(raw/communes/): status, bilingual reason, each commune's package in use."
    ),
    "commune_pkg_mart_commune_indicator": (
        "Giá trị cấp xã (mart_commune_indicator) của gói báo cáo đang dùng của mỗi xã (raw/communes/), đầu vào "
        "tổng hợp lên tỉnh ở cấp tỉnh; trống ở cấp xã. / Commune values (mart_commune_indicator) of each "
        "commune's report package in use (raw/communes/), the input of the province roll-up at level "
        "province; empty at level commune."
    ),
    "federation_settings": (
        "Cấp của phiên bản (NTM_LEVEL) và tỉnh chủ (NTM_HOME_PROVINCE), một dòng. / The instance's level "
        "(NTM_LEVEL) and home province (NTM_HOME_PROVINCE), one row."
    ),
}


@dg.multi_asset(
    name="ingest_commune_packages",
    specs=raw_specs(TABLES),
    description=(
        "Nạp gói báo cáo của các xã (raw/communes/, cấp tỉnh). / Ingest the communes' report packages "
        "(raw/communes/, level province)."
    ),
)
def commune_package_assets(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    settings = get_settings()
    level, province = instance_level()
    with warehouse.connect(context.log) as con:
        report = ingest_commune_packages(con, settings.raw_dir, level, province)
        counts = dict(con.execute(f"select status, count(*) from {HISTORY} group by 1").fetchall())
        in_use = int(con.execute(f"select count(*) from {HISTORY} where in_use").fetchone()[0])
        total = int(con.execute(f"select count(*) from {PREFIX}mart_commune_indicator").fetchone()[0])
    new = {s: report.count(s) for s in ("accepted", "superseded", "unchanged", "rejected", "ignored")}
    context.log.info(
        f"{SOURCE} (NTM_LEVEL={level}, NTM_HOME_PROVINCE={province}): "
        + ", ".join(f"{k} {v}" for k, v in new.items())
        + f"; {in_use} commune(s) with a package in use"
    )
    for o in report.outcomes:
        if o.status == "rejected":
            context.log.warning(f"{o.rel}: {o.reason_code}: {o.reason_vi} / {o.reason_en}")
    yield dg.MaterializeResult(
        asset_key=MART_KEY,
        metadata={
            "dagster/row_count": total,
            "level": level,
            "home_province": province,
            "communes_in_use": in_use,
        },
    )
    yield dg.MaterializeResult(asset_key=SETTINGS_KEY, metadata={"level": level, "home_province": province})
    yield dg.MaterializeResult(
        asset_key=HISTORY_KEY,
        metadata={
            "dagster/row_count": sum(counts.values()),
            **{f"new_{k}": v for k, v in new.items()},
            **{f"total_{k}": int(v) for k, v in counts.items()},
        },
    )


@dg.asset_check(
    asset=HISTORY_KEY,
    name="commune_packages_reconcile",
    blocking=True,
    description=(
        "Mọi tệp trong raw/communes/ có dòng kiểm toán; dòng nạp = dòng của gói đang dùng. / Every file in "
        "raw/communes/ has its audit rows; the rows loaded are exactly those of the packages in use."
    ),
)
def commune_packages_reconcile(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        problems = reconcile(con, get_settings().raw_dir)
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "problems": len(problems),
            "sample": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems[:10]) or "-"),
        },
    )


defs = dg.Definitions(
    assets=[commune_package_assets],
    asset_checks=[reconciliation_check(SOURCE, MART_KEY), commune_packages_reconcile],
)
