"""The site's chart specs (pipeline/site/charts.py) are built without Altair's schema validation, for speed:
each builder's spec is valid Vega-Lite and the same with validation on."""

from __future__ import annotations

import pytest

from pipeline.site import charts

SERIES = {
    "commune": [
        {"period_code": "2026-Q1", "sort_order": 1, "value": 3.5, "threshold": 4.0},
        {"period_code": "2026-Q2", "sort_order": 2, "value": None, "threshold": 4.0},
        {"period_code": "2026-Q3", "sort_order": 3, "value": 5.0, "threshold": 4.0},
    ],
    "hamlets": [
        {
            "period_code": "2026-Q1",
            "sort_order": 1,
            "value": 2.0,
            "hamlet_name": "Thôn Đông",
            "hamlet_code": "T1",
        },
        {"period_code": "2026-Q3", "sort_order": 3, "value": 7.0, "hamlet_name": None, "hamlet_code": "T2"},
    ],
}
IND = {"unit_vi": "hộ", "unit_en": "households"}
SAT = [
    {"question_no": 1, "satisfied_rate": 0.95, "meets_90": True},
    {"question_no": 2, "satisfied_rate": 0.5, "meets_90": False},
    {"question_no": 3, "satisfied_rate": None, "meets_90": None},
]
POINTS = [{"period_code": "2026-Q1", "actual_value": 1.0}, {"period_code": "2026-Q2", "actual_value": None}]

BUILDERS = {
    "sparkline": lambda lang: charts.sparkline_altair(POINTS, 2.0, lang),
    "sparkline_empty": lambda lang: charts.sparkline_altair([], None, lang),
    "indicator": lambda lang: charts.indicator_chart_altair(SERIES, IND, lang),
    "satisfaction": lambda lang: charts.satisfaction_chart(SAT, lang),
}


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_spec_is_valid_and_the_same_with_validation(name, lang, monkeypatch):
    fast = BUILDERS[name](lang)
    monkeypatch.setattr(charts, "VALIDATE", True)  # Altair raises SchemaValidationError on an invalid spec
    checked = BUILDERS[name](lang)
    assert fast is not None and fast == checked


# ------------------------------------------------------------------------ the indicator chart without Altair


def _bytes(spec) -> str:
    """What the site writes of a spec (pipeline.site.pages.js_global): key order and value types count."""
    from pipeline.site.pages import js_global

    return js_global("X", spec)


def _series(values, hamlets=(), threshold=4.0):
    commune = [
        {"period_code": f"2026-Q{i}", "sort_order": i, "value": v, "threshold": threshold}
        for i, v in enumerate(values, 1)
    ]
    return {
        "commune": commune,
        "hamlets": [
            {"period_code": f"2026-Q{i}", "sort_order": i, "value": v, "hamlet_name": n, "hamlet_code": c}
            for i, v, n, c in hamlets
        ],
    }


EDGE_SERIES = {
    "floats": SERIES,
    "ints only": _series([1, 2, None], [(1, 3, "Thôn A", "T1")], threshold=2),
    "ints and floats": _series([1, 2.5, 3], [(1, 3, "Thôn A", "T1"), (2, 4, None, "T2")]),
    "no hamlets": _series([1.5, None, 2.0]),
    "only hamlets": _series([None, None], [(1, 0.0, 'Thôn <A> & "B"', "T1")], threshold=None),
    "no threshold": _series([0.1, 1e-9, 123456789.123], [(3, -2.0, "", "T9")], threshold=None),
    "a name is missing": _series([5.0], [(1, 1.0, None, None)]),
    "a period twice": _series([1.0, 2.0], [(2, 3.0, "Thôn A", "T1"), (2, 4.0, "Thôn B", "T2")]),
}


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("case", sorted(EDGE_SERIES))
@pytest.mark.parametrize("unit", [IND, {"unit_vi": None, "unit_en": ""}])
def test_indicator_chart_is_altair_s_spec_byte_for_byte(case, lang, unit):
    fast = charts.indicator_chart(EDGE_SERIES[case], unit, lang)
    ref = charts.indicator_chart_altair(EDGE_SERIES[case], unit, lang)
    assert _bytes(fast) == _bytes(ref)


def test_a_value_the_direct_writer_does_not_handle_goes_through_altair():
    from decimal import Decimal

    series = _series([Decimal("1.5"), float("nan"), 2.0])
    assert charts._indicator_spec(*charts._indicator_rows(series, "vi"), 4.0, IND, "vi") is None
    assert _bytes(charts.indicator_chart(series, IND, "vi")) == _bytes(
        charts.indicator_chart_altair(series, IND, "vi")
    )
    assert charts.indicator_chart(_series([None]), IND, "vi") is None


def test_every_indicator_chart_of_a_release_is_altair_s_spec(release):
    """On the session's release (or NTM_TEST_RELEASE): every indicator, both languages."""
    from pipeline.site import pages, release_data

    rel = release_data.open_release(release)
    try:
        inds = pages.indicators(rel)
        assert inds
        for ind in inds:
            series = pages.indicator_series(rel, ind["indicator_code"])
            for lang in ("vi", "en"):
                fast = charts.indicator_chart(series, ind, lang)
                assert _bytes(fast) == _bytes(charts.indicator_chart_altair(series, ind, lang)), ind
    finally:
        rel.close()


SPARK_CASES = {
    "floats": (POINTS, 2.0),
    "empty, no target": ([], None),
    "empty, int target": ([], 3),
    "ints": (
        [{"period_code": "2026-Q1", "actual_value": 1}, {"period_code": "2026-Q3", "actual_value": 4}],
        2,
    ),
    "ints and floats": (
        [{"period_code": "2026-Q1", "actual_value": 1}, {"period_code": "2026-Q2", "actual_value": 2.5}],
        None,
    ),
    "negative and zero": (
        [{"period_code": "2027-Q4", "actual_value": -1.5}, {"period_code": "2027-Q1", "actual_value": 0.0}],
        0.0,
    ),
}


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("case", sorted(SPARK_CASES))
def test_sparkline_is_altair_s_spec_byte_for_byte(case, lang):
    points, target = SPARK_CASES[case]
    assert _bytes(charts.sparkline(points, target, lang)) == _bytes(
        charts.sparkline_altair(points, target, lang)
    )


def test_every_sparkline_of_a_release_is_altair_s_spec(release):
    from pipeline.site import pages, release_data

    rel = release_data.open_release(release)
    try:
        score = pages.scorecard(rel)
        assert score["rows"]
        for r in score["rows"]:
            points = score["trend"].get(r["indicator_code"], [])
            for lang in ("vi", "en"):
                fast = charts.sparkline(points, r["target_value"], lang)
                assert _bytes(fast) == _bytes(charts.sparkline_altair(points, r["target_value"], lang)), r
    finally:
        rel.close()
