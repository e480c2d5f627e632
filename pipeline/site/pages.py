"""What each page of the site shows, computed from the release's published tables only.

Rules a reader can check against the data package:
- **Scorecard** (overview): ``mart_plan_targets`` rows of the latest target year that has an actual value, for the
  year period and for the latest quarter with a value. Status: ``on_track`` when ``is_on_track`` is true,
  ``behind`` when false, ``no_data`` when ``actual_value`` is null. The trend is that year's quarterly
  ``actual_value``.
- **Map**: a hamlet is drawn for a period when its version in ``dim_hamlet`` was valid at the period's end date
  (``valid_from <= end_date`` and ``valid_to`` null or ``>= end_date``). Indicator values come from
  ``mart_hamlet_indicator``; satisfaction values (share satisfied, %) from ``mart_satisfaction`` hamlet rows,
  where a suppressed cell is drawn hidden with its reason and no number. The reporting unit and whether it
  reported on time come from ``fact_indicator_value.unit_code`` and ``mart_reporting_compliance``.
- **Reporting**: ``mart_reporting_compliance`` (expected units only).
- **OCOP**: ``mart_ocop_portfolio`` for its latest period and ``fact_ocop_certificate`` (certificates whose
  number is listed in ``expiring_certificate_nos`` of that period).
- **Plan tasks**: ``fact_task_progress`` rows of the task's lead unit (``is_lead_unit``), by quarter.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from typing import Any

from .i18n import SUPPRESSION, digits_for, fmt_date
from .release_data import Release

SAT_PREFIX = "HL:"


def periods(rel: Release) -> list[dict[str, Any]]:
    return rel.rows(
        "select period_code, period_kind, year, quarter, start_date, end_date, unit_due_date, label_vi, label_en, "
        "sort_order from dim_period order by sort_order, period_code"
    )


def indicators(rel: Release) -> list[dict[str, Any]]:
    return rel.rows("select * from dim_indicator order by criteria_set, indicator_code")


def commune(rel: Release) -> dict[str, Any]:
    rows = rel.rows("select * from dim_commune where is_home_commune limit 1")
    return rows[0] if rows else {"commune_code": "", "commune_name": "", "province_name": ""}


# ---------------------------------------------------------------------------------------------------------
# Overview
# ---------------------------------------------------------------------------------------------------------


def scorecard(rel: Release) -> dict[str, Any]:
    years = rel.rows("select max(target_year) as y from mart_plan_targets where actual_value is not null")
    year = years[0]["y"] if years and years[0]["y"] is not None else None
    if year is None:
        year_rows = rel.rows("select min(target_year) as y from mart_plan_targets")
        year = year_rows[0]["y"] if year_rows else None
    if year is None:
        return {"year": None, "quarter": None, "rows": [], "quarter_rows": [], "trend": {}}
    rows = rel.rows(
        "select * from mart_plan_targets where target_year = ? and period_kind = 'year' order by indicator_code",
        [year],
    )
    q = rel.rows(
        "select max(period_code) as p from mart_plan_targets where target_year = ? and period_kind = 'quarter' "
        "and actual_value is not null",
        [year],
    )
    quarter = q[0]["p"] if q else None
    quarter_rows = (
        rel.rows("select * from mart_plan_targets where period_code = ? order by indicator_code", [quarter])
        if quarter
        else []
    )
    trend: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rel.rows(
        "select indicator_code, period_code, actual_value from mart_plan_targets "
        "where target_year = ? and period_kind = 'quarter' order by period_code",
        [year],
    ):
        trend[r["indicator_code"]].append(r)
    value_types = {
        r["indicator_code"]: r["value_type"]
        for r in rel.rows("select indicator_code, value_type, criteria_set from dim_indicator")
    }
    sets = {
        r["indicator_code"]: r["criteria_set"]
        for r in rel.rows("select indicator_code, criteria_set from dim_indicator")
    }
    for r in rows + quarter_rows:
        r["status"] = (
            "no_data" if r["actual_value"] is None else ("on_track" if r["is_on_track"] else "behind")
        )
        r["digits"] = digits_for(value_types.get(r["indicator_code"]))
        r["criteria_set"] = sets.get(r["indicator_code"], "")
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in ("on_track", "behind", "no_data")}
    return {
        "year": year,
        "quarter": quarter,
        "rows": rows,
        "quarter_rows": quarter_rows,
        "trend": dict(trend),
        "counts": counts,
    }


def headline(rel: Release) -> dict[str, Any]:
    today_hamlets = rel.rows("select count(*) as n from dim_hamlet where valid_to is null")[0]["n"]
    comp = rel.rows(
        "select period_code, max(period_expected_count) as expected, max(period_on_time_count) as on_time, "
        "max(period_late_count) as late, max(period_missing_count) as missing from mart_reporting_compliance "
        "where period_kind = 'quarter' and period_received_count > 0 group by period_code "
        "order by period_code desc limit 1"
    )
    ocop = rel.rows(
        "select period_code, sum(active_certificates) as active, sum(expiring_within_6_months) as expiring "
        "from mart_ocop_portfolio group by period_code order by period_code desc limit 1"
    )
    sat = rel.rows(
        "select period_code, 100.0 * sum(satisfied) / nullif(sum(respondents), 0) as rate, "
        "sum(respondents) as n, count(*) as questions, count(satisfied) as shown "
        "from mart_satisfaction where location_level = 'commune' "
        "group by period_code order by period_code desc limit 1"
    )
    return {
        "hamlets": today_hamlets,
        "compliance": comp[0] if comp else None,
        "ocop": ocop[0] if ocop else None,
        "satisfaction": sat[0] if sat else None,
    }


# ---------------------------------------------------------------------------------------------------------
# Map
# ---------------------------------------------------------------------------------------------------------


def map_data(rel: Release, geometry: dict[int, dict[str, Any]], geo_kind: str) -> dict[str, Any]:
    """Everything the map page's script needs, as one JSON-able dict (see module docstring)."""
    hamlets = rel.rows(
        "select hamlet_key, hamlet_code, hamlet_name, valid_from, valid_to, predecessor_codes, "
        "lag(hamlet_name) over (partition by hamlet_code order by valid_from) as previous_name "
        "from dim_hamlet order by hamlet_code, valid_from"
    )
    per = {p["period_code"]: p for p in periods(rel)}
    on_time = {
        (r["unit_code"], r["period_code"]): r
        for r in rel.rows(
            "select unit_code, period_code, is_on_time, is_late, days_late from mart_reporting_compliance"
        )
    }
    units = {
        r["unit_code"]: r
        for r in rel.rows("select unit_code, abbr, unit_name_vi, unit_name_en from dim_reporting_unit")
    }
    unit_of = {
        (r["hamlet_code"], r["period_code"], r["indicator_code"]): r["unit_code"]
        for r in rel.rows(
            "select hamlet_code, period_code, indicator_code, unit_code from fact_indicator_value "
            "where location_level = 'hamlet'"
        )
    }
    layers: list[dict[str, Any]] = []
    values: dict[str, dict[str, dict[str, list]]] = defaultdict(lambda: defaultdict(dict))
    for r in rel.rows(
        "select hamlet_code, period_code, indicator_code, value, numerator, denominator, met_threshold "
        "from mart_hamlet_indicator order by indicator_code, period_code, hamlet_code"
    ):
        unit = unit_of.get((r["hamlet_code"], r["period_code"], r["indicator_code"]))
        comp = on_time.get((unit, r["period_code"])) if unit else None
        u = units.get(unit or "", {})
        values[r["indicator_code"]][r["period_code"]][r["hamlet_code"]] = [
            r["value"],
            r["numerator"],
            r["denominator"],
            r["met_threshold"],
            u.get("abbr") or unit or None,
            None if comp is None else bool(comp["is_on_time"]),
            None if comp is None else comp["days_late"],
            None,
        ]
    for ind in indicators(rel):
        code = ind["indicator_code"]
        if code not in values:
            continue
        layers.append(
            {
                "id": code,
                "group": "indicator",
                "vi": f"{code} · {ind['indicator_name_vi']}",
                "en": f"{code} · {ind['indicator_name_en']}",
                "unit_vi": ind["unit_vi"] or "",
                "unit_en": ind["unit_en"] or "",
                "value_type": ind["value_type"],
                "digits": digits_for(ind["value_type"]),
                "periods": sorted(values[code], key=lambda p: per.get(p, {}).get("sort_order") or 0),
                "values": values[code],
            }
        )
    layers.extend(_satisfaction_layers(rel, per))
    return {
        "geo": geo_kind,
        "hamlets": [
            {
                "key": h["hamlet_key"],
                "code": h["hamlet_code"],
                "name": h["hamlet_name"],
                "from": _iso(h["valid_from"]),
                "to": _iso(h["valid_to"]),
                "change": _change(h),
                **geometry[h["hamlet_key"]],
            }
            for h in hamlets
            if h["hamlet_key"] in geometry
        ],
        "periods": {
            code: {
                "vi": p["label_vi"],
                "en": p["label_en"],
                "end": _iso(p["end_date"]),
                "kind": p["period_kind"],
            }
            for code, p in per.items()
        },
        "layers": layers,
    }


def _change(h: dict[str, Any]) -> list[str] | None:
    """How this hamlet version came to be (merge / split successor, or a rename), in both languages."""
    when = fmt_date(h["valid_from"])
    if h["predecessor_codes"]:
        codes = ", ".join(c.strip() for c in h["predecessor_codes"].split(";"))
        return [f"lập từ {codes} ngày {when}", f"formed from {codes} on {when}"]
    if h["previous_name"] and h["previous_name"] != h["hamlet_name"]:
        return [
            f"đổi tên từ {h['previous_name']} ngày {when}",
            f"renamed from {h['previous_name']} on {when}",
        ]
    return None


def _satisfaction_layers(rel: Release, per: dict[str, dict]) -> list[dict[str, Any]]:
    rows = rel.rows(
        "select period_code, form_code, question_code, question_no, question_text_vi, question_text_en, "
        "hamlet_code, respondents, satisfied, satisfied_rate, meets_90, suppressed, suppression_reason "
        "from mart_satisfaction where location_level = 'hamlet' order by question_no, period_code, hamlet_code"
    )
    min_count = rel.descriptor.get("ntm:suppression_min_count", 5)
    layers: dict[str, dict[str, Any]] = {}
    for r in rows:
        lid = f"{SAT_PREFIX}{r['question_code']}"
        layer = layers.setdefault(
            lid,
            {
                "id": lid,
                "group": "satisfaction",
                "vi": f"Hài lòng câu {r['question_no']} · {r['question_text_vi']}",
                "en": f"Satisfaction Q{r['question_no']} · {r['question_text_en']}",
                "unit_vi": "% hài lòng",
                "unit_en": "% satisfied",
                "value_type": "percent",
                "digits": 1,
                "periods": [],
                "values": defaultdict(dict),
            },
        )
        if r["period_code"] not in layer["periods"]:
            layer["periods"].append(r["period_code"])
        if r["suppressed"]:
            vi, en = SUPPRESSION.get(r["suppression_reason"] or "", ("bị ẩn", "hidden"))
            cell = [
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                [vi.format(n=min_count), en.format(n=min_count)],
            ]
        else:
            cell = [
                r["satisfied_rate"],
                r["satisfied"],
                r["respondents"],
                r["meets_90"],
                None,
                None,
                None,
                None,
            ]
        layer["values"][r["period_code"]][r["hamlet_code"]] = cell
    for layer in layers.values():
        layer["periods"].sort(key=lambda p: per.get(p, {}).get("sort_order") or 0)
    return list(layers.values())


# ---------------------------------------------------------------------------------------------------------
# Indicator pages
# ---------------------------------------------------------------------------------------------------------


COMMUNE_SERIES_SQL = (
    "select m.period_code, m.period_kind, m.period_label_vi, m.period_label_en, m.value, m.numerator, "
    "m.denominator, m.hamlets_reporting, m.hamlets_existing, m.threshold, m.met_threshold, m.value_source, "
    "p.sort_order from mart_commune_indicator m join dim_period p using (period_code) "
    "where m.indicator_code = ? order by p.sort_order"
)
HAMLET_SERIES_SQL = (
    "select m.period_code, m.period_kind, m.hamlet_code, m.hamlet_name, m.value, m.numerator, m.denominator, "
    "m.met_threshold, p.sort_order from mart_hamlet_indicator m join dim_period p using (period_code) "
    "where m.indicator_code = ? order by p.sort_order, m.hamlet_code"
)


def _by_indicator(rel: Release, sql: str) -> dict[str, list[dict[str, Any]]]:
    """The rows of ``sql`` (one indicator's, ``where m.indicator_code = ? order by ...``) for every indicator
    at once: one read of the Parquet files instead of one per indicator; each indicator's rows in the order
    of ``sql``'s ``order by`` (the indicator code goes first)."""
    select, rest = sql.split(" from ", 1)
    where, order = rest.split(" where m.indicator_code = ? order by ")
    cur = rel.con.execute(f"{select}, m.indicator_code from {where} order by m.indicator_code, {order}")
    cols = [d[0] for d in cur.description][:-1]
    out: dict[str, list[dict[str, Any]]] = {}
    for r in cur.fetchall():
        out.setdefault(r[-1], []).append(dict(zip(cols, r[:-1], strict=True)))
    return out


def indicator_series(rel: Release, code: str) -> dict[str, Any]:
    if "indicator_series" not in rel.cache:
        rel.cache["indicator_series"] = (
            _by_indicator(rel, COMMUNE_SERIES_SQL),
            _by_indicator(rel, HAMLET_SERIES_SQL),
        )
    commune_all, hamlet_all = rel.cache["indicator_series"]
    commune_rows = [dict(r) for r in commune_all.get(code, [])]
    hamlet_rows = [dict(r) for r in hamlet_all.get(code, [])]
    periods_: list[str] = []
    by_hamlet: dict[str, dict[str, Any]] = {}
    for r in hamlet_rows:
        if r["period_code"] not in periods_:
            periods_.append(r["period_code"])
        h = by_hamlet.setdefault(
            r["hamlet_code"], {"code": r["hamlet_code"], "name": r["hamlet_name"], "cells": {}}
        )
        h["cells"][r["period_code"]] = r["value"]
    pivot = {"periods": periods_, "hamlets": sorted(by_hamlet.values(), key=lambda h: h["code"])}
    return {"commune": commune_rows, "hamlets": hamlet_rows, "pivot": pivot}


# ---------------------------------------------------------------------------------------------------------
# Reporting, satisfaction, OCOP, tasks
# ---------------------------------------------------------------------------------------------------------


def reporting(rel: Release) -> dict[str, Any]:
    rows = rel.rows(
        "select c.unit_code, c.period_code, c.period_kind, c.due_date, c.is_received, c.is_on_time, c.is_late, "
        "c.is_missing, c.days_late, c.versions_count, c.first_submitted_at, u.abbr, u.unit_name_vi, "
        "u.unit_name_en, p.sort_order from mart_reporting_compliance c "
        "left join (select unit_code, any_value(abbr) as abbr, any_value(unit_name_vi) as unit_name_vi, "
        "any_value(unit_name_en) as unit_name_en from dim_reporting_unit group by unit_code) u using (unit_code) "
        "join dim_period p using (period_code) where c.is_expected order by p.sort_order, c.unit_code"
    )
    period_codes: list[str] = []
    for r in rows:
        if r["period_code"] not in period_codes:
            period_codes.append(r["period_code"])
    units: dict[str, dict[str, Any]] = {}
    for r in rows:
        u = units.setdefault(
            r["unit_code"],
            {"unit_code": r["unit_code"], "abbr": r["abbr"], "vi": r["unit_name_vi"], "en": r["unit_name_en"],
             "cells": {}},
        )  # fmt: skip
        u["cells"][r["period_code"]] = r
    summary = rel.rows(
        "select c.period_code, any_value(c.due_date) as due_date, count(*) as expected, "
        "count(*) filter (where c.is_on_time) as on_time, count(*) filter (where c.is_late) as late, "
        "count(*) filter (where c.is_missing) as missing, max(c.days_late) as max_days_late "
        "from mart_reporting_compliance c join dim_period p using (period_code) where c.is_expected "
        "group by c.period_code, p.sort_order order by p.sort_order"
    )
    return {"periods": period_codes, "units": sorted(units.values(), key=lambda u: u["unit_code"]),
            "summary": summary}  # fmt: skip


def satisfaction(rel: Release) -> dict[str, Any]:
    rows = rel.rows(
        "select s.*, h.hamlet_name from mart_satisfaction s left join (select hamlet_code, "
        "arg_max(hamlet_name, valid_from) as hamlet_name from dim_hamlet group by hamlet_code) h "
        "using (hamlet_code) order by s.period_code desc, s.question_no, s.location_level, s.hamlet_code"
    )
    by_period: dict[str, dict[str, Any]] = {}
    for r in rows:
        p = by_period.setdefault(r["period_code"], {"questions": {}, "locations": {}})
        p["questions"].setdefault(
            r["question_code"],
            {"no": r["question_no"], "vi": r["question_text_vi"], "en": r["question_text_en"]},
        )
        loc = r["hamlet_code"] or "__commune__"
        p["locations"].setdefault(loc, {"code": r["hamlet_code"], "name": r["hamlet_name"], "cells": {}})
        p["locations"][loc]["cells"][r["question_code"]] = r
    return {"periods": by_period, "min_count": rel.descriptor.get("ntm:suppression_min_count", 5)}


def ocop(rel: Release) -> dict[str, Any]:
    latest = rel.rows("select max(period_code) as p from mart_ocop_portfolio")
    period = latest[0]["p"] if latest else None
    portfolio = rel.rows(
        "select * from mart_ocop_portfolio where period_code = ? order by group_code, stars", [period]
    )
    expiring_nos = {
        n.strip() for r in portfolio for n in (r["expiring_certificate_nos"] or "").split(",") if n.strip()
    }
    certs = rel.rows(
        "select certificate_no, product_name, group_code, stars, issued_on, expires_on, status_at_period_end "
        "from fact_ocop_certificate order by expires_on, certificate_no"
    )
    return {
        "period": period,
        "portfolio": portfolio,
        "expiring": [c for c in certs if c["certificate_no"] in expiring_nos],
        "certificates": certs,
    }


def tasks(rel: Release) -> dict[str, Any]:
    tasks_ = rel.rows("select * from dim_plan_task order by section_code, task_code")
    progress: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    quarters: list[str] = []
    if rel.has("fact_task_progress"):
        rows = rel.rows(
            "select f.task_code, f.period_code, f.task_status, f.percent_done, f.unit_code, p.sort_order "
            "from fact_task_progress f join dim_period p using (period_code) where f.is_lead_unit "
            "order by p.sort_order"
        )
        for r in rows:
            if r["period_code"] not in quarters:
                quarters.append(r["period_code"])
            progress[r["task_code"]][r["period_code"]] = r
    return {
        "tasks": tasks_,
        "quarters": quarters,
        "progress": progress,
        "published": rel.has("fact_task_progress"),
    }


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None


def js_global(name: str, payload: Any) -> str:
    """A script that sets ``window[name]`` (a <script src> works from file://, fetch() does not)."""
    blob = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str, allow_nan=False)
    blob = blob.replace("</", "<\\/")
    return f"window.{name} = {blob};\n"
