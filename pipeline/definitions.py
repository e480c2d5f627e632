"""The Dagster code location: only assembles what each module defines.

raw file → ingest asset (reference, submissions, surveys, ocop, dhis2, commune packages) → dbt staging → dbt marts
→ quality checks (GX suites, SQL checks, dbt tests) → open-data release (publish)

Only one Definitions object lives at module scope (``defs``): the Dagster CLI and workspace loaders
(`dagster job execute -m pipeline.definitions`, `dagster dev -w workspace.yaml`) refuse a module with several.
Why this explicit assembly and not `dg` autoloading a ``defs/`` folder: README, Layout.
"""

import dagster as dg

import pipeline.exchange.dhis2_assets as dhis2
import pipeline.exchange.federation_assets as federation
import pipeline.ingest.sources.ocop.assets as ocop
import pipeline.ingest.sources.reference.assets as reference
import pipeline.ingest.sources.submissions.assets as submissions
import pipeline.ingest.sources.surveys.assets as surveys
import pipeline.jobs as jobs
import pipeline.publish.assets as publish
import pipeline.publish.reader_snapshot as reader_snapshot
import pipeline.quality.checks as quality
import pipeline.sensors as sensors
import pipeline.transform.assets as transform
from pipeline.resources import WarehouseResource, dbt_resource

defs = dg.Definitions.merge(
    reference.defs,
    submissions.defs,
    surveys.defs,
    ocop.defs,
    dhis2.defs,
    federation.defs,
    transform.defs,
    quality.defs,
    publish.defs,
    reader_snapshot.defs,
    jobs.defs,
    sensors.defs,
    dg.Definitions(
        resources={"warehouse": WarehouseResource(), "dbt": dbt_resource()},
        # One process runs every step of a run, one after the other: DuckDB has one writer per file.
        executor=dg.in_process_executor,
    ),
)
