"""The quality gate as Dagster asset checks.

- ``gx_suite`` on every mart with a suite in ``expectations/``: the Great Expectations suite (run in
  batches by period) plus the SQL checks the suite declares (pushed down to DuckDB). ERROR expectations
  make the check fail with severity ERROR; the check is **blocking**, so the open-data release downstream
  is not materialized. WARN expectations are recorded and shown only.
- ``row_count_vs_previous_release`` (WARN) on every published table: a large drop against the current
  release.
- Every table the gate checks is fingerprinted before its checks and recorded with the run id
  (:mod:`.fingerprint`); the publish step refuses content that differs from what the gate saw.
- A table whose content, suite, gate code and checked inputs equal those of an earlier *passed* result is not
  validated again: that result is reported with ``reused`` metadata (:mod:`.reuse`, :mod:`.gate`);
  ``NTM_GATE_REUSE=0`` or the run tag ``ntm/gate_reuse=0`` validates everything.
The release's own check (``release_integrity``) is in :mod:`pipeline.publish.checks`; dbt tests surface as
asset checks of the dbt assets (dagster-dbt). Great Expectations is imported lazily, once per run, inside the
check.
"""

from pathlib import Path

import dagster as dg

from pipeline.config import gate_reuse, get_settings
from pipeline.constants import PUBLISHED
from pipeline.lib.metadata import md_table
from pipeline.quality import reuse
from pipeline.quality.gate import run_gate
from pipeline.quality.release_checks import check_row_count_vs_previous_release
from pipeline.quality.report import GX_SUBDIR, prune_reports, suite_section, write_report
from pipeline.quality.suites import list_suites, load_suite_dict
from pipeline.resources import WarehouseResource

SUITES: dict[str, Path] = list_suites()
GX_CHECK = "gx_suite"
ROWS_CHECK = "row_count_vs_previous_release"


def _key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["marts", table])


SPECS = [
    dg.AssetCheckSpec(
        GX_CHECK,
        asset=_key(table),
        blocking=True,
        description=(
            f"Bộ kiểm tra Great Expectations expectations/{path.name} và kiểm tra SQL đi kèm. / "
            f"The Great Expectations suite expectations/{path.name} and its SQL checks."
        ),
    )
    for table, path in SUITES.items()
] + [
    dg.AssetCheckSpec(
        ROWS_CHECK,
        asset=_key(table),
        blocking=False,
        description=(
            "Cảnh báo khi số dòng giảm mạnh so với bản phát hành hiện tại. / "
            "Warns when the row count drops sharply against the current release."
        ),
    )
    for table in PUBLISHED
]


def _gx_result(
    table, result, sql_outcomes, docs_index: Path, extra: dict | None = None
) -> dg.AssetCheckResult:
    failures = result.failures_table() + [
        {
            "severity": o.severity,
            "expectation": o.name,
            "column": "",
            "unexpected_count": o.failed_count,
            "message": o.message_en,
        }
        for o in sql_outcomes
        if not o.passed
    ]
    errors = [f for f in failures if f["severity"] == "error"]
    samples: list[dict] = []
    for e in result.expectations:
        if not e.success and e.sample_rows:
            samples.extend(e.sample_rows[:5])
    for o in sql_outcomes:
        if not o.passed and o.sample_rows:
            samples.extend(o.sample_rows[:5])
    message = "; ".join(
        f"{f['expectation']}{'(' + str(f['column']) + ')' if f.get('column') else ''}: "
        f"{f.get('unexpected_count')} unexpected"
        for f in (errors or failures)[:5]
    )
    return dg.AssetCheckResult(
        asset_key=_key(table),
        check_name=GX_CHECK,
        passed=not errors,
        severity=dg.AssetCheckSeverity.ERROR if errors else dg.AssetCheckSeverity.WARN,
        metadata={
            "message": message or "all expectations met",
            "failed_expectations": md_table(failures),
            "unexpected_count": int(sum(int(f.get("unexpected_count") or 0) for f in errors)),
            "sample_rows": md_table(samples),
            "rows_validated": int(result.row_count or 0),
            "batches": len(result.batches or []),
            "expectations": len(result.expectations) + len(sql_outcomes),
            "warnings": len(failures) - len(errors),
            "data_docs": dg.MetadataValue.path(str(docs_index)),
            **(extra or {}),
        },
    )


@dg.multi_asset_check(
    specs=SPECS,
    name="quality_gate",
    can_subset=True,
    description="Cổng chất lượng trước khi công bố. / The quality gate before publishing.",
)
def quality_gate(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    from pipeline.quality.gx_runner import build_data_docs, run_suite  # imports GX (slow): once per run

    settings = get_settings()
    selected = context.selected_asset_check_keys
    run_id = context.op_execution_context.run_id
    docs_dir = settings.data_docs_dir / run_id  # the offline report (index.html), GX Data Docs in gx/
    docs_index = docs_dir / "index.html"
    sections, other_checks = [], []
    previous = settings.open_data_dir / "latest" / "datapackage.json"
    ran_gx = False
    reuse_on, off_reason = reuse.reuse_enabled(gate_reuse(), context.run.tags)

    def validate(relation: str, suite: dict):
        nonlocal ran_gx
        ran_gx = True
        return run_suite(con, relation, suite, docs_dir=docs_dir / GX_SUBDIR, run_id=run_id, build_docs=False)

    with warehouse.connect(context.log) as con:
        gated = [t for t in SUITES if dg.AssetCheckKey(_key(t), GX_CHECK) in selected]
        for outcome in run_gate(
            con,
            {t: load_suite_dict(SUITES[t]) for t in gated},
            run_id,
            validate=validate,
            reuse_on=reuse_on,
            off_reason=off_reason,
            log=context.log.info,
        ):
            reused_from = (
                f"{outcome.reused.validated_run_id} ({outcome.reused.validated_at:%Y-%m-%d %H:%M:%S %Z})"
                if outcome.reused
                else ""
            )
            sections.append(suite_section(outcome.table, outcome.result, outcome.sql_outcomes, reused_from))
            yield _gx_result(
                outcome.table, outcome.result, outcome.sql_outcomes, docs_index, outcome.metadata()
            )
        wanted = [t for t in PUBLISHED if dg.AssetCheckKey(_key(t), ROWS_CHECK) in selected]
        counts = {t: int(con.execute(f"select count(*) from marts.{t}").fetchone()[0]) for t in wanted}
        if wanted:
            outcome = check_row_count_vs_previous_release(
                counts, previous if previous.exists() else None, max_drop=0.2
            )
            previous_counts = outcome.metadata.get("previous_counts") or {}
            for table in wanted:
                prev = previous_counts.get(table)
                drops = (
                    [{"table": table, "previous_rows": prev, "current_rows": counts[table]}]
                    if prev and counts[table] < prev * (1 - 0.2)
                    else []
                )
                other_checks.append(
                    {
                        "table": table,
                        "check": ROWS_CHECK,
                        "severity": "warn",
                        "passed": not drops,
                        "details": f"{counts[table]} rows, previous release {prev if prev else '-'}",
                    }
                )
                yield dg.AssetCheckResult(
                    asset_key=_key(table),
                    check_name=ROWS_CHECK,
                    passed=not drops,
                    severity=dg.AssetCheckSeverity.WARN,
                    metadata={
                        "rows": counts[table],
                        "previous_release": str(previous.resolve()) if previous.exists() else "",
                        "details": md_table(drops),
                    },
                )
    if ran_gx:
        build_data_docs(docs_dir / GX_SUBDIR)
    if sections or other_checks:
        gx_index = f"{GX_SUBDIR}/index.html" if ran_gx else None
        write_report(docs_dir, run_id, sections, other_checks, gx_index=gx_index)
        pruned = prune_reports(settings.data_docs_dir, settings.keep_runs, current=run_id)
        context.log.info(
            f"Báo cáo chất lượng / Quality report: {docs_index}"
            + (f" ({len(pruned)} older report(s) pruned, keeping {settings.keep_runs})" if pruned else "")
        )


defs = dg.Definitions(asset_checks=[quality_gate])
