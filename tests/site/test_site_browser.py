"""The release's site in Debian's Chromium with the network blocked: every page loads with no error and no
request leaving the release, the map draws the hamlets of the chosen period, the scorecard shows
mart_plan_targets, suppressed survey cells stay hidden, the language switch relabels and reformats numbers
and is remembered, every link stays inside the release, and the overview fits a phone.

Expected values are read with DuckDB from the release's own Parquet files (never from the site's scripts).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import duckdb
import pytest

from tests.site.conftest import VIAS, Site
from tests.site.links import broken_link, references

pytestmark = pytest.mark.slow

PAGES = ["index.html", "map.html", "reporting.html", "satisfaction.html", "ocop.html", "tasks.html"]
VI_NUMBER = re.compile(r"^[-−]?\d{1,3}(?:\.\d{3})*(?:,\d+)?$")
EN_NUMBER = re.compile(r"^[-−]?\d{1,3}(?:,\d{3})*(?:\.\d+)?$")


# ---------------------------------------------------------------- reading the release (the expected values)


def query(release: Path, sql: str, params: list | None = None, **tables: str) -> list[tuple]:
    """Run sql with each {alias} replaced by read_parquet(<the files of the resource named by that keyword
    argument, from the release's datapackage.json>)."""
    package = json.loads((release / "datapackage.json").read_text(encoding="utf-8"))
    paths = {
        r["name"]: r["path"] if isinstance(r["path"], list) else [r["path"]] for r in package["resources"]
    }
    reads = {
        alias: "read_parquet([{}])".format(", ".join(f"'{release / p}'" for p in paths[name]))
        for alias, name in tables.items()
    }
    with duckdb.connect() as con:
        return con.execute(sql.format(**reads), params or []).fetchall()


def hamlets_existing(release: Path, period_code: str) -> set[str]:
    """Hamlet codes with a version valid on the period's end date (valid_to inclusive, null = current)."""
    rows = query(
        release,
        "select distinct h.hamlet_code from {h} h join {p} p on p.period_code = ? "
        "where h.valid_from <= p.end_date and (h.valid_to is null or h.valid_to >= p.end_date)",
        [period_code],
        h="dim_hamlet",
        p="dim_period",
    )
    return {r[0] for r in rows}


def parse_vi(text: str) -> float:
    assert VI_NUMBER.match(text), f"not a Vietnamese-formatted number (1.234,5): {text!r}"
    return float(text.replace("−", "-").replace(".", "").replace(",", "."))


def shown_matches(text: str, value: float) -> bool:
    """The displayed (vi) number equals value rounded to the decimals shown."""
    decimals = len(text.split(",", 1)[1]) if "," in text else 0
    return abs(parse_vi(text) - value) <= 0.5 * 10**-decimals + 1e-9


# ---------------------------------------------------------------- links (static, every page of the site)


def test_every_link_of_every_page_resolves_to_a_file_of_the_release(release):
    pages = sorted((release / "site").rglob("*.html"))
    assert len(pages) >= len(PAGES) + 5
    bad, downloads = [], 0
    for page in pages:
        refs = references(page.read_text(encoding="utf-8"))
        for tag, attr, value in refs:
            why = broken_link(release, page, value)
            if why:
                bad.append(f"{page.relative_to(release)}: <{tag} {attr}={value!r}> {why}")
        downloads += sum(1 for tag, _, value in refs if tag == "a" and "/downloads/" in f"/{value}")
    assert bad == []
    assert downloads > 0


# ---------------------------------------------------------------- every page loads offline


def _check_rendered_links(site: Site, rel: str) -> list[str]:
    """The links as the browser sees them after the scripts ran (a.href resolved by the browser)."""
    release = site.release.resolve()
    hrefs = site.page.eval_on_selector_all(
        "a[href]", "els => els.map(a => [a.getAttribute('href'), a.href, a.classList.contains('download')])"
    )
    bad = []
    for raw, resolved, _ in hrefs:
        parts = urlsplit(resolved)
        if raw.startswith("#"):
            continue
        if parts.scheme == "file":
            target = Path(unquote(parts.path))
        elif resolved.startswith(site.http_base):
            target = release / unquote(parts.path).lstrip("/")
        else:
            bad.append(f"{rel}: {raw!r} leaves the release ({resolved})")
            continue
        if not target.resolve().is_relative_to(release) or not target.is_file():
            bad.append(f"{rel}: {raw!r} -> {target} is not a file of the release")
    return bad


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("rel", PAGES)
def test_page_loads_offline_without_errors(site, rel, via):
    page = site.open(rel, via)
    site.assert_clean()
    assert page.get_attribute("html", "data-lang") == "vi"  # Vietnamese by default (browser is en-US)
    assert page.inner_text("h1").strip()
    assert _check_rendered_links(site, rel) == []


def _indicator_sample(release: Path) -> list[str]:
    """One indicator per criteria set, then five more spread over the catalogue (deterministic)."""
    rows = query(
        release, "select indicator_code, criteria_set from {i} order by indicator_code", i="dim_indicator"
    )
    codes = [code for code, _ in rows]
    first_of_set = {}
    for code, criteria_set in rows:
        first_of_set.setdefault(criteria_set, code)
    rest = [c for c in codes if c not in first_of_set.values()]
    spread = [rest[i * len(rest) // 5] for i in range(5)] if len(rest) >= 5 else rest
    return sorted(set(first_of_set.values()) | set(spread))


@pytest.mark.parametrize("via", VIAS)
def test_indicator_pages_load_offline_without_errors(site, release, via):
    sample = _indicator_sample(release)
    assert len(sample) >= 6
    failures = []
    for code in sample:
        rel = f"indicators/{code}.html"
        assert (release / "site" / rel).is_file(), f"no page for indicator {code}"
        page = site.open(rel, via)
        if site.guard.problems():
            failures += [f"{rel}: {p}" for p in site.guard.problems()]
            site.guard.clear()
        if not page.inner_text("h1").strip():
            failures.append(f"{rel}: empty h1")
        if page.locator("a.download").count() == 0:
            failures.append(f"{rel}: no download link")
        failures += _check_rendered_links(site, rel)
    assert failures == []


def test_every_indicator_with_values_has_a_page(release):
    codes = {
        r[0] for r in query(release, "select distinct indicator_code from {m}", m="mart_commune_indicator")
    }
    missing = sorted(c for c in codes if not (release / "site" / "indicators" / f"{c}.html").is_file())
    assert codes and missing == []


# ---------------------------------------------------------------- the map


def _map_periods(release: Path, options: list[str]) -> list[str]:
    """For each change of the hamlet list (merge, split), the last quarter before it and the quarter it
    takes effect in, among the periods the map offers."""
    changes = query(
        release,
        "select distinct change_effective_date from {h} where change_effective_date is not null order by 1",
        h="dim_hamlet",
    )
    quarters = query(
        release,
        "select period_code, start_date, end_date from {p} where period_kind = 'quarter' order by start_date",
        p="dim_period",
    )
    chosen: list[str] = []
    for (date,) in changes:
        before = [q for q, start, end in quarters if end < date and q in options]
        during = [q for q, start, end in quarters if start <= date <= end and q in options]
        if before and during:
            chosen += [before[-1], during[0]]
    return list(dict.fromkeys(chosen))


def _map_state(page) -> tuple[int, int, set[str]]:
    """(data-shapes, shapes in the SVG, hamlet codes in the map table)."""
    attr = int(page.get_attribute("#map", "data-shapes"))
    drawn = page.locator(
        "#map svg g.role-mark.mark-shape > path, #map svg g.role-mark.mark-rect > path"
    ).count()
    rows = set(page.eval_on_selector_all("#map-table tr[data-hamlet]", "rs => rs.map(r => r.dataset.hamlet)"))
    return attr, drawn, rows


def test_map_draws_the_hamlets_of_the_chosen_period(site, release):
    page = site.open("map.html")
    options = page.eval_on_selector_all("#map-period option", "os => os.map(o => o.value)")
    periods = _map_periods(release, options)
    assert len(periods) >= 2, f"no period before/after a hamlet merge or split among {options}"
    seen = {}
    for period in periods:
        page.select_option("#map-period", period)
        page.wait_for_selector(f"#map[data-period='{period}']")
        site.settle()
        expected = hamlets_existing(release, period)
        attr, drawn, rows = _map_state(page)
        assert attr == drawn == len(expected), (period, attr, drawn, len(expected))
        assert rows == expected, period
        seen[period] = frozenset(rows)
    assert len(set(seen.values())) >= 2  # the hamlets drawn change with the period
    assert len({len(s) for s in seen.values()}) >= 2  # and so does their number
    site.assert_clean()


# ---------------------------------------------------------------- the scorecard


def test_scorecard_values_equal_mart_plan_targets(site, release):
    targets = {
        (code, period): (actual, target, gap, on_track)
        for code, period, actual, target, gap, on_track in query(
            release,
            "select indicator_code, period_code, actual_value, target_value, gap, is_on_track from {t} "
            "where target_year = (select max(target_year) from {t} where actual_value is not null)",
            t="mart_plan_targets",
        )
    }
    page = site.open("index.html")
    rows = page.eval_on_selector_all(
        "table#scorecard tr[data-indicator][data-period]",
        """rs => rs.map(r => {
            const cell = c => { const n = r.querySelector(`td.${c} .num`);
                                return n ? [n.dataset.value, n.textContent.trim()] : null; };
            return [r.dataset.indicator, r.dataset.period, cell('actual'), cell('target'), cell('gap'),
                    r.querySelector('td.status').dataset.status];
        })""",
    )
    assert rows, "no scorecard row"
    complete = [r for r in rows if (r[0], r[1]) in targets and None not in targets[(r[0], r[1])][:3]]
    assert len(complete) >= 3, f"fewer than three scorecard rows of the latest year with values: {rows}"
    for code, period, *cells, status in complete[:3]:
        expected = targets[(code, period)]
        for cell, value, name in zip(cells, expected[:3], ("actual", "target", "gap"), strict=True):
            assert cell is not None, (code, period, name)
            data_value, text = cell
            assert math.isclose(float(data_value), value, rel_tol=1e-9, abs_tol=1e-9), (code, period, name)
            assert shown_matches(text, value), (code, period, name, text, value)
        assert status == ("on_track" if expected[3] else "behind"), (code, period, status)
    for code, period, *_, status in rows:  # every row's status agrees with the mart
        if (code, period) in targets:
            actual, _, _, on_track = targets[(code, period)]
            want = "no_data" if actual is None or on_track is None else ("on_track" if on_track else "behind")
            assert status == want, (code, period, status)


# ---------------------------------------------------------------- suppressed survey cells


def _suppressed_cell(release: Path) -> tuple[str, str, str, str]:
    rows = query(
        release,
        "select hamlet_code, period_code, question_code, suppression_reason from {s} "
        "where suppressed and location_level = 'hamlet' order by period_code desc, hamlet_code, question_code",
        s="mart_satisfaction",
    )
    assert rows, "the sample release has no suppressed satisfaction cell"
    return rows[0]


def _assert_hidden(element_text: str, where: str) -> None:
    assert re.search(r"Ẩn|Hidden", element_text), f"{where}: not marked hidden: {element_text!r}"
    assert not re.search(r"\d", element_text.replace("Q", "")), f"{where}: shows a number: {element_text!r}"


def test_a_suppressed_satisfaction_cell_is_hidden_never_a_number(site, release):
    hamlet, period, question, reason = _suppressed_cell(release)
    page = site.open("satisfaction.html")
    cell = page.locator(
        f"[data-hamlet='{hamlet}'][data-period='{period}'] [data-question='{question}'], "
        f"[data-hamlet='{hamlet}'][data-period='{period}'][data-question='{question}']"
    )
    assert cell.count() >= 1, (hamlet, period, question)
    text = cell.first.inner_text()
    assert cell.first.locator(".suppressed").count() == 1 and cell.first.locator(".num").count() == 0
    _assert_hidden(text, "satisfaction page")

    page = site.open("map.html")
    option = page.eval_on_selector_all(
        "#map-indicator option", f"os => os.map(o => o.value).filter(v => v.includes('{question}'))"
    )
    assert option, f"the map offers no satisfaction question {question}"
    page.select_option("#map-indicator", option[0])
    page.select_option("#map-period", period)
    page.wait_for_selector(f"#map[data-period='{period}']")
    site.settle()
    td = page.locator(f"#map-table tr[data-hamlet='{hamlet}'] td.value")
    assert td.locator("span.suppressed").count() == 1 and td.locator(".num").count() == 0
    _assert_hidden(td.inner_text(), "map table")
    site.assert_clean()


# ---------------------------------------------------------------- language


def _numbers(page) -> list[tuple[str, str]]:
    return page.eval_on_selector_all(
        ".num[data-value]",
        "ns => ns.filter(n => n.offsetParent).map(n => [n.dataset.value, n.textContent.trim()])",
    )


def test_language_switch_changes_labels_and_number_format_and_is_remembered(site):
    page = site.open("index.html")
    h1_vi, numbers_vi = page.inner_text("h1").strip(), _numbers(page)
    assert any(abs(float(v)) >= 1000 or "," in t for v, t in numbers_vi), "no number with a separator shown"
    assert all(VI_NUMBER.match(t) for _, t in numbers_vi), numbers_vi

    page.click("button#lang-toggle")
    page.wait_for_selector("html[data-lang='en']")
    h1_en, numbers_en = page.inner_text("h1").strip(), _numbers(page)
    assert h1_en and h1_en != h1_vi
    assert all(EN_NUMBER.match(t) for _, t in numbers_en), numbers_en
    swap = str.maketrans({".": ",", ",": "."})
    assert numbers_en == [[v, t.translate(swap)] for v, t in numbers_vi]  # 1.234,5 -> 1,234.5

    page.reload(wait_until="load")
    site.settle()
    assert page.get_attribute("html", "data-lang") == "en"
    assert page.evaluate("localStorage.getItem('ntm-lang')") == "en"
    assert page.inner_text("h1").strip() == h1_en
    site.open("map.html")  # the choice holds across pages
    assert page.get_attribute("html", "data-lang") == "en"
    page.click("button#lang-toggle")
    page.wait_for_selector("html[data-lang='vi']")
    site.assert_clean()


# ---------------------------------------------------------------- phone


@pytest.mark.parametrize("via", VIAS)
def test_overview_fits_a_phone_without_horizontal_scrolling(phone, via):
    page = phone.open("index.html", via)
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 390 + 1, f"overview is {width}px wide on a 390px phone"
