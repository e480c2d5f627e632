"""`exchange verify` checks a Parquet resource against its CSV twin instead of by Frictionless
(pipeline.exchange.verify.check_twin): the Parquet file's columns are exactly the descriptor's fields in order,
of Arrow types that fit the declared types, and its rows equal the twin's cell for cell; Frictionless validates
the CSV resources and any Parquet resource without a twin.

On a tiny package written here by the package's own writers (no pipeline run: a second each), every file
re-sealed in the descriptor after a change (hash, bytes), so only the twin check (or Frictionless) can catch
it; and once on the session build's real package (tests/conftest.py ``built_release``)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.exchange import package as ex
from pipeline.exchange import verify as vf
from pipeline.lib.hashing import sha256_file
from pipeline.publish.datapackage import resource_schema

TZ = "Asia/Ho_Chi_Minh"


def _periods() -> pa.Table:
    return pa.table({
        "period_code": ["2026-Q1", "2026-Q2"],
        "start_date": [dt.date(2026, 1, 1), dt.date(2026, 4, 1)],
        "sort_order": pa.array([1, 2], pa.int32()),
    })  # fmt: skip


def _values() -> pa.Table:
    t0 = dt.datetime(2026, 3, 20, 1, 15, tzinfo=dt.UTC)
    return pa.table({
        "commune_code": ["18484", "18484", "18484"],
        "period_code": ["2026-Q1", "2026-Q2", "2026-Q1"],
        "indicator_code": ["A", "A", "B"],
        "value": [0.1 + 0.2, None, 1e-300],
        "is_met": [True, None, False],
        "submitted_at": pa.array(
            [t0, t0 + dt.timedelta(microseconds=123456), None], pa.timestamp("us", tz=TZ)
        ),
        "note": ["", None, 'có "dấu", phẩy'],
    })  # fmt: skip


SPECS = {
    "dim_period": SimpleNamespace(fields={}, primary_key=("period_code",), foreign_keys=()),
    "fact_value": SimpleNamespace(
        fields={},
        primary_key=("commune_code", "period_code", "indicator_code"),
        foreign_keys=((("period_code",), "dim_period", ("period_code",)),),
    ),
}


def _reseal(pkg: Path) -> None:
    """Every resource's hash and sizes as its file now is (what a careful forger does)."""
    dp = json.loads((pkg / "datapackage.json").read_text(encoding="utf-8"))
    for r in dp["resources"]:
        p = pkg / r["path"]
        r["hash"] = f"sha256:{sha256_file(p)}"
        r["ntm:bytes"] = p.stat().st_size
        if "bytes" in r:
            r["bytes"] = p.stat().st_size
    (pkg / "datapackage.json").write_text(json.dumps(dp, ensure_ascii=False), encoding="utf-8")


def _make_package(root: Path, tables: dict[str, pa.Table] | None = None) -> Path:
    """A package of commune 18484 with dim_period and fact_value, each as Parquet and its CSV twin, written
    and described the way pipeline.exchange.package writes them."""
    tables = tables or {"dim_period": _periods(), "fact_value": _values()}
    pkg = root / "report_18484_test"
    parquet_res, csv_res = [], []
    for name, table in tables.items():
        schema = resource_schema(table.schema, SPECS[name])
        ex.write_parquet(table, pkg / "data" / f"{name}.parquet")
        ex.write_csv(table, pkg / "data" / f"{name}.csv")
        parquet_res.append({"name": name, "path": f"data/{name}.parquet", "format": "parquet",
                            "schema": ex.resource_schema(schema, "", set(tables))})  # fmt: skip
        csv_res.append({"name": name + ex.CSV_SUFFIX, "path": f"data/{name}.csv", "format": "csv",
                        "encoding": "utf-8", "schema": ex.resource_schema(schema, ex.CSV_SUFFIX, set(tables))})  # fmt: skip
    dp = {
        "profile": "data-package",
        "name": "ntm-report-18484",
        "sender": {
            "format": ex.FORMAT_NAME,
            "format_version": ex.FORMAT_VERSION,
            "commune_code": "18484",
            "province_code": "42",
            "commune_name": "Xã Đồng Lộc",
        },  # fmt: skip
        "resources": parquet_res + csv_res,
    }
    (pkg / "datapackage.json").write_text(json.dumps(dp, ensure_ascii=False), encoding="utf-8")
    _reseal(pkg)
    return pkg


def _rewrite_parquet(pkg: Path, name: str, change) -> None:
    path = pkg / "data" / f"{name}.parquet"
    ex.write_parquet(change(pq.read_table(path)), path)
    _reseal(pkg)


def _set(table: pa.Table, column: str, row: int, value) -> pa.Table:
    i = table.schema.get_field_index(column)
    values = table[column].to_pylist()
    values[row] = value
    return table.set_column(i, table.schema.field(i), pa.array(values, table.schema.field(i).type))


def test_the_tiny_package_is_valid_and_its_parquet_skips_frictionless(tmp_path: Path, monkeypatch):
    pkg = _make_package(tmp_path)
    seen: list[set] = []
    real = vf.validate_frictionless
    monkeypatch.setattr(vf, "validate_frictionless", lambda *a, **k: seen.append(k["names"]) or real(*a, **k))
    assert vf.verify_package(pkg).problems == []
    assert vf.find_twins(vf.verify_package(pkg).descriptor) == {
        "dim_period": "dim_period-csv",
        "fact_value": "fact_value-csv",
    }
    assert seen[0] == {"dim_period-csv", "fact_value-csv"}


@pytest.mark.parametrize(
    ("column", "row", "value", "shown"),
    [
        ("value", 0, 0.3, "Parquet 0.3 ≠ CSV 0.30000000000000004"),  # the last bit of a double
        ("value", 1, 0.0, "Parquet 0.0 ≠ CSV None"),  # a value where the CSV has NULL
        ("is_met", 1, False, "Parquet False ≠ CSV None"),
        (
            "submitted_at",
            1,
            dt.datetime(2026, 3, 20, 1, 15, 0, 123457, tzinfo=dt.UTC),
            "08:15:00.123457+07:00",
        ),
        ("note", 0, None, "Parquet None ≠ CSV ''"),  # NULL is not the empty string
        ("note", 2, 'có "dấu",  phẩy', "Parquet 'có \"dấu\",  phẩy' ≠ CSV 'có \"dấu\", phẩy'"),
    ],
    ids=[
        "double-last-bit",
        "value-vs-null",
        "boolean-vs-null",
        "timestamp-1us",
        "null-vs-empty-string",
        "string-space",
    ],
)
def test_a_parquet_value_that_differs_from_its_csv_twin_is_refused(tmp_path, column, row, value, shown):
    pkg = _make_package(tmp_path)
    _rewrite_parquet(pkg, "fact_value", lambda t: _set(t, column, row, value))
    problems = vf.verify_package(pkg).problems
    key = ", ".join(f"{k}={_values()[k][row].as_py()}" for k in SPECS["fact_value"].primary_key)
    assert len(problems) == 1, problems
    assert problems[0].startswith(
        f"fact_value: cột {column}, dòng {row + 1} ({key}), dòng {row + 2} của tệp CSV: Parquet "
    ), problems
    assert (
        f"/ column {column}, row {row + 1} ({key}), line {row + 2} of the CSV file: Parquet " in problems[0]
    )
    assert shown in problems[0] and "(1 row(s) differ from the CSV twin fact_value-csv)" in problems[0]


def test_a_missing_or_extra_parquet_row_is_refused(tmp_path: Path):
    pkg = _make_package(tmp_path)
    _rewrite_parquet(pkg, "fact_value", lambda t: t.slice(0, 2))
    assert vf.verify_package(pkg).problems == [
        "fact_value: 2 dòng, bản CSV fact_value-csv có 3 / 2 rows, its CSV twin fact_value-csv has 3"
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda t: t.set_column(6, "note", t["note"].cast(pa.large_string())).set_column(
                1,
                "period_code",
                pa.array(["2026-Q1", "2026-Q2", "2026-Q1"], pa.dictionary(pa.int8(), pa.string())),
            ),
            None,  # large strings and a dictionary of strings are strings: valid
        ),
        (
            lambda t: t.set_column(3, "value", pa.array(["0.30000000000000004", None, "1e-300"])),
            "fact_value: cột value có kiểu Arrow string, không hợp với kiểu khai báo number / column value has "
            "Arrow type string, not compatible with the declared type number",
        ),
        (
            lambda t: t.set_column(4, "is_met", pa.array([1, None, 0], pa.int8())),
            "fact_value: cột is_met có kiểu Arrow int8, không hợp với kiểu khai báo boolean",
        ),
        (
            lambda t: t.set_column(5, "submitted_at", t["submitted_at"].cast(pa.timestamp("us", tz="UTC"))),
            "fact_value: cột submitted_at có kiểu Arrow timestamp[us, tz=UTC], không hợp với kiểu khai báo "
            "datetime, ntm:timezone Asia/Ho_Chi_Minh",  # the same instants, another zone than declared
        ),
        (
            lambda t: t.drop_columns(["is_met"]),
            "fact_value: cột is_met được khai báo nhưng không có trong tệp Parquet / column is_met is declared "
            "but not in the Parquet file",
        ),
        (
            lambda t: t.append_column("extra", pa.array([1, 2, 3])),
            "fact_value: cột extra có trong tệp Parquet nhưng không được khai báo / column extra is in the "
            "Parquet file but not declared",
        ),
        (
            lambda t: t.select(
                ["commune_code", "period_code", "indicator_code", "is_met", "value", "submitted_at", "note"]
            ),  # fmt: skip
            "fact_value: thứ tự cột khác khai báo (cột thứ 4 là is_met, khai báo value) / columns out of the "
            "declared order (column 4 is is_met, declared value)",
        ),
    ],
    ids=[
        "large-and-dictionary-strings-ok",
        "number-as-string",
        "boolean-as-int8",
        "datetime-in-UTC",
        "missing-column",
        "extra-column",
        "reordered-columns",
    ],
)
def test_a_parquet_with_the_wrong_columns_or_types_is_refused(tmp_path: Path, change, expected):
    pkg = _make_package(tmp_path)
    _rewrite_parquet(pkg, "fact_value", change)
    problems = vf.verify_package(pkg).problems
    if expected is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0].startswith(expected), problems


def _drop_twin(pkg: Path, name: str) -> None:
    dp = json.loads((pkg / "datapackage.json").read_text(encoding="utf-8"))
    dp["resources"] = [r for r in dp["resources"] if r["name"] != name + ex.CSV_SUFFIX]
    (pkg / "data" / f"{name}.csv").unlink()
    (pkg / "datapackage.json").write_text(json.dumps(dp, ensure_ascii=False), encoding="utf-8")


def test_a_parquet_without_a_csv_twin_still_goes_through_frictionless(tmp_path: Path):
    pkg = _make_package(tmp_path)
    _drop_twin(pkg, "fact_value")
    verdict = vf.verify_package(pkg)
    assert verdict.problems == [] and vf.find_twins(verdict.descriptor) == {"dim_period": "dim_period-csv"}
    # a duplicate primary key and a period the package does not hold: Frictionless names both; the foreign key
    # to dim_period (a Parquet resource checked against its twin) is checked against dim_period-csv
    _rewrite_parquet(
        pkg, "fact_value", lambda t: _set(_set(t, "period_code", 2, "2026-Q2"), "indicator_code", 2, "A")
    )
    _rewrite_parquet(pkg, "fact_value", lambda t: _set(t, "period_code", 0, "2099-Q9"))
    problems = vf.verify_package(pkg).problems
    assert any(p.startswith("Frictionless: fact_value: primary-key:") for p in problems), problems
    assert any(p.startswith("Frictionless: fact_value: foreign-key:") and "2099-Q9" in p for p in problems), (
        problems
    )


def test_a_twin_declaring_another_schema_is_no_twin(tmp_path: Path):
    """A CSV resource named like the twin but declaring other fields proves nothing about the Parquet: the
    Parquet goes through Frictionless (and the changed value is not compared)."""
    pkg = _make_package(tmp_path)
    dp = json.loads((pkg / "datapackage.json").read_text(encoding="utf-8"))
    csv = next(r for r in dp["resources"] if r["name"] == "fact_value-csv")
    csv["schema"]["fields"][3]["type"] = "string"
    (pkg / "datapackage.json").write_text(json.dumps(dp, ensure_ascii=False), encoding="utf-8")
    assert vf.find_twins(dp) == {"dim_period": "dim_period-csv"}
    _rewrite_parquet(pkg, "fact_value", lambda t: _set(t, "period_code", 0, "2099-Q9"))
    problems = vf.verify_package(pkg).problems
    assert any(p.startswith("Frictionless: fact_value: foreign-key:") for p in problems), problems
    assert not any(p.startswith("Frictionless: fact_value-csv:") for p in problems), problems


def test_a_twin_check_never_opens_a_path_outside_the_package(tmp_path: Path):
    """A Parquet resource whose path leaves the package is refused as an invalid path and not read by the twin
    check (a changed file there goes unnoticed by it: it is never opened)."""
    pkg = _make_package(tmp_path)
    outside = tmp_path / "fact_value.parquet"
    ex.write_parquet(_set(_values(), "value", 0, 0.3), outside)
    dp = json.loads((pkg / "datapackage.json").read_text(encoding="utf-8"))
    next(r for r in dp["resources"] if r["name"] == "fact_value")["path"] = "../fact_value.parquet"
    (pkg / "datapackage.json").write_text(json.dumps(dp, ensure_ascii=False), encoding="utf-8")
    (pkg / "data" / "fact_value.parquet").unlink()
    problems = vf.verify_package(pkg).problems
    assert vf.find_twins(dp) == {"dim_period": "dim_period-csv"}
    assert (
        "fact_value: đường dẫn không hợp lệ '../fact_value.parquet' / invalid path '../fact_value.parquet'"
        in (problems)
    )
    assert not any(p.startswith("fact_value: cột") for p in problems), problems


def test_the_commune_check_never_opens_a_path_outside_the_package(tmp_path: Path):
    """A resource whose path leaves the package (relative with .., or absolute) is refused as an invalid path
    and the commune check does not read it: another commune's rows there are never looked at."""
    for i, rel in enumerate(
        ["../elsewhere/fact_value.parquet", str(tmp_path / "abs" / "fact_value.parquet")]
    ):
        pkg = _make_package(tmp_path / f"case{i}")
        outside = (pkg / rel).resolve()
        outside.parent.mkdir(parents=True, exist_ok=True)
        ex.write_parquet(_set(_values(), "commune_code", 0, "18481"), outside)
        dp = json.loads((pkg / "datapackage.json").read_text(encoding="utf-8"))
        next(r for r in dp["resources"] if r["name"] == "fact_value")["path"] = rel
        (pkg / "datapackage.json").write_text(json.dumps(dp, ensure_ascii=False), encoding="utf-8")
        problems = vf.verify_package(pkg).problems
        assert f"fact_value: đường dẫn không hợp lệ {rel!r} / invalid path {rel!r}" in problems, problems
        assert not any("18481" in p for p in problems), problems


def test_the_real_package_checks_every_parquet_against_its_twin(built_release: Path, tmp_path: Path):
    """The session build's package: every Parquet resource has its twin and verifies; a value changed in one
    Parquet file (re-sealed) is refused naming the resource, the column and the row."""
    up = built_release / ex.EXCHANGE_DIR / ex.UPWARD_DIR
    (zip_path,) = up.glob("*.zip")
    dp = vf.verify_package(zip_path).descriptor
    assert vf.verify_package(zip_path).problems == []
    assert vf.find_twins(dp) == {t.name: t.name + ex.CSV_SUFFIX for t in ex.TABLES}

    res = next(r for r in dp["resources"] if r["name"] == "mart_commune_indicator")
    (key,) = res["schema"]["primaryKey"]
    seen = {}

    def edit(pkg: Path) -> None:
        path = pkg / res["path"]
        t = pq.read_table(path)
        seen["at"] = f"{key}={t[key][5].as_py()}"
        ex.write_parquet(_set(t, "value", 5, (t["value"][5].as_py() or 0) + 1e-9), path)

    bad = ex.resign(zip_path, tmp_path / zip_path.name, edit=edit)
    problems = vf.verify_package(bad).problems
    assert len(problems) == 1, problems
    at = seen["at"]
    assert problems[0].startswith(
        f"mart_commune_indicator: cột value, dòng 6 ({at}), dòng 7 của tệp CSV: "
    ), problems
    assert f"/ column value, row 6 ({at}), line 7 of the CSV file: Parquet " in problems[0]
    assert "(1 row(s) differ from the CSV twin mart_commune_indicator-csv)" in problems[0]


def test_the_builder_refuses_a_csv_that_does_not_read_back_to_its_parquet(
    built_release: Path, tmp_path: Path, monkeypatch
):
    """The builder runs the twin check too: a CSV writer that changes a value (here a trailing space in one
    label) stops the build, naming the resource, the column and the row, before any package is sent."""
    release = tmp_path / "release"
    shutil.copytree(built_release, release, ignore=shutil.ignore_patterns("site", "exchange"))
    real_write_csv = ex.write_csv
    changed = {}

    def sloppy_write_csv(table: pa.Table, path: Path) -> None:
        if path.name == "dim_period.csv":
            changed["at"] = f"period_code={table['period_code'][0].as_py()}"
            table = _set(table, "label_en", 0, table["label_en"][0].as_py() + " ")
        real_write_csv(table, path)

    monkeypatch.setattr(ex, "write_csv", sloppy_write_csv)
    with pytest.raises(ex.PackageBuildError) as e:
        ex.build_package(release, tmp_path / "out")
    assert f"dim_period: cột label_en, dòng 1 ({changed['at']}), dòng 2 của tệp CSV" in str(e.value)
    assert f"/ column label_en, row 1 ({changed['at']}), line 2 of the CSV file" in str(e.value)
