"""The bundled commune sample: unit submissions of Đồng Lộc (18484), 2025-Q1..2026-Q3 and the 2025 annual.

Who reports what comes from the reference files read at run time (indicators, plan tasks, reporting units,
hamlets, hamlet population). The deliberate defects, the encodings and the XLSX files are placed by the
explicit rules in ``SPECIAL`` / ``DEFECTS`` below, so raw/README.md can list them by file and row.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from pipeline.ingest.sources.submissions.template import SUBMISSION
from pipeline.synth.generate import (
    COMMUNE,
    TITLE_SUBMISSION,
    Period,
    csv_text,
    encode_text,
    overlaps,
    quarters,
    reference,
    seed,
    valid_on,
    write_bytes,
    write_xlsx_table,
)

CODES = [c.code for c in SUBMISSION.columns]
HEADER = [c.label_vi for c in SUBMISSION.columns]
FIRST, LAST, ANNUAL_YEARS = "2025-Q1", "2026-Q3", (2025,)

# unit_code, period -> (format, note). Formats: utf-8 (default), utf-8-sig, utf-16, cp1258, tcvn3, vni, xlsx
SPECIAL_FORMAT = {
    ("18484-VP", "2025-Q3"): "utf-8-sig",
    ("18484-T10", "2026-Q1"): "utf-16",
    ("18484-VHXH", "2026-Q2"): "cp1258",
    ("18484-KT", "2026-Q1"): "tcvn3",
    ("18484-T18", "2026-Q3"): "vni",
    ("18484-KT", "2026-Q3"): "xlsx",
    ("18484-HTX1", "2026-Q2"): "xlsx",
    ("18484-T01", "2025-Q4"): "xlsx",
    ("18484-VHXH", "2025"): "xlsx",
}
MISSING = ("18484-T11", "2026-Q2")  # the one report that never arrived
RESUBMITTED = ("18484-KT", "2026-Q2")  # a _v2 file with a later submitted_at and one corrected value
LATE = {  # submitted after the due date (raw/README.md rule 7.5: through the 15th, 23:59:59)
    ("18484-T08", "2025-Q2"): dt.datetime(2025, 6, 18, 9, 40),
    ("18484-VHXH", "2025-Q3"): dt.datetime(2025, 9, 22, 15, 5),
    ("18484-T20", "2025-Q4"): dt.datetime(2025, 12, 19, 10, 20),
    ("18484-HTX2", "2026-Q1"): dt.datetime(2026, 3, 17, 8, 55),
    ("18484-T26", "2026-Q3"): dt.datetime(2026, 9, 21, 14, 10),
}


@dataclass(frozen=True)
class Defect:
    file: str  # path relative to raw/
    row: int  # row as a person sees it (header = row 1 in CSV)
    column: str
    raw_value: str
    reason_vi: str
    reason_en: str


def seeded_rng(seed_: int, *key: object) -> np.random.Generator:
    """A generator keyed by names (stable whatever the iteration order)."""
    return np.random.default_rng([seed_, zlib.crc32("|".join(map(str, key)).encode())])


def _units(ref_dir: Path | None) -> pd.DataFrame:
    u = reference("reporting_units.csv", ref_dir)
    u = u[u["commune_code"] == COMMUNE]
    # several versions of a unit (a renamed hamlet) report under one code: union of validity
    g = u.groupby("unit_code", sort=False).agg(
        unit_type=("unit_type", "first"),
        abbr=("abbr", "first"),
        valid_from=("valid_from", "min"),
        valid_to=("valid_to", lambda s: "" if (s == "").any() else max(s)),
    )
    return g.reset_index()


def _households(ref_dir: Path | None) -> dict[tuple[str, int], int]:
    p = reference("hamlet_population.csv", ref_dir)
    return {(h, int(y)): int(n) for h, y, n in zip(p["hamlet_code"], p["year"], p["households"], strict=True)}


def _period_index(p: Period) -> float:
    """Quarters since 2025-Q1 (an annual period sits at its last quarter)."""
    return (p.year - 2025) * 4 + ((p.quarter or 4) - 1)


def indicator_rows(
    seed_: int,
    unit: dict,
    period: Period,
    ind: list[dict],
    hamlets: list[str],
    hh: dict[tuple[str, int], int],
) -> list[dict]:
    """CT rows of one unit for one period (values as numbers; formatting happens per file)."""
    rows = []
    t = _period_index(period)
    is_hamlet_unit = unit["unit_type"] == "hamlet"
    for r in ind:
        if r["reporter_unit_type"] != unit["unit_type"]:
            continue
        if not overlaps(r["valid_from"], r["valid_to"], period.start, period.end):
            continue
        r = SimpleNamespace(**r)
        own = [unit["unit_code"]] if is_hamlet_unit else hamlets
        targets = own if r.level == "hamlet" else [""]
        for h in targets:
            g = seeded_rng(seed_, unit["unit_code"], h, r.indicator_code)
            base, slope, u = g.uniform(0, 1, 3)
            noise = seeded_rng(seed_, unit["unit_code"], h, r.indicator_code, period.code).normal(0, 1)
            lo = float(r.min_value or 0)
            hi = float(r.max_value) if r.max_value else 1e9
            row = {"hamlet_code": h, "indicator_code": r.indicator_code}
            if r.value_type == "yesno":
                row["value"] = bool(u < 0.35 + 0.09 * t)
            elif r.value_type == "percent":
                pct = float(np.clip(30 + 40 * base + (2 + 3 * slope) * t + 1.5 * noise, lo, min(hi, 100)))
                if r.aggregation == "ratio_of_sums":
                    den = hh.get((h, period.year)) if h else None
                    den = den or int(8 + 400 * base**3)
                    num = round(den * pct / 100)
                    row |= {"numerator": num, "denominator": den, "value": round(100 * num / den, 1)}
                else:
                    row["value"] = round(pct, 1)
            elif r.value_type == "ratio":
                den = hh.get((h, period.year)) or 100
                ratio = min(hi, 1.1 + base + 0.12 * t + 0.05 * noise)
                num = round(den * ratio)
                row |= {"numerator": num, "denominator": den, "value": round(num / den, 2)}
            else:  # count
                scale = min(hi, 400.0) * (0.03 + 0.12 * base)
                growth = 1 + (0.05 + 0.1 * slope) * t
                if r.measure_kind == "stock":
                    # a level (Wi-Fi points, team members, listed products): drawn once per location, then it
                    # grows with time; redrawing it every period would make it jump (3 -> 11 -> 3 Wi-Fi points)
                    level = seeded_rng(seed_, h, r.indicator_code).poisson(scale)
                    row["value"] = int(np.clip(round(level * growth), lo, hi))
                else:  # a flow: what happened in the period, a fresh draw each period
                    lam = scale * growth
                    if period.quarter is None and r.annual_rule == "sum":
                        lam *= 4
                    row["value"] = int(
                        np.clip(seeded_rng(seed_, h, r.indicator_code, period.code).poisson(lam), lo, hi)
                    )
            rows.append(row)
    return rows


def task_rows(seed_: int, unit: dict, period: Period, tasks: list[dict]) -> list[dict]:
    """Progress rows for the appendix tasks the unit leads or coordinates, in the years of their timeframe
    (quarterly and annual reports alike)."""
    mine = [
        (r["task_code"], int(r["timeframe_start"]))
        for r in tasks
        if (
            r["lead_unit_abbr"] == unit["abbr"]
            or unit["abbr"] in str(r["coordinating_unit_abbrs"]).split(";")
        )
        and int(r["timeframe_start"]) <= period.year <= int(r["timeframe_end"])
    ]
    rows = []
    for code, first_year in mine:
        t = (period.year - first_year) * 4 + ((period.quarter or 4) - 1)  # quarters since the task began
        start, speed, slow = seeded_rng(seed_, unit["unit_code"], code).uniform(0, 1, 3)
        pct = int(np.clip(round(-10 + 30 * start + (8 + 14 * speed) * (t + 1)), 0, 100))
        if pct >= 100:
            status = "Hoàn thành"
        elif pct == 0:
            status = "Chưa thực hiện"
        elif slow < 0.2:
            status = "Chậm tiến độ"
        else:
            status = "Đang thực hiện"
        note = "Thiếu kinh phí, đề nghị bổ sung" if status == "Chậm tiến độ" else ""
        rows.append(
            {"row_type": "NV", "task_code": code, "task_status": status, "percent_done": pct, "note": note}
        )
    return rows


# ---------------------------------------------------------------- formatting


def _fmt_number(v: float, style: str, decimals: int) -> str:
    s = f"{v:,.{decimals}f}" if decimals else f"{int(round(v))}"
    if decimals:
        s = s.rstrip("0").rstrip(".") if "." in s else s
        if "." not in s:  # no decimal part left: drop thousands separators (never ambiguous "1,234")
            s = s.replace(",", "")
    if style == "plain" or not decimals:
        return s.replace(",", "")
    if style == "vi":
        return s.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return s  # en


def format_value(row: dict, vtype: str, style: dict) -> str:
    v = row.get("value")
    if v is None or isinstance(v, str):
        return v or ""
    if vtype == "yesno":
        return style["yes"] if v else style["no"]
    if vtype == "percent":
        s = _fmt_number(float(v), style["num"], 1)
        return s + style["pct"]
    if vtype == "ratio":
        return _fmt_number(float(v), style["num"], 2)
    return _fmt_number(float(v), style["num"], 0)


def _file_style(g: np.random.Generator) -> dict:
    yes, no = [("có", "không"), ("Có", "Không"), ("1", "0"), ("x", "0")][g.integers(4)]
    return {
        "yes": yes,
        "no": no,
        "num": ["plain", "vi", "en"][g.integers(3)],
        "pct": ["", "%", " %"][g.integers(3)],
        "ts": ["dmy", "iso", "isoT"][g.integers(3)],
    }


def _fmt_ts(ts: dt.datetime, kind: str) -> str:
    if kind == "dmy":
        return ts.strftime("%d/%m/%Y %H:%M")
    if kind == "iso":
        return ts.strftime("%Y-%m-%d %H:%M")
    return ts.strftime("%Y-%m-%dT%H:%M:%S")


def _submitted_at(seed_: int, unit: str, period: Period) -> dt.datetime:
    if (unit, period.code) in LATE:
        return LATE[(unit, period.code)]
    g = seeded_rng(seed_, "ts", unit, period.code)
    day = int(g.integers(3, 15))  # on time: before the 15th, hence before the due date (rule 7.5)
    return dt.datetime(
        period.deadline.year, period.deadline.month, day, int(g.integers(7, 17)), int(g.integers(0, 60))
    )


def file_name(unit: str, period: Period, ext: str, version: int = 1) -> str:
    v = f"_v{version}" if version > 1 else ""
    return f"submissions/{period.year}/{unit}_{period.code}{v}.{ext}"


# ---------------------------------------------------------------- the sample


def plan_files(seed_: int, seeds_dir: Path | None = None, ref_dir: Path | None = None) -> list[dict]:
    """Every submission file as {unit, period, rows (dicts by column code), submitted_at, style}."""
    ind = seed("indicators.csv", seeds_dir)
    tasks = seed("plan_tasks.csv", seeds_dir).to_dict("records")
    types = seed("reporting_unit_types.csv", seeds_dir).set_index("unit_type")
    hamlets_ref = reference("hamlets.csv", ref_dir)
    hamlets_ref = hamlets_ref[hamlets_ref["commune_code"] == COMMUNE]
    units = _units(ref_dir)
    hh = _households(ref_dir)
    periods = quarters(FIRST, LAST) + [Period(str(y), y, None) for y in ANNUAL_YEARS]
    vtype = dict(zip(ind["indicator_code"], ind["value_type"], strict=True))
    ind_records = ind.to_dict("records")
    files = []
    for period in periods:
        col = "reports_annual" if period.quarter is None else "reports_quarterly"
        # a hamlet / unit reports for a period when it exists at the period's end
        hamlets = sorted(
            {
                h
                for h, f, t in zip(
                    hamlets_ref["hamlet_code"],
                    hamlets_ref["valid_from"],
                    hamlets_ref["valid_to"],
                    strict=True,
                )
                if valid_on(f, t, period.end)
            }
        )
        for unit in units.to_dict("records"):
            if not valid_on(unit["valid_from"], unit["valid_to"], period.end):
                continue
            if unit["unit_type"] in types.index and types.at[unit["unit_type"], col] != "true":
                continue
            if (unit["unit_code"], period.code) == MISSING:
                continue
            rows = [
                {"row_type": "CT"} | r for r in indicator_rows(seed_, unit, period, ind_records, hamlets, hh)
            ]
            rows += task_rows(seed_, unit, period, tasks)
            if not rows:
                continue
            style = _file_style(seeded_rng(seed_, "style", unit["unit_code"], period.code))
            ts = _submitted_at(seed_, unit["unit_code"], period)
            g = seeded_rng(seed_, "notes", unit["unit_code"], period.code)
            for r in rows:
                r["value_type"] = vtype.get(r.get("indicator_code", ""), "")
                if r["row_type"] == "CT" and g.uniform() < 0.06:
                    r["note"] = ["Số liệu ước tính", "Đã rà soát với thôn", "Số liệu sơ bộ"][g.integers(3)]
            files.append(
                {
                    "unit": unit["unit_code"],
                    "period": period,
                    "rows": rows,
                    "submitted_at": ts,
                    "style": style,
                    "version": 1,
                    "format": SPECIAL_FORMAT.get((unit["unit_code"], period.code), "utf-8"),
                }
            )
    return files


def _find(files: list[dict], unit: str, period: str, version: int = 1) -> dict:
    return next(
        f for f in files if f["unit"] == unit and f["period"].code == period and f["version"] == version
    )


def _pick(f: dict, vtype: str | None = None, row_type: str = "CT") -> int:
    """Index of the first row of the given value type (a stable choice for a defect)."""
    return next(
        i
        for i, r in enumerate(f["rows"])
        if r["row_type"] == row_type and (vtype is None or r["value_type"] == vtype)
    )


def apply_defects(files: list[dict]) -> list[Defect]:
    """Inject the deliberate defects listed in raw/README.md; returns them with file and row."""
    defects: list[tuple[dict, int, str, str, str, str]] = []  # (file, row index, column, raw, vi, en)

    # the resubmission: a copy with a later timestamp and one corrected value
    v1 = _find(files, *RESUBMITTED)
    v2 = {
        **v1,
        "rows": [dict(r) for r in v1["rows"]],
        "version": 2,
        "submitted_at": v1["submitted_at"].replace(day=14, hour=17, minute=5),
    }
    i = _pick(v2, "count")
    v2["rows"][i]["value"] = v2["rows"][i]["value"] + 7
    v2["rows"][i]["note"] = "Điều chỉnh số liệu so với bản gửi trước"
    files.append(v2)

    f = _find(files, "18484-T05", "2026-Q1")
    i = _pick(f)
    f["rows"][i]["hamlet_code"] = "18484-T50"
    defects.append(
        (f, i, "hamlet_code", "18484-T50", "mã thôn không có trong danh mục", "unknown hamlet code")
    )

    f = _find(files, "18484-VP", "2026-Q2")
    i = _pick(f)
    f["rows"].insert(i + 1, dict(f["rows"][i]) | {"indicator_code": "CDS.99"})
    defects.append(
        (
            f,
            i + 1,
            "indicator_code",
            "CDS.99",
            "mã chỉ tiêu không có trong danh mục",
            "unknown indicator code",
        )
    )

    f = _find(files, "18484-T12", "2026-Q2")
    i = _pick(f, "percent")
    f["rows"][i] |= {"value": "120", "numerator": None, "denominator": None}
    defects.append((f, i, "value", "120", "tỷ lệ phần trăm vượt 100", "percent above 100"))

    f = _find(files, "18484-T07", "2026-Q3")
    i = _pick(f, "count")
    f["rows"][i]["value"] = "-3"
    defects.append((f, i, "value", "-3", "số đếm âm", "negative count"))

    f = _find(files, "18484-VHXH", "2026-Q1")
    i = _pick(f, "count")
    f["rows"][i]["value"] = "abc"
    defects.append((f, i, "value", "abc", "không đọc được số", "unparseable number"))

    f = _find(files, "18484-T03", "2026-Q2")
    i = _pick(f, "percent")
    f["rows"].insert(i + 1, dict(f["rows"][i]))
    defects.append(
        (f, i + 1, "(cả dòng / whole row)", "", "dòng trùng lặp trong tệp", "duplicate row in file")
    )

    f = _find(files, "18484-MTTQ", "2026-Q3")
    i = _pick(f)
    f["rows"].append(dict(f["rows"][i]) | {"period": "2027-Q2"})
    defects.append((f, len(f["rows"]) - 1, "period", "2027-Q2", "kỳ báo cáo ở tương lai", "future period"))

    f = _find(files, "18484-T15", "2025-Q4")
    i = _pick(f)
    f["rows"].append(dict(f["rows"][i]) | {"period": "2025-Q5"})
    defects.append(
        (f, len(f["rows"]) - 1, "period", "2025-Q5", "kỳ báo cáo sai định dạng", "malformed period")
    )

    out = []
    for f, i, col, raw, vi, en in defects:
        assert f["format"] != "xlsx"
        out.append(Defect(file_name(f["unit"], f["period"], "csv", f["version"]), i + 2, col, raw, vi, en))
    return out


def _cells(f: dict) -> list[list[object]]:
    """The file's rows as text cells in template column order."""
    st = f["style"]
    ts = _fmt_ts(f["submitted_at"], st["ts"])
    out = []
    for r in f["rows"]:
        cells = {
            "unit_code": f["unit"],
            "period": r.get("period", f["period"].code),
            "submitted_at": ts,
            "row_type": r["row_type"],
            "hamlet_code": r.get("hamlet_code", ""),
            "indicator_code": r.get("indicator_code", ""),
            "value": format_value(r, r["value_type"], st) if r["row_type"] == "CT" else "",
            "numerator": "" if r.get("numerator") is None else str(r["numerator"]),
            "denominator": "" if r.get("denominator") is None else str(r["denominator"]),
            "task_code": r.get("task_code", ""),
            "task_status": r.get("task_status", ""),
            "percent_done": "" if r.get("percent_done") is None else str(r["percent_done"]),
            "note": r.get("note", ""),
        }
        out.append([cells[c] for c in CODES])
    return out


def _xlsx_cells(f: dict) -> list[list[object]]:
    """XLSX rows: numbers as numeric cells, submitted_at as an Excel date-time, some percents as text."""
    rows = []
    for r, cells in zip(f["rows"], _cells(f), strict=True):
        cells[CODES.index("submitted_at")] = f["submitted_at"]
        v = r.get("value")
        if r["row_type"] == "CT" and isinstance(v, (int, float)) and not isinstance(v, bool):
            cells[CODES.index("value")] = v
        for c in ("numerator", "denominator", "percent_done"):
            if r.get(c) is not None:
                cells[CODES.index(c)] = r[c]
        rows.append(cells)
    return rows


def write_submissions(
    out: Path, seed_: int, seeds_dir: Path | None = None, ref_dir: Path | None = None
) -> tuple[list[dict], list[Defect]]:
    files = plan_files(seed_, seeds_dir, ref_dir)
    defects = apply_defects(files)
    validations = {CODES.index(c.code): list(c.allowed) for c in SUBMISSION.columns if c.allowed}
    from pipeline.synth.blank_templates import instruction_rows

    for f in files:
        fmt = f["format"]
        if fmt == "xlsx":
            p = out / file_name(f["unit"], f["period"], "xlsx", f["version"])
            write_xlsx_table(
                p,
                SUBMISSION.sheet,
                TITLE_SUBMISSION,
                f"Đơn vị: {f['unit']} — Kỳ báo cáo: {f['period'].code}",
                HEADER,
                _xlsx_cells(f),
                instruction_rows(SUBMISSION),
                validations,
                {CODES.index("submitted_at"): "dd/mm/yyyy hh:mm"},
                validation_rows=100,
            )
            continue
        eol = "\n" if fmt in ("utf-8", "utf-8-sig") else "\r\n"
        p = out / file_name(f["unit"], f["period"], "csv", f["version"])
        write_bytes(p, encode_text(csv_text(HEADER, _cells(f), eol), fmt))
    return files, defects
