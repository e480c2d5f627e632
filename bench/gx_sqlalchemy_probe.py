"""Can GX's own SQL execution over DuckDB replace ``pipeline/quality/gx_sql.py``? A probe, not part of the
pipeline: it needs ``duckdb-engine``, which the project does not depend on. Run it in a scratch venv::

    uv venv /tmp/gxsql --python .venv/bin/python
    uv pip install --python /tmp/gxsql/bin/python great-expectations==1.24.1 duckdb==2.0.1 pandas==3.1.1 \\
        sqlalchemy==2.1.9 duckdb-engine==0.17.0
    /tmp/gxsql/bin/python bench/gx_sqlalchemy_probe.py COPY_OF_ntm.duckdb SUITE.json TABLE [--patch]

It validates ``marts.TABLE`` with the suite twice, through a GX SQL datasource (``duckdb:///`` URL,
``add_query_asset``) and through GX's pandas datasource (the path ``gx_runner`` takes), and prints each
outcome that differs. ``--patch`` keeps one SQLAlchemy connection open per execution engine (see below).
Results on 2026-11-30 (expectations/ of main before issue 16 item 2, fact_indicator_value, 25 expectations):

* as shipped: 24 of 25 outcomes differ, failed by ``MetricResolutionError: list index out of range``
  (``SqlAlchemyExecutionEngine.resolve_metric_bundle``): ``execute_query`` returns the result after leaving
  ``with engine.connect()``, and duckdb-engine's cursor has no rows once its connection is closed. A table
  asset with ``schema_name="marts"`` also loses the schema in column reflection (``Catalog Error: Table with
  name fact_indicator_value does not exist``);
* with ``--patch`` (a private method replaced): 21 of 25 agree with pandas; every
  ``expect_column_values_to_match_regex`` fails with ``Regex is not supported for dialect duckdb`` and
  ``expect_column_values_to_be_of_type`` raises ``KeyError: 'type'``. Every suite uses regexes.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
import warnings
from pathlib import Path

import duckdb
import great_expectations as gx


def patch_persisted_connection() -> None:
    import great_expectations.execution_engine.sqlalchemy_execution_engine as see

    @contextlib.contextmanager
    def _persisted(self):
        if not getattr(self, "_connection", None):
            self._connection = self.engine.connect()
        yield self._connection

    see.SqlAlchemyExecutionEngine.get_connection = _persisted


def outcomes(result) -> list[tuple]:
    out = []
    for r in result.results:
        c = r.expectation_config
        info = r.exception_info or {}
        messages = [v.get("exception_message") for v in info.values() if isinstance(v, dict)]
        if info.get("raised_exception"):
            messages.append(info.get("exception_message"))
        error = next((m for m in messages if m), None)
        column = c.kwargs.get("column") or c.kwargs.get("column_list")
        out.append((c.type, str(column), r.success, (r.result or {}).get("unexpected_count"), error))
    return sorted(out, key=str)


def main(argv: list[str]) -> int:
    warnings.filterwarnings("ignore")
    database, suite_path, table = argv[:3]
    if "--patch" in argv:
        patch_persisted_connection()
    raw = json.loads(Path(suite_path).read_text(encoding="utf-8"))
    exps = [
        {"type": e["type"], "kwargs": e["kwargs"], "meta": e.get("meta", {})} for e in raw["expectations"]
    ]
    ctx = gx.get_context(mode="ephemeral")

    started = time.perf_counter()
    ds = ctx.data_sources.add_sql("duck", connection_string=f"duckdb:///{database}?access_mode=read_only")
    batch = ds.add_query_asset("t", query=f"select * from marts.{table}").add_batch_definition_whole_table(
        "all"
    )
    sql = outcomes(
        batch.get_batch().validate(ctx.suites.add(gx.ExpectationSuite(name="sql", expectations=exps)))
    )
    sql_s = time.perf_counter() - started

    started = time.perf_counter()
    df = duckdb.connect().execute(f"attach '{database}' as w (read_only); select * from w.marts.{table}").df()
    asset = (
        ctx.data_sources.add_pandas("pd")
        .add_dataframe_asset("df")
        .add_batch_definition_whole_dataframe("all")
    )
    suite = ctx.suites.add(gx.ExpectationSuite(name="pandas", expectations=exps))
    pandas = outcomes(asset.get_batch(batch_parameters={"dataframe": df}).validate(suite))
    pandas_s = time.perf_counter() - started

    differ = [(a, b) for a, b in zip(sql, pandas, strict=True) if a != b]
    print(
        f"{len(exps)} expectations, {len(df)} rows; SQL {sql_s:.2f}s, pandas {pandas_s:.2f}s; {len(differ)} differ"
    )
    for a, b in differ:
        print(f"  SQL    {a}\n  pandas {b}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
