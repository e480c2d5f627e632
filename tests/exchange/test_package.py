"""The commune's report package (pipeline.exchange.package) on the real release of the session's pipeline
build (tests/conftest.py ``pipeline_build``, no extra pipeline run): built into the release, valid for
Frictionless, made only of the release's values, free of personal data, byte-identical when rebuilt, and
the verify command rejects a tampered copy with a bilingual reason and exit 1."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.cli import main as cli_main
from pipeline.exchange import package as ex
from pipeline.exchange.verify import validate_frictionless, verify_package
from pipeline.publish.release import verify_release

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def release(built_release) -> Path:
    return built_release


@pytest.fixture(scope="module")
def upward(release: Path) -> Path:
    return release / ex.EXCHANGE_DIR / ex.UPWARD_DIR


def _package_dir(upward: Path) -> Path:
    """The package folder, unzipped from the release's zip (the release keeps only the zip) into a fresh
    temporary folder."""
    manifest = json.loads((upward / ex.MANIFEST).read_text(encoding="utf-8"))
    dest = Path(tempfile.mkdtemp(prefix="ntm-pkg-"))
    with zipfile.ZipFile(upward / manifest["zip"]) as zf:
        zf.extractall(dest)
    return dest / manifest["package"]


def _descriptor(pkg: Path) -> dict:
    return json.loads((pkg / "datapackage.json").read_text(encoding="utf-8"))


def _copy(pkg: Path, tmp_path: Path) -> Path:
    dst = tmp_path / pkg.name
    shutil.copytree(pkg, dst)
    return dst


def _verify_cli(path: Path, capsys) -> tuple[int, str]:
    code = cli_main(["exchange", "verify", str(path)])
    return code, capsys.readouterr().out


# ----------------------------------------------------------------------------------------- built and valid


def test_every_release_carries_a_valid_package_for_its_home_commune(release: Path, upward: Path):
    dp = json.loads((release / "datapackage.json").read_text(encoding="utf-8"))
    rid = dp["ntm:release_id"]
    pkg = _package_dir(upward)
    assert pkg.name == f"report_18484_{rid}"
    # one archive travels: the release holds the zip and the manifest that hashes it, no unzipped copy
    assert sorted(p.name for p in upward.iterdir()) == sorted([f"{pkg.name}.zip", ex.MANIFEST])
    assert validate_frictionless(pkg) == []
    assert verify_package(pkg).problems == []
    assert verify_package(upward).problems == []
    assert verify_package(upward / f"{pkg.name}.zip").problems == []
    # the release's own integrity check covers the package files
    assert verify_release(release) == []
    desc = _descriptor(pkg)
    names = {r["name"] for r in desc["resources"]}
    for t in ex.TABLES:  # Parquet and CSV of every table, each hashed and sized
        assert {t.name, t.name + ex.CSV_SUFFIX} <= names
    for r in desc["resources"]:
        data = (pkg / r["path"]).read_bytes()
        assert r["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
        assert r["ntm:bytes"] == len(data)
    sender = desc["sender"]
    assert sender["commune_code"] == "18484" and sender["province_code"] == "42"
    assert sender["sender_name"] == "UBND xã Đồng Lộc" and sender["sender_email"] is None
    assert sender["release_id"] == rid and sender["sent_at"] == dp["created"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00", sender["sent_at"])
    assert sender["format"] == ex.FORMAT_NAME and sender["format_version"] == ex.FORMAT_VERSION
    assert sender["periods"]["codes"] and {"NTM2026"} <= {c["criteria_set"] for c in sender["criteria_sets"]}
    # the province re-rolls hamlets up: ratio-of-sums hamlet rows carry numerator and denominator
    con = duckdb.connect()
    missing = con.execute(
        f"""select count(*) from '{pkg}/data/fact_indicator_value.parquet' f
        join '{pkg}/data/dim_indicator.parquet' i using (indicator_code)
        where i.aggregation = 'ratio_of_sums' and f.location_level = 'hamlet'
          and (f.numerator is null or f.denominator is null)"""
    ).fetchone()[0]
    with_fraction = con.execute(
        f"select count(*) from '{pkg}/data/fact_indicator_value.parquet' where numerator is not null"
    ).fetchone()[0]
    assert missing == 0 and with_fraction > 0


def test_frictionless_checks_the_foreign_keys_of_the_package(upward: Path, tmp_path: Path):
    """A value row pointing at a period the package does not hold fails validation (so the foreign keys
    are really checked, in Parquet and in CSV), even with the hashes made to match."""
    pkg = _copy(_package_dir(upward), tmp_path)
    desc = _descriptor(pkg)
    path = pkg / "data" / "mart_commune_indicator.parquet"
    table = pq.read_table(path)
    periods = table["period_code"].to_pylist()
    periods[0] = "2099-Q9"
    table = table.set_column(
        table.schema.get_field_index("period_code"), table.schema.field("period_code"), pa.array(periods)
    )
    pq.write_table(table, path)
    csv = pkg / "data" / "mart_commune_indicator.csv"
    text = csv.read_bytes().decode("utf-8").split("\r\n")
    first = pq.read_table(_package_dir(upward) / "data" / "mart_commune_indicator.parquet")["period_code"][
        0
    ].as_py()
    text[1] = text[1].replace(f'"{first}"', '"2099-Q9"', 1).replace(f",{first},", ",2099-Q9,", 1)
    csv.write_bytes("\r\n".join(text).encode("utf-8"))
    for r in desc["resources"]:  # re-seal: only Frictionless can catch it now
        data = (pkg / r["path"]).read_bytes()
        r["hash"] = "sha256:" + hashlib.sha256(data).hexdigest()
        r["ntm:bytes"] = len(data)
        if "bytes" in r:
            r["bytes"] = len(data)
    (pkg / "datapackage.json").write_text(json.dumps(desc, ensure_ascii=False), encoding="utf-8")
    errors = validate_frictionless(pkg)
    assert any(e.startswith("mart_commune_indicator:") and "foreign-key" in e for e in errors), errors
    assert any(e.startswith("mart_commune_indicator-csv:") and "foreign-key" in e for e in errors), errors


# ----------------------------------------------------------------------------------------- tampering


def test_a_changed_byte_is_a_hash_mismatch(upward: Path, tmp_path: Path, capsys):
    pkg = _copy(_package_dir(upward), tmp_path)
    target = pkg / "data" / "mart_commune_indicator.parquet"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    code, out = _verify_cli(pkg, capsys)
    assert code == 1
    assert out.startswith("KHÔNG HỢP LỆ / INVALID")
    assert "data/mart_commune_indicator.parquet: sai mã băm sha256 (tệp đã bị sửa) / sha256 mismatch" in out


def test_a_changed_byte_inside_the_zip_is_caught(upward: Path, tmp_path: Path, capsys):
    pkg = _copy(_package_dir(upward), tmp_path / "src")
    csv = pkg / "data" / "dim_hamlet.csv"
    csv.write_bytes(csv.read_bytes().replace(b"18484", b"18485", 1))
    zpath = tmp_path / f"{pkg.name}.zip"
    ex.write_zip(pkg, zpath)
    code, out = _verify_cli(zpath, capsys)
    assert code == 1 and "data/dim_hamlet.csv: sai mã băm sha256" in out


def test_a_missing_file_is_named(upward: Path, tmp_path: Path, capsys):
    pkg = _copy(_package_dir(upward), tmp_path)
    (pkg / "data" / "mart_satisfaction.csv").unlink()
    code, out = _verify_cli(pkg, capsys)
    assert code == 1 and "data/mart_satisfaction.csv: thiếu tệp / missing file" in out


def test_an_unlisted_file_is_refused(upward: Path, tmp_path: Path, capsys):
    pkg = _copy(_package_dir(upward), tmp_path)
    (pkg / "data" / "extra.csv").write_text("a\n1\n", encoding="utf-8")
    code, out = _verify_cli(pkg, capsys)
    assert code == 1 and "data/extra.csv: tệp không có trong datapackage.json / file not listed" in out


@pytest.mark.parametrize(
    ("commune", "province", "expected"),
    [
        ("99999", "42", "sender.commune_code '99999': không có trong danh mục đơn vị hành chính"),
        (
            "18484",
            "40",
            "sender.province_code '40': xã 18484 thuộc tỉnh 42 / commune 18484 belongs to province 42",
        ),
    ],
)
def test_a_wrong_commune_code_is_refused(upward, tmp_path, capsys, commune, province, expected):
    pkg = _copy(_package_dir(upward), tmp_path)
    desc = _descriptor(pkg)
    desc["sender"]["commune_code"], desc["sender"]["province_code"] = commune, province
    (pkg / "datapackage.json").write_text(json.dumps(desc, ensure_ascii=False), encoding="utf-8")
    code, out = _verify_cli(pkg, capsys)
    assert code == 1 and expected in out


def test_rows_of_another_commune_are_refused(upward: Path, tmp_path: Path):
    """A real commune code in the sender block (Thạch Hà's 18505? any registry code but 18484) with 18484's
    rows: the rows do not belong to the commune that claims to send them."""
    from pipeline.ingest.sources.reference.admin_units import communes_frame

    other = communes_frame().query("province_code == '42' and commune_code != '18484'").iloc[0]
    pkg = _copy(_package_dir(upward), tmp_path)
    desc = _descriptor(pkg)
    desc["sender"].update(commune_code=other["commune_code"], commune_name=other["name"])
    (pkg / "datapackage.json").write_text(json.dumps(desc, ensure_ascii=False), encoding="utf-8")
    problems = verify_package(pkg).problems
    assert any(
        p.startswith("data/fact_indicator_value.parquet: có dòng của xã khác ['18484']")
        and "rows of other communes" in p
        for p in problems
    ), problems


# ----------------------------------------------------------------------------------------- nothing but the release


def _release_sources(release: Path) -> dict[str, str]:
    dp = json.loads((release / "datapackage.json").read_text(encoding="utf-8"))
    out = {}
    for r in dp["resources"]:
        lits = ", ".join(f"'{release / f['path']}'" for f in r["ntm:files"])
        out[r["name"]] = f"read_parquet([{lits}])"
    return out


def test_every_value_in_the_package_is_in_the_release(release: Path, upward: Path):
    pkg = _package_dir(upward)
    desc = _descriptor(pkg)
    src = _release_sources(release)
    con = duckdb.connect()
    con.execute("set TimeZone = 'Asia/Ho_Chi_Minh'")
    checked = 0
    for r in desc["resources"]:
        table = r["ntm:table"]
        parquet = f"read_parquet('{pkg / 'data' / (table + '.parquet')}')"
        if r["format"] == "parquet":
            rel = f"read_parquet('{pkg / r['path']}')"
        else:  # the CSV, typed as the Parquet columns
            types = con.execute(f"describe select * from {parquet}").fetchall()
            cols = "{" + ", ".join(f"'{n}': '{t}'" for n, t, *_ in types) + "}"
            rel = (
                f"read_csv('{pkg / r['path']}', header = true, delim = ',', quote = '\"', escape = '\"', "
                f"columns = {cols}, auto_detect = false, allow_quoted_nulls = false)"
            )
        n = con.execute(f"select count(*) from {rel}").fetchone()[0]
        assert n == r["ntm:rows"]
        not_in_release = con.execute(
            f"select count(*) from (select * from {rel} except all select * from {src[table]})"
        ).fetchone()[0]
        assert not_in_release == 0, f"{r['name']}: {not_in_release} row(s) not in the release"
        checked += n
    assert checked > 5000
    # the commune's rows are all there (nothing of the commune left out)
    for t in ex.TABLES:
        if t.rows == "commune":
            n_rel = con.execute(
                f"select count(*) from {src[t.name]} where commune_code = '18484'"
            ).fetchone()[0]
            assert n_rel == next(r["ntm:rows"] for r in desc["resources"] if r["name"] == t.name), t.name
    # the sender block's facts are the release's
    home = con.execute(f"select * from {src['dim_commune']} where is_home_commune").df().iloc[0]
    s = desc["sender"]
    assert (s["commune_code"], s["commune_name"], s["province_code"], s["province_name"]) == (
        home["commune_code"], home["commune_name"], home["province_code"], home["province_name"],
    )  # fmt: skip
    rel_dp = json.loads((release / "datapackage.json").read_text(encoding="utf-8"))
    assert (s["release_id"], s["release_content_sha256"], s["sent_at"]) == (
        rel_dp["ntm:release_id"], rel_dp["ntm:content_sha256"], rel_dp["created"],
    )  # fmt: skip
    periods = {r[0] for r in con.execute(f"select period_code from {src['dim_period']}").fetchall()}
    assert set(s["periods"]["codes"]) <= periods


def test_no_personal_data_in_the_package(pipeline_build, upward: Path):
    """The release's PII scan (pipeline.publish.pii) over every package file, with the build's real name
    index (respondents and household-business owners), and no personal column by name."""
    from pipeline.ingest.quarantine import PERSONAL_COLUMNS
    from pipeline.lib.pii import find_pii
    from pipeline.publish.pii import name_index, scan_pii

    pkg = _package_dir(upward)
    desc = _descriptor(pkg)
    wh = duckdb.connect(pipeline_build.env["NTM_WAREHOUSE"], read_only=True)
    try:
        names = name_index(wh, pipeline_build.env["NTM_PII_SALT"])
    finally:
        wh.close()
    assert len(names) > 0  # the sample has respondents and household owners: the scan is not empty-handed
    parquet = [r for r in desc["resources"] if r["format"] == "parquet"]
    con = duckdb.connect()
    hits = scan_pii(
        con,
        {r["name"]: str(pkg / r["path"]) for r in parquet},
        names=names,
        exempt={
            r["name"]: [
                f["name"]
                for f in r["schema"]["fields"]
                if f["name"].endswith("_key") or f["name"] == "submission_id"
            ]
            for r in parquet
        },
    )
    assert hits == []
    columns = {f["name"] for r in desc["resources"] for f in r["schema"]["fields"]}
    assert not columns & (
        PERSONAL_COLUMNS | {"producer_name", "respondent_name_hash", "respondent_name_fold_hash"}
    )
    sender_text = " ".join(str(v) for v in desc["sender"].values() if isinstance(v, str))
    assert find_pii(sender_text, names) == {}


# ----------------------------------------------------------------------------------------- idempotent


def _tree(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_building_twice_gives_identical_bytes(release: Path, upward: Path, tmp_path: Path):
    copy = tmp_path / "release"
    shutil.copytree(release, copy, ignore=shutil.ignore_patterns("site", "exchange"))
    a = ex.build_package(copy, tmp_path / "a")
    b = ex.build_package(copy, tmp_path / "b")
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b") == _tree(upward)
    assert a.sent_at == b.sent_at == json.loads((release / "datapackage.json").read_text())["created"]
    with zipfile.ZipFile(a.zip_path) as zf:
        names = zf.namelist()
        assert names == sorted(names) and all(i.date_time == ex.ZIP_DATE for i in zf.infolist())


def test_ensure_leaves_a_current_package_and_repairs_or_restamps_one(
    release: Path, tmp_path: Path, monkeypatch
):
    copy = tmp_path / "release"
    shutil.copytree(release, copy, ignore=shutil.ignore_patterns("site"))
    up = copy / ex.EXCHANGE_DIR / ex.UPWARD_DIR
    before = _tree(up)
    assert ex.ensure_package(copy, tmp_path / "scratch") is None  # current: untouched
    damaged = next(up.glob("*.zip"))
    damaged.write_bytes(damaged.read_bytes() + b"\0")
    assert verify_release(copy) != []
    assert ex.ensure_package(copy, tmp_path / "scratch") is not None
    assert _tree(up) == before and verify_release(copy) == []
    # another sender configured: the package is rebuilt with it (sent_at and the release id unchanged)
    monkeypatch.setenv("NTM_SENDER_NAME", "Phòng Kinh tế, UBND xã Đồng Lộc")
    monkeypatch.setenv("NTM_SENDER_EMAIL", "phongkinhte@example.invalid")
    result = ex.ensure_package(copy, tmp_path / "scratch")
    assert result is not None
    sender = _descriptor(_package_dir(up))["sender"]
    assert sender["sender_name"] == "Phòng Kinh tế, UBND xã Đồng Lộc"
    assert sender["sender_email"] == "phongkinhte@example.invalid"
    assert sender["sent_at"] == json.loads((copy / "datapackage.json").read_text())["created"]
    assert ex.ensure_package(copy, tmp_path / "scratch") is None
    # a newer generator (another layout or bytes) rebuilds the package of an unchanged release
    monkeypatch.setattr(ex, "GENERATOR", "pipeline.exchange.package/next")
    assert ex.ensure_package(copy, tmp_path / "scratch") is not None
    assert json.loads((up / ex.MANIFEST).read_text())["generator"] == "pipeline.exchange.package/next"
    assert ex.ensure_package(copy, tmp_path / "scratch") is None


# ----------------------------------------------------------------------------------------- the contract


def test_raw_readme_lists_every_package_resource_and_its_columns(upward: Path):
    """raw/README.md's section on the report package (10 when written) is the template the province's landing zone is filled with: it names every
    resource and lists exactly its columns."""
    text = (REPO / "raw" / "README.md").read_text(encoding="utf-8")
    # found by its title, not its number (another section may come before it)
    section = text[text.index("Gói báo cáo của xã gửi cấp trên / The commune's report package") :]
    desc = _descriptor(_package_dir(upward))
    for r in desc["resources"]:
        if r["format"] != "parquet":
            continue
        m = re.search(rf"^\| `{r['name']}` \|[^\n]*\| ([^|\n]+) \|$", section, re.M)
        assert m, f"raw/README.md section 11 has no row for {r['name']}"
        listed = re.findall(r"`([a-z0-9_]+)`", m.group(1))
        assert listed == [f["name"] for f in r["schema"]["fields"]], r["name"]


# ----------------------------------------------------------------------------------------- what is not a package


def test_an_unsafe_or_foreign_archive_is_refused(tmp_path: Path, capsys):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("report_18484_x/datapackage.json", "{}")
        zf.writestr("report_18484_x/../../escaped.txt", "x")
    code, out = _verify_cli(evil, capsys)
    assert (
        code == 1
        and "đường dẫn không an toàn" in out
        and "unsafe path" in out
        and not (tmp_path / "escaped.txt").exists()
    )
    other = tmp_path / "other"
    other.mkdir()
    (other / "datapackage.json").write_text(json.dumps({"name": "x", "resources": []}), encoding="utf-8")
    code, out = _verify_cli(other, capsys)
    assert (
        code == 1
        and "không phải gói ntm-commune-report" in out
        and "not an ntm-commune-report package" in out
    )


def test_the_package_holds_what_re_rolls_hamlets_up_exactly(upward: Path):
    """The level above can recompute every commune value rolled up from hamlets from the package alone (rule
    7.0 (3) and 7.2, the SQL of commune_indicator_rolled_up over the package's fact_indicator_value,
    dim_hamlet validity and dim_indicator): hamlet numerators and denominators, the as-of hamlets, the
    threshold results are all there. Compared with the package's mart_commune_indicator to 1e-9 (the marts'
    rounding)."""
    d = _package_dir(upward) / "data"
    con = duckdb.connect()
    con.execute("set TimeZone = 'Asia/Ho_Chi_Minh'")
    for t in ("fact_indicator_value", "dim_hamlet", "dim_indicator", "dim_period", "mart_commune_indicator"):
        con.execute(f"create view {t} as select * from read_parquet('{d / (t + '.parquet')}')")
    recomputed = con.execute(
        """
        with existing as (
            select h.commune_code, p.period_code, count(distinct h.hamlet_code) as hamlets_existing
            from dim_hamlet h join dim_period p
              on p.end_date >= h.valid_from and (h.valid_to is null or p.end_date <= h.valid_to)
            group by all
        ),
        v as (
            select f.*, i.aggregation, i.value_type,
                i.measure_kind = 'flow' or f.existed_at_period_end as counted,
                f.numerator is not null and f.denominator is not null as has_fraction
            from fact_indicator_value f join dim_indicator i using (indicator_code)
            where f.location_level = 'hamlet'
        ),
        a as (
            select commune_code, period_code, indicator_code, aggregation, value_type,
                sum(value) filter (where counted) as s, avg(value) filter (where counted) as m,
                max(value) filter (where counted) as mx,
                first(value order by submitted_at desc, location_code desc) filter (where counted) as l,
                sum(numerator) filter (where has_fraction and counted) as num,
                sum(denominator) filter (where has_fraction and counted) as den,
                count(value) filter (where counted) as hamlets_reporting,
                count(*) filter (where met_threshold and existed_at_period_end) as hamlets_meeting,
                count(*) filter (where value = 1 and existed_at_period_end) as hamlets_yes
            from v group by all
        )
        select a.commune_code, a.period_code, a.indicator_code, a.hamlets_reporting, a.hamlets_meeting,
            coalesce(e.hamlets_existing, 0) as hamlets_existing,
            case a.aggregation
                when 'sum' then s when 'mean' then m when 'max' then mx when 'last' then l
                when 'ratio_of_sums' then case when den is null or den = 0 then null
                    when value_type = 'percent' then 100.0 * num / den else 1.0 * num / den end
                when 'share_meeting' then case when coalesce(e.hamlets_existing, 0) = 0 then null
                    else 100.0 * a.hamlets_meeting / e.hamlets_existing end
                when 'all_yes' then case when coalesce(e.hamlets_existing, 0) = 0 then null
                    when a.hamlets_yes = e.hamlets_existing then 1.0 else 0.0 end
            end as value,
            case a.aggregation when 'ratio_of_sums' then num when 'share_meeting' then a.hamlets_meeting
                when 'all_yes' then a.hamlets_yes end as numerator,
            case a.aggregation when 'ratio_of_sums' then den
                when 'share_meeting' then e.hamlets_existing when 'all_yes' then e.hamlets_existing end as denominator
        from a left join existing e using (commune_code, period_code)
        """
    ).df()
    published = con.execute("select * from mart_commune_indicator where value_origin = 'hamlets'").df()
    merged = published.merge(
        recomputed, on=["commune_code", "period_code", "indicator_code"], suffixes=("", "_re")
    )
    assert len(merged) == len(published) > 50
    assert {"ratio_of_sums", "share_meeting", "sum"} <= set(merged["aggregation"])
    for col in ("value", "numerator", "denominator"):
        a, b = merged[col], merged[col + "_re"]
        same = (a.isna() & b.isna()) | ((a - b).abs() <= 1e-9)
        assert same.all(), merged.loc[~same, ["period_code", "indicator_code", col, col + "_re"]].head()
    for col in ("hamlets_reporting", "hamlets_meeting", "hamlets_existing"):
        assert (merged[col] == merged[col + "_re"]).all(), col


def test_the_package_holds_what_rolls_communes_up_to_the_province(release: Path, upward: Path):
    """Rule 7.0 (4) (province_indicator_rolled_up) over the package's mart_commune_indicator and
    dim_indicator gives the release's mart_province_indicator (this release has one commune with data; the
    many-commune equality is the next round's split-and-federate test)."""
    d = _package_dir(upward) / "data"
    con = duckdb.connect()
    con.execute("set TimeZone = 'Asia/Ho_Chi_Minh'")
    con.execute(f"create view c as select * from read_parquet('{d / 'mart_commune_indicator.parquet'}')")
    con.execute(f"create view i as select * from read_parquet('{d / 'dim_indicator.parquet'}')")
    con.execute(f"create view com as select * from read_parquet('{d / 'dim_commune.parquet'}')")
    recomputed = con.execute(
        """
        with j as (
            select c.*, com.province_code, c.numerator is not null and c.denominator is not null as has_fraction
            from c join com using (commune_code)
        ),
        a as (
            select province_code, period_code, indicator_code, aggregation, value_type,
                sum(value) as s, avg(value) as m, max(value) as mx, min(value) as mn,
                first(value order by last_submitted_at desc, commune_code desc) as l,
                sum(numerator) filter (where has_fraction) as num, sum(denominator) filter (where has_fraction) as den,
                sum(hamlets_meeting) as hm, sum(hamlets_existing) as he, count(value) as communes_reporting
            from j group by all
        )
        select province_code, period_code, indicator_code, communes_reporting,
            case aggregation when 'sum' then s when 'mean' then m when 'max' then mx when 'last' then l
                when 'ratio_of_sums' then case when den is null or den = 0 then null
                    when value_type = 'percent' then 100.0 * num / den else 1.0 * num / den end
                when 'share_meeting' then case when he is null or he = 0 then null else 100.0 * hm / he end
                when 'all_yes' then case when mn = 1 then 1.0 when mn is not null then 0.0 end
            end as value
        from a
        """
    ).df()
    src = _release_sources(release)
    published = con.execute(f"select * from {src['mart_province_indicator']} where province_code = '42'").df()
    merged = published.merge(
        recomputed, on=["province_code", "period_code", "indicator_code"], suffixes=("", "_re")
    )
    assert len(merged) == len(published) == len(recomputed) > 50
    a, b = merged["value"], merged["value_re"]
    same = (a.isna() & b.isna()) | ((a - b).abs() <= 1e-9)
    assert same.all(), merged.loc[~same, ["period_code", "indicator_code", "value", "value_re"]].head()
    assert (merged["communes_reporting"] == merged["communes_reporting_re"]).all()


# ----------------------------------------------------------------------------------------- validation reuse


def _previous_with(tmp_path: Path, validated) -> Path:
    """A stand-in previous release: only its build.json, recording ``validated`` keys for the package."""
    prev = tmp_path / "previous"
    prev.mkdir()
    (prev / ex.BUILD_FILE).write_text(json.dumps({"exchange": {"validated": sorted(validated)}}))
    return prev


def _spy_validation(monkeypatch) -> list[set[str] | None]:
    from pipeline.exchange import verify

    calls: list[set[str] | None] = []
    real = verify.validate_frictionless

    def spy(pkg, formats=("parquet", "csv"), **kw):
        calls.append(set(kw["names"]) if kw.get("names") is not None else None)
        return real(pkg, formats, **kw)

    monkeypatch.setattr(verify, "validate_frictionless", spy)
    return calls


def test_tables_validated_before_are_not_validated_again_and_the_bytes_are_the_same(
    release: Path, tmp_path: Path, monkeypatch
):
    copy = tmp_path / "release"
    shutil.copytree(release, copy, ignore=shutil.ignore_patterns("site", "exchange"))
    first = ex.build_package(copy, tmp_path / "a")
    assert first.validation_taken == [] and set(first.validated) == {t.name for t in ex.TABLES}
    calls = _spy_validation(monkeypatch)

    again = ex.build_package(
        copy, tmp_path / "b", previous=_previous_with(tmp_path, first.validated.values())
    )
    assert again.validation_taken == [t.name for t in ex.TABLES] and calls == []
    assert again.validated == first.validated
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")  # same package either way

    # one table not in the record: it is validated, with the tables its foreign keys point at
    keys = dict(first.validated)
    keys.pop("mart_satisfaction")
    (tmp_path / "previous").rename(tmp_path / "previous-1")
    third = ex.build_package(copy, tmp_path / "c", previous=_previous_with(tmp_path, keys.values()))
    assert "mart_satisfaction" not in third.validation_taken
    assert len(calls) == 1 and "mart_satisfaction-csv" in calls[0]
    assert calls[0] < {t.name + "-csv" for t in ex.TABLES}  # not the whole package
    assert _tree(tmp_path / "c") == _tree(tmp_path / "a")


def test_a_changed_file_is_validated_whatever_the_record_says(release: Path, tmp_path: Path, monkeypatch):
    """The key holds each file's sha256: a CSV that changed (here a value that is not a number) is validated
    and refused, though the record lists every key of the good package."""
    copy = tmp_path / "release"
    shutil.copytree(release, copy, ignore=shutil.ignore_patterns("site", "exchange"))
    good = ex.build_package(copy, tmp_path / "a")
    real_csv = ex.write_csv

    def broken_csv(table, path):
        real_csv(table, path)
        if path.name == "mart_commune_indicator.csv":
            import csv
            import io

            rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
            rows[1][rows[0].index("value")] = "not-a-number"
            out = io.StringIO()
            csv.writer(out, lineterminator="\r\n").writerows(rows)
            path.write_text(out.getvalue(), encoding="utf-8", newline="")

    monkeypatch.setattr(ex, "write_csv", broken_csv)
    with pytest.raises(ex.PackageBuildError, match="mart_commune_indicator"):
        ex.build_package(copy, tmp_path / "b", previous=_previous_with(tmp_path, good.validated.values()))


def test_files_of_unchanged_tables_are_taken_from_the_previous_package(release: Path, tmp_path: Path):
    """A table whose release files (sha256) are those the previous package was made from gets that package's
    data files (from its zip, verified by the manifest's sha256): the package is the same bytes. A key
    that differs, or a damaged previous zip, and the table is read from the release again."""
    copy = tmp_path / "release"
    shutil.copytree(release, copy, ignore=shutil.ignore_patterns("site", "exchange"))
    first = ex.build_package(copy, tmp_path / "a")
    assert first.data_taken == [] and set(first.data_keys) == {t.name for t in ex.TABLES}

    def previous_release(name: str, record: dict) -> Path:
        prev = tmp_path / name
        shutil.copytree(tmp_path / "a", prev / ex.EXCHANGE_DIR / ex.UPWARD_DIR)
        (prev / ex.BUILD_FILE).write_text(json.dumps({"exchange": record}))
        return prev

    prev = previous_release("p1", first.record())
    again = ex.build_package(copy, tmp_path / "b", previous=prev)
    assert again.data_taken == [t.name for t in ex.TABLES]
    assert _tree(tmp_path / "b") == _tree(tmp_path / "a")

    record = first.record()
    record["tables"]["fact_indicator_value"] = "0" * 64  # made from other files, or by other code
    third = ex.build_package(copy, tmp_path / "c", previous=previous_release("p2", record))
    assert "fact_indicator_value" not in third.data_taken and len(third.data_taken) == len(ex.TABLES) - 1
    assert _tree(tmp_path / "c") == _tree(tmp_path / "a")

    damaged = previous_release("p3", first.record())
    (zip_path,) = (damaged / ex.EXCHANGE_DIR / ex.UPWARD_DIR).glob("*.zip")
    blob = bytearray(zip_path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    zip_path.write_bytes(bytes(blob))
    fourth = ex.build_package(copy, tmp_path / "d", previous=damaged)
    assert fourth.data_taken == [] and _tree(tmp_path / "d") == _tree(tmp_path / "a")
