"""Vega-Lite specifications (built with Altair) for the site's charts and map.

Vega, Vega-Lite and vega-embed are vendored under ``static/vendor`` (the versions Altair writes for), so a
chart is only a JSON spec that ``site.js`` hands to ``vegaEmbed`` with the SVG renderer. Each chart exists in
both languages (titles differ); numbers in axes follow the language through ``config.locale``. Colours are
colour-blind safe: viridis for quantities, Okabe-Ito blue/orange for yes/no and met/not met.
"""

from __future__ import annotations

import json
from typing import Any

import altair as alt
import pandas as pd
from altair.vegalite.v6.api import _dataset_name

LOCALE = {
    "vi": {"number": {"decimal": ",", "thousands": ".", "grouping": [3], "currency": ["", " ₫"]}},
    "en": {"number": {"decimal": ".", "thousands": ",", "grouping": [3], "currency": ["$", ""]}},
}
BLUE, ORANGE, GREY, DARK_GREY = "#0072B2", "#E69F00", "#E0E0E0", "#8C8C8C"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', Arial, sans-serif"


# Altair's JSON-schema validation of every spec took about a quarter of the site build at province scale; the
# specs come from the fixed builders below, each validated by tests/site/test_charts.py (same spec either way).
VALIDATE = False


def _finish(chart: alt.TopLevelMixin, lang: str) -> dict[str, Any]:
    spec = chart.to_dict(validate=VALIDATE)
    spec.setdefault("config", {})
    spec["config"]["locale"] = LOCALE[lang]
    spec["config"]["font"] = FONT
    spec["config"].setdefault("view", {})["stroke"] = None
    return spec


def sparkline(points: list[dict[str, Any]], target: float | None, lang: str) -> dict[str, Any]:
    """Quarterly actual values of one target year: a tiny line with points; the target as a dashed rule.
    Written directly (:func:`_sparkline_spec`, Altair's dict key for key; tests/site/test_charts.py), through
    Altair (:func:`sparkline_altair`) for values of another type."""
    spec = _sparkline_spec(points, target, lang)
    return spec if spec is not None else sparkline_altair(points, target, lang)


def _sparkline_spec(points: list[dict[str, Any]], target: Any, lang: str) -> dict[str, Any] | None:
    rows = [(p["period_code"], p["actual_value"]) for p in points if p["actual_value"] is not None]
    if not all(type(c) is str and _plain_number(v) for c, v in rows) or (
        target is not None and not _plain_number(target)
    ):
        return None
    as_float = any(type(v) is float for _, v in rows)  # pandas' float64 column turns the ints into floats
    data = [{"q": c[-2:], "v": float(v) if as_float else v} for c, v in rows]
    values = [d["v"] for d in data] + ([target] if target is not None else [])
    domain = [min(values) * 0.95, max(values) * 1.05] if values else [0, 1]
    datasets: dict[str, list[dict[str, Any]]] = {}

    def named(values_: list[dict[str, Any]]) -> dict[str, str]:
        name = _dataset_name(values_)
        datasets.setdefault(name, values_)
        return {"name": name}

    layers = [
        {
            "data": named(data),
            "mark": {"type": "line", "color": BLUE, "point": True},
            "encoding": {
                "tooltip": [
                    {"field": "q", "title": "Quý" if lang == "vi" else "Quarter", "type": "ordinal"},
                    {
                        "field": "v",
                        "format": ",.1f",
                        "title": "Giá trị" if lang == "vi" else "Value",
                        "type": "quantitative",
                    },
                ],  # fmt: skip
                "x": {
                    "axis": None,
                    "field": "q",
                    "scale": {"domain": ["Q1", "Q2", "Q3", "Q4"]},
                    "type": "ordinal",
                },
                "y": {
                    "axis": None,
                    "field": "v",
                    "scale": {"domain": domain, "zero": False},
                    "type": "quantitative",
                },
            },
        }
    ]
    if target is not None:
        layers.append(
            {
                "data": named([{"t": target}]),
                "mark": {"type": "rule", "color": ORANGE, "strokeDash": [3, 2]},
                "encoding": {"y": {"field": "t", "type": "quantitative"}},
            }
        )
    spec: dict[str, Any] = {
        "config": {"view": {"continuousWidth": 300, "continuousHeight": 300, "stroke": None}},
        "layer": layers,
    }
    if len(layers) == 1:  # Altair lifts the data of a chart's only layer to the top
        spec["data"] = layers[0].pop("data")
    spec.update({"height": 28, "width": 110, "$schema": alt.SCHEMA_URL, "datasets": datasets})
    spec["config"]["locale"] = LOCALE[lang]
    spec["config"]["font"] = FONT
    return json.loads(json.dumps(spec))


def sparkline_altair(points: list[dict[str, Any]], target: float | None, lang: str) -> dict[str, Any]:
    """:func:`sparkline` built with Altair (the reference its direct spec is held to)."""
    df = pd.DataFrame(
        [
            {"q": p["period_code"][-2:], "v": p["actual_value"]}
            for p in points
            if p["actual_value"] is not None
        ]
    )
    if df.empty:
        df = pd.DataFrame({"q": pd.Series(dtype=str), "v": pd.Series(dtype=float)})
    values = [v for v in df["v"].tolist() if v is not None] + ([target] if target is not None else [])
    domain = [min(values) * 0.95, max(values) * 1.05] if values else [0, 1]
    x = alt.X("q:O", axis=None, scale=alt.Scale(domain=["Q1", "Q2", "Q3", "Q4"]))
    y = alt.Y("v:Q", axis=None, scale=alt.Scale(domain=domain, zero=False))
    line = alt.Chart(df).mark_line(point=True, color=BLUE).encode(
        x=x, y=y, tooltip=[alt.Tooltip("q:O", title="Quý" if lang == "vi" else "Quarter"),
                           alt.Tooltip("v:Q", format=",.1f", title="Giá trị" if lang == "vi" else "Value")]
    )  # fmt: skip
    layers: list[alt.Chart] = [line]
    if target is not None:
        layers.append(
            alt.Chart(pd.DataFrame({"t": [target]}))
            .mark_rule(color=ORANGE, strokeDash=[3, 2])
            .encode(y="t:Q")
        )
    return _finish(alt.layer(*layers).properties(width=110, height=28), lang)


def _indicator_rows(series: dict[str, list[dict]], lang: str) -> tuple[list[dict[str, Any]], list[str]]:
    order = {}
    rows = []
    for r in series["commune"]:
        order[r["period_code"]] = r["sort_order"]
        if r["value"] is not None:
            rows.append({"p": r["period_code"], "v": r["value"], "who": "Xã" if lang == "vi" else "Commune",
                         "level": "commune"})  # fmt: skip
    for r in series["hamlets"]:
        order[r["period_code"]] = r["sort_order"]
        if r["value"] is not None:
            rows.append({"p": r["period_code"], "v": r["value"], "who": r["hamlet_name"] or r["hamlet_code"],
                         "level": "hamlet"})  # fmt: skip
    return rows, sorted(order, key=lambda p: order[p])


def indicator_chart(series: dict[str, list[dict]], ind: dict[str, Any], lang: str) -> dict[str, Any] | None:
    """Value by period: the commune (thick) and every hamlet (thin); the threshold as a dashed rule.

    The spec is written directly (:func:`_indicator_spec`), the dict Altair gives for the chart of
    :func:`indicator_chart_altair` key for key (tests/site/test_charts.py compares the two on every
    indicator of a release and on edge cases): Altair's object model took about 60 ms per chart, 112 charts
    at a province. Values of a type the direct writer does not handle go through Altair."""
    rows, periods = _indicator_rows(series, lang)
    if not rows:
        return None
    threshold = next((r["threshold"] for r in series["commune"] if r["threshold"] is not None), None)
    spec = _indicator_spec(rows, periods, threshold, ind, lang)
    return spec if spec is not None else indicator_chart_altair(series, ind, lang)


def _plain_number(v: Any) -> bool:
    return type(v) in (int, float) and v == v and v not in (float("inf"), float("-inf"))


def _indicator_spec(
    rows: list[dict[str, Any]], periods: list[str], threshold: Any, ind: dict[str, Any], lang: str
) -> dict[str, Any] | None:
    """The spec of :func:`indicator_chart_altair` without Altair, or None when a value is not a plain
    int/float (NaN, infinity, Decimal, bool ...), a label not a str or None, or a period code not a str."""
    if not all(_plain_number(r["v"]) and (r["who"] is None or type(r["who"]) is str) and type(r["p"]) is str
               for r in rows) or not all(type(p) is str for p in periods):  # fmt: skip
        return None
    if threshold is not None and not _plain_number(threshold):
        return None
    # pandas holds the value column as float64 when any value is a float (ints then become floats), else int64
    as_float = any(type(r["v"]) is float for r in rows)
    data = {
        level: [
            {"p": r["p"], "v": float(r["v"]) if as_float else r["v"], "who": r["who"], "level": r["level"]}
            for r in rows
            if r["level"] == level
        ]
        for level in ("hamlet", "commune")
    }
    title_p, title_v = ("Kỳ", "Giá trị") if lang == "vi" else ("Period", "Value")
    unit = ind.get("unit_vi" if lang == "vi" else "unit_en") or ""
    x = {
        "axis": {"labelAngle": -40},
        "field": "p",
        "sort": list(periods),
        "title": title_p,
        "type": "ordinal",
    }
    y = {"field": "v", "title": f"{title_v} ({unit})" if unit else title_v, "type": "quantitative"}
    tooltip = [
        {"field": "who", "title": "Địa bàn" if lang == "vi" else "Location", "type": "nominal"},
        {"field": "p", "title": title_p, "type": "ordinal"},
        {"field": "v", "format": ",.2f", "title": title_v, "type": "quantitative"},
    ]
    datasets: dict[str, list[dict[str, Any]]] = {}

    def named(values: list[dict[str, Any]]) -> dict[str, str]:
        name = _dataset_name(values)
        datasets.setdefault(name, values)
        return {"name": name}

    layers = [
        {
            "data": named(data["hamlet"]),
            "mark": {
                "type": "line",
                "color": "#9DB4C8",
                "opacity": 0.7,
                "point": {"size": 14},
                "strokeWidth": 1,
            },
            "encoding": {"detail": {"field": "who", "type": "nominal"}, "tooltip": tooltip, "x": x, "y": y},
        },
        {
            "data": named(data["commune"]),
            "mark": {"type": "line", "color": BLUE, "point": True, "strokeWidth": 3},
            "encoding": {"tooltip": tooltip, "x": x, "y": y},
        },
    ]
    if threshold is not None:
        layers.append(
            {
                "data": named([{"t": threshold}]),
                "mark": {"type": "rule", "color": ORANGE, "strokeDash": [5, 3]},
                "encoding": {"y": {"field": "t", "type": "quantitative"}},
            }
        )
    spec = {
        "config": {"view": {"continuousWidth": 300, "continuousHeight": 300, "stroke": None}},
        "layer": layers,
        "height": 260,
        "width": "container",
        "$schema": alt.SCHEMA_URL,
        "datasets": datasets,
    }
    spec["config"]["locale"] = LOCALE[lang]
    spec["config"]["font"] = FONT
    return json.loads(json.dumps(spec))  # no object shared between layers (as Altair's dict has none)


def indicator_chart_altair(
    series: dict[str, list[dict]], ind: dict[str, Any], lang: str
) -> dict[str, Any] | None:
    """:func:`indicator_chart` built with Altair (the reference its direct spec is held to)."""
    rows, periods = _indicator_rows(series, lang)
    if not rows:
        return None
    df = pd.DataFrame(rows)
    title_p, title_v = ("Kỳ", "Giá trị") if lang == "vi" else ("Period", "Value")
    unit = ind.get("unit_vi" if lang == "vi" else "unit_en") or ""
    x = alt.X("p:O", sort=periods, title=title_p, axis=alt.Axis(labelAngle=-40))
    y = alt.Y("v:Q", title=f"{title_v} ({unit})" if unit else title_v)
    tooltip = [alt.Tooltip("who:N", title="Địa bàn" if lang == "vi" else "Location"),
               alt.Tooltip("p:O", title=title_p), alt.Tooltip("v:Q", title=title_v, format=",.2f")]  # fmt: skip
    hamlets = (
        alt.Chart(df[df["level"] == "hamlet"])
        .mark_line(point=alt.OverlayMarkDef(size=14), color="#9DB4C8", strokeWidth=1, opacity=0.7)
        .encode(x=x, y=y, detail="who:N", tooltip=tooltip)
    )
    commune = (
        alt.Chart(df[df["level"] == "commune"])
        .mark_line(point=True, color=BLUE, strokeWidth=3)
        .encode(x=x, y=y, tooltip=tooltip)
    )
    layers = [hamlets, commune]
    threshold = next((r["threshold"] for r in series["commune"] if r["threshold"] is not None), None)
    if threshold is not None:
        layers.append(
            alt.Chart(pd.DataFrame({"t": [threshold]}))
            .mark_rule(color=ORANGE, strokeDash=[5, 3])
            .encode(y="t:Q")
        )
    return _finish(alt.layer(*layers).properties(width="container", height=260), lang)


def satisfaction_chart(rows: list[dict[str, Any]], lang: str) -> dict[str, Any] | None:
    """Commune share satisfied by question, against the 90 % rule."""
    data = [
        {"q": f"{'Câu' if lang == 'vi' else 'Q'} {r['question_no']}", "v": r["satisfied_rate"],
         "met": bool(r["meets_90"])}
        for r in rows
        if r["satisfied_rate"] is not None
    ]  # fmt: skip
    if not data:
        return None
    df = pd.DataFrame(data)
    met = ("Đạt ≥ 90 %", "Dưới 90 %") if lang == "vi" else ("Meets ≥ 90 %", "Below 90 %")
    df["status"] = df["met"].map({True: met[0], False: met[1]})
    bars = (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X("q:O", sort=None, title=None),
            y=alt.Y(
                "v:Q", title="% hài lòng" if lang == "vi" else "% satisfied", scale=alt.Scale(domain=[0, 100])
            ),
            color=alt.Color("status:N", scale=alt.Scale(domain=list(met), range=[BLUE, ORANGE]), title=None),
            tooltip=[alt.Tooltip("q:O"), alt.Tooltip("v:Q", format=",.1f")],
        )
    )
    rule = alt.Chart(pd.DataFrame({"t": [90]})).mark_rule(color="#333", strokeDash=[4, 3]).encode(y="t:Q")
    return _finish(alt.layer(bars, rule).properties(width="container", height=220), lang)


def map_spec(lang: str, geo_kind: str, yesno: bool) -> dict[str, Any]:
    """The choropleth; ``site.js`` puts the period's hamlet features into ``data.values``.

    Each feature's ``properties`` carry ``state`` (``value`` / ``nodata`` / ``suppressed``), ``value``,
    ``label`` (short name), ``cx``/``cy`` (label point) and ``t_*`` tooltip strings already formatted for the
    language. Hidden (suppressed) hamlets are dark grey with a dashed outline, hamlets without data light grey.
    """
    vi = lang == "vi"
    tooltip = [
        {"field": "properties.name", "type": "nominal", "title": "Thôn" if vi else "Hamlet"},
        {"field": "properties.t_value", "type": "nominal", "title": "Giá trị" if vi else "Value"},
        {
            "field": "properties.t_nd",
            "type": "nominal",
            "title": "Tử số / mẫu số" if vi else "Numerator / denominator",
        },
        {"field": "properties.t_met", "type": "nominal", "title": "Đạt ngưỡng" if vi else "Threshold met"},
        {
            "field": "properties.t_unit",
            "type": "nominal",
            "title": "Đơn vị báo cáo" if vi else "Reporting unit",
        },
        {"field": "properties.t_ontime", "type": "nominal", "title": "Đúng hạn" if vi else "On time"},
        {"field": "properties.t_change", "type": "nominal", "title": "Thay đổi" if vi else "Change"},
    ]
    if yesno:
        labels = ["Có", "Không"] if vi else ["Yes", "No"]
        color: dict[str, Any] = {
            "field": "properties.t_value",
            "type": "nominal",
            "scale": {"domain": labels, "range": [BLUE, ORANGE]},
            "title": None,
        }
    else:
        color = {
            "field": "properties.value",
            "type": "quantitative",
            "scale": {"scheme": "viridis", "reverse": True},
            "title": None,
            "legend": {"format": ",.1f", "orient": "bottom", "gradientLength": 220},
        }
    projection = {"type": "mercator"} if geo_kind == "boundaries" else {"type": "identity", "reflectY": True}
    fill_condition = [
        {"test": "datum.properties.state === 'suppressed'", "value": DARK_GREY},
        {"test": "datum.properties.state !== 'value'", "value": GREY},
    ]
    spec = {
        "$schema": alt.SCHEMA_URL
        if hasattr(alt, "SCHEMA_URL")
        else "https://vega.github.io/schema/vega-lite/v6.json",
        "width": "container",
        "height": 420,
        "autosize": {"type": "fit", "contains": "padding"},
        "data": {"values": []},
        "projection": projection,
        "layer": [
            {
                "mark": {"type": "geoshape", "stroke": "#ffffff", "strokeWidth": 1.5},
                "encoding": {
                    "color": {"condition": fill_condition, **color},
                    "strokeDash": {
                        "condition": {"test": "datum.properties.state === 'suppressed'", "value": [4, 3]},
                        "value": [1, 0],
                    },
                    "tooltip": tooltip,
                },
            },
            # labels with a white halo (an outlined copy under the text) so they read on any fill
            _label_layer({"stroke": "#ffffff", "strokeWidth": 3, "strokeOpacity": 0.9}, tooltip),
            _label_layer({}, tooltip),
        ],
        "config": {"locale": LOCALE[lang], "font": FONT, "view": {"stroke": None}},
    }
    return spec


def _label_layer(extra: dict[str, Any], tooltip: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "mark": {"type": "text", "fontSize": 10, "fontWeight": 600, "color": "#111111", **extra},
        "encoding": {
            "longitude": {"field": "properties.cx", "type": "quantitative"},
            "latitude": {"field": "properties.cy", "type": "quantitative"},
            "text": {"field": "properties.label", "type": "nominal"},
            "tooltip": tooltip,
        },
    }
