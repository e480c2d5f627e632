"""DHIS2 ``dataValueSets`` exchange: the mapping, the export of a release, the payload rules.

A province or partner that runs DHIS2 takes our indicator values without retyping: every release writes
``exchange/dhis2/datavaluesets.json`` and ``datavaluesets.csv`` (plus the ``mapping.csv`` it used) from the
release's own published files (:func:`export_release`; the warehouse is never read, like
:mod:`pipeline.site.release_data`). The same format is imported back as a landing source
(:mod:`pipeline.exchange.dhis2_import`).

The DHIS2 rules followed here come from the DHIS2 Web API documentation, section *Data values* (repository
``dhis2/dhis2-docs``, file ``src/developer/web-api/data.md``: "Sending data values", "Sending bulks of data
values", "CSV data value format", "Data value requirements", "Identifier schemes"; rendered at
https://docs.dhis2.org/en/develop/using-the-api/dhis-core-version-master/data.html):

- a bulk payload is ``{"dataValues": [...]}`` where each data value carries ``dataElement``, ``period``,
  ``orgUnit``, ``categoryOptionCombo``, ``attributeOptionCombo`` and ``value``; ``comment``, ``storedBy``,
  ``followup`` and a set-level ``completeDate`` are optional (we never write ``comment`` / ``storedBy``:
  they could carry personal data; DHIS2 records the importing user itself);
- ``value`` is a string; BOOLEAN values are ``true`` / ``false`` (import also takes ``1``/``0``/``t``/``f``,
  any case);
- identifiers are UIDs by default (``idScheme=uid``): 11 characters, a letter then 10 letters or digits;
- periods are ISO period identifiers: quarter ``2026Q1``, year ``2026``;
- the CSV has one header row (ignored by DHIS2) and the columns data element, period, org unit, category
  option combo, attribute option combo, value in this order (further columns optional);
- the answer of an import is an import summary: ``importCount`` {imported, updated, ignored, deleted} and
  ``conflicts`` [{object, value, errorCode, property, indexes}].

ADX (IHE QRPH Aggregate Data Exchange, XML namespace ``urn:ihe:qrph:adx:2015``: ``<group orgUnit period
dataSet>`` holding ``<dataValue dataElement value/>``, periods written as start/duration, e.g.
``2026-01-01/P3M`` for 2026Q1 and ``2026-01-01/P1Y`` for 2026; DHIS2 reads ADX identifiers as ``code`` unless told
otherwise) is not written: DHIS2 imports the JSON/CSV above with UIDs, and ADX needs a data set per group.

What is exported (the same in the release README and ``raw/README.md``, section DHIS2):

- hamlet-level indicators (``dim_indicator.level = 'hamlet'``): ``mart_hamlet_indicator`` rows, org unit =
  the hamlet;
- commune-level indicators: ``mart_commune_indicator`` rows of those indicators, org unit = the commune;
- only values *reported* for their period (``value_source = 'reported'``), quarter or year.

Deliberately not exported: commune roll-ups of hamlet-level indicators (DHIS2 aggregates its org-unit tree
itself; a share of hamlets meeting a threshold is a DHIS2 *indicator*, not a data value), year values
derived from quarters (``derived_from_quarters`` / ``mixed``: DHIS2 aggregates periods itself), empty values
(never sent: an empty value would delete the value in DHIS2), thresholds and met flags, survey results
(suppressed cells), OCOP certificates and task progress (no DHIS2 data elements), indicators without a
``data_element`` row in the mapping.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import shutil
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb

from pipeline.exchange.dhis2_mapping import (
    MAPPING_COLUMNS,
    MAPPING_FILE,
    UID_RE,
    Mapping,
    MappingError,
    load_mapping,
    make_uid,
    sample_mapping_rows,
    write_mapping,
)
from pipeline.lib.swap import replace_dir

__all__ = [
    "CSV_HEADER",
    "Dhis2Exporter",
    "MAPPING_COLUMNS",
    "MAPPING_FILE",
    "UID_RE",
    "ExportResult",
    "Mapping",
    "MappingError",
    "check_payload",
    "ensure_export",
    "export_is_current",
    "export_release",
    "format_value",
    "from_dhis2_period",
    "load_mapping",
    "make_uid",
    "sample_mapping_rows",
    "to_dhis2_period",
]

CSV_HEADER = ("dataelement", "period", "orgunit", "categoryoptioncombo", "attributeoptioncombo", "value")
JSON_KEYS = ("dataElement", "period", "orgUnit", "categoryOptionCombo", "attributeOptionCombo", "value")
EXPORT_DIR = Path("exchange") / "dhis2"
_PERIOD_RE = re.compile(r"^(\d{4})(?:Q([1-4]))?$")
_OUR_PERIOD_RE = re.compile(r"^(\d{4})(?:-Q([1-4]))?$")


# ---------------------------------------------------------------------------------------------------------
# Identifiers and periods
# ---------------------------------------------------------------------------------------------------------


def to_dhis2_period(code: str) -> str:
    """Our period code → DHIS2 ISO period: ``2026-Q1`` → ``2026Q1``, ``2026`` → ``2026``."""
    m = _OUR_PERIOD_RE.match(code or "")
    if m is None:
        raise ValueError(f"not a period code: {code!r}")
    return m.group(1) + (f"Q{m.group(2)}" if m.group(2) else "")


def from_dhis2_period(period: str) -> str | None:
    """DHIS2 quarterly / yearly period → our code (``2026Q1`` → ``2026-Q1``); None for anything else
    (months, weeks, financial years... are not periods of this programme)."""
    m = _PERIOD_RE.match(period or "")
    if m is None or not 1990 <= int(m.group(1)) <= 2100:
        return None
    return m.group(1) + (f"-Q{m.group(2)}" if m.group(2) else "")


def format_value(value: float | None, value_type: str) -> str | None:
    """A published number as the string DHIS2 accepts for ``value_type``; None = not sent.

    No thousands separator, ``.`` as decimal mark, no exponent, no trailing zeros (``50.0`` → ``50``);
    BOOLEAN → ``true`` / ``false``. A value the type cannot hold raises ``ValueError`` (a bug upstream)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"not a finite number: {value!r}")
    if value_type == "BOOLEAN":
        if v not in (0.0, 1.0):
            raise ValueError(f"{value!r} is not a yes/no value (1/0)")
        return "true" if v == 1.0 else "false"
    if value_type == "INTEGER_ZERO_OR_POSITIVE" and (v < 0 or v != round(v)):
        raise ValueError(f"{value!r} is not a whole number >= 0")
    text = format(Decimal(repr(v)).normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


# ---------------------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------------------


@dataclass
class ExportResult:
    folder: Path
    values: int  # data values written
    by_level: dict[str, int]
    unmapped_indicators: list[str]  # published indicators without a data_element row (not exported)
    unmapped_org_units: list[str]  # published hamlets/communes without an org_unit row (not exported)


_EXPORT_SQL = """
with ind as (select indicator_code, level from {dim_indicator}),
home as (select commune_code from {dim_commune} where is_home_commune)
select 'hamlet' as location_level, h.hamlet_code as location_code, h.period_code, h.indicator_code, h.value
from {mart_hamlet_indicator} h join ind on ind.indicator_code = h.indicator_code and ind.level = 'hamlet'
where h.value_source = 'reported' and h.value is not null
  and (not exists (select 1 from home) or h.commune_code in (select commune_code from home))
union all
select 'commune', c.commune_code, c.period_code, c.indicator_code, c.value
from {mart_commune_indicator} c join ind on ind.indicator_code = c.indicator_code and ind.level = 'commune'
where c.value_source = 'reported' and c.value is not null
  and (not exists (select 1 from home) or c.commune_code in (select commune_code from home))
order by 1, 2, 3, 4
"""


def _release_sources(release_dir: Path) -> dict[str, str]:
    dp = json.loads((release_dir / "datapackage.json").read_text(encoding="utf-8"))
    out = {}
    for res in dp.get("resources", []):
        paths = [f["path"] for f in res.get("ntm:files", [])] or (
            [res["path"]] if isinstance(res.get("path"), str) else list(res.get("path") or [])
        )
        if paths:
            lits = ", ".join("'" + str(release_dir / p).replace("'", "''") + "'" for p in paths)
            out[res["name"]] = f"read_parquet([{lits}], union_by_name = true)"
    return out


def published_values(release_dir: Path) -> list[tuple[str, str, str, str, float]]:
    """(location_level, location_code, period_code, indicator_code, value) the export takes from a release."""
    src = _release_sources(Path(release_dir))
    need = ("dim_indicator", "dim_commune", "mart_hamlet_indicator", "mart_commune_indicator")
    missing = [n for n in need if n not in src]
    if missing:
        raise ValueError(f"release {release_dir} lacks {', '.join(missing)}")
    con = duckdb.connect(":memory:")
    try:
        con.execute("set threads = 1")
        return con.execute(_EXPORT_SQL.format(**{n: src[n] for n in need})).fetchall()
    finally:
        con.close()


def export_release(release_dir: Path, mapping_path: Path, out_dir: Path | None = None) -> ExportResult | None:
    """Write ``<release>/exchange/dhis2/{datavaluesets.json, datavaluesets.csv, mapping.csv, README.md}``
    (or into ``out_dir``) from the release's published files. No mapping file: nothing written, None."""
    release_dir, mapping_path = Path(release_dir), Path(mapping_path)
    if not mapping_path.is_file():
        return None
    mapping = load_mapping(mapping_path)
    rows = published_values(release_dir)
    values: list[dict[str, str]] = []
    unmapped_ind: set[str] = set()
    unmapped_ou: set[str] = set()
    by_level: dict[str, int] = {}
    for level, location, period, indicator, value in rows:
        de = mapping.data_elements.get(indicator)
        ou = mapping.org_units.get(location)
        if de is None:
            unmapped_ind.add(indicator)
            continue
        if ou is None:
            unmapped_ou.add(location)
            continue
        text = format_value(value, de[2])
        if text is None:
            continue
        values.append(
            {
                "dataElement": de[0],
                "period": to_dhis2_period(period),
                "orgUnit": ou,
                "categoryOptionCombo": de[1],
                "attributeOptionCombo": mapping.attribute_option_combo,
                "value": text,
            }
        )
        by_level[level] = by_level.get(level, 0) + 1
    out = Path(out_dir) if out_dir is not None else release_dir / EXPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    (out / "datavaluesets.json").write_text(
        json.dumps({"dataValues": values}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    w.writerow(CSV_HEADER)
    w.writerows([[v[k] for k in JSON_KEYS] for v in values])
    (out / "datavaluesets.csv").write_text(buf.getvalue(), encoding="utf-8")
    write_mapping(mapping.rows, out / "mapping.csv")
    (out / "README.md").write_text(_readme(len(values), by_level, mapping.synthetic), encoding="utf-8")
    return ExportResult(out, len(values), by_level, sorted(unmapped_ind), sorted(unmapped_ou))


def export_is_current(release_dir: Path, mapping_path: Path) -> bool:
    """The release's export exists and was made with this mapping (or there is no mapping to export with)."""
    done = Path(release_dir) / EXPORT_DIR / "mapping.csv"
    if not Path(mapping_path).is_file():
        return True
    return done.is_file() and done.read_bytes() == _mapping_bytes(Path(mapping_path))


def _mapping_bytes(path: Path) -> bytes:
    buf = io.StringIO()
    write_rows = load_mapping(path).rows
    w = csv.DictWriter(buf, fieldnames=list(MAPPING_COLUMNS), lineterminator="\n")
    w.writeheader()
    w.writerows(write_rows)
    return buf.getvalue().encode("utf-8")


def ensure_export(release_dir: Path, mapping_path: Path, scratch_dir: Path) -> ExportResult | None:
    """For a release published before (unchanged content): write its export when missing or made with another
    mapping, in ``scratch_dir`` first, then swapped in (a reader never sees a half-written folder)."""
    release_dir = Path(release_dir)
    if export_is_current(release_dir, mapping_path):
        return None
    scratch_dir = Path(scratch_dir)
    tmp = scratch_dir / "dhis2"
    try:
        result = export_release(release_dir, mapping_path, out_dir=tmp)
        final = release_dir / EXPORT_DIR
        replace_dir(tmp, final, scratch_dir)
        result.folder = final
        return result
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


class Dhis2Exporter:
    """The publisher's hook (``pipeline.publish.release``): ``exporter(release_dir)`` at step 5c of a new
    release, ``exporter.ensure(release_dir, scratch_dir)`` for an unchanged one."""

    def __init__(self, mapping_path: Path):
        self.mapping_path = Path(mapping_path)

    def __call__(self, release_dir: Path) -> ExportResult | None:
        return export_release(release_dir, self.mapping_path)

    def ensure(self, release_dir: Path, scratch_dir: Path) -> ExportResult | None:
        return ensure_export(release_dir, self.mapping_path, scratch_dir)


def _readme(n: int, by_level: dict[str, int], synthetic: bool) -> str:
    warn = (
        "> **UID GIẢ LẬP / SYNTHETIC UIDs**: bảng ánh xạ là mẫu, chưa khớp một hệ DHIS2 thật. / The mapping is "
        "the sample's, not a real DHIS2 instance's.\n\n"
        if synthetic
        else ""
    )
    return f"""# DHIS2 dataValueSets

{warn}- `datavaluesets.json`, `datavaluesets.csv`: {n} giá trị / values (thôn / hamlets: {by_level.get("hamlet", 0)},
  xã / commune: {by_level.get("commune", 0)}); `POST /api/dataValueSets` (JSON: `Content-Type: application/json`,
  CSV: `application/csv`).
- `mapping.csv`: chỉ tiêu → phần tử dữ liệu + tổ hợp phân tổ, thôn/xã → đơn vị tổ chức, tổ hợp thuộc tính mặc định
  / indicator → data element + category option combo, hamlet/commune → org unit, default attribute option combo.

Xuất / exported: chỉ tiêu cấp thôn theo thôn, cấp xã theo xã, giá trị báo cáo cho chính kỳ đó (quý `2026Q1`, năm
`2026`) / hamlet-level indicators per hamlet, commune-level per commune, values reported for their own period.
Không xuất / not exported: giá trị cấp xã của chỉ tiêu cấp thôn, giá trị năm suy từ quý, giá trị trống, ngưỡng,
khảo sát, OCOP, nhiệm vụ / commune roll-ups of hamlet-level indicators, year values derived from quarters, empty
values, thresholds, surveys, OCOP, tasks. Giá trị là chuỗi; có/không là `true`/`false`; không có `comment`,
`storedBy` / values are strings; yes/no is `true`/`false`; no `comment`, `storedBy`. Quy tắc đầy đủ / full rules:
`raw/README.md` mục / section 10 của kho mã / of the repository.
"""


# ---------------------------------------------------------------------------------------------------------
# Payload rules (what DHIS2 documents for a bulk dataValueSets payload)
# ---------------------------------------------------------------------------------------------------------

_NUMBER_RE = re.compile(r"^-?(0|[1-9]\d*)(\.\d*[1-9])?$")  # canonical: no '+', no leading/trailing zeros
_INT_RE = re.compile(r"^(0|[1-9]\d*)$")


def check_payload(payload: dict, value_types: dict[str, str] | None = None) -> list[str]:
    """Problems of a bulk JSON payload against the documented rules (empty list: conforms).

    ``value_types``: data element UID → DHIS2 value type, to check each value's text for its type."""
    problems: list[str] = []
    dvs = payload.get("dataValues")
    if not isinstance(dvs, list):
        return ["dataValues: missing or not a list"]
    for i, dv in enumerate(dvs):
        where = f"dataValues[{i}]"
        for k in ("dataElement", "period", "orgUnit", "value"):
            if k not in dv:
                problems.append(f"{where}: missing {k}")
        for k in ("comment", "storedBy"):
            if k in dv:
                problems.append(f"{where}: {k} must not be exported")
        for k in ("dataElement", "orgUnit", "categoryOptionCombo", "attributeOptionCombo"):
            if k in dv and not (isinstance(dv[k], str) and UID_RE.match(dv[k])):
                problems.append(f"{where}.{k}: {dv[k]!r} is not a UID")
        if "period" in dv and from_dhis2_period(str(dv["period"])) is None:
            problems.append(f"{where}.period: {dv['period']!r} is not a quarterly/yearly ISO period")
        v = dv.get("value")
        if not isinstance(v, str) or v == "":
            problems.append(f"{where}.value: {v!r} is not a non-empty string")
            continue
        vt = (value_types or {}).get(dv.get("dataElement"))
        if vt == "BOOLEAN" and v not in ("true", "false"):
            problems.append(f"{where}.value: {v!r} is not true/false")
        elif vt == "INTEGER_ZERO_OR_POSITIVE" and not _INT_RE.match(v):
            problems.append(f"{where}.value: {v!r} is not a whole number >= 0")
        elif vt == "NUMBER" and not _NUMBER_RE.match(v):
            problems.append(f"{where}.value: {v!r} is not a plain decimal number")
    return problems


def _main(argv: list[str] | None = None) -> int:
    """``python -m pipeline.exchange.dhis2 sample-mapping [RAW_DIR]`` writes the synthetic sample mapping;
    ``python -m pipeline.exchange.dhis2 export RELEASE_DIR [MAPPING]`` (re)writes one release's export."""
    import sys

    from pipeline.config import DBT_PROJECT_DIR, REPO_ROOT

    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["sample-mapping"]:
        raw = Path(args[1]) if len(args) > 1 else REPO_ROOT / "raw"
        rows = sample_mapping_rows(
            DBT_PROJECT_DIR / "seeds" / "indicators.csv", raw / "reference" / "hamlets.csv"
        )
        write_mapping(rows, raw / "reference" / MAPPING_FILE)
        print(f"{len(rows)} rows -> {raw / 'reference' / MAPPING_FILE}")
        return 0
    if args[:1] == ["export"] and len(args) >= 2:
        mapping = Path(args[2]) if len(args) > 2 else REPO_ROOT / "raw" / "reference" / MAPPING_FILE
        res = export_release(Path(args[1]), mapping)
        print(res)
        return 0 if res is not None else 1
    print(_main.__doc__)
    return 2


if __name__ == "__main__":
    raise SystemExit(_main())
