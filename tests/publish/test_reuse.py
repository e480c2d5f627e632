"""Reuse of the previous release's unchanged Parquet files (pipeline/publish/reuse.py): when it happens, when
it does not, and that a release is the same bytes with and without it."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from pipeline import config
from pipeline.publish import reuse, validate_package, verify_release
from tests.publish import _synth

T1 = datetime(2026, 6, 20, 9, 0)
T2 = datetime(2026, 9, 20, 9, 0)
PER_RUN = {"build.json"}  # the publisher's record of what it reused: differs between the two ways by design


def execute(db: Path, sql: str) -> None:
    con = duckdb.connect(str(db))
    con.execute(sql)
    con.close()


def files_of(release: Path, table: str) -> list[Path]:
    dp = json.loads((release / "datapackage.json").read_text())
    (res,) = [r for r in dp["resources"] if r["name"] == table]
    return [release / f["path"] for f in res["ntm:files"]]


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def build_record(release: Path) -> dict:
    return json.loads((release / reuse.BUILD_FILE).read_text())


CHANGE_FACTS = "update marts.fact_indicator_value set value = 1 where period_code = '2026-Q3'"


def test_unchanged_tables_are_linked_and_recorded_a_changed_one_is_rewritten(warehouse, open_data):
    first = _synth.publish(warehouse, open_data, now=T1)
    assert set(first.reused.values()) == {None}  # nothing to reuse from
    before = snapshot(first.path)
    execute(warehouse, CHANGE_FACTS)
    second = _synth.publish(warehouse, open_data, now=T2)

    assert second.changed and second.previous_release_id == first.release_id
    assert second.reused == {
        "dim_hamlet": first.release_id,
        "fact_indicator_value": None,
        "fact_satisfaction": first.release_id,
    }
    record = build_record(second.path)
    assert record["release_id"] == second.release_id
    assert {n: t["reused_from"] for n, t in record["tables"].items()} == second.reused
    for table, linked in (("dim_hamlet", True), ("fact_satisfaction", True), ("fact_indicator_value", False)):
        for old, new in zip(files_of(first.path, table), files_of(second.path, table), strict=True):
            assert os.path.samefile(old, new) is linked, (table, old.name)
    # the size and sha256 of a linked file are carried into the new datapackage.json, and they are right
    assert verify_release(second.path) == []
    assert validate_package(second.path) == []
    # publishing (with links) wrote nothing into the previous release's files
    assert snapshot(first.path) == before
    assert verify_release(first.path) == []


def test_release_is_the_same_bytes_with_and_without_reuse(warehouse, tmp_path):
    with_reuse, without = tmp_path / "with", tmp_path / "without"
    _synth.publish(warehouse, with_reuse, now=T1)
    _synth.publish(warehouse, without, now=T1)
    execute(warehouse, CHANGE_FACTS)
    a = _synth.publish(warehouse, with_reuse, now=T2)
    b = _synth.publish(warehouse, without, now=T2, reuse_previous=False)

    assert a.release_id == b.release_id and a.content_sha256 == b.content_sha256
    assert any(a.reused.values()) and not any(b.reused.values())
    files_a, files_b = snapshot(a.path), snapshot(b.path)
    assert set(files_a) == set(files_b)
    differ = sorted(p for p in files_a if files_a[p] != files_b[p])
    assert differ == sorted(PER_RUN)
    assert build_record(a.path)["tables"].keys() == build_record(b.path)["tables"].keys()
    # the keys are the same either way: only reused_from differs
    assert {n: t["key"] for n, t in build_record(a.path)["tables"].items()} == {
        n: t["key"] for n, t in build_record(b.path)["tables"].items()
    }


def test_changed_writer_settings_or_code_rewrite_every_table(warehouse, open_data, monkeypatch):
    _synth.publish(warehouse, open_data, now=T1)
    execute(warehouse, CHANGE_FACTS)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        from pipeline.publish import publish_release

        other_groups = publish_release(
            con, _synth.specs(), open_data, partition_min_rows=50, row_group_rows=7, now=T2
        )
    finally:
        con.close()
    assert other_groups.changed and set(other_groups.reused.values()) == {None}

    # same settings as that release, but another version of the Parquet writer's code
    execute(warehouse, "update marts.fact_indicator_value set value = 2 where period_code = '2026-Q3'")
    monkeypatch.setattr(reuse, "PARQUET_CODE", "0" * 64)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        from pipeline.publish import publish_release

        new_code = publish_release(
            con, _synth.specs(), open_data, partition_min_rows=50, row_group_rows=7, now=T2
        )
    finally:
        con.close()
    assert new_code.changed and set(new_code.reused.values()) == {None}
    assert verify_release(new_code.path) == []


def test_a_changed_column_description_rewrites_that_table(warehouse, open_data, monkeypatch):
    _synth.publish(warehouse, open_data, now=T1)
    specs = _synth.specs()
    fields = {**specs[0].fields, "name": ("Tên thôn (mới)", "Hamlet name (new)")}
    from dataclasses import replace

    from pipeline.publish import publish_release

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        res = publish_release(
            con, [replace(specs[0], fields=fields), *specs[1:]], open_data, partition_min_rows=50, now=T2
        )
    finally:
        con.close()
    assert res.changed and res.reused["dim_hamlet"] is None
    assert res.reused["fact_satisfaction"] is not None


def test_a_tampered_previous_file_is_not_reused(warehouse, open_data):
    first = _synth.publish(warehouse, open_data, now=T1)
    (hamlets,) = files_of(first.path, "dim_hamlet")
    data = bytearray(hamlets.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other bytes: only the sha256 tells
    hamlets.write_bytes(bytes(data))
    execute(warehouse, CHANGE_FACTS)
    second = _synth.publish(warehouse, open_data, now=T2)
    assert second.reused["dim_hamlet"] is None
    assert second.reused["fact_satisfaction"] == first.release_id
    (new_hamlets,) = files_of(second.path, "dim_hamlet")
    assert not os.path.samefile(hamlets, new_hamlets)
    assert verify_release(second.path) == []


def test_a_release_without_a_build_record_offers_nothing(warehouse, open_data):
    first = _synth.publish(warehouse, open_data, now=T1)
    (first.path / reuse.BUILD_FILE).unlink()  # e.g. published before reuse existed
    execute(warehouse, CHANGE_FACTS)
    second = _synth.publish(warehouse, open_data, now=T2)
    assert set(second.reused.values()) == {None}


def test_the_release_integrity_check_passes_on_a_release_with_links(warehouse, open_data, monkeypatch):
    _synth.publish(warehouse, open_data, now=T1)
    execute(warehouse, CHANGE_FACTS)
    second = _synth.publish(warehouse, open_data, now=T2)
    assert any(second.reused.values())
    monkeypatch.setenv("NTM_OPEN_DATA_DIR", str(open_data))
    from pipeline.publish.checks import release_integrity

    result = release_integrity()
    assert result.passed, result.metadata["problems"]


@pytest.mark.parametrize(("value", "expected"), [("", True), ("1", True), ("0", False), ("off", False)])
def test_reuse_setting(value, expected, monkeypatch):
    monkeypatch.setenv("NTM_PUBLISH_REUSE", value)
    assert config.publish_reuse() is expected


# ---------------------------------------------------------------------------------------------- audits


def spy(monkeypatch, module, name: str, arg: int = 1) -> list[set[str]]:
    """Record the table names each call of ``module.name`` was given (its positional argument ``arg``)."""
    calls: list[set[str]] = []
    real = getattr(module, name)

    def wrapper(*a, **k):
        calls.append(set(a[arg]))
        return real(*a, **k)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def test_an_unchanged_table_takes_its_audits_a_changed_one_is_audited(warehouse, open_data, monkeypatch):
    from pipeline.publish import release

    _synth.publish(warehouse, open_data, now=T1)
    execute(warehouse, CHANGE_FACTS)
    scanned = spy(monkeypatch, release, "scan_pii")
    attacked = spy(monkeypatch, release, "audit_release_tables", arg=0)
    counted = spy(monkeypatch, release, "formula_cells")
    second = _synth.publish(warehouse, open_data, now=T2)

    assert scanned == [{"fact_indicator_value"}]
    assert attacked == [{"fact_indicator_value"}]  # (the attacker skips a table without survey columns)
    assert counted == [{"fact_indicator_value"}]
    record = build_record(second.path)
    # every audit of the new release is recorded, whether it ran or was taken: the next release can take them
    assert len(record["audits"]) == len(set(record["audits"])) >= 3 * 3 + 2  # pk, pii, attacker ×3 + 2 fk
    assert set(record["formula"]) == {"dim_hamlet", "fact_indicator_value", "fact_satisfaction"}


def test_audit_keys_are_the_same_with_and_without_reuse(warehouse, tmp_path):
    with_reuse, without = tmp_path / "with", tmp_path / "without"
    _synth.publish(warehouse, with_reuse, now=T1)
    _synth.publish(warehouse, without, now=T1)
    execute(warehouse, CHANGE_FACTS)
    a = _synth.publish(warehouse, with_reuse, now=T2)
    b = _synth.publish(warehouse, without, now=T2, reuse_previous=False)
    ra, rb = build_record(a.path), build_record(b.path)
    assert ra["audits"] == rb["audits"] and ra["formula"] == rb["formula"]


def test_a_new_name_blocks_an_unchanged_table(warehouse, open_data):
    """The scan's key holds the name index: a name added since the previous release is searched in every
    table, also those whose files did not change (here dim_hamlet, linked from the previous release)."""
    from pipeline.publish import PIIFoundError

    first = _synth.publish(warehouse, open_data, now=T1)
    execute(warehouse, CHANGE_FACTS)
    with pytest.raises(PIIFoundError) as e:
        _synth.publish(warehouse, open_data, now=T2, pii_denylist=["Trung Thượng"])
    assert {h.table for h in e.value.hits} == {"dim_hamlet"}
    assert (open_data / "latest").resolve() == first.path.resolve()


def test_a_changed_audit_code_or_threshold_audits_every_table_again(warehouse, open_data, monkeypatch):
    from pipeline.publish import audits, release

    _synth.publish(warehouse, open_data, now=T1)
    execute(warehouse, CHANGE_FACTS)
    monkeypatch.setattr(audits, "PII_CODE", "0" * 64)
    scanned = spy(monkeypatch, release, "scan_pii")
    counted = spy(monkeypatch, release, "formula_cells")
    attacked = spy(monkeypatch, release, "audit_release_tables", arg=0)
    _synth.publish(warehouse, open_data, now=T2, min_count=4)
    all_tables = {"dim_hamlet", "fact_indicator_value", "fact_satisfaction"}
    assert scanned == [all_tables] and counted == [all_tables]
    assert attacked == [all_tables]  # another min_count: the attacker runs on every table again


def test_a_changed_file_is_audited_though_its_table_passed_before(warehouse, open_data):
    """The record says which file bytes passed (their sha256 is in the key): the facts changed since, so
    they are scanned again and the phone number now in them blocks the release."""
    from pipeline.publish import PIIFoundError

    first = _synth.publish(warehouse, open_data, now=T1)
    execute(warehouse, "update marts.fact_indicator_value set indicator_code = 'CDS.01 0912 345 678' "
                       "where period_code = '2026-Q3' and indicator_code = 'CDS.01'")  # fmt: skip
    with pytest.raises(PIIFoundError) as e:
        _synth.publish(warehouse, open_data, now=T2)
    assert {h.table for h in e.value.hits} == {"fact_indicator_value"}
    assert (open_data / "latest").resolve() == first.path.resolve()
