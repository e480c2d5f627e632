"""datapackage.json of a real release (the session's pipeline build, ``Build.release``, untouched copy):
Frictionless validates it with every foreign key checked, every dbt relationships test between published
models is a declared foreign key, titles are complete, timestamps are Asia/Ho_Chi_Minh instants in Parquet
(pyarrow, pandas, DuckDB) and in the CSV copies."""

from __future__ import annotations

import json
import re
import shutil
from datetime import timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
TZ = "Asia/Ho_Chi_Minh"
_REF = re.compile(r"""ref\(\s*['"]([^'"]+)['"]\s*\)""")


@pytest.fixture(scope="module")
def release(built_release) -> Path:
    return built_release


@pytest.fixture(scope="module")
def package(release) -> dict:
    return json.loads((release / "datapackage.json").read_text(encoding="utf-8"))


def _files(release: Path, res: dict) -> list[str]:
    return [str(release / p) for p in (res["path"] if isinstance(res["path"], list) else [res["path"]])]


def _yml_models() -> dict[str, dict]:
    """Every model of dbt_project/models/**/*.yml as written (not through the manifest)."""
    out = {}
    for path in sorted((REPO / "dbt_project" / "models").rglob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for model in doc.get("models") or []:
            out[model["name"]] = model
    return out


def _yml_relationships(models: dict[str, dict]) -> set[tuple[str, tuple[str, ...], str, tuple[str, ...]]]:
    """(child, columns, parent, parent columns) of every relationships test in the .yml files."""
    found = set()
    for name, model in models.items():
        tests = [(None, t) for t in model.get("data_tests") or []]
        tests += [(c["name"], t) for c in model.get("columns") or [] for t in c.get("data_tests") or []]
        for column, test in tests:
            if not isinstance(test, dict):
                continue
            if "relationships_set" in test:  # one test per model, one entry per foreign key
                for fk in (test["relationships_set"].get("arguments") or {})["foreign_keys"]:
                    found.add((name, (fk["column"],), _REF.search(fk["to"]).group(1), (fk["field"],)))
                continue
            if "relationships" not in test:
                continue
            body = test["relationships"] or {}
            args = {**body, **(body.get("arguments") or {})}
            cols = args.get("column_names") or [args.get("column_name") or column]
            fields = args.get("fields") or [args["field"]]
            found.add((name, tuple(cols), _REF.search(args["to"]).group(1), tuple(fields)))
    return found


def test_frictionless_validates_the_release_with_its_foreign_keys(release, package):
    from pipeline.publish.datapackage import validate_package

    assert validate_package(release) == []
    declared = sum(len(r["schema"].get("foreignKeys", [])) for r in package["resources"])
    with_fk = [r["name"] for r in package["resources"] if r["schema"].get("foreignKeys")]
    assert declared >= 35 and len(with_fk) >= 15, (declared, with_fk)


def test_frictionless_catches_a_broken_foreign_key(release, package, tmp_path):
    """The declared keys are checked on the data: a period removed from dim_period fails the facts."""
    from pipeline.publish.datapackage import validate_package

    copy = tmp_path / "release"
    shutil.copytree(release, copy, ignore=shutil.ignore_patterns("site"))
    progress = next(r for r in package["resources"] if r["name"] == "fact_task_progress")
    used = pq.read_table(_files(release, progress)[0], columns=["period_code"])["period_code"][0].as_py()
    dim = copy / "data" / "dim_period.parquet"
    table = pq.read_table(dim)
    kept = table.filter(pc.not_equal(table["period_code"], used))
    assert kept.num_rows == table.num_rows - 1
    pq.write_table(kept, dim)
    errors = validate_package(copy)
    assert any(
        e.startswith("fact_task_progress: foreign-key") and f'"{used}"' in e and "dim_period" in e
        for e in errors
    ), errors[:5]


def test_every_dbt_relationships_test_between_published_models_is_a_foreign_key(package):
    from pipeline.publish.assets import PUBLISHED

    published = set(PUBLISHED)
    expected = {
        rel for rel in _yml_relationships(_yml_models()) if rel[0] in published and rel[2] in published
    }
    declared = {
        (r["name"], tuple(fk["fields"]), fk["reference"]["resource"], tuple(fk["reference"]["fields"]))
        for r in package["resources"]
        for fk in r["schema"].get("foreignKeys", [])
    }
    assert expected, "no relationships test found in the .yml files"
    assert expected - declared == set()
    assert declared - expected == set()  # nothing declared that dbt does not test
    assert any(parent == "dim_hamlet" for _, _, parent, _ in declared)
    assert {child for child, *_ in declared} >= {
        "mart_hamlet_indicator",
        "mart_commune_indicator",
        "mart_province_indicator",
        "mart_plan_targets",
        "mart_reporting_compliance",
        "mart_satisfaction",
        "mart_ocop_portfolio",
    }


def test_titles_are_complete_and_bilingual(package):
    models = _yml_models()
    for res in package["resources"]:
        model = models[res["name"]]
        meta = (model.get("config") or {}).get("meta") or {}
        vi, en = meta["title_vi"], meta["title_en"]
        assert res["title"] == f"{vi} / {en}", res["name"]
        assert (res["ntm:title_vi"], res["ntm:title_en"]) == (vi, en)
        for part in (vi, en):
            # ends on a whole word or a closing parenthesis, parentheses balanced: not cut mid-word
            assert re.search(r"[\w)]$", part) and part.count("(") == part.count(")"), (res["name"], part)
        # the full description follows, Vietnamese first, nothing dropped
        desc = " ".join(model["description"].split())
        full_vi, full_en = desc.split(" / ", 1)
        assert res["description"] == f"{full_vi.strip()}\n\n{full_en.strip()}", res["name"]
    by_name = {r["name"]: r for r in package["resources"]}
    assert (
        by_name["dim_plan_task"]["title"]
        == "Nhiệm vụ của kế hoạch (phụ lục I.1 - V.2) / Plan tasks (appendix I.1 - V.2)"
    )
    assert "expiring within 6 months" in by_name["mart_ocop_portfolio"]["description"]


def test_every_published_timestamp_is_vietnam_time_with_its_zone(release, package, pipeline_build):
    stamps = [(r, f) for r in package["resources"] for f in r["schema"]["fields"] if f["type"] == "datetime"]
    names = {(r["name"], f["name"]) for r, f in stamps}
    assert {("fact_indicator_value", "submitted_at"), ("fact_task_progress", "submitted_at")} <= names
    for res, field in stamps:
        assert field["ntm:timezone"] == TZ and field["format"] == "default"
        assert "Asia/Ho_Chi_Minh" in field["description"] and "+07:00" in field["description"]
        for f in _files(release, res):
            assert pq.read_schema(f).field(field["name"]).type == pa.timestamp("us", TZ), (res["name"], f)
    readme = (release / "README.md").read_text(encoding="utf-8")
    assert "## Thời gian / Times" in readme and "`fact_indicator_value.submitted_at`" in readme

    # the same instants in pyarrow, pandas and DuckDB, and the wall-clock time the warehouse holds
    fact = next(r for r in package["resources"] if r["name"] == "fact_indicator_value")
    files = _files(release, fact)
    arrow = pq.read_table(files, columns=["indicator_value_key", "submitted_at"]).to_pylist()
    arrow = {r["indicator_value_key"]: r["submitted_at"] for r in arrow if r["submitted_at"] is not None}
    assert arrow
    sample = next(iter(arrow.values()))
    assert str(sample.tzinfo) == TZ and sample.utcoffset() == timedelta(hours=7)
    assert sample.isoformat().endswith("+07:00")

    frame = pd.read_parquet(files[0], columns=["indicator_value_key", "submitted_at"])
    assert str(frame["submitted_at"].dtype).endswith(f", {TZ}]")

    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")  # not Vietnam: the instant must not depend on the reader's zone
    rows = con.execute(
        "select indicator_value_key, submitted_at, typeof(submitted_at) from read_parquet(?) "
        "where submitted_at is not null",
        [files],
    ).fetchall()
    assert {t for *_, t in rows} == {"TIMESTAMP WITH TIME ZONE"}
    assert {k: v for k, v, _ in rows} == arrow  # aware datetimes compare as instants
    assert all(str(v.tzinfo) == "UTC" for _, v, _ in rows[:5])
    for _, df_row in frame.dropna().head(50).iterrows():
        assert df_row["submitted_at"].to_pydatetime() == arrow[df_row["indicator_value_key"]]

    warehouse = duckdb.connect(pipeline_build.env["NTM_WAREHOUSE"], read_only=True)
    try:
        naive = dict(
            warehouse.execute(
                "select indicator_value_key, submitted_at from marts.fact_indicator_value "
                "where submitted_at is not null"
            ).fetchall()
        )
    finally:
        warehouse.close()
    assert {k: v.replace(tzinfo=None) for k, v in arrow.items()} == naive  # Vietnam wall-clock time kept


def test_csv_copies_carry_the_offset(release, package):
    fact = next(r for r in package["resources"] if r["name"] == "fact_indicator_value")
    csv_path = release / "site" / "downloads" / "fact_indicator_value.csv"
    frame = pd.read_csv(csv_path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    stamps = [s for s in frame["submitted_at"] if s]
    assert stamps and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+07:00", s) for s in stamps)
    parsed = dict(zip(frame["indicator_value_key"], frame["submitted_at"], strict=True))
    arrow = pq.read_table(_files(release, fact), columns=["indicator_value_key", "submitted_at"]).to_pylist()
    for r in arrow[:200]:
        if r["submitted_at"] is not None:
            assert pd.Timestamp(parsed[r["indicator_value_key"]]) == pd.Timestamp(r["submitted_at"])


def test_the_site_reads_timestamps_as_vietnam_wall_clock_time(release, pipeline_build):
    """pipeline.site.release_data sets DuckDB's zone: the pages show the time the warehouse holds."""
    from pipeline.site.release_data import open_release

    rel = open_release(release)
    try:
        rows = rel.rows(
            "select compliance_key, first_submitted_at, cast(first_submitted_at as date) as d "
            "from mart_reporting_compliance where first_submitted_at is not null"
        )
    finally:
        rel.close()
    assert rows
    warehouse = duckdb.connect(pipeline_build.env["NTM_WAREHOUSE"], read_only=True)
    try:
        naive = dict(
            warehouse.execute(
                "select compliance_key, first_submitted_at from marts.mart_reporting_compliance "
                "where first_submitted_at is not null"
            ).fetchall()
        )
    finally:
        warehouse.close()
    for r in rows:
        assert r["first_submitted_at"].utcoffset() == timedelta(hours=7)
        assert r["first_submitted_at"].replace(tzinfo=None) == naive[r["compliance_key"]]
        assert r["d"] == naive[r["compliance_key"]].date()
