"""The ingest's warehouse tables: schemas ``raw`` (rows as landed, with their file and row) and ``audit``
(files, paths, stat cache, quarantine), and the one way rows are inserted."""

from __future__ import annotations

import duckdb
import pandas as pd

_META = "_file_sha256 varchar, _source_file varchar, _source_row integer"

DDL: dict[str, str] = {
    "raw.submission_values": f"""unit_code varchar, period_code varchar, submitted_at timestamp,
        hamlet_code varchar, indicator_code varchar, value double, numerator double, denominator double,
        note varchar, {_META}""",
    "raw.submission_tasks": f"""unit_code varchar, period_code varchar, submitted_at timestamp,
        task_code varchar, task_status varchar, percent_done double, note varchar, {_META}""",
    "raw.submissions": f"""submission_id varchar, unit_code varchar, period_code varchar,
        submitted_at timestamp, arrival_seq bigint, rows_loaded bigint, rows_quarantined bigint,
        replace_all boolean, {_META}""",
    "raw.survey_answers": f"""response_id varchar, submitted_at timestamp, commune_code varchar,
        hamlet_code varchar, period_code varchar, form_code varchar, question_code varchar,
        satisfied boolean, respondent_hash varchar, respondent_name_hash varchar,
        respondent_name_fold_hash varchar, {_META}""",
    "raw.survey_reasons": f"response_id varchar, question_code varchar, reason_text varchar, {_META}",
    "raw.ocop_products": f"""product_id varchar, product_name varchar, group_code integer, subgroup varchar,
        producer_name varchar, producer_type varchar, hamlet_code varchar, commune_code varchar,
        score double, stars integer, rating_level varchar, certificate_no varchar, issued_on date,
        expires_on date, material_area_code varchar, traceability_url varchar, status varchar, {_META}""",
    "raw.hamlets": f"""hamlet_key integer, hamlet_code varchar, commune_code varchar, name varchar,
        hamlet_type varchar, valid_from date, valid_to date, {_META}""",
    "raw.hamlet_population": f"hamlet_code varchar, year integer, households integer, population integer, {_META}",
    "raw.hamlet_crosswalk": f"""predecessor_code varchar, successor_code varchar, change_type varchar,
        effective_date date, population_share double, {_META}""",
    "raw.reporting_units": f"""unit_code varchar, commune_code varchar, unit_type varchar, abbr varchar,
        name_vi varchar, name_en varchar, valid_from date, valid_to date, reports_for_hamlets varchar, {_META}""",
    # geometry_geojson: a GeoJSON geometry object in WGS84 lon/lat, 6 decimals (pipeline.ingest.sources.reference.boundaries)
    "raw.hamlet_boundaries": f"""hamlet_code varchar, valid_from date, valid_to date, geometry_geojson varchar,
        geometry_type varchar, centroid_lon double, centroid_lat double, area_km2 double, source_crs varchar,
        is_synthetic boolean, feature_index integer, {_META}""",
    # the commune report packages a province-level instance ingests (pipeline.exchange.federation): the
    # history of every package received, the rows of mart_commune_indicator of the packages in use (the
    # province roll-up's input; the other package tables are created when a package is loaded) and the
    # instance's level; created at every level so the dbt graph is the same at level commune (empty)
    "raw.commune_packages": """path varchar, file_sha256 varchar, package_sha256 varchar, commune_code varchar,
        folder_commune_code varchar, province_code varchar, release_id varchar, sent_at varchar,
        sent_at_local timestamp, periods varchar[], received_at timestamp, status varchar, in_use boolean,
        rows_loaded bigint, reason_code varchar, reason_vi varchar, reason_en varchar,
        primary key (path, file_sha256)""",
    "raw.commune_pkg_mart_commune_indicator": """commune_indicator_key varchar, commune_code varchar,
        commune_name varchar, period_code varchar, period_kind varchar, year integer, period_label_vi varchar,
        period_label_en varchar, indicator_code varchar, indicator_name_vi varchar, indicator_name_en varchar,
        value_type varchar, aggregation varchar, value_origin varchar, value double, numerator double,
        denominator double, hamlets_reporting integer, hamlets_meeting integer, hamlets_existing integer,
        threshold double, met_threshold boolean, value_source varchar, last_submitted_at timestamp,
        _package_sha256 varchar, _package_commune_code varchar, _source_file varchar""",
    "raw.federation_settings": "level varchar, home_province_code varchar",
    "audit.ingest_files": """file_sha256 varchar primary key, path varchar, bytes bigint, source varchar,
        encoding varchar, rows_read bigint, rows_loaded bigint, rows_quarantined bigint, status varchar,
        reason varchar, ingested_at timestamp""",
    "audit.file_paths": """path varchar, file_sha256 varchar, first_seen timestamp, last_seen timestamp,
        state varchar, primary key (path, file_sha256)""",
    "audit.file_stats": """path varchar primary key, file_sha256 varchar, bytes bigint, mtime_ns bigint,
        ctime_ns bigint, inode bigint, recorded_at timestamp""",
    "audit.quarantine": """file_sha256 varchar, source_file varchar, source varchar, row_number integer,
        column_name varchar, raw_value varchar, reason_code varchar, message_vi varchar, message_en varchar,
        quarantined_at timestamp""",
    # free text masked at ingest (pipeline.ingest.masking): per file x table x column x kind
    "audit.pii_masked": """file_sha256 varchar, table_name varchar, column_name varchar, kind varchar,
        cells bigint, replacements bigint""",
}


#: Columns added to a table after its first release: a warehouse created before gets them (null) at the
#: next start, so ``insert ... by name`` keeps working without a rebuild.
ADDED_COLUMNS: dict[str, dict[str, str]] = {
    "raw.submissions": {"replace_all": "boolean"},
    "raw.reporting_units": {"reports_for_hamlets": "varchar"},
    # older rows keep null: their NFC name hash still holds
    "raw.survey_answers": {"respondent_name_fold_hash": "varchar"},
}

#: Tables that cache what can be recomputed (not data): left out when two ingests are compared.
CACHE_TABLES = frozenset({"audit.file_stats"})


def ensure_warehouse_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create schemas ``raw`` and ``audit`` and every table of the contract (idempotent)."""
    con.execute("create schema if not exists raw")
    con.execute("create schema if not exists audit")
    for name, cols in DDL.items():
        con.execute(f"create table if not exists {name} ({cols})")
    for name, columns in ADDED_COLUMNS.items():
        for column, type_ in columns.items():
            con.execute(f"alter table {name} add column if not exists {column} {type_}")


def insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    """Insert a DataFrame by column name (missing columns are null)."""
    if frame is None or frame.empty:
        return
    view = "_ingest_" + table.replace(".", "_")
    con.register(view, frame)
    try:
        con.execute(f"insert into {table} by name select * from {view}")
    finally:
        con.unregister(view)
