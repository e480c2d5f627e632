"""Validate a DuckDB table with a Great Expectations 1.x suite file, batch by batch, and build Data Docs.

How it runs (GX 1.x fluent API, no dagster-ge):

* one ephemeral Data Context per process (``gx.get_context(mode="ephemeral")``, created lazily and cached
  in :mod:`pipeline.lib.gx_context`: importing GX is slow, so it is imported only inside functions);
* a pandas Data Source, one dataframe Data Asset per table, a whole-dataframe Batch Definition; each batch
  is a DataFrame streamed from DuckDB and validated with ``batch.validate(suite, result_format=...)``;
  a batch holds only the columns the GX expectations read (``gx_batches.gx_columns``) and the table's
  ``rowid`` as its index, so a failure's sample rows are read whole from DuckDB afterwards (at province
  scale this cut the gate's GX time about 3x and its peak memory from 3 GB to under 1 GB);
* a table larger than ``max_rows_per_batch`` is validated one ``batch_column`` value at a time (e.g. one
  period), or in ``rowid`` ranges when it has no such column, so memory stays bounded by one batch.
  Expectations that cannot be decided batch by batch are pushed to DuckDB instead: row counts, and
  uniqueness over columns that do not include the batch column;
* Data Docs: a filesystem site (``TupleFilesystemStoreBackend``) is added to the context for each
  ``docs_dir``; the batches' validation results are stored in the context's validation-results store and
  ``context.build_data_docs(site_names=[...])`` renders ``<docs_dir>/index.html``.

Alongside: ``gx_batches`` (how a table is cut into batches, what a batch cannot decide), ``gx_docs`` (Data
Docs), ``gx_sql`` (the expectations decided in DuckDB: table-wide ones, and all supported ones of a table
above ``NTM_GX_SQL_ABOVE_ROWS``), ``gx_results`` (the outcome classes).

Severity: an expectation's ``meta.severity`` (``error`` blocks, ``warn`` does not); ``SuiteResult.success``
considers ``error`` expectations only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb

from pipeline.lib.gx_context import DATASOURCE_NAME, LOCK, get_context

from . import gx_sql
from .gx_batches import ROWID, Batch, gx_columns, gx_row_order, is_base_table, needs_sql, plan_batches
from .gx_docs import build_data_docs, register_results, safe_batch_id
from .gx_results import ExpectationOutcome, SuiteResult
from .sql_base import SAMPLE_LIMIT, json_safe, quote_column, quote_table
from .suites import (
    ROW_COUNT_EXPECTATIONS,
    UNIQUENESS_EXPECTATIONS,
    WARN,
    SuiteFileError,
    expectation_column,
    load_suite_dict,
    normalise_suite_dict,
    severity_of,
)

BATCH_DEFINITION_NAME = "whole_dataframe"
PARTIAL_UNEXPECTED_COUNT = 20
# SUMMARY gives unexpected counts, a partial list of values and their row indices (used for sample rows)
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": PARTIAL_UNEXPECTED_COUNT}


def _batch_definition(ctx, table: str):
    ds = ctx.data_sources.get(DATASOURCE_NAME)
    if table in ds.get_asset_names():
        asset = ds.get_asset(table)
        return asset.get_batch_definition(BATCH_DEFINITION_NAME)
    asset = ds.add_dataframe_asset(name=table)
    return asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION_NAME)


def build_suite(suite: Mapping[str, Any]):
    """A ``great_expectations.ExpectationSuite`` from a (normalised) suite dict.

    Uses the documented constructor ``gx.ExpectationSuite(name=..., expectations=[...], meta=...)``;
    expectation dicts are turned into GX Expectation objects by the constructor.
    """
    import great_expectations as gx

    d = normalise_suite_dict(suite)
    kwargs: dict[str, Any] = {"name": d["name"], "expectations": d["expectations"], "meta": d["meta"]}
    if d.get("notes"):
        kwargs["notes"] = d["notes"]
    suite = gx.ExpectationSuite(**kwargs)
    # GX logs and drops an expectation it cannot build (unknown type, bad kwargs): refuse that instead
    if len(suite.expectations) != len(d["expectations"]):
        built = {e.expectation_type for e in suite.expectations}
        lost = [e["type"] for e in d["expectations"] if e["type"] not in built]
        raise SuiteFileError(f"suite {d['name']}: GX could not build expectations {lost or '(see log)'}")
    return suite


def _register_suite(ctx, suite_dict: Mapping[str, Any]):
    """Add (or replace) the suite in the context's suite store; returns the stored GX suite."""
    from great_expectations.exceptions import DataContextError

    suite = build_suite(suite_dict)
    with LOCK:
        with contextlib.suppress(DataContextError):  # not registered yet
            ctx.suites.delete(suite.name)
        return ctx.suites.add(suite)


# ---------------------------------------------------------------------------------------------------------
# evaluation
# ---------------------------------------------------------------------------------------------------------


def _outcome_skeleton(exp: Mapping[str, Any]) -> ExpectationOutcome:
    meta = exp.get("meta") or {}
    return ExpectationOutcome(
        type=exp["type"],
        column=expectation_column(exp),
        kwargs=json_safe(dict(exp["kwargs"])),
        severity=severity_of(exp),
        success=True,
        description_vi=meta.get("description_vi"),
        description_en=meta.get("description_en"),
    )


def _sample_rows(df, indices: Sequence[Any] | None, whole: Any = None) -> list[dict[str, Any]]:
    """The whole rows at GX's unexpected ``indices`` of the batch ``df`` (at most SAMPLE_LIMIT).

    ``whole``: a pruned batch (only the columns GX reads, indexed by rowid) is given ``(con, table)``, and
    the rows are read again from the table by rowid, all columns, through the same DuckDB-to-pandas
    conversion as a whole batch (``json_safe`` makes the values the same whatever dtype the few rows get)."""
    if df is None or not indices:
        return []
    idx = [i for i in indices if i in df.index][:SAMPLE_LIMIT]
    if not idx:
        return []
    if whole is None:
        rows = df.loc[idx].to_dict(orient="records")
    else:
        con, table = whole
        found = con.execute(
            f"select *, rowid as {ROWID} from {quote_table(table)} where rowid in (select unnest(?))",
            [[int(i) for i in idx]],
        ).df()
        by_id = {int(r.pop(ROWID)): r for r in found.to_dict(orient="records")}
        rows = [by_id[int(i)] for i in idx if int(i) in by_id]
    return [{str(k): json_safe(v) for k, v in row.items()} for row in rows]


def _load(con: duckdb.DuckDBPyConnection, b: Batch, pruned: bool):
    """The batch as a DataFrame; a pruned batch is indexed by the table's rowid, unnamed (GX then reports
    the unexpected rows' index values as a plain list, as for a whole batch's positions)."""
    df = con.execute(b.sql, list(b.params)).df()
    if pruned:
        df = df.set_index(ROWID)
        df.index.name = None
    return df


def _merge(out: ExpectationOutcome, res, df, label: str, whole: Any = None) -> None:
    """Fold one batch's ExpectationValidationResult into the running outcome."""
    out.batches += 1
    result = dict(res.result or {})
    exc = res.exception_info or {}
    raised = bool(exc.get("raised_exception")) if isinstance(exc, Mapping) else False
    ok = bool(res.success) and not raised
    if raised and out.exception is None:
        out.exception = str(exc.get("exception_message"))
    if not ok:
        out.success = False
        out.failed_batches.append(label)
    if "observed_value" in result and (out.observed_value is None or not ok):
        out.observed_value = json_safe(result["observed_value"])
    if "unexpected_count" in result and result["unexpected_count"] is not None:
        out.unexpected_count = (out.unexpected_count or 0) + int(result["unexpected_count"])
        out.element_count = (out.element_count or 0) + int(result.get("element_count") or 0)
        if out.batches == 1:
            pct = result.get("unexpected_percent")
            out.unexpected_percent = None if pct is None else float(pct)
        elif out.element_count:
            out.unexpected_percent = 100.0 * out.unexpected_count / out.element_count
    room = SAMPLE_LIMIT - len(out.partial_unexpected_list)
    if room > 0 and result.get("partial_unexpected_list"):
        out.partial_unexpected_list.extend(json_safe(result["partial_unexpected_list"][:room]))
    room = SAMPLE_LIMIT - len(out.sample_rows)
    if room > 0 and not ok:
        out.sample_rows.extend(_sample_rows(df, result.get("partial_unexpected_index_list"), whole)[:room])


# ---------------------------------------------------------------------------------------------------------
# public entry point
# ---------------------------------------------------------------------------------------------------------


def run_suite(
    con: duckdb.DuckDBPyConnection,
    table: str,
    suite_path: Path | Mapping[str, Any],
    *,
    batch_column: str | None = "period_code",
    max_rows_per_batch: int = 1_000_000,
    docs_dir: Path | None = None,
    run_id: str | None = None,
    build_docs: bool = True,
    sql_above_rows: int | None = None,
    prune_columns: bool = True,
) -> SuiteResult:
    """Validate DuckDB ``table`` against a suite file (or an already-loaded suite dict).

    Tables above ``max_rows_per_batch`` rows are validated one ``batch_column`` value at a time (or in
    ``rowid`` ranges). With ``docs_dir``, GX Data Docs are (re)built there and ``docs_path`` is the
    ``index.html``; several tables validated with the same ``docs_dir`` share one site. With
    ``build_docs=False`` the results are only recorded for the site (``docs_path`` is where the index
    will be): call :func:`build_data_docs` once after the last table (saves ~1 s per table).
    A table above ``sql_above_rows`` rows (default ``NTM_GX_SQL_ABOVE_ROWS``, 5,000,000) has every
    expectation that :mod:`pipeline.quality.gx_sql` supports evaluated in DuckDB instead of GX.
    A base table's batches hold only the columns the GX expectations read (:func:`gx_columns`), indexed by
    ``rowid``; a failed expectation's sample rows are then read whole from the table by rowid. A view, or a
    suite with a table-level schema expectation or a string ``row_condition``, loads every column (as does
    ``prune_columns=False``, the reference the tests compare with).
    """
    started = time.perf_counter()
    suite_dict = (
        normalise_suite_dict(suite_path) if isinstance(suite_path, Mapping) else load_suite_dict(suite_path)
    )
    run_id = run_id or dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    columns = [d[0] for d in con.execute(f"select * from {quote_table(table)} limit 0").description]
    n_rows = int(con.execute(f"select count(*) from {quote_table(table)}").fetchone()[0])
    exps = suite_dict["expectations"]
    # a very large table: every expectation DuckDB can decide is decided there, in one pass each
    sql_first = n_rows > (gx_sql.sql_above_rows() if sql_above_rows is None else sql_above_rows)
    done: dict[int, ExpectationOutcome] = {}
    if sql_first:
        # listed values and sample rows: the first unexpected rows in the order GX would meet them
        order = gx_row_order(con, table, columns, n_rows, batch_column, max_rows_per_batch)
        for i, e in enumerate(exps):
            if e["type"] in ROW_COUNT_EXPECTATIONS or e["type"] in UNIQUENESS_EXPECTATIONS:
                done[i] = gx_sql.evaluate_table_wide(con, table, e, n_rows, _outcome_skeleton(e))
                continue
            with contextlib.suppress(gx_sql.Unsupported):
                done[i] = gx_sql.evaluate(con, table, e, columns, _outcome_skeleton(e), order)
    # a batch holds only the columns the GX expectations read (with the rowid, to fetch sample rows later)
    read = gx_columns([e for i, e in enumerate(exps) if i not in done], columns)
    pruned = prune_columns and read is not None and len(read) < len(columns) and is_base_table(con, table)
    select = ", ".join([f"rowid as {ROWID}", *(quote_column(c) for c in read or [])]) if pruned else "*"
    if len(done) == len(exps):
        batches, used_batch_col = [], None
    else:
        batches, used_batch_col = plan_batches(
            con, table, columns, n_rows, batch_column, max_rows_per_batch, select
        )
    batched = len(batches) > 1 or used_batch_col is not None
    batch_key_col = used_batch_col if used_batch_col != "rowid" else None

    sql_idx = {i for i, e in enumerate(exps) if i not in done and batched and needs_sql(e, batch_key_col)}
    gx_idx = [i for i in range(len(exps)) if i not in sql_idx and i not in done]
    outcomes: dict[int, ExpectationOutcome] = {i: _outcome_skeleton(exps[i]) for i in gx_idx}
    outcomes.update(done)
    if not gx_idx:
        return _suite_result(
            table,
            suite_dict,
            outcomes,
            sql_idx | set(done),
            batches,
            used_batch_col,
            n_rows,
            0,
            None,
            run_id,
            started,
        )

    ctx = get_context()
    gx_suite_dict = {**suite_dict, "expectations": [exps[i] for i in gx_idx]}
    if sql_idx:
        gx_suite_dict["name"] = f"{suite_dict['name']}.per_batch"
        gx_suite_dict["meta"] = {
            **suite_dict["meta"],
            "ntm_note": "validated per batch; row-count and cross-batch uniqueness checks run in DuckDB",
        }
    gx_suite = _register_suite(ctx, gx_suite_dict)
    batch_def = _batch_definition(ctx, table)
    id_to_idx = {e.id: i for e, i in zip(gx_suite.expectations, gx_idx, strict=True)}

    docs_results: dict[Any, Any] = {}
    if docs_dir is not None:
        from great_expectations.core.run_identifier import RunIdentifier
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        gx_run = RunIdentifier(run_name=run_id, run_time=dt.datetime.now(dt.UTC))

    n_validated = 0
    whole = (con, table) if pruned else None
    if gx_idx:
        for b in batches:
            df = _load(con, b, pruned)
            n_validated += len(df)
            with LOCK:
                batch = batch_def.get_batch(batch_parameters={"dataframe": df})
                res = batch.validate(gx_suite, result_format=RESULT_FORMAT)
            # results do not come back in suite order: match them by expectation id
            for r in res.results:
                _merge(outcomes[id_to_idx[r.expectation_config.id]], r, df, b.label, whole)
            if docs_dir is not None:
                vid = ValidationResultIdentifier(
                    expectation_suite_identifier=ExpectationSuiteIdentifier(name=gx_suite.name),
                    run_id=gx_run,
                    batch_identifier=safe_batch_id(f"{table}__{b.label}"),
                )
                res.meta["ntm_table"] = table
                res.meta["ntm_batch"] = b.label
                docs_results[vid] = res
            del df, batch
    for i in sql_idx:
        outcomes[i] = gx_sql.evaluate_table_wide(con, table, exps[i], n_rows, _outcome_skeleton(exps[i]))

    docs_path = None
    if docs_dir is not None:
        resolved = Path(docs_dir).resolve()
        with LOCK:
            register_results(resolved, docs_results)
        if build_docs:
            only = [*docs_results, ExpectationSuiteIdentifier(name=gx_suite.name)]
            docs_path = build_data_docs(resolved, only=only)
        else:
            docs_path = resolved / "index.html"
    return _suite_result(
        table,
        suite_dict,
        outcomes,
        sql_idx | set(done),
        batches,
        used_batch_col,
        n_rows,
        n_validated,
        docs_path,
        run_id,
        started,
        len(read) if pruned and read is not None else len(columns),
    )


def _suite_result(
    table: str,
    suite_dict: Mapping[str, Any],
    outcomes: Mapping[int, ExpectationOutcome],
    sql_idx: set[int],
    batches: Sequence[Batch],
    used_batch_col: str | None,
    n_rows: int,
    n_validated: int,
    docs_path: Path | None,
    run_id: str,
    started: float,
    gx_columns_loaded: int = 0,
) -> SuiteResult:
    ordered = [outcomes[i] for i in range(len(suite_dict["expectations"]))]
    error_failures = [o for o in ordered if not o.success and o.severity != WARN]
    warn_failures = [o for o in ordered if not o.success and o.severity == WARN]
    n_ok = sum(o.success for o in ordered)
    statistics = {
        "evaluated_expectations": len(ordered),
        "successful_expectations": n_ok,
        "unsuccessful_expectations": len(ordered) - n_ok,
        "success_percent": round(100.0 * n_ok / len(ordered), 2) if ordered else 100.0,
        "error_failures": len(error_failures),
        "warn_failures": len(warn_failures),
        "evaluated_in_duckdb": len(sql_idx),
        "row_count": n_rows,
        "rows_validated_by_gx": n_validated,
        "columns_loaded_for_gx": gx_columns_loaded if n_validated else 0,
        "batches": len(batches),
    }
    return SuiteResult(
        table=table,
        suite_name=suite_dict["name"],
        success=not error_failures,
        error_failures=error_failures,
        warn_failures=warn_failures,
        expectations=ordered,
        statistics=statistics,
        docs_path=docs_path,
        batches=[b.label for b in batches],
        batch_column=used_batch_col,
        row_count=n_rows,
        run_id=run_id,
        duration_s=round(time.perf_counter() - started, 3),
    )
