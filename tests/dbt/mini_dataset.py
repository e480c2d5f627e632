"""A hand-made mini dataset for the dbt project: raw tables + reference seeds small enough to compute every
mart by hand (tests/dbt/test_marts.py does that computation, line by line).

Story (commune 18484, province 42, commune group 2):
- Hamlets: T01 (renamed on 2026-07-01, same code: two versions), T02 and T03 (merged into T04 on
  2026-04-01), T04 (created by the merger).
- Reporting units: KT (economic_dept, quarterly + annual), VHXH (culture_social_dept, quarterly only) and
  the hamlets (quarterly only).
- Periods: 2026-Q1, 2026-Q2, 2026-Q3 and the year 2026 (KT's annual report).
- A resubmission: T01 sends 2026-Q2 twice (v1 on time on 10 Jun, v2 on 20 Jun, after the due date).
- Late reports: T03 in Q1 (20 Mar, 5 days late), T04 in Q3 (16 Sep, 1 day late).
- A missing report: VHXH sends nothing for 2026-Q2.
- Two units on the same hamlet value: KT also reports H.LAST for T01 in Q3, after T01 did (KT wins).
- A commune-level value from a unit of another type: VHXH reports C.COUNT (a KT indicator) in Q1: ignored.
- Roll-up rules (raw/README.md section 7, declared per indicator in the catalog):
  7.1 T04 reports H.RATIO for Q3 as a bare 90 % (no numerator/denominator): derived from its 130 households
      (numerator 117, denominator 130) so it weighs in the commune's ratio of sums;
  7.2 T02 and T03 cease on 31 Mar: the year's stock indicators (H.MEAN, H.SHARE, H.LAST, H.MAX, H.ALLYES) roll
      up over T01 and T04 only, the flows (H.SUM, H.RATIO) over all four hamlets;
  7.3 T01's Q2 resubmission leaves H.MEAN out: v1's 50 stays in force (kept_from_earlier);
  7.4 KT reports H.LAST for T01: allowed because reporting_units lists T01 in KT's reports_for_hamlets.
- Survey: 6 responses in T01 and T04; household h1 answered twice (only its later response counts).
- OCOP: 3 products, one certificate expiring on 2026-10-31.
"""

from __future__ import annotations

import csv
import hashlib
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd


def _ddl() -> dict[str, str]:
    """The raw tables exactly as the ingest creates them (pipeline/ingest/tables.py)."""
    from pipeline.ingest.tables import DDL

    return {k: v for k, v in DDL.items() if k.startswith("raw.")}


def _admin_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """raw.provinces and raw.communes as the admin_units asset writes them (from vietnam-provinces)."""
    from pipeline.ingest.sources.reference.admin_units import communes_frame, provinces_frame

    return provinces_frame(), communes_frame()


COMMUNE = "18484"

# ------------------------------------------------------------------------------------------ seeds

INDICATOR_COLUMNS = [
    "indicator_code",
    "criteria_set",
    "criterion_code",
    "name_vi",
    "name_en",
    "unit_vi",
    "unit_en",
    "value_type",
    "level",
    "aggregation",
    "annual_rule",
    "direction",
    "threshold",
    "min_value",
    "max_value",
    "reporter_unit_type",
    "valid_from",
    "valid_to",
    "measure_kind",
    "missing_fraction_rule",
    "fraction_weight",
    "omitted_on_resubmission",
    "hamlet_reporters",
]

# code, value_type, level, aggregation, annual_rule, direction, threshold, reporter_unit_type, measure_kind
_INDICATORS = [
    ("H.SUM", "count", "hamlet", "sum", "sum", "higher_better", "", "hamlet", "flow"),
    ("H.MEAN", "percent", "hamlet", "mean", "mean", "higher_better", "", "hamlet", "stock"),
    (
        "H.RATIO",
        "percent",
        "hamlet",
        "ratio_of_sums",
        "ratio_of_sums",
        "higher_better",
        "80",
        "hamlet",
        "flow",
    ),
    ("H.SHARE", "yesno", "hamlet", "share_meeting", "last", "higher_better", "1", "hamlet", "stock"),
    ("H.LAST", "count", "hamlet", "last", "last", "higher_better", "", "hamlet", "stock"),
    ("H.MAX", "count", "hamlet", "max", "max", "lower_better", "5", "hamlet", "stock"),
    ("H.ALLYES", "yesno", "hamlet", "all_yes", "max", "higher_better", "1", "hamlet", "stock"),
    ("C.COUNT", "count", "commune", "sum", "sum", "higher_better", "", "economic_dept", "flow"),
    (
        "C.PCT",
        "percent",
        "commune",
        "ratio_of_sums",
        "last",
        "higher_better",
        "",
        "culture_social_dept",
        "stock",
    ),
]


def _rules(level: str, aggregation: str) -> list[str]:
    """missing_fraction_rule, fraction_weight, omitted_on_resubmission, hamlet_reporters (as the catalog)."""
    if aggregation != "ratio_of_sums":
        fraction = ["not_applicable", ""]
    elif level == "hamlet":
        fraction = ["derive_from_weight", "households"]
    else:
        fraction = ["quarantine", ""]
    return [*fraction, "keep_earlier", "own_or_listed" if level == "hamlet" else "not_applicable"]


SEEDS: dict[str, list[list[str]]] = {
    "indicators.csv": [INDICATOR_COLUMNS]
    + [
        [
            code,
            "KH_CDS_DL",
            "CQS",
            f"Chỉ tiêu {code}",
            f"Indicator {code}",
            "đơn vị",
            "unit",
            vt,
            lvl,
            agg,
            rule,
            direction,
            thr,
            "0",
            "1000",
            reporter,
            "2026-01-01",
            "2030-12-31",
            kind,
            *_rules(lvl, agg),
        ]
        for code, vt, lvl, agg, rule, direction, thr, reporter, kind in _INDICATORS
    ],
    "indicator_thresholds.csv": [
        ["indicator_code", "commune_group", "threshold"],
        ["H.RATIO", "1", "70"],
        ["H.RATIO", "2", "90"],
    ],
    "indicator_targets.csv": [
        ["indicator_code", "year", "target_value", "target_scope", "source_vi", "source_en"],
        ["C.PCT", "2026", "85", "commune", "Kế hoạch thử", "Test plan"],
        ["H.SHARE", "2026", "50", "commune", "Kế hoạch thử", "Test plan"],
    ],
    "communes_group.csv": [["commune_code", "commune_group"], [COMMUNE, "2"]],
    "criteria_sets.csv": [
        ["criteria_set", "name_vi", "name_en", "legal_basis", "valid_from", "valid_to"],
        ["KH_CDS_DL", "Kế hoạch CĐS", "DX plan", "Kế hoạch thử", "2026-01-01", "2030-12-31"],
    ],
    "reporting_unit_types.csv": [
        ["unit_type", "abbr", "name_vi", "name_en", "reports_quarterly", "reports_annual"],
        ["economic_dept", "KT", "Phòng Kinh tế", "Economic Department", "true", "true"],
        [
            "culture_social_dept",
            "VHXH",
            "Phòng Văn hoá - Xã hội",
            "Culture and Social Affairs",
            "true",
            "false",
        ],
        ["hamlet", "T", "Thôn / Tổ dân phố", "Hamlet", "true", "false"],
    ],
    "plan_tasks.csv": [
        [
            "task_code",
            "section_code",
            "title_vi",
            "title_en",
            "lead_unit_abbr",
            "coordinating_unit_abbrs",
            "timeframe_start",
            "timeframe_end",
        ],
        ["I.1", "I", "Tuyên truyền", "Outreach", "KT", "VHXH", "2026", "2030"],
        ["I.2", "I", "Tập huấn", "Training", "VHXH", "KT", "2026", "2030"],
    ],
    "survey_questions.csv": [
        ["form_code", "question_code", "question_no", "text_vi", "text_en", "topic"],
        ["F1", "Q01", "1", "Hài lòng về đường?", "Satisfied with roads?", "roads"],
        ["F1", "Q02", "2", "Hài lòng về nước?", "Satisfied with water?", "clean_water"],
    ],
}


def write_seeds(seed_dir: Path) -> None:
    """Replace the CSV seeds of a (copied) dbt project by the mini ones; _seeds.yml is kept."""
    seed_dir = Path(seed_dir)
    for old in seed_dir.glob("*.csv"):
        old.unlink()
    for name, rows in SEEDS.items():
        with open(seed_dir / name, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(rows)


# ------------------------------------------------------------------------------------------ raw tables

HAMLETS = [
    # hamlet_key, hamlet_code, commune_code, name, hamlet_type, valid_from, valid_to (inclusive)
    (1, "18484-T01", COMMUNE, "Thôn Một", "thon", date(2020, 1, 1), date(2026, 6, 30)),
    (5, "18484-T01", COMMUNE, "Thôn Một Mới", "thon", date(2026, 7, 1), None),
    (2, "18484-T02", COMMUNE, "Thôn Hai", "thon", date(2020, 1, 1), date(2026, 3, 31)),
    (3, "18484-T03", COMMUNE, "Thôn Ba", "thon", date(2020, 1, 1), date(2026, 3, 31)),
    (4, "18484-T04", COMMUNE, "Thôn Bốn", "thon", date(2026, 4, 1), None),
]
CROSSWALK = [
    ("18484-T02", "18484-T04", "merge", date(2026, 4, 1), 1.0),
    ("18484-T03", "18484-T04", "merge", date(2026, 4, 1), 1.0),
    ("18484-T01", "18484-T01", "rename", date(2026, 7, 1), 1.0),
]
POPULATION = [  # hamlet_code, year, households, population
    ("18484-T01", 2026, 120, 500),
    ("18484-T02", 2026, 80, 300),
    ("18484-T03", 2026, 50, 200),
    ("18484-T04", 2026, 130, 500),
]
REPORTING_UNITS = [
    (
        "18484-KT",
        COMMUNE,
        "economic_dept",
        "KT",
        "Phòng Kinh tế",
        "Economic Department",
        date(2025, 7, 1),
        None,
    ),
    (
        "18484-VHXH",
        COMMUNE,
        "culture_social_dept",
        "VHXH",
        "Phòng VH-XH",
        "Culture dept",
        date(2025, 7, 1),
        None,
    ),
    ("18484-T01", COMMUNE, "hamlet", "T01", "Thôn Một", "Hamlet One", date(2020, 1, 1), None),
    ("18484-T02", COMMUNE, "hamlet", "T02", "Thôn Hai", "Hamlet Two", date(2020, 1, 1), date(2026, 3, 31)),
    ("18484-T03", COMMUNE, "hamlet", "T03", "Thôn Ba", "Hamlet Three", date(2020, 1, 1), date(2026, 3, 31)),
    ("18484-T04", COMMUNE, "hamlet", "T04", "Thôn Bốn", "Hamlet Four", date(2026, 4, 1), None),
]

# One dict per submitted file: unit, period, submitted_at, arrival_seq, values, tasks, quarantined rows.
# values: (hamlet_code or None, indicator_code, value, numerator, denominator)
_H = ("H.SUM", "H.MEAN", "H.RATIO", "H.SHARE", "H.LAST", "H.MAX", "H.ALLYES")


def _hamlet_rows(hamlet: str, sum_, mean, ratio, share, last, max_, allyes) -> list[tuple]:
    rows = [
        (hamlet, "H.SUM", sum_, None, None),
        (hamlet, "H.MEAN", mean, None, None),
        (hamlet, "H.RATIO", None, ratio[0], ratio[1]),  # value left blank: computed from num/den
        (hamlet, "H.SHARE", share, None, None),
        (hamlet, "H.LAST", last, None, None),
        (hamlet, "H.MAX", max_, None, None),
        (hamlet, "H.ALLYES", allyes, None, None),
    ]
    return [r for r in rows if r[2] is not None or r[3] is not None]


SUBMISSIONS = [
    # ---- 2026-Q1 (due 2026-03-15 23:59:59)
    dict(
        unit="18484-T01",
        period="2026-Q1",
        at=datetime(2026, 3, 10, 9, 0),
        seq=1,
        values=_hamlet_rows("18484-T01", 10, 60, (18, 20), 1, 3, 4, 1),
    ),
    dict(
        unit="18484-T02",
        period="2026-Q1",
        at=datetime(2026, 3, 14, 9, 0),
        seq=2,
        values=_hamlet_rows("18484-T02", 20, 80, (8, 10), 0, 5, 7, 1),
    ),
    dict(
        unit="18484-T03",
        period="2026-Q1",
        at=datetime(2026, 3, 20, 10, 0),
        seq=3,
        quarantined=1,
        values=_hamlet_rows("18484-T03", 30, 70, (27, 30), 1, 2, 6, 0),
    ),
    dict(
        unit="18484-KT",
        period="2026-Q1",
        at=datetime(2026, 3, 12, 8, 0),
        seq=4,
        values=[(None, "C.COUNT", 10, None, None)],
    ),
    dict(
        unit="18484-VHXH",
        period="2026-Q1",
        at=datetime(2026, 3, 15, 20, 0),
        seq=5,
        values=[(None, "C.PCT", None, 40, 50), (None, "C.COUNT", 999, None, None)],
    ),
    # ---- 2026-Q2 (due 2026-06-15); VHXH missing
    dict(
        unit="18484-T01",
        period="2026-Q2",
        at=datetime(2026, 6, 10, 9, 0),
        seq=6,
        values=_hamlet_rows("18484-T01", 11, 50, (15, 20), 0, 4, 3, 1),
        tasks=[("I.1", "not_started", 0.0)],
    ),
    dict(
        unit="18484-T04",
        period="2026-Q2",
        at=datetime(2026, 6, 14, 9, 0),
        seq=7,
        values=_hamlet_rows("18484-T04", 45, 90, (40, 50), 1, 6, 9, 1),
    ),
    dict(
        unit="18484-KT",
        period="2026-Q2",
        at=datetime(2026, 6, 15, 16, 0),
        seq=8,
        values=[(None, "C.COUNT", 12, None, None)],
    ),
    dict(
        unit="18484-T01",
        period="2026-Q2",
        at=datetime(2026, 6, 20, 9, 0),
        seq=9,  # resubmission (v2)
        # rule 7.3: v2 leaves H.MEAN out -> v1's 50 stays in force
        values=[r for r in _hamlet_rows("18484-T01", 12, 50, (19, 20), 1, 4, 3, 1) if r[1] != "H.MEAN"],
        tasks=[("I.1", "in_progress", 20.0)],
    ),
    # ---- 2026-Q3 (due 2026-09-15)
    dict(
        unit="18484-T01",
        period="2026-Q3",
        at=datetime(2026, 9, 10, 9, 0),
        seq=10,
        values=_hamlet_rows("18484-T01", 13, 40, (10, 20), 1, 5, 2, 1),
    ),
    dict(
        unit="18484-T04",
        period="2026-Q3",
        at=datetime(2026, 9, 16, 8, 0),
        seq=11,  # late; no H.SHARE; rule 7.1: H.RATIO as a bare 90 % (no numerator/denominator)
        values=[
            (h, i, 90, None, None) if i == "H.RATIO" else (h, i, v, n, d)
            for h, i, v, n, d in _hamlet_rows("18484-T04", 50, 100, (45, 50), None, 7, 8, 0)
        ],
    ),
    dict(
        unit="18484-KT",
        period="2026-Q3",
        at=datetime(2026, 9, 15, 10, 0),
        seq=12,
        values=[(None, "C.COUNT", 15, None, None), ("18484-T01", "H.LAST", 99, None, None)],
        tasks=[("I.1", "in_progress", 40.0), ("I.2", "done", 100.0)],
    ),
    dict(
        unit="18484-VHXH",
        period="2026-Q3",
        at=datetime(2026, 9, 1, 9, 0),
        seq=13,
        values=[(None, "C.PCT", None, 45, 50)],
    ),
    # ---- 2026 (annual, due 2026-12-15)
    dict(
        unit="18484-KT",
        period="2026",
        at=datetime(2026, 12, 10, 9, 0),
        seq=14,
        values=[(None, "C.COUNT", 40, None, None)],
    ),
]

# response_id, hamlet_code, respondent_hash, submitted_at, {question: satisfied}
SURVEY = [
    ("R1", "18484-T01", "h1", datetime(2026, 10, 1, 8), {"Q01": True, "Q02": True}),
    ("R2", "18484-T01", "h2", datetime(2026, 10, 1, 9), {"Q01": True, "Q02": True}),
    ("R3", "18484-T01", "h3", datetime(2026, 10, 1, 10), {"Q01": False, "Q02": True}),
    ("R4", "18484-T01", "h1", datetime(2026, 10, 5, 8), {"Q01": False, "Q02": False}),  # h1 again
    ("R5", "18484-T04", None, datetime(2026, 10, 2, 8), {"Q01": True, "Q02": True}),
    ("R6", "18484-T04", "h6", datetime(2026, 10, 2, 9), {"Q01": True, "Q02": False}),
]

OCOP = [
    # product_id, group, stars, score, certificate_no, issued_on, expires_on, hamlet
    ("P1", 1, 4, 75.0, "C1", date(2025, 1, 15), date(2028, 1, 14), "18484-T01"),
    ("P2", 1, 3, 60.0, "C2", date(2023, 11, 1), date(2026, 10, 31), "18484-T02"),
    ("P3", 2, 3, 55.0, "C3", date(2026, 5, 1), date(2029, 4, 30), "18484-T04"),
]


# rule 7.4: units that may report hamlet values besides the hamlets themselves
REPORTS_FOR = {"18484-KT": "18484-T01"}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _frames() -> dict[str, pd.DataFrame]:
    meta = lambda sha, path, row: {"_file_sha256": sha, "_source_file": path, "_source_row": row}  # noqa: E731
    subs, vals, tasks = [], [], []
    for s in SUBMISSIONS:
        path = f"submissions/{s['period']}/{s['unit']}-{s['seq']}.csv"
        sha = _sha(path)
        row = 1
        for hamlet, ind, value, num, den in s["values"]:
            row += 1
            vals.append(
                {
                    "unit_code": s["unit"],
                    "period_code": s["period"],
                    "submitted_at": s["at"],
                    "hamlet_code": hamlet,
                    "indicator_code": ind,
                    "value": value,
                    "numerator": num,
                    "denominator": den,
                    "note": None,
                    **meta(sha, path, row),
                }
            )
        for task, status, pct in s.get("tasks", []):
            row += 1
            tasks.append(
                {
                    "unit_code": s["unit"],
                    "period_code": s["period"],
                    "submitted_at": s["at"],
                    "task_code": task,
                    "task_status": status,
                    "percent_done": pct,
                    "note": "ghi chú",
                    **meta(sha, path, row),
                }
            )
        subs.append(
            {
                "submission_id": f"{sha[:12]}-{s['unit']}-{s['period']}",
                "unit_code": s["unit"],
                "period_code": s["period"],
                "submitted_at": s["at"],
                "arrival_seq": s["seq"],
                "rows_loaded": row - 1,
                "rows_quarantined": s.get("quarantined", 0),
                "_file_sha256": sha,
                "_source_file": path,
                "_source_row": None,
            }
        )
    survey, reasons = [], []
    spath = "surveys/2026/hl.csv"
    ssha = _sha(spath)
    for i, (rid, hamlet, rhash, at, answers) in enumerate(SURVEY):
        for q, sat in answers.items():
            survey.append(
                {
                    "response_id": rid,
                    "submitted_at": at,
                    "commune_code": COMMUNE,
                    "hamlet_code": hamlet,
                    "period_code": "2026",
                    "form_code": "F1",
                    "question_code": q,
                    "satisfied": sat,
                    "respondent_hash": rhash,
                    **meta(ssha, spath, i + 2),
                }
            )
        reasons.append(
            {
                "response_id": rid,
                "question_code": "Q01",
                "reason_text": "Nguyễn Văn A, 0912345678",
                **meta(ssha, spath, i + 2),
            }
        )
    opath = "ocop/ocop.csv"
    osha = _sha(opath)
    ocop = [
        {
            "product_id": pid,
            "product_name": f"Sản phẩm {pid}",
            "group_code": grp,
            "subgroup": None,
            "producer_name": "Hộ ông Nguyễn Văn B",
            "producer_type": "household",
            "hamlet_code": hamlet,
            "commune_code": COMMUNE,
            "score": score,
            "stars": stars,
            "rating_level": "province",
            "certificate_no": cert,
            "issued_on": issued,
            "expires_on": expires,
            "material_area_code": None,
            "traceability_url": None,
            "status": "active",
            **meta(osha, opath, i + 2),
        }
        for i, (pid, grp, stars, score, cert, issued, expires, hamlet) in enumerate(OCOP)
    ]
    ref = lambda name: {"_file_sha256": _sha(name), "_source_file": f"reference/{name}", "_source_row": None}  # noqa: E731
    return {
        "raw.submissions": pd.DataFrame(subs),
        "raw.submission_values": pd.DataFrame(vals),
        "raw.submission_tasks": pd.DataFrame(tasks),
        "raw.survey_answers": pd.DataFrame(survey),
        "raw.survey_reasons": pd.DataFrame(reasons),
        "raw.ocop_products": pd.DataFrame(ocop),
        "raw.hamlets": pd.DataFrame(
            [
                dict(
                    zip(
                        [
                            "hamlet_key",
                            "hamlet_code",
                            "commune_code",
                            "name",
                            "hamlet_type",
                            "valid_from",
                            "valid_to",
                        ],
                        h,
                        strict=True,
                    ),
                    **ref("hamlets.csv"),
                )
                for h in HAMLETS
            ]
        ),
        "raw.hamlet_crosswalk": pd.DataFrame(
            [
                dict(
                    zip(
                        [
                            "predecessor_code",
                            "successor_code",
                            "change_type",
                            "effective_date",
                            "population_share",
                        ],
                        c,
                        strict=True,
                    ),
                    **ref("hamlet_crosswalk.csv"),
                )
                for c in CROSSWALK
            ]
        ),
        "raw.hamlet_population": pd.DataFrame(
            [
                dict(
                    zip(["hamlet_code", "year", "households", "population"], p, strict=True),
                    **ref("hamlet_population.csv"),
                )
                for p in POPULATION
            ]
        ),
        "raw.reporting_units": pd.DataFrame(
            [
                dict(
                    zip(
                        [
                            "unit_code",
                            "commune_code",
                            "unit_type",
                            "abbr",
                            "name_vi",
                            "name_en",
                            "valid_from",
                            "valid_to",
                        ],
                        u,
                        strict=True,
                    ),
                    reports_for_hamlets=REPORTS_FOR.get(u[0]),
                    **ref("reporting_units.csv"),
                )
                for u in REPORTING_UNITS
            ]
        ),
    }


def build_warehouse(path: Path) -> None:
    """Create a DuckDB file with schema raw (the raw tables' DDL of pipeline.ingest.tables) and the mini rows;
    raw.provinces / raw.communes hold the full lists of the vietnam-provinces package. No audit schema: the
    dbt models read only raw.*."""
    provinces, communes = _admin_frames()
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema if not exists raw")
        for table, columns in _ddl().items():
            con.execute(f"create table {table} ({columns})")
        for table, frame in _frames().items():
            con.register("_frame", frame)
            con.execute(f"insert into {table} by name select * from _frame")
            con.unregister("_frame")
        for table, frame in (("raw.provinces", provinces), ("raw.communes", communes)):
            con.register("_admin", frame)
            con.execute(f"create or replace table {table} as select * from _admin")
            con.unregister("_admin")
    finally:
        con.close()
