"""Small synthetic marts for the quality tests (no dbt run needed)."""

from __future__ import annotations

import time

import duckdb
import pytest

from pipeline.quality import gx_runner, suites
from tests.quality.gx_fixtures import SUITES, fact_rows, table_from_frame


def build_marts(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists marts")
    con.execute(
        """
        create or replace table marts.dim_indicator as select * from (values
            ('TC8.4', 'percent', 'hamlet', 0.0, 100.0),
            ('CDS.09', 'count', 'hamlet', 0.0, null),
            ('TC15.2', 'yesno', 'hamlet', 0.0, 1.0)
        ) as t(indicator_code, value_type, level, min_value, max_value)
        """
    )
    con.execute(
        """
        create or replace table marts.dim_hamlet as select * from (values
            ('18484-T01', '18484'), ('18484-T02', '18484'), ('18484-T03', '18484')
        ) as t(hamlet_code, commune_code)
        """
    )
    con.execute(
        """
        create or replace table marts.fact_indicator_value as
        select
            h.hamlet_code || '|' || p.period_code || '|' || i.indicator_code as indicator_value_key,
            h.hamlet_code as location_code,
            'hamlet' as location_level,
            '18484' as commune_code,
            h.hamlet_code,
            p.period_code,
            i.indicator_code,
            case i.value_type when 'percent' then 50.0 + p.q when 'count' then 10.0 + p.q else 1.0 end as value,
            null::double as numerator,
            null::double as denominator,
            true as met_threshold,
            'abc-' || h.hamlet_code || '-' || p.period_code as submission_id
        from marts.dim_hamlet as h
        cross join (select * from (values ('2026-Q1', 1), ('2026-Q2', 2)) as v(period_code, q)) as p
        cross join marts.dim_indicator as i
        """
    )


@pytest.fixture()
def con():
    c = duckdb.connect()
    build_marts(c)
    yield c
    c.close()


@pytest.fixture(scope="module")
def gx_context():
    started = time.perf_counter()
    ctx = gx_runner.get_context()
    print(f"GX import + context: {time.perf_counter() - started:.1f}s")
    assert gx_runner.get_context() is ctx  # cached: one context per process
    return ctx


@pytest.fixture()
def fact_con():
    con = duckdb.connect()
    con.execute("create schema marts")
    cols = suites.suite_columns(suites.load_suite_dict(SUITES["fact_indicator_value"]))
    table_from_frame(con, "marts.fact_indicator_value", fact_rows(), cols)
    yield con
    con.close()
