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
    "sparkline": lambda lang: charts.sparkline(POINTS, 2.0, lang),
    "sparkline_empty": lambda lang: charts.sparkline([], None, lang),
    "indicator": lambda lang: charts.indicator_chart(SERIES, IND, lang),
    "satisfaction": lambda lang: charts.satisfaction_chart(SAT, lang),
}


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_spec_is_valid_and_the_same_with_validation(name, lang, monkeypatch):
    fast = BUILDERS[name](lang)
    monkeypatch.setattr(charts, "VALIDATE", True)  # Altair raises SchemaValidationError on an invalid spec
    checked = BUILDERS[name](lang)
    assert fast is not None and fast == checked
