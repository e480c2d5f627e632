"""Helpers of the GX tests: the real suites, a small fact_indicator_value and how to find an outcome."""

from __future__ import annotations

import duckdb
import pandas as pd

from pipeline.quality import overlap, overlap_rules, suites

SUITES = suites.list_suites()
GRAIN = ["location_code", "period_code", "indicator_code"]


def suite_with_dbt_rules(table: str) -> dict:
    """The suite of ``table`` with the rules dbt now owns put back (from the ledger
    ``expectations/ledger/owned_by_dbt.json``), as the suite stated them before.

    The runner tests exercise GX's not-null, unique, compound-unique, in-set and schema paths, their batching
    and their DuckDB forms (``gx_sql``), and the SQL ``referential`` check: machinery a suite may still use.
    The column set of a schema expectation is the model's contract of today, not the ledger's copy."""
    suite = suites.load_suite_dict(SUITES[table])
    exps = list(suite["expectations"])
    sql_checks = list(suite["meta"].get("sql_checks") or [])
    for entry in overlap.load_ledger():
        if entry["suite"] != table:
            continue
        stated = dict(entry["stated"])
        if stated.get("type") == overlap_rules.MATCH_SET:
            stated["kwargs"] = {**stated["kwargs"], "column_set": suites.suite_columns(suite)}
        if stated.get("check") == "column_types":
            stated["kwargs"] = {**stated["kwargs"], "expected": suites.model_columns(table)}
        (exps if "type" in stated else sql_checks).append(stated)
    return {**suite, "expectations": exps, "meta": {**suite["meta"], "sql_checks": sql_checks}}


def table_from_frame(con: duckdb.DuckDBPyConnection, name: str, df: pd.DataFrame, columns: list[str]) -> None:
    for c in columns:
        if c not in df.columns:
            df[c] = None
    con.register("_df", df[columns])
    con.execute(f"create or replace table {name} as select * from _df")
    con.unregister("_df")


def fact_rows(n_hamlets: int = 4, periods=("2026-Q1", "2026-Q2", "2026-Q3")) -> pd.DataFrame:
    rows = []
    for p in periods:
        for h in range(1, n_hamlets + 1):
            for ind, value in (("TC8.4", 80.0), ("CDS.09", 12.0)):
                hc = f"18484-T{h:02d}"
                rows.append(
                    {
                        "indicator_value_key": f"{hc}|{p}|{ind}",
                        "location_code": hc,
                        "location_level": "hamlet",
                        "commune_code": "18484",
                        "hamlet_code": hc,
                        "hamlet_key": h,
                        "existed_at_period_end": True,
                        "period_code": p,
                        "period_kind": "quarter",
                        "year": 2026,
                        "indicator_code": ind,
                        "value": value,
                        "numerator": 8.0,
                        "denominator": 10.0,
                        "met_threshold": True,
                        "value_source": "reported",
                        "quarters_count": 1,
                        "unit_code": hc,
                        "submission_id": f"abcdef012345-{hc}-{p}",
                    }
                )
    # a commune-level row: hamlet_code null
    rows.append(
        {
            **rows[0],
            "indicator_value_key": "18484|2026-Q1|CDS.01",
            "location_code": "18484",
            "location_level": "commune",
            "hamlet_code": None,
            "hamlet_key": None,
            "indicator_code": "CDS.01",
            "unit_code": "18484-VP",
        }
    )
    return pd.DataFrame(rows)


def by_type(result, exp_type, column=None):
    found = [e for e in result.expectations if e.type == exp_type and (column is None or e.column == column)]
    assert found, (exp_type, column)
    return found[0]


def assert_same_outcomes(left, right) -> list[tuple]:
    """Two suite results have the same expectations in the same order, each with the same success and
    unexpected count; returns the (left, right) pairs for further checks."""
    pairs = list(zip(left.expectations, right.expectations, strict=True))
    for a, b in pairs:
        assert (a.type, a.column, a.success, a.unexpected_count) == (
            b.type,
            b.column,
            b.success,
            b.unexpected_count,
        )
    return pairs
