from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import frictionless
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipeline.lib import faults
from pipeline.publish import (
    PIIFoundError,
    PublishLockedError,
    ReleaseIntegrityError,
    TableSpec,
    current_release,
    publish_release,
    validate_package,
    verify_release,
)
from pipeline.publish.release_dir import publish_lock
from tests import fault_hooks
from tests.publish import _synth

REPO = Path(__file__).resolve().parents[2]
FRICTIONLESS = Path(sys.executable).parent / "frictionless"
T1 = datetime(2026, 6, 20, 9, 0)
T2 = datetime(2026, 9, 20, 9, 0)
T3 = datetime(2026, 12, 20, 9, 0)


def tree_digest(root: Path) -> str:
    """sha256 over every path, symlink target and file content under ``root`` (latest included)."""
    h = hashlib.sha256()
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files + [d for d in dirs if (Path(dirpath) / d).is_symlink()]):
            p = Path(dirpath) / name
            h.update(str(p.relative_to(root)).encode())
            if p.is_symlink():
                h.update(os.readlink(p).encode())
            elif name != ".publish.lock":
                h.update(p.read_bytes())
    return h.hexdigest()


def resource_files(release: Path, res: dict) -> list[Path]:
    paths = res["path"] if isinstance(res["path"], list) else [res["path"]]
    return [release / p for p in paths]


def execute(db: Path, sql: str) -> None:
    con = duckdb.connect(str(db))
    con.execute(sql)
    con.close()


def test_publish_layout_and_readers(warehouse, open_data):
    res = _synth.publish(warehouse, open_data, now=T1, is_synthetic=True)
    assert res.changed and res.previous_release_id is None
    assert re.fullmatch(r"20260620-[0-9a-f]{10}", res.release_id)
    assert res.tables == {"dim_hamlet": 3, "fact_indicator_value": 120, "fact_satisfaction": 6}
    latest = open_data / "latest"
    assert latest.is_symlink() and os.readlink(latest) == f"releases/{res.release_id}"
    assert (open_data / "LATEST").read_text().strip() == res.release_id
    assert current_release(open_data) == (res.release_id, res.path)
    for name in ("datapackage.json", "README.md", "CHANGELOG.md"):
        assert (latest / name).is_file()
    assert (open_data / "CHANGELOG.md").read_text() == (latest / "CHANGELOG.md").read_text()
    assert verify_release(latest) == []
    assert not list((open_data / ".staging").iterdir())

    dp = json.loads((latest / "datapackage.json").read_text())
    assert dp["name"] == "ntm-dong-loc-18484" and dp["licenses"][0]["name"] == "CC-BY-4.0"
    assert dp["ntm:release_id"] == res.release_id and dp["created"].startswith("2026-06-20T09:00:00+07:00")
    by_name = {r["name"]: r for r in dp["resources"]}
    fact = by_name["fact_indicator_value"]
    assert isinstance(fact["path"], list) and len(fact["path"]) == 4  # partitioned (threshold 50 rows)
    assert fact["path"][0] == "data/fact_indicator_value/2026-Q1.parquet"
    assert fact["ntm:partition_by"] == "period_code"
    assert fact["schema"]["primaryKey"] == ["indicator_code", "period_code", "hamlet_code"]
    assert fact["schema"]["foreignKeys"][0]["reference"] == {
        "resource": "dim_hamlet",
        "fields": ["hamlet_code"],
    }
    types = {f["name"]: f["type"] for f in fact["schema"]["fields"]}
    assert types == {
        "indicator_code": "string",
        "period_code": "string",
        "hamlet_code": "string",
        "value": "number",
        "value_dec": "number",
        "computed_at": "datetime",
        "meets_target": "boolean",
    }
    dim = by_name["dim_hamlet"]
    assert dim["path"] == "data/dim_hamlet.parquet"
    assert dim["hash"] == "sha256:" + hashlib.sha256((latest / dim["path"]).read_bytes()).hexdigest()
    assert dim["schema"]["fields"][0]["description"] == "Mã thôn / Hamlet code"
    for r in dp["resources"]:
        assert r["ntm:bytes"] == sum(p.stat().st_size for p in resource_files(latest, r))

    con = duckdb.connect(str(warehouse), read_only=True)
    # the warehouse's naive timestamps are Vietnam time, the release's are instants: in this zone they compare
    con.execute("set TimeZone = 'Asia/Ho_Chi_Minh'")
    for r in dp["resources"]:
        files = [str(p) for p in resource_files(latest, r)]
        n = r["ntm:rows"]
        assert n == con.execute(f"select count(*) from marts.{r['name']}").fetchall()[0][0]
        # DuckDB: same rows as the mart, both ways
        lits = ", ".join(f"'{f}'" for f in files)
        diff = con.execute(
            f"select count(*) from ((select * from marts.{r['name']} except all "
            f"select * from read_parquet([{lits}])) union all "
            f"(select * from read_parquet([{lits}]) except all "
            f"select * from marts.{r['name']}))"
        ).fetchall()[0][0]
        assert diff == 0, r["name"]
        where = str(latest / "data" / r["name"]) if len(files) > 1 else files[0]  # folder or file
        assert pq.read_table(where).num_rows == n
        assert pq.read_table(where).schema.names == pq.read_schema(files[0]).names  # no extra hive column
        assert len(pd.read_parquet(where)) == n
        assert pl.read_parquet(files).height == n
    con.close()

    # a null of every type round-trips
    t = pq.read_table(latest / "data/fact_indicator_value/2026-Q4.parquet")
    row = t.filter(pc.equal(t["indicator_code"], "CDS.10")).slice(0, 1).to_pylist()[0]
    assert row["value"] is None and row["value_dec"] is None and row["computed_at"] is None
    assert row["meets_target"] is None


def test_parquet_encoding_and_schema(warehouse, open_data):
    res = _synth.publish(warehouse, open_data, now=T1)
    f = pq.ParquetFile(res.path / "data/fact_indicator_value/2026-Q2.parquet")
    md = f.metadata
    for i in range(md.num_columns):
        col = md.row_group(0).column(i)
        assert col.compression == "ZSTD"
        assert col.is_stats_set
    code = md.row_group(0).column(0)
    assert code.has_dictionary_page and "RLE_DICTIONARY" in code.encodings
    schema = f.schema_arrow
    assert str(schema.field("value_dec").type) == "decimal128(18, 4)"
    # a naive warehouse timestamp is Vietnam time: published as an instant with its zone
    assert str(schema.field("computed_at").type) == "timestamp[us, tz=Asia/Ho_Chi_Minh]"
    logical = f.schema.column(schema.get_field_index("computed_at")).logical_type.to_json()
    assert json.loads(logical)["isAdjustedToUTC"] is True, logical
    assert not schema.field("indicator_code").nullable  # primary-key column
    assert schema.field("indicator_code").metadata[b"description_en"] == b"Indicator code"
    dim = pq.read_schema(res.path / "data/dim_hamlet.parquet")
    assert str(dim.field("valid_from").type) == "date32[day]"


def test_frictionless_validates(warehouse, open_data):
    res = _synth.publish(warehouse, open_data, now=T1, is_synthetic=True)
    out = subprocess.run(
        [str(FRICTIONLESS), "validate", "--json", "datapackage.json"],
        cwd=open_data / "latest",
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(out.stdout)
    assert out.returncode == 0 and report["valid"], out.stdout[-3000:]
    assert {t["name"] for t in report["tasks"]} == {"dim_hamlet", "fact_indicator_value", "fact_satisfaction"}
    # the CLI reads only the first part of a multipart Parquet resource; validate_package checks them all
    assert validate_package(res.path) == []


def test_frictionless_catches_a_bad_later_partition(warehouse, open_data):
    res = _synth.publish(warehouse, open_data, now=T1)
    copy = open_data.parent / "tampered"
    shutil.copytree(res.path, copy)
    dp = json.loads((copy / "datapackage.json").read_text())
    fact = next(r for r in dp["resources"] if r["name"] == "fact_indicator_value")
    for f in fact["schema"]["fields"]:
        if f["name"] == "value":
            f["constraints"] = {"maximum": 60}  # 2026-Q1 stays below, later periods exceed it
    (copy / "datapackage.json").write_text(json.dumps(dp))
    # the plain Frictionless run reads only the first part and misses it ...
    assert frictionless.validate(str(copy / "datapackage.json")).valid
    # ... validate_package does not
    errors = validate_package(copy)
    assert errors and all("2026-Q" in e and "constraint" in e for e in errors), errors
    assert not any("2026-Q1" in e for e in errors)


def test_validate_package_checks_the_foreign_keys_of_later_partitions(warehouse, open_data):
    res = _synth.publish(warehouse, open_data, now=T1)
    copy = open_data.parent / "tampered_fk"
    shutil.copytree(res.path, copy)
    dp = json.loads((copy / "datapackage.json").read_text())
    fact = next(r for r in dp["resources"] if r["name"] == "fact_indicator_value")
    assert isinstance(fact["path"], list) and len(fact["path"]) > 1
    last = copy / fact["path"][-1]
    t = pq.read_table(last)
    codes = t["hamlet_code"].to_pylist()
    codes[0] = "18484-T99"  # not in dim_hamlet
    i = t.schema.get_field_index("hamlet_code")
    pq.write_table(t.set_column(i, t.schema.field(i), pa.array(codes, t.schema.field(i).type)), last)
    # the plain Frictionless run reads only the first part and misses it ...
    assert frictionless.validate(str(copy / "datapackage.json")).valid
    # ... validate_package checks every part with the resources its keys reference
    errors = validate_package(copy)
    assert len(errors) == 1 and "foreign-key" in errors[0] and "18484-T99" in errors[0], errors
    assert errors[0].startswith(f"fact_indicator_value[{fact['path'][-1]}]")


def test_readme_snippets_run(warehouse, open_data):
    res = _synth.publish(warehouse, open_data, now=T1, is_synthetic=True)
    text = (res.path / "README.md").read_text()
    assert "DỮ LIỆU MẪU TỔNG HỢP" in text and "SYNTHETIC SAMPLE DATA" in text
    assert res.release_id in text and "CC-BY-4.0" in text
    assert "Ủy ban nhân dân xã Đồng Lộc" in text
    blocks = re.findall(r"```(\w+)\n(.*?)```", text, re.S)
    kinds = [k for k, _ in blocks]
    assert {"sql", "python", "text"} <= set(kinds)
    cwd = os.getcwd()
    os.chdir(res.path)
    try:
        con = duckdb.connect()
        for kind, body in blocks:
            if kind == "sql":
                for stmt in filter(None, (s.strip() for s in body.split(";"))):
                    assert con.execute(stmt).fetchall()
            elif kind == "python":
                ns: dict = {}
                exec(body, ns)
                for name in ("dim_hamlet", "fact_indicator_value", "fact_satisfaction"):
                    obj = ns[name]
                    n = obj.num_rows if hasattr(obj, "num_rows") else len(obj)
                    assert n == res.tables[name]
    finally:
        os.chdir(cwd)


def test_identical_content_is_a_noop(warehouse, open_data):
    first = _synth.publish(warehouse, open_data, now=T1)
    before = tree_digest(open_data)
    again = _synth.publish(warehouse, open_data, now=T2)  # another day, same content
    assert not again.changed
    assert again.release_id == first.release_id and again.path == first.path
    assert tree_digest(open_data) == before
    assert len(list((open_data / "releases").iterdir())) == 1


def test_deterministic_bytes(warehouse, tmp_path):
    a = _synth.publish(warehouse, tmp_path / "a", now=T1)
    b = _synth.publish(warehouse, tmp_path / "b", now=T1, rows_per_batch=7)  # other batch sizes, same bytes
    assert a.release_id == b.release_id and a.content_sha256 == b.content_sha256
    for p in (a.path / "data").rglob("*.parquet"):
        assert p.read_bytes() == (b.path / p.relative_to(a.path)).read_bytes()


def test_change_swaps_latest_and_changelog(warehouse, open_data):
    first = _synth.publish(warehouse, open_data, now=T1)
    execute(warehouse, "update marts.fact_indicator_value set value = 99 where indicator_code = 'CDS.01'")
    execute(warehouse, "insert into marts.dim_hamlet values ('18484-T04', '18484', 'Thôn Mới', 'thon', null)")
    second = _synth.publish(warehouse, open_data, now=T2)
    assert second.changed and second.release_id != first.release_id
    assert second.previous_release_id == first.release_id
    assert os.readlink(open_data / "latest") == f"releases/{second.release_id}"
    assert (open_data / "LATEST").read_text().strip() == second.release_id
    log = (open_data / "CHANGELOG.md").read_text()
    assert log.count("\n## ") == 2
    assert log.index(second.release_id) < log.index(first.release_id)  # newest first
    assert "| `dim_hamlet` | 4 | +1 |" in log and "| `fact_indicator_value` | 120 | +0 |" in log
    assert log == (second.path / "CHANGELOG.md").read_text()
    assert verify_release(first.path) == [] and verify_release(second.path) == []
    dp = json.loads((second.path / "datapackage.json").read_text())
    assert dp["ntm:previous_release_id"] == first.release_id


def test_keep_prunes_old_releases(warehouse, open_data):
    ids = []
    for i, t in enumerate([T1, T2, T3]):
        execute(warehouse, f"update marts.dim_hamlet set name = 'Thôn {i}' where hamlet_code = '18484-T01'")
        ids.append(_synth.publish(warehouse, open_data, now=t, keep=2).release_id)
    assert sorted(p.name for p in (open_data / "releases").iterdir()) == sorted(ids[1:])
    assert current_release(open_data)[0] == ids[2]
    assert (open_data / "CHANGELOG.md").read_text().count("\n## ") == 3  # the log keeps the history


@pytest.mark.parametrize(
    ("sql", "denylist", "kind"),
    [
        (
            "update marts.dim_hamlet set name = 'Liên hệ 0912.345.678' where hamlet_code = '18484-T02'",
            (),
            "phone",
        ),
        (
            "update marts.dim_hamlet set name = 'CCCD 042095001234' where hamlet_code = '18484-T02'",
            (),
            "id_number",
        ),
        (
            "update marts.dim_hamlet set name = 'Thôn của NGUYỄN VĂN AN' where hamlet_code = '18484-T02'",
            ("Nguyễn Văn An",),
            "name",
        ),
        (
            "update marts.dim_hamlet set name = 'Bánh nguyen van an' where hamlet_code = '18484-T02'",
            ("Nguyễn Văn An",),
            "name",
        ),
        (
            "update marts.dim_hamlet set name = 'CCCD 042.095.001.234' where hamlet_code = '18484-T02'",
            (),
            "id_number",
        ),
        (
            "update marts.dim_hamlet set name = 'Thôn (an.nguyen@gmail.com)' where hamlet_code = '18484-T02'",
            (),
            "email",
        ),
    ],
)
def test_pii_blocks_publish_and_leaves_latest(warehouse, open_data, sql, denylist, kind):
    _synth.publish(warehouse, open_data, now=T1, pii_denylist=denylist)
    before = tree_digest(open_data)
    execute(warehouse, sql)
    with pytest.raises(PIIFoundError) as exc:
        _synth.publish(warehouse, open_data, now=T2, pii_denylist=denylist)
    (hit,) = exc.value.hits
    assert (hit.table, hit.column, hit.kind, hit.count) == ("dim_hamlet", "name", kind, 1)
    msg = str(exc.value)
    assert "345.678" not in msg and "042095001234" not in msg and "001.234" not in msg  # samples are masked
    assert "bảng/table dim_hamlet, cột/column name, dòng/row hamlet_code=•••••-T02" in msg, msg
    assert "Dữ liệu mở chứa dữ liệu cá nhân" in msg and "Personal data found in the release" in msg
    assert tree_digest(open_data) == before
    assert not list((open_data / ".staging").iterdir())


def test_foreign_key_violation_blocks(warehouse, open_data):
    _synth.publish(warehouse, open_data, now=T1)
    before = tree_digest(open_data)
    execute(
        warehouse, "update marts.fact_satisfaction set hamlet_code = '18484-T99' where question_code = 'Q02'"
    )
    with pytest.raises(ReleaseIntegrityError, match="not in dim_hamlet"):
        _synth.publish(warehouse, open_data, now=T2)
    assert tree_digest(open_data) == before


def test_duplicate_primary_key_blocks(warehouse, open_data):
    execute(
        warehouse,
        "create table marts.dup as select * from marts.dim_hamlet union all select * from marts.dim_hamlet",
    )
    execute(warehouse, "drop table marts.dim_hamlet; alter table marts.dup rename to dim_hamlet")
    with pytest.raises(ReleaseIntegrityError, match="duplicated primary key"):
        _synth.publish(warehouse, open_data, now=T1)
    assert not (open_data / "latest").exists()


def _run_publish_subprocess(warehouse: Path, open_data: Path, env_extra: dict[str, str]):
    env = {**os.environ, **env_extra, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, str(Path(__file__).parent / "_synth.py"), str(warehouse), str(open_data)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    "env",
    [fault_hooks.env("kill_after_3_files"), fault_hooks.env("kill_before_swap")],
    ids=["mid-write", "before-swap"],
)
def test_killed_publish_leaves_previous_latest(warehouse, open_data, env):
    first = _synth.publish(warehouse, open_data, now=T1)
    before = tree_digest(open_data / "releases" / first.release_id)
    execute(warehouse, "update marts.fact_indicator_value set value = 1 where period_code = '2026-Q3'")

    proc = _run_publish_subprocess(warehouse, open_data, env)
    assert proc.returncode == -9, proc.stderr  # SIGKILL

    # latest still resolves to the previous, complete release
    assert os.readlink(open_data / "latest") == f"releases/{first.release_id}"
    assert (open_data / "LATEST").read_text().strip() == first.release_id
    assert verify_release(open_data / "latest") == []
    assert tree_digest(open_data / "releases" / first.release_id) == before
    leftovers = list((open_data / ".staging").iterdir()) + [
        p for p in (open_data / "releases").iterdir() if p.name != first.release_id
    ]
    assert leftovers  # the killed run left its partial work behind

    # the next publish succeeds and cleans the stale staging folder
    second = _synth.publish(warehouse, open_data, now=T2)
    assert second.changed and current_release(open_data)[0] == second.release_id
    assert not list((open_data / ".staging").iterdir())
    assert verify_release(second.path) == []


def test_fault_before_swap_in_process_leaves_previous_latest(warehouse, open_data):
    """The same fault point, with a hook installed in this process (pipeline.lib.faults): the publish fails,
    its staging folder is removed, and latest is the previous complete release."""
    first = _synth.publish(warehouse, open_data, now=T1)
    execute(warehouse, "update marts.fact_indicator_value set value = 3 where period_code = '2026-Q2'")
    reached = []

    def fail_before_swap(point: str) -> None:
        reached.append(point)
        if point == "publish.before_swap":
            raise RuntimeError("injected before swap")

    with faults.installed(fail_before_swap), pytest.raises(RuntimeError, match="injected before swap"):
        _synth.publish(warehouse, open_data, now=T2)
    assert reached[-1] == "publish.before_swap" and reached.count("publish.file_written") >= 3
    assert current_release(open_data)[0] == first.release_id
    assert [p.name for p in (open_data / "releases").iterdir()] == [first.release_id]
    assert not list((open_data / ".staging").iterdir())


def test_killed_after_swap_is_repaired(warehouse, open_data):
    _synth.publish(warehouse, open_data, now=T1)
    execute(warehouse, "update marts.fact_indicator_value set value = 2 where period_code = '2026-Q1'")
    proc = _run_publish_subprocess(warehouse, open_data, fault_hooks.env("kill_after_swap"))
    assert proc.returncode == -9, proc.stderr
    rid, rdir = current_release(open_data)
    assert verify_release(rdir) == []
    # the root CHANGELOG lagged; a no-op publish repairs it
    assert (open_data / "CHANGELOG.md").read_text() != (rdir / "CHANGELOG.md").read_text()
    again = _synth.publish(warehouse, open_data, is_synthetic=True)
    assert not again.changed and again.release_id == rid
    assert (open_data / "CHANGELOG.md").read_text() == (rdir / "CHANGELOG.md").read_text()


def test_null_primary_key_blocks(tmp_path):
    con = duckdb.connect()
    con.execute("create table t as select * from (values ('a', 1), (null, 2)) v(k, x)")
    spec = TableSpec("t", "select * from t", "Bảng", "Table", primary_key=["k"])
    with pytest.raises(ReleaseIntegrityError, match="null values to non-nullable"):
        publish_release(con, [spec], tmp_path / "od", require_descriptions=False)
    assert not (tmp_path / "od" / "latest").exists()


def test_undocumented_column_blocks(tmp_path):
    con = duckdb.connect()
    con.execute("create table t as select 'a' as k, 1 as x")
    spec = TableSpec(
        "t", "select * from t", "Bảng", "Table", fields={"k": ("Khoá", "Key")}, primary_key=["k"]
    )
    with pytest.raises(ReleaseIntegrityError, match=r"no \(vi, en\) description for columns \['x'\]"):
        publish_release(con, [spec], tmp_path / "od")


def test_second_publisher_waits_for_the_lock(warehouse, open_data):
    with publish_lock(open_data), pytest.raises(PublishLockedError):
        _synth.publish(warehouse, open_data, lock_timeout=0.5)
    assert _synth.publish(warehouse, open_data).changed  # lock released


def test_formula_like_cells_published_as_is_and_flagged_in_descriptions(warehouse, open_data):
    execute(
        warehouse, "update marts.dim_hamlet set name = '=HYPERLINK(\"x\")' where hamlet_code = '18484-T02'"
    )
    result = _synth.publish(warehouse, open_data, now=T1)
    (res,) = [
        r
        for r in json.loads((result.path / "datapackage.json").read_text())["resources"]
        if r["name"] == "dim_hamlet"
    ]
    desc = {f["name"]: f.get("description", "") for f in res["schema"]["fields"]}
    assert "1 ô bắt đầu bằng = + - hoặc @" in desc["name"] and "formula" in desc["name"]
    assert "formula" not in desc["hamlet_type"]
    path = next((result.path / "data").glob("dim_hamlet*.parquet"))
    field = pq.read_schema(path).field("name")
    assert b"apostrophe" in field.metadata[b"description_en"]
    assert "=HYPERLINK" in pq.read_table(path).column("name").to_pylist()[1]  # the value itself is kept
    readme = (result.path / "README.md").read_text()
    assert "CSV/XLSX" in readme
    # both halves say the same about which CSVs are neutralised and which are exact machine copies
    (vi,) = [line for line in readme.splitlines() if line.startswith("- Ô văn bản bắt đầu bằng")]
    (en,) = [line for line in readme.splitlines() if line.startswith("- Text cells starting with")]
    for half in (vi, en):
        assert "`site/downloads/`" in half and "`'`" in half
        assert "`exchange/upward/`" in half and "`exchange/dhis2/datavaluesets.csv`" in half
    assert "không có tệp CSV" not in vi
