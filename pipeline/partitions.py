"""Reporting periods of a run.

The period-dependent part of the warehouse (the incremental facts fact_indicator_value, fact_submission,
fact_task_progress and marts mart_hamlet_indicator, mart_hamlet_indicator_restated, delete+insert on
period_code) can be rebuilt for one period. A run is scoped by the run
tag ``ntm/period`` (a quarter ``2026-Q2`` or a year ``2026``), which the dbt step passes in the environment
variable ``NTM_DBT_PERIOD_CODE`` (``macros/periods.sql``; ``--vars '{"period_code": ...}'`` by hand): a
quarter's run replaces that quarter *and its year* (the year's derived
value changes with each quarter); a year's run replaces the year and its four quarters. Without the tag
(``make run``, ``make backfill``, the nightly schedule) every period is rebuilt in one dbt invocation.

Why a run tag and not Dagster partitions: the whole dbt project is one op (one ``dbt build``, one writer);
partitioning it made every unpartitioned run impossible and a run over all quarters record each dbt asset
24 times (4 minutes instead of 1 for the dbt step on the sample). The tag keeps one op, one invocation.
"""

from __future__ import annotations

import re
from datetime import timedelta

import dagster as dg

from pipeline.lib.period_names import (  # noqa: F401 (re-exported: the periods of a run tag)
    FIRST_YEAR,
    LAST_YEAR,
    QUARTER_KEYS,
    YEAR_KEYS,
    period_for_files,
    period_from_name,
)

PERIOD_TAG = "ntm/period"
FULL_REBUILD_TAG = (
    "ntm/full_rebuild"  # "true": every period, whatever changed (python -m pipeline run --force)
)

# The commune reports to the province by the 25th of each quarter's last month (units report to the commune
# through the 15th, 23:59:59 Asia/Ho_Chi_Minh, raw/README.md rule 7.5). The marts of a quarter are expected
# between the 1st of that month and the 25th.
PROVINCE_DEADLINE_CRON = "0 0 25 3,6,9,12 *"
TIMEZONE = "Asia/Ho_Chi_Minh"
marts_freshness_policy = dg.FreshnessPolicy.cron(
    deadline_cron=PROVINCE_DEADLINE_CRON,
    lower_bound_delta=timedelta(days=24),
    timezone=TIMEZONE,
)


def partition_keys_for_period(period: str) -> list[str]:
    """The quarter partitions a period touches: a quarter → itself, a year → its four quarters."""
    if re.fullmatch(r"\d{4}-Q[1-4]", period):
        return [period] if period in QUARTER_KEYS else []
    if re.fullmatch(r"\d{4}", period):
        return [k for k in QUARTER_KEYS if k.startswith(period + "-")]
    return []


def dbt_period_vars(period: str | None) -> dict[str, str]:
    """The dbt vars of a run scoped to ``period`` (None or "" = every period)."""
    if not period:
        return {}
    if period not in QUARTER_KEYS and period not in YEAR_KEYS:
        raise ValueError(
            f"Kỳ không hợp lệ / invalid period {period!r}: use a quarter {QUARTER_KEYS[0]}…{QUARTER_KEYS[-1]} "
            f"or a year {YEAR_KEYS[0]}…{YEAR_KEYS[-1]}"
        )
    return {"period_code": period}
