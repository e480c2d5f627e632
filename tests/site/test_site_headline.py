"""The overview's satisfaction headline says over how many questions it is computed when some commune rows
of the year are suppressed (it never averages silently over fewer questions)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import jinja2

from pipeline.site import pages
from pipeline.site.release_data import Release

TEMPLATES = Path(pages.__file__).resolve().parent / "templates"


def _release(satisfied: list[int | None]) -> Release:
    con = duckdb.connect(":memory:")
    con.execute("create table dim_hamlet as select 'T01' as hamlet_code, null::date as valid_to")
    con.execute(
        "create table mart_reporting_compliance as select '2026-Q3' as period_code, 'quarter' as period_kind, "
        "1 as period_expected_count, 1 as period_on_time_count, 0 as period_late_count, "
        "0 as period_missing_count, 1 as period_received_count"
    )
    con.execute(
        "create table mart_ocop_portfolio as select '2026-Q3' as period_code, 2 as active_certificates, "
        "0 as expiring_within_6_months"
    )
    con.execute(
        "create table mart_satisfaction (period_code varchar, location_level varchar, question_code varchar, "
        "respondents integer, satisfied integer)"
    )
    for i, s in enumerate(satisfied):
        con.execute(
            "insert into mart_satisfaction values ('2026', 'commune', ?, ?, ?)",
            [f"Q{i}", None if s is None else 10, s],
        )
    return Release(root=Path("."), descriptor={}, con=con)


def test_headline_counts_the_published_questions():
    sat = pages.headline(_release([9, 8, None]))["satisfaction"]
    assert sat["questions"] == 3 and sat["shown"] == 2
    assert sat["n"] == 20 and round(sat["rate"], 6) == 85.0  # over the two published questions only


def _card(sat: dict) -> str:
    """The satisfaction card of index.html.j2, rendered alone with a bilingual t()."""
    src = (TEMPLATES / "index.html.j2").read_text(encoding="utf-8")
    (line,) = [x for x in src.splitlines() if "headline.satisfaction" in x]
    env = jinja2.Environment()
    tpl = env.from_string(line)
    return tpl.render(
        headline={"satisfaction": sat}, t=lambda vi, en: f"{vi} / {en}", num=lambda v, d: f"{v:.{d}f}"
    )


def test_the_card_names_the_hidden_questions_in_both_languages_only_when_some_are_hidden():
    some_hidden = _card(pages.headline(_release([9, 8, None]))["satisfaction"])
    assert "85.0 %" in some_hidden
    assert "trên 2/3 câu hỏi được công bố" in some_hidden and "over 2 of 3 questions published" in some_hidden
    none_hidden = _card(pages.headline(_release([9, 8]))["satisfaction"])
    assert "85.0 %" in none_hidden and "câu hỏi" not in none_hidden and "questions" not in none_hidden
