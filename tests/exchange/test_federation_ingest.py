"""A province-level instance ingests commune report packages (pipeline.exchange.federation; raw/README.md
section 11): the real package of the session's build (tests/conftest.py ``built_release``, no extra pipeline
run) and copies re-signed with :func:`pipeline.exchange.package.resign` (another sent_at, a changed byte, a
missing file) landed in ``raw/communes/<code>/`` of a temporary raw dir, each ingested into a fresh DuckDB
file. Verification is the slow part (Frictionless on the CSV resources, ~0.6 s a package): its verdict is a pure
function of the package's bytes, so this module memoises it by the sha256 of every file of the package
(fixture ``verify_once``) and each distinct package is verified once, whatever the number of cases."""

from __future__ import annotations

import copy
import hashlib
import shutil
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from pipeline.exchange import federation as fed
from pipeline.exchange import package as ex
from pipeline.exchange.federation import HISTORY, ingest_commune_packages, read_descriptor, reconcile
from pipeline.lib.hashing import sha256_file

PROVINCE = "42"
_VERDICTS: dict[tuple, object] = {}


@pytest.fixture(autouse=True)
def verify_once(monkeypatch):
    real = fed.verify_dir

    def memo(pkg: Path):
        key = tuple(
            sorted(
                (p.relative_to(pkg).as_posix(), sha256_file(p)) for p in Path(pkg).rglob("*") if p.is_file()
            )
        )
        if key not in _VERDICTS:
            _VERDICTS[key] = real(pkg)
        verdict = copy.deepcopy(_VERDICTS[key])
        verdict.path = Path(pkg)
        return verdict

    monkeypatch.setattr(fed, "verify_dir", memo)


@pytest.fixture(scope="module")
def package_zip(built_release) -> Path:
    (z,) = sorted((built_release / ex.EXCHANGE_DIR / ex.UPWARD_DIR).glob("*.zip"))
    return z


@pytest.fixture(scope="module")
def sender(package_zip) -> dict:
    return read_descriptor(package_zip)["sender"]


@pytest.fixture(scope="module")
def variants(package_zip, sender, tmp_path_factory) -> dict[str, Path]:
    """Packages the commune could have sent (built once): the same data sent a day later / ten days
    earlier, and at the same time from a release with a larger id; and broken copies."""
    out = tmp_path_factory.mktemp("variants")
    sent = datetime.fromisoformat(sender["sent_at"])

    def at(delta_days: float, **kw) -> dict:
        return {"sent_at": (sent + timedelta(days=delta_days)).isoformat(timespec="seconds"), **kw}

    v = {
        "newer": ex.resign(package_zip, out / "newer" / package_zip.name, **at(1)),
        "older": ex.resign(package_zip, out / "older" / package_zip.name, **at(-10)),
        "same_time_larger_id": ex.resign(
            package_zip, out / "larger" / package_zip.name, **at(1, release_id=sender["release_id"] + "z")
        ),
        "missing_file": ex.resign(
            package_zip,
            out / "missing" / package_zip.name,
            edit=lambda pkg: (pkg / "data" / "mart_commune_indicator.csv").unlink(),
        ),
    }
    # a changed byte inside a data file, descriptor left as it was: the sha256 no longer matches
    tampered = out / "tampered" / package_zip.name
    tampered.parent.mkdir()
    with zipfile.ZipFile(package_zip) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("data/mart_commune_indicator.csv"):
                data = data.replace(b"18484", b"18485", 1)
            dst.writestr(info, data)
    v["tampered"] = tampered
    return v


def _land(raw: Path, code: str, pkg: Path, name: str | None = None) -> Path:
    dest = raw / "communes" / code / (name or pkg.name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(pkg, dest)
    return dest


def _history(con) -> list[tuple]:
    return con.execute(
        f"select path, status, in_use, reason_code, rows_loaded from {HISTORY} order by received_at, path"
    ).fetchall()


def _loaded(con) -> dict[str, int]:
    tables = [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw' "
            "and table_name like 'commune_pkg_%' order by 1"
        ).fetchall()
    ]
    return {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in tables}


def _fingerprint(con) -> str:
    h = hashlib.sha256()
    for t in _loaded(con):
        cols = [r[0] for r in con.execute(f"describe raw.{t}").fetchall()]
        rows = con.execute(f"select * from raw.{t} order by all").fetchall()
        h.update(f"{t}{cols}{rows}".encode())
    return h.hexdigest()


def test_a_valid_package_is_loaded_whole_and_a_rerun_changes_nothing(
    tmp_path, built_release, package_zip, sender
):
    raw = tmp_path / "raw"
    landed = _land(raw, sender["commune_code"], package_zip)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    report = ingest_commune_packages(con, raw, "province", PROVINCE)
    assert [(o.status, o.commune_code) for o in report.outcomes] == [("accepted", sender["commune_code"])]
    # every Parquet table of the package in raw.commune_pkg_<table>, all its rows, with the package lineage
    with zipfile.ZipFile(package_zip) as zf:
        zf.extractall(tmp_path / "x")
    pkg = next((tmp_path / "x").iterdir())
    expected = {
        f"commune_pkg_{p.stem}": pq.read_metadata(p).num_rows for p in (pkg / "data").glob("*.parquet")
    }
    assert _loaded(con) == expected
    assert expected["commune_pkg_mart_commune_indicator"] > 0
    assert con.execute(
        "select distinct _package_commune_code, _source_file from raw.commune_pkg_mart_commune_indicator"
    ).fetchall() == [(sender["commune_code"], landed.relative_to(raw).as_posix())]
    # history: one row, in use; audit: the file, its path, rows read = rows loaded
    ((path, status, in_use, reason, rows),) = _history(con)
    assert (status, in_use, reason, rows) == ("accepted", True, None, sum(expected.values()))
    assert con.execute(
        "select rows_read, rows_loaded, rows_quarantined, status from audit.ingest_files where path = ?",
        [path],
    ).fetchone() == (rows, rows, 0, "accepted")
    assert con.execute("select state from audit.file_paths where path = ?", [path]).fetchone() == ("present",)
    assert con.execute("select * from raw.federation_settings").fetchall() == [("province", PROVINCE)]
    # the loaded rows are the release's own mart rows of the commune, every column; the published instants
    # (Asia/Ho_Chi_Minh) back to the warehouse's Vietnam wall-clock time
    published = (built_release / "data" / "mart_commune_indicator.parquet").as_posix()
    cols = [r[0] for r in con.execute(f"describe from read_parquet('{published}')").fetchall()]
    sel = ", ".join(
        f"timezone('Asia/Ho_Chi_Minh', {c}) as {c}" if c == "last_submitted_at" else c for c in cols
    )
    release_rows = con.execute(
        f"select {sel} from read_parquet('{published}') where commune_code = ? order by all",
        [sender["commune_code"]],
    ).fetchall()
    loaded_rows = con.execute(
        f"select {', '.join(cols)} from raw.commune_pkg_mart_commune_indicator order by all"
    ).fetchall()
    assert loaded_rows == release_rows and len(loaded_rows) == expected["commune_pkg_mart_commune_indicator"]
    assert reconcile(con, raw) == []
    before = _fingerprint(con)
    again = ingest_commune_packages(con, raw, "province", PROVINCE)
    assert again.outcomes == []
    assert _fingerprint(con) == before and len(_history(con)) == 1


def test_later_sent_at_wins_an_older_one_is_superseded_an_identical_one_unchanged(
    tmp_path, package_zip, sender, variants
):
    raw, code = tmp_path / "raw", sender["commune_code"]
    con = duckdb.connect(str(tmp_path / "w.duckdb"))

    def step(pkg: Path, name: str):
        _land(raw, code, pkg, name)
        (o,) = ingest_commune_packages(con, raw, "province", PROVINCE).outcomes
        assert reconcile(con, raw) == []
        in_use = con.execute(f"select path from {HISTORY} where in_use").fetchall()
        loaded = con.execute(
            "select distinct _source_file from raw.commune_pkg_mart_commune_indicator"
        ).fetchall()
        return o, in_use, loaded

    o, in_use, loaded = step(package_zip, "a_first.zip")
    assert o.status == "accepted" and loaded == in_use == [(f"communes/{code}/a_first.zip",)]
    o, in_use, loaded = step(variants["newer"], "b_newer.zip")
    assert o.status == "accepted" and loaded == in_use == [(f"communes/{code}/b_newer.zip",)]
    # an older package arriving after a newer one: kept in the history, not applied
    o, in_use, loaded = step(variants["older"], "c_older.zip")
    assert (o.status, o.reason_code) == ("superseded", "superseded")
    assert "sent_at" in o.reason_vi and "not later" in o.reason_en
    assert loaded == in_use == [(f"communes/{code}/b_newer.zip",)]
    # the newer package again, unzipped into a folder: the same datapackage.json → unchanged
    folder = raw / "communes" / code / "d_copy"
    with zipfile.ZipFile(variants["newer"]) as zf:
        zf.extractall(tmp_path / "unz")
    shutil.copytree(next((tmp_path / "unz").iterdir()), folder)
    (o,) = ingest_commune_packages(con, raw, "province", PROVINCE).outcomes
    assert (o.status, o.rel) == ("unchanged", f"communes/{code}/d_copy/datapackage.json")
    assert reconcile(con, raw) == []
    members = con.execute(
        "select count(*) from audit.file_paths where path like ? and state = 'package_file'",
        [f"communes/{code}/d_copy/data/%"],
    ).fetchone()[0]
    assert members == len(list((folder / "data").iterdir()))
    # same sent_at, larger release_id → wins
    o, in_use, loaded = step(variants["same_time_larger_id"], "e_larger_id.zip")
    assert o.status == "accepted" and loaded == in_use == [(f"communes/{code}/e_larger_id.zip",)]
    statuses = [(p.split("/")[-1], s, u) for p, s, u, _, _ in _history(con)]
    assert statuses == [
        ("a_first.zip", "accepted", False),
        ("b_newer.zip", "accepted", False),
        ("c_older.zip", "superseded", False),
        ("datapackage.json", "unchanged", False),
        ("e_larger_id.zip", "accepted", True),
    ]


def test_new_packages_of_one_run_are_taken_in_sent_at_order(tmp_path, package_zip, sender, variants):
    """Two versions landing together: the later sent_at ends in use whatever the file names' order."""
    raw, code = tmp_path / "raw", sender["commune_code"]
    _land(raw, code, variants["newer"], "a.zip")
    _land(raw, code, package_zip, "b.zip")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    report = ingest_commune_packages(con, raw, "province", PROVINCE)
    assert sorted((o.rel, o.status) for o in report.outcomes) == [
        (f"communes/{code}/a.zip", "accepted"),
        (f"communes/{code}/b.zip", "accepted"),
    ]
    assert con.execute(f"select path from {HISTORY} where in_use").fetchall() == [(f"communes/{code}/a.zip",)]


def test_broken_or_misplaced_packages_are_rejected_and_nothing_of_them_loads(
    tmp_path, package_zip, sender, variants
):
    raw, code = tmp_path / "raw", sender["commune_code"]
    _land(raw, code, variants["tampered"], "tampered.zip")
    _land(raw, code, variants["missing_file"], "missing.zip")
    _land(raw, "18487", package_zip)  # the folder of another commune
    (raw / "communes" / code / "notes.txt").write_text("not a package\n", encoding="utf-8")
    (raw / "communes" / "stray.zip").write_bytes(b"PK")
    (raw / "communes" / "README.md").write_text(
        "# landing zone\n", encoding="utf-8"
    )  # documentation: not ours
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    report = ingest_commune_packages(con, raw, "province", PROVINCE)
    got = {
        o.rel.split("/", 1)[1]: (o.status, o.reason_code, o.reason_vi, o.reason_en) for o in report.outcomes
    }
    assert {k: v[:2] for k, v in got.items()} == {
        f"{code}/tampered.zip": ("rejected", "package_invalid"),
        f"{code}/missing.zip": ("rejected", "package_invalid"),
        f"18487/{package_zip.name}": ("rejected", "commune_folder_mismatch"),
        f"{code}/notes.txt": ("rejected", "not_a_package"),
        "stray.zip": ("rejected", "not_a_package"),
    }
    assert (
        "sha256" in got[f"{code}/tampered.zip"][3]
        and "mart_commune_indicator.csv" in got[f"{code}/tampered.zip"][3]
    )
    assert "thiếu tệp" in got[f"{code}/missing.zip"][2] and "missing file" in got[f"{code}/missing.zip"][3]
    assert "18487" in got[f"18487/{package_zip.name}"][3] and "Thư mục" in got[f"18487/{package_zip.name}"][2]
    assert _loaded(con)["commune_pkg_mart_commune_indicator"] == 0
    assert all(n == 0 for n in _loaded(con).values())
    # every file has its audit rows with the reason; the README is left to the landing-zone accounting
    rows = con.execute(
        "select path, status, reason from audit.ingest_files where source = 'communes' order by path"
    ).fetchall()
    assert len(rows) == 5 and all(s == "rejected" and r and " / " in r for _, s, r in rows)
    assert reconcile(con, raw) == []
    # a commune outside the home province (the same valid package, an instance of province 01)
    con2 = duckdb.connect(str(tmp_path / "w2.duckdb"))
    raw2 = tmp_path / "raw2"
    _land(raw2, code, package_zip)
    (o,) = ingest_commune_packages(con2, raw2, "province", "01").outcomes
    assert (o.status, o.reason_code) == ("rejected", "commune_not_in_province")
    assert "NTM_HOME_PROVINCE=01" in o.reason_en
    assert _loaded(con2)["commune_pkg_mart_commune_indicator"] == 0


def test_a_crash_while_loading_leaves_the_previous_package_whole(
    tmp_path, package_zip, sender, variants, monkeypatch
):
    raw, code = tmp_path / "raw", sender["commune_code"]
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    _land(raw, code, package_zip, "a.zip")
    ingest_commune_packages(con, raw, "province", PROVINCE)
    before, history = _fingerprint(con), _history(con)
    _land(raw, code, variants["newer"], "b.zip")

    def boom(*a, **kw):
        raise OSError("disk full (simulated)")

    with monkeypatch.context() as m:
        m.setattr(fed.pq, "read_metadata", boom)  # raised after the commune's rows were deleted
        with pytest.raises(OSError, match="simulated"):
            ingest_commune_packages(con, raw, "province", PROVINCE)
    assert _fingerprint(con) == before and _history(con) == history
    (o,) = ingest_commune_packages(con, raw, "province", PROVINCE).outcomes  # the next run takes it
    assert o.status == "accepted" and reconcile(con, raw) == []


def test_at_level_commune_packages_are_recorded_not_loaded_until_level_province(
    tmp_path, package_zip, sender
):
    raw = tmp_path / "raw"
    _land(raw, sender["commune_code"], package_zip)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    (o,) = ingest_commune_packages(con, raw, "commune", PROVINCE).outcomes
    assert (o.status, o.reason_code) == ("ignored", "not_province_level")
    assert "NTM_LEVEL=commune" in o.reason_en and _loaded(con)["commune_pkg_mart_commune_indicator"] == 0
    assert con.execute("select * from raw.federation_settings").fetchall() == [("commune", PROVINCE)]
    (o,) = ingest_commune_packages(con, raw, "province", PROVINCE).outcomes
    assert o.status == "accepted"
    assert con.execute("select status from audit.ingest_files where source = 'communes'").fetchall() == [
        ("accepted",)
    ]
    assert reconcile(con, raw) == []


def test_reconcile_finds_rows_that_are_not_the_package_in_use(tmp_path, package_zip, sender):
    raw = tmp_path / "raw"
    _land(raw, sender["commune_code"], package_zip)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ingest_commune_packages(con, raw, "province", PROVINCE)
    con.execute("delete from raw.commune_pkg_dim_period where true")
    assert any("rows, recorded" in p for p in reconcile(con, raw))
    (raw / "communes" / sender["commune_code"] / "late_arrival.txt").write_text("x", encoding="utf-8")
    assert any("late_arrival.txt" in p and "audit.file_paths" in p for p in reconcile(con, raw))


@pytest.mark.parametrize(("table", "commune", "province"), [
    ("fact_submission", True, False),
    ("fact_indicator_value", True, False),
    ("mart_commune_indicator", True, True),  # the province publishes its communes' values: never empty
])  # fmt: skip
def test_row_count_minimum_of_the_local_facts_holds_only_at_level_commune(
    monkeypatch, table, commune, province
):
    from pipeline.quality.suites import list_suites, load_suite_dict

    def has_min(level: str) -> bool:
        monkeypatch.setenv("NTM_LEVEL", level)
        suite = load_suite_dict(list_suites()[table])
        return any(e["type"] == "expect_table_row_count_to_be_between" for e in suite["expectations"])

    assert (has_min("commune"), has_min("province")) == (commune, province)


def test_every_package_reason_code_is_documented_in_both_languages():
    readme = (Path(__file__).resolve().parents[2] / "raw" / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## 9. Mã lý do / Reason codes") : readme.index("## 10. ")]
    for code, (vi, en) in fed.REASONS.items():
        assert f"| `{code}` |" in section and vi in section and en in section, code
    assert "11.4. Tỉnh tiếp nhận gói / The province ingests the packages" in readme
