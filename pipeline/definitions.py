"""The Dagster code location: only assembles what each module defines.

raw file → ingest asset (reference, submissions, surveys, ocop) → dbt staging → dbt marts
→ quality checks (GX suites, SQL checks, dbt tests) → open-data release (publish)
"""

import dagster as dg

from pipeline.jobs import defs as jobs_defs
from pipeline.ocop.assets import defs as ocop_defs
from pipeline.publish.assets import defs as publish_defs
from pipeline.quality.checks import defs as quality_defs
from pipeline.reference.assets import defs as reference_defs
from pipeline.resources import WarehouseResource, dbt_resource
from pipeline.submissions.assets import defs as submissions_defs
from pipeline.surveys.assets import defs as surveys_defs
from pipeline.transform.assets import defs as transform_defs

defs = dg.Definitions.merge(
    reference_defs,
    submissions_defs,
    surveys_defs,
    ocop_defs,
    transform_defs,
    quality_defs,
    publish_defs,
    jobs_defs,
    dg.Definitions(
        resources={"warehouse": WarehouseResource(), "dbt": dbt_resource()},
        # One process runs every step of a run, one after the other: DuckDB has one writer per file.
        executor=dg.in_process_executor,
    ),
)
