"""The whole-release floor: every published table from the same raw files, in one DuckDB connection.

``python -m bench.floor_release --raw DIR --out DIR [--today YYYY-MM-DD]``

Three stages, no audit tables, no quality checks, no release machinery (bench/README.md, "The whole-release
floor"):

1. **ingest** (``bench/floor_release.sql``): the landing files become the ``raw.*`` tables the dbt models
   read. Plain UTF-8 CSV is read by DuckDB's ``read_csv`` (header mapped by label, every cell text); Python
   only reads what SQL cannot: XLSX (openpyxl, into a DuckDB table of text cells), CSV in UTF-16 or a legacy
   Vietnamese encoding (decoded to UTF-8 first), the GeoJSON geometry (shapely / pyproj, the documented area
   and centroid) and the administrative units (the ``vietnam-provinces`` package). Every distinct cell value
   is parsed once (``distinct`` tables joined back), windows partition by integer file ids.
2. **transform**: the dbt models' own SQL, compiled once by ``dbt compile`` (not timed) and executed in
   dependency order in the same connection as plain ``create table`` statements: no dbt process, no tests,
   no Dagster events. The published rules are therefore the models' rules by construction; this stage is
   not an independent re-derivation of them (see bench/README.md).
3. **publish**: the 19 published tables (``pipeline.constants.PUBLISHED``) to Parquet, with the survey
   suppression of raw/README.md section 8 re-implemented from the README (``bench/floor_suppression.py``).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
#: seconds per stage of the last run (printed by ``--profile``)
TIMINGS: dict[str, float] = {}
SQL = Path(__file__).with_name("floor_release.sql")
DBT_DIR = ROOT / "dbt_project"
SOURCES = ("submissions", "surveys", "ocop")


# ------------------------------------------------------------------------------------------- compile
def compile_models(target: Path, home_commune: str = "18484") -> Path:
    """``dbt compile`` into ``target`` (against an empty warehouse: the incremental models compile to their
    full-refresh form); returns the manifest path. Not part of the timed floor."""
    target.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, NTM_WAREHOUSE_PATH=str(target / "ntm.duckdb"), NTM_HOME_COMMUNE=home_commune)
    dbt = Path(sys.executable).with_name("dbt")
    subprocess.run(
        [str(dbt), "compile", "--quiet", "--project-dir", ".", "--profiles-dir", ".",
         "--target-path", str(target / "target")],
        cwd=DBT_DIR, env=env, check=True, capture_output=True,
    )  # fmt: skip
    return target / "target" / "manifest.json"


# ------------------------------------------------------------------------------------------- files
def _fold(s: str) -> str:
    from pipeline.lib.text import fold

    return fold(s)


def _label_map(template) -> dict[str, str]:
    out = {}
    for c in template.all_columns:
        for label in (c.label_vi, c.label_en, c.code, *c.aliases):
            out[_fold(label)] = c.code
    return out


_PREFIX_RE = re.compile(r"^(?=.)", re.MULTILINE)  # the start of every non-empty line
_Q_RE = re.compile(r"^c\s*(\d{1,2})\b")
_R_RE = re.compile(r"^ly do\s*c\s*(\d{1,2})\b")


def map_header(cells: list, labels: dict[str, str], wide: bool) -> dict[int, str]:
    """Column index -> column code (template labels folded; survey ``C<n>.`` / ``Lý do C<n>`` columns)."""
    out = {}
    for i, cell in enumerate(cells):
        if cell is None:
            continue
        k = _fold(str(cell))
        if k in labels:
            out[i] = labels[k]
        elif wide and (m := _R_RE.match(k)):
            out[i] = f"r_{int(m.group(1))}"
        elif wide and (m := _Q_RE.match(k)):
            out[i] = f"q_{int(m.group(1))}"
    return out


def _kind(data: bytes) -> str:
    if data[:4] == b"PK\x03\x04":
        return "xlsx"
    head = data[:64].lstrip(b"\xef\xbb\xbf").lstrip()
    if head[:1] in (b"{", b"["):
        return "json"
    return "csv"


def _text_cell(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, date):
        return v.strftime("%Y-%m-%d")
    s = str(v)
    return s


def read_xlsx(data: bytes, sheet: str, labels: dict[str, str], wide: bool) -> tuple[list[str], list[list]]:
    """(column codes, rows [excel row number, cells...]) of the sheet, header found by its labels."""
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    ws = wb[sheet] if sheet in wb.sheetnames else wb.worksheets[0]
    mapping, rows = None, []
    for r_idx, row in enumerate(ws.iter_rows(values_only=True), start=1):
        if mapping is None:
            m = map_header(list(row), labels, wide)
            if len(m) >= 3:
                mapping = m
            continue
        cells = [_text_cell(row[i]) if i < len(row) else None for i in mapping]
        if any(c is not None and str(c).strip() for c in cells):
            rows.append([r_idx, *cells])
    wb.close()
    return list((mapping or {}).values()), rows


def prepare_files(con, raw: Path, scratch: Path) -> dict[str, list]:
    """Register every landing file: ``files`` (file_id, path, sha256, source); CSV (UTF-8 as is, others
    decoded) grouped by header layout for read_csv; XLSX/JSON rows loaded into ``cells_<source>``."""
    from pipeline.ingest.readers import decode
    from pipeline.ingest.sources.ocop.template import OCOP
    from pipeline.ingest.sources.submissions.template import SUBMISSION
    from pipeline.ingest.sources.surveys.template import SURVEY

    templates = {"submissions": (SUBMISSION, "BaoCao", False), "surveys": (SURVEY, "Responses", True),
                 "ocop": (OCOP, "OCOP", False)}  # fmt: skip
    files, csv_groups, extra, concat = [], defaultdict(list), defaultdict(list), {}
    fid = 0
    for source in SOURCES:
        base = raw / source
        if not base.exists():
            continue
        tpl, sheet, wide = templates[source]
        labels = _label_map(tpl)
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            rel = path.relative_to(raw).as_posix()
            parts = path.relative_to(raw).parts
            if any(x.startswith((".", "~$")) for x in parts) or "templates" in parts:
                continue
            if path.name.lower().startswith("readme") or path.suffix.lower() == ".md":
                continue
            data = path.read_bytes()
            fid += 1
            sha = hashlib.sha256(data).hexdigest()
            files.append((fid, rel, sha, source))
            kind = _kind(data)
            if kind == "xlsx":
                codes, rows = read_xlsx(data, sheet, labels, wide)
                for r in rows:
                    extra[source].append(
                        {"file_id": fid, "row_no": r[0], **dict(zip(codes, r[1:], strict=True))}
                    )
                continue
            if data.startswith(b"\xef\xbb\xbf"):
                text, utf8 = data[3:].decode("utf-8"), True
            else:
                try:
                    text, utf8 = data.decode("utf-8"), True
                except UnicodeDecodeError:
                    text, utf8 = decode(data)[0], False
            if kind == "json":
                for i, line in enumerate(text.splitlines(), start=1):
                    if not line.strip():
                        continue
                    obj = json.loads(line)
                    m = map_header(list(obj.keys()), labels, wide)
                    vals = list(obj.values())
                    extra[source].append(
                        {"file_id": fid, "row_no": i, **{c: _text_cell(vals[k]) for k, c in m.items()}}
                    )
                continue
            if not utf8 or "\r" in text or unicodedata.normalize("NFC", text) != text:
                text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
            header, _, body = text.partition("\n")
            cells = next(csv.reader([header]))
            m = map_header(cells, labels, wide)
            key = (source, tuple(sorted(m.items())), len(cells))
            if body and not body.endswith("\n"):
                body += "\n"
            # many small files: one concatenated CSV per header layout, each line prefixed with its file id
            # (DuckDB's multi-file reader costs ~1.5 ms a file); a file whose quoted cells span lines is
            # read on its own
            if '"' in body and sum(1 for _ in csv.reader(io.StringIO(body))) != body.count("\n"):
                target = scratch / "decoded" / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
                csv_groups[key].append((fid, target.as_posix()))
                continue
            if key not in concat:
                concat[key] = open(scratch / f"concat_{len(concat)}.csv", "w", encoding="utf-8")  # noqa: SIM115
                concat[key].write("__fid," + header + "\n")
            concat[key].write(_PREFIX_RE.sub(f"{fid},", body))
    con.execute(
        "create or replace temp table files (file_id integer, path varchar, sha varchar, source varchar)"
    )
    con.executemany("insert into files values (?, ?, ?, ?)", files)
    selects = defaultdict(list)
    for (source, mapping, ncols), fh in concat.items():
        fh.close()
        names = ", ".join(["'fid': 'INTEGER'", *(f"'c{i}': 'VARCHAR'" for i in range(ncols))])
        proj = ", ".join(f"c{i} as {code}" for i, code in mapping)
        selects[source].append(
            f"""select fid as file_id, (row_number() over (partition by fid order by rn) + 1)::integer as row_no,
                       {proj}
                from (select *, row_number() over () as rn
                      from read_csv('{Path(fh.name).as_posix()}', header = true, auto_detect = false,
                                    null_padding = true, delim = ',', quote = '"', escape = '"',
                                    columns = {{{names}}}))"""
        )
        con.execute(
            f"create or replace temp table _csv_{source}_{len(selects[source])} as {selects[source][-1]}"
        )
    # files whose quoted cells span lines: DuckDB's CSV reader, one file each
    for (source, mapping, ncols), group in csv_groups.items():
        names = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(ncols))
        proj = ", ".join(f"c{i} as {code}" for i, code in mapping)
        for fid, path in group:
            selects[source].append(
                f"""select {fid} as file_id, (row_number() over () + 1)::integer as row_no, {proj}
                    from read_csv('{path.replace("'", "''")}', header = true, auto_detect = false,
                                  null_padding = true, delim = ',', quote = '"', escape = '"',
                                  columns = {{{names}}})"""
            )
            con.execute(
                f"create or replace temp table _csv_{source}_{len(selects[source])} as {selects[source][-1]}"
            )
    for source in SOURCES:
        parts = [f"select * from _csv_{source}_{i}" for i in range(1, len(selects[source]) + 1)]
        if extra[source]:
            df = pd.DataFrame(extra[source]).astype(object)
            df = df.where(df.notna(), None)
            for c in df.columns:
                if c not in ("file_id", "row_no"):
                    df[c] = df[c].map(lambda v: None if v is None else str(v))
            con.register("_extra", df)
            con.execute(f"create or replace temp table _extra_{source} as select * from _extra")
            con.unregister("_extra")
            parts.append(f"select * from _extra_{source}")
        if parts:
            con.execute(
                f"create or replace temp table cells_{source} as " + " union all by name ".join(parts)
            )
        else:
            con.execute(f"create or replace temp table cells_{source} (file_id integer, row_no integer)")
        for c in templates[source][0].all_columns:  # optional columns a file may leave out
            con.execute(f'alter table cells_{source} add column if not exists "{c.code}" varchar')
        # blank rows (every cell empty) are not rows
        cols = [d[0] for d in con.execute(f"select * from cells_{source} limit 0").description]
        blank = " and ".join(
            f"coalesce(trim(\"{c}\"), '') = ''" for c in cols if c not in ("file_id", "row_no")
        )
        con.execute(f"delete from cells_{source} where {blank}")
    return {"files": files}


# ------------------------------------------------------------------------------------------- reference
def load_reference(con, raw: Path, salt: str) -> None:
    from pipeline.ingest.sources.reference.admin_units import communes_frame, provinces_frame

    con.register("_p", provinces_frame())
    con.execute("create table raw.provinces as select * from _p")
    con.register("_c", communes_frame())
    con.execute("create table raw.communes as select * from _c")
    con.unregister("_p")
    con.unregister("_c")
    load_boundaries(con, raw / "reference" / "hamlet_boundaries.geojson")


def load_boundaries(con, path: Path) -> None:
    """raw.hamlet_boundaries: one row per feature, area and centroid as raw/README.md 2.3.1 says (WGS84
    input only: no CRS conversion in the floor)."""
    cols = ("hamlet_code varchar, valid_from date, valid_to date, geometry_geojson varchar, geometry_type varchar, "
            "centroid_lon double, centroid_lat double, area_km2 double, source_crs varchar, is_synthetic boolean, "
            "feature_index integer, _file_sha256 varchar, _source_file varchar, _source_row integer")  # fmt: skip
    con.execute(f"create table raw.hamlet_boundaries ({cols})")
    if not path.exists():
        return
    from pyproj import Geod
    from shapely.geometry import mapping, shape

    data = path.read_bytes()
    doc = json.loads(data)
    sha = hashlib.sha256(data).hexdigest()
    geod = Geod(ellps="WGS84")
    file_synth = bool(doc.get("synthetic"))
    rows = []
    for i, f in enumerate(doc.get("features", [])):
        props = {k.lower(): v for k, v in (f.get("properties") or {}).items()}
        geom = shape(f["geometry"])
        coords = json.loads(json.dumps(mapping(geom)))
        area = round(abs(geod.geometry_area_perimeter(geom)[0]) / 1e6, 6)
        c = geom.centroid
        rows.append((
            unicodedata.normalize("NFC", str(props.get("hamlet_code"))).strip().upper(),
            props.get("valid_from") or None, props.get("valid_to") or None,
            json.dumps(coords, separators=(",", ":")), geom.geom_type, round(c.x, 6), round(c.y, 6), area,
            "EPSG:4326", bool(props.get("synthetic", file_synth)), i, sha,
            "reference/hamlet_boundaries.geojson", i,
        ))  # fmt: skip
    con.executemany("insert into raw.hamlet_boundaries values (" + ", ".join(["?"] * 14) + ")", rows)


def hash_respondents(con, salt: str) -> None:
    """Salted hashes of respondent name / phone (raw/README.md 2.2), once per distinct value."""
    from pipeline.ingest.sources.surveys.validate import name_fold_hash, name_hash, respondent_hash

    df = con.execute("select distinct respondent_name, respondent_phone from _survey_rows").df()
    if df.empty:
        df["respondent_hash"] = df["respondent_name_hash"] = df["respondent_name_fold_hash"] = []
    else:
        df["respondent_hash"] = respondent_hash(
            df["respondent_name"], df["respondent_phone"], salt
        ).to_numpy()
        df["respondent_name_hash"] = name_hash(df["respondent_name"], salt).to_numpy()
        df["respondent_name_fold_hash"] = name_fold_hash(df["respondent_name"], salt).to_numpy()
    con.register("_h", df)
    con.execute("create or replace temp table respondent_hashes as select * from _h")
    con.unregister("_h")


def resolve_survey_hamlets(con) -> None:
    """Hamlet name or code typed by the respondent -> hamlet code (raw/README.md 2.4: with or without
    'Thôn', 'Hoà'/'Hòa'), once per distinct text."""
    from pipeline.ingest.reference import hamlet_name_key

    d = con.execute("select distinct hamlet_text from _survey_rows where hamlet_text is not null").df()
    d["name_key"] = hamlet_name_key(d["hamlet_text"]).to_numpy()
    h = con.execute("select hamlet_code, name from raw.hamlets").df()
    h["name_key"] = hamlet_name_key(h["name"]).to_numpy()
    con.register("_d", d)
    con.register("_h", h[["hamlet_code", "name_key"]])
    con.execute("create or replace temp table hamlet_text_keys as select * from _d")
    con.execute("create or replace temp table hamlet_name_keys as select * from _h")
    con.unregister("_d")
    con.unregister("_h")


# ------------------------------------------------------------------------------------------- transform
def run_models(con, manifest_path: Path) -> list[str]:
    """Every dbt model (and seed) in dependency order as plain tables; returns the order."""
    m = json.loads(manifest_path.read_text(encoding="utf-8"))
    nodes = {k: n for k, n in m["nodes"].items() if n["resource_type"] in ("model", "seed")}
    db = None
    for n in nodes.values():
        db = n["database"]
        break
    for schema in sorted({n["schema"] for n in nodes.values()} | {"raw"}):
        con.execute(f'create schema if not exists "{db}"."{schema}"')
    order, seen = [], set()

    def visit(k):
        if k in seen or k not in nodes:
            return
        seen.add(k)
        for d in nodes[k]["depends_on"].get("nodes", []):
            visit(d)
        order.append(k)

    for k in sorted(nodes):
        visit(k)
    for k in order:
        n = nodes[k]
        rel = n["relation_name"]
        t0 = time.perf_counter()
        if n["resource_type"] == "seed":
            path = DBT_DIR / n["original_file_path"]
            types = n["config"].get("column_types") or {}
            cols = con.execute(
                f"select * from read_csv('{path.as_posix()}', header = true) limit 0"
            ).description
            sel = ", ".join(
                f'cast("{c[0]}" as {types[c[0]]}) as "{c[0]}"' if c[0] in types else f'"{c[0]}"' for c in cols
            )
            con.execute(
                f"create table {rel} as select {sel} from read_csv('{path.as_posix()}', header = true, "
                f"types = {{{', '.join(repr(c) + ': ' + repr('VARCHAR') for c in types)}}})"
                if types
                else f"create table {rel} as select {sel} from read_csv('{path.as_posix()}', header = true)"
            )
            continue
        con.execute(f"create table {rel} as {n['compiled_code']}")
        TIMINGS["model " + n["name"]] = time.perf_counter() - t0
    return [nodes[k]["name"] for k in order]


# ------------------------------------------------------------------------------------------- publish
def publish(con, out: Path, db: str) -> dict[str, int]:
    from bench.floor_suppression import suppress
    from pipeline.constants import PUBLISHED
    from pipeline.publish.parquet import PUBLISH_TZ

    out.mkdir(parents=True, exist_ok=True)
    con.execute(f"use {db}")
    # survey cell suppression, re-implemented from raw/README.md section 8 (bench/floor_suppression.py)
    sat = suppress(
        con.execute("select * from marts.mart_satisfaction").df(),
        int(os.environ.get("NTM_SUPPRESSION_MIN_COUNT", "5")),
    )
    con.register("_sat", sat)
    con.execute("create or replace temp table floor_satisfaction as select * from _sat")
    con.unregister("_sat")
    counts = {}
    for name in PUBLISHED:
        src = "marts." + name
        if name == "mart_satisfaction":
            src = "floor_satisfaction"
        target = (out / f"{name}.parquet").as_posix()
        # naive timestamps are Vietnam wall-clock time, published as instants (pipeline.publish.parquet)
        cols = con.execute(f"select column_name, column_type from (describe select * from {src})").fetchall()
        sel = ", ".join(
            f'timezone(\'{PUBLISH_TZ}\', "{c}") as "{c}"' if t == "TIMESTAMP" else f'"{c}"' for c, t in cols
        )
        con.execute(f"copy (select {sel} from {src}) to '{target}' (format parquet, compression zstd)")
        counts[name] = con.execute(f"select count(*) from '{target}'").fetchone()[0]
    return counts


def run(raw: Path, out: Path, *, manifest: Path, today: str, salt: str = "floor-salt", threads: str = "2",
        memory_limit: str = "4GB") -> dict[str, int]:  # fmt: skip
    raw, out = Path(raw).resolve(), Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"set threads = {int(threads)}; set memory_limit = '{memory_limit}'")
    db = json.loads(Path(manifest).read_text(encoding="utf-8"))["nodes"]
    db = next(iter(db.values()))["database"]
    con.execute(f"attach ':memory:' as {db}; use {db}; create schema raw")
    from pipeline.ingest.tables import DDL

    for name in ("submission_values", "submission_tasks", "submissions", "survey_answers", "survey_reasons",
                 "ocop_products", "commune_packages", "commune_pkg_mart_commune_indicator"):  # fmt: skip
        con.execute(f"create table raw.{name} ({DDL['raw.' + name]})")
    TIMINGS.clear()
    with tempfile.TemporaryDirectory(dir=out) as scratch:
        t0 = time.perf_counter()
        prepare_files(con, raw, Path(scratch))
        TIMINGS["read files"] = time.perf_counter() - t0
        sql = SQL.read_text(encoding="utf-8")
        sql = sql.replace("${RAW}", raw.as_posix()).replace("${TODAY}", today)
        sql = sql.replace("${SEEDS}", (DBT_DIR / "seeds").as_posix())
        stages = sql.split("\n-- @python ")
        t0 = time.perf_counter()
        con.execute(stages[0])
        TIMINGS["sql registries + parse"] = time.perf_counter() - t0
        steps = {
            "reference": lambda: load_reference(con, raw, salt),
            "hash_respondents": lambda: hash_respondents(con, salt),
            "resolve_survey_hamlets": lambda: resolve_survey_hamlets(con),
        }
        for stage in stages[1:]:
            fn, _, rest = stage.partition("\n")
            t0 = time.perf_counter()
            steps[fn.strip()]()
            TIMINGS["python " + fn.strip()] = time.perf_counter() - t0
            if rest.strip():
                t0 = time.perf_counter()
                con.execute(rest)
                TIMINGS["sql after " + fn.strip()] = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_models(con, Path(manifest))
    TIMINGS["transform (all models)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    counts = publish(con, out, db)
    TIMINGS["publish"] = time.perf_counter() - t0
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.floor_release", description=__doc__)
    ap.add_argument("--raw", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--today", default=os.environ.get("NTM_TODAY", date.today().isoformat()))
    ap.add_argument("--manifest", type=Path, help="dbt manifest with compiled code (default: compile now)")
    ap.add_argument("--profile", action="store_true", help="print the slowest stages and models")
    ap.add_argument("--threads", default=os.environ.get("NTM_DUCKDB_THREADS", "2"))
    ap.add_argument("--memory-limit", default=os.environ.get("NTM_DUCKDB_MEMORY_LIMIT", "4GB"))
    a = ap.parse_args(argv)
    manifest = a.manifest or compile_models(Path(tempfile.mkdtemp(prefix="floor_dbt_")))
    t0 = time.perf_counter()
    counts = run(
        a.raw, a.out, manifest=manifest, today=a.today, threads=a.threads, memory_limit=a.memory_limit
    )
    if a.profile:
        for k, v in sorted(TIMINGS.items(), key=lambda kv: -kv[1])[:15]:
            print(f"  {v:8.2f} s  {k}")
    print(
        f"floor_release: {len(counts)} tables, {sum(counts.values())} rows, {time.perf_counter() - t0:.2f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
