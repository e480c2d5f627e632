"""The scope of a run's dbt build: the period the incremental models rebuild, the raw tables that may have
changed (pipeline.transform.selection turns them into the nodes to rebuild), and the period whose rows the
period-scoped dbt tests check. From the run's tags and what changed since the last successful build
(pipeline.changes)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline import changes
from pipeline.config import get_settings
from pipeline.partitions import FULL_REBUILD_TAG, PERIOD_TAG
from pipeline.resources import WarehouseResource


@dataclass(frozen=True)
class Scope:
    period: str | None  # None: every period
    reason: str
    # the raw tables that may have changed (pipeline.changes.ChangeSet.raw_tables); None: all of them, every
    # dbt node is rebuilt
    raw_tables: frozenset[str] | None = None
    tables_reason: str = ""
    # the period whose rows the period-scoped dbt tests check (NTM_DBT_TEST_PERIOD_CODE, macros/set_tests.sql):
    # set only when what changed since the last successful build is submission files of this period alone, so
    # the other periods' rows are those the earlier builds checked; None: every row
    tests_period: str | None = None


def run_scope(context, warehouse: WarehouseResource, code_fp: str) -> Scope:
    """An explicit period (run tag ntm/period) wins; ntm/full_rebuild forces every period; otherwise the
    narrowest safe scope from what changed since the last successful build (pipeline.changes): only
    submission files of one quarter (or of quarters of one year) → that period, anything else → every period;
    and the raw tables the changed files' sources write (every node downstream of them is rebuilt, the others
    are not: pipeline.transform.selection). A tag, a new warehouse, no previous build, no record, a code or
    settings change, an unfinished build, nothing changed (a forced run) → every node.

    The tests' period (:attr:`Scope.tests_period`) is the scope's period when the changes prove it: found from
    the changed files, or a tag that names the very period the changed files give."""
    tags = context.run.tags
    if tags.get(PERIOD_TAG):
        period = tags[PERIOD_TAG]
        found = changes_of(context, warehouse, code_fp)
        proven = period if found is not None and found.period() == period else None
        return Scope(period, f"run tag {PERIOD_TAG}={period}", tests_period=proven)
    if tags.get(FULL_REBUILD_TAG, "").lower() in ("1", "true", "yes"):
        return Scope(None, f"run tag {FULL_REBUILD_TAG}: every period")
    if not warehouse.database.exists():
        return Scope(None, "new warehouse: every period")
    found = changes_of(context, warehouse, code_fp)
    if found is None:
        return Scope(None, "no previous build (marts.fact_indicator_value missing): every period")
    if found.everything:
        return Scope(None, f"{found.everything}: every period")
    if found.nothing:
        return Scope(None, "nothing new since the last successful build: every period")
    tables, why = found.raw_tables()
    scoped = {"raw_tables": frozenset(tables) if tables is not None else None, "tables_reason": why}
    period = found.period()
    if period is not None:
        reason = f"{len(found.files)} new submission file(s), all of {period}"
        return Scope(period, reason, tests_period=period, **scoped)
    others = sorted(found.sources() - {"submissions"})
    if others:
        return Scope(None, f"new {', '.join(others)} file(s): every period", **scoped)
    spans = len({f.period for f in found.files})
    return Scope(None, f"new submissions span {spans} periods: every period", **scoped)


def changes_of(context, warehouse: WarehouseResource, code_fp: str) -> changes.ChangeSet | None:
    """What changed since the last successful build (pipeline.changes); None when there is no warehouse or no
    built fact in it (no previous build)."""
    if not warehouse.database.exists():
        return None
    with warehouse.open(context.log) as con:
        facts = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'marts' and table_name = 'fact_indicator_value'"
        ).fetchone()[0]
        _, stat_cache = changes.stat_cache_from(con)
    if not facts:
        return None
    return changes.changes_since_last_success(get_settings(), stat_cache, code_fp=code_fp)
