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

from tests.site.chromium import VIAS, Site
from tests.site.links import broken_link, references

pytestmark = pytest.mark.slow

PAGES = [
    "index.html",
    "map.html",
    "reporting.html",
    "satisfaction.html",
    "ocop.html",
    "tasks.html",
    "indicators/index.html",
]
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


def indicator_page(code: str) -> str:
    """The page of an indicator: its code as a file name (characters other than letters, digits, '.', '-',
    '_' become '_')."""
    return "indicators/{}.html".format(re.sub(r"[^A-Za-z0-9._-]", "_", code))


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
        rel = indicator_page(code)
        assert (release / "site" / rel).is_file(), f"no page for indicator {code}"
        page = site.open(rel, via)
        if site.guard.problems():
            failures += [f"{rel}: {p}" for p in site.guard.problems()]
            site.guard.clear()
        if not page.inner_text("h1").strip():
            failures.append(f"{rel}: empty h1")
        if page.locator("a.download").count() == 0:
            failures.append(f"{rel}: no download link")
    assert failures == []


def test_links_of_the_rendered_pages_resolve_to_files_of_the_release(site, release):
    """As the browser sees them after the scripts ran (links a script adds included), on every fixed page
    and the sampled indicator pages."""
    bad = []
    for rel in [*PAGES, *(indicator_page(c) for c in _indicator_sample(release))]:
        site.open(rel)
        bad += _check_rendered_links(site, rel)
    assert bad == []


def test_every_indicator_of_the_catalogue_has_a_page(release):
    codes = {r[0] for r in query(release, "select distinct indicator_code from {i}", i="dim_indicator")}
    missing = sorted(c for c in codes if not (release / "site" / indicator_page(c)).is_file())
    assert codes and missing == []


# ---------------------------------------------------------------- the map


def _periods_around_hamlet_changes(release: Path) -> list[str]:
    """For each change of the hamlet list (merge, split), the last quarter before it and the quarter it
    takes effect in (from the release's dim_hamlet and dim_period)."""
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
        before = [q for q, start, end in quarters if end < date]
        during = [q for q, start, end in quarters if start <= date <= end]
        if before and during:
            chosen += [before[-1], during[0]]
    return list(dict.fromkeys(chosen))


def boundaries_existing(release: Path, period_code: str) -> tuple[set[str], bool] | None:
    """Hamlet codes with a boundary valid on the period's end date and whether any is synthetic, or None
    when the release publishes no boundaries (the map then draws a tile per hamlet)."""
    package = json.loads((release / "datapackage.json").read_text(encoding="utf-8"))
    if "dim_hamlet_boundary" not in {r["name"] for r in package["resources"]}:
        return None
    rows = query(
        release,
        "select distinct b.hamlet_code, b.is_synthetic from {b} b join {p} p on p.period_code = ? "
        "where b.valid_from <= p.end_date and (b.valid_to is null or b.valid_to >= p.end_date)",
        [period_code],
        b="dim_hamlet_boundary",
        p="dim_period",
    )
    return {r[0] for r in rows}, any(r[1] for r in rows)


def _indicator_reported_in(release: Path, periods: list[str]) -> str:
    """The first indicator (by code) with hamlet values in every one of periods."""
    rows = query(
        release,
        "select indicator_code from {m} where period_code in (select unnest(?)) group by indicator_code "
        "having count(distinct period_code) = ? order by indicator_code limit 1",
        [periods, len(periods)],
        m="mart_hamlet_indicator",
    )
    assert rows, f"no indicator has hamlet values in all of {periods}"
    return rows[0][0]


def choose(page, select: str, value: str) -> None:
    """Pick value in the map's select and wait until the map has been drawn again: #map loses its
    data-period/data-shapes first, so the ones waited for are those of the new drawing."""
    options = page.eval_on_selector_all(f"{select} option", "os => os.map(o => o.value)")
    assert value in options, f"{select} does not offer {value!r}: {options}"
    if page.eval_on_selector(select, "s => s.value") == value:
        return
    page.eval_on_selector(
        "#map", "m => { m.removeAttribute('data-period'); m.removeAttribute('data-shapes'); }"
    )
    page.select_option(select, value)
    page.wait_for_selector("#map[data-period][data-shapes]")


def _map_state(page) -> tuple[str, int, int, set[str]]:
    """(data-period, data-shapes, geoshapes in the SVG, hamlet codes in the map table)."""
    period = page.get_attribute("#map", "data-period")
    attr = int(page.get_attribute("#map", "data-shapes"))
    drawn = page.locator("#map svg g.role-mark.mark-shape > path").count()
    rows = set(page.eval_on_selector_all("#map-table tr[data-hamlet]", "rs => rs.map(r => r.dataset.hamlet)"))
    return period, attr, drawn, rows


def test_map_draws_the_hamlets_of_the_chosen_period(site, release):
    periods = _periods_around_hamlet_changes(release)
    assert len(periods) >= 2, "the sample has no hamlet merge or split between two quarters"
    code = _indicator_reported_in(release, periods)
    page = site.open("map.html")
    choose(page, "#map-indicator", code)
    seen = {}
    for period in periods:
        choose(page, "#map-period", period)
        site.settle()
        expected = hamlets_existing(release, period)
        boundaries = boundaries_existing(release, period)
        if boundaries is not None:  # one boundary per hamlet of the period, labelled synthetic if it is
            assert boundaries[0] == expected, period
            if boundaries[1]:
                assert "giả lập" in page.inner_text("main"), "synthetic boundaries not labelled on the map"
        drawn_period, attr, drawn, rows = _map_state(page)
        assert drawn_period == period
        assert attr == drawn == len(expected), (code, period, attr, drawn, len(expected))
        assert rows == expected, (code, period)
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


def _suppressed_cells(release: Path) -> list[tuple[str, str, str, str]]:
    """(hamlet, period, question, reason): the first hidden hamlet cell of each suppression reason (primary:
    fewer respondents than the minimum; complementary: hidden alongside)."""
    rows = query(
        release,
        "select hamlet_code, period_code, question_code, suppression_reason from {s} "
        "where suppressed and location_level = 'hamlet' "
        "qualify row_number() over (partition by suppression_reason "
        "order by period_code desc, hamlet_code, question_code) = 1 order by suppression_reason",
        s="mart_satisfaction",
    )
    assert rows, "the sample release has no suppressed satisfaction cell"
    return rows


def _assert_hidden(cell, where: str) -> None:
    """cell (a locator) says hidden and shows no number: no .num, no data-value, no rate, no count."""
    text = cell.inner_text().strip()
    assert re.match(r"^(Ẩn|Hidden)\b", text), f"{where}: not marked hidden: {text!r}"
    assert cell.locator(".suppressed").count() == 1, where
    assert cell.locator(".num, [data-value]").count() == 0, f"{where}: holds a number element"
    assert not re.search(r"\d[.,]\d|%|n\s*=", text), f"{where}: shows a number: {text!r}"


def test_suppressed_satisfaction_cells_are_hidden_never_a_number(site, release):
    cells = _suppressed_cells(release)
    assert {reason for *_, reason in cells} == {"primary", "complementary"}
    page = site.open("satisfaction.html")
    for hamlet, period, question, reason in cells:
        cell = page.locator(f"[data-period='{period}'] [data-hamlet='{hamlet}'] [data-question='{question}']")
        assert cell.count() == 1, (hamlet, period, question)
        _assert_hidden(cell, f"satisfaction page {hamlet} {period} {question} ({reason})")

    page = site.open("map.html")
    for hamlet, period, question, reason in cells:
        layers = page.eval_on_selector_all(
            "#map-indicator option", f"os => os.map(o => o.value).filter(v => v.endsWith('{question}'))"
        )
        assert len(layers) == 1, f"the map offers {layers} for satisfaction question {question}"
        choose(page, "#map-indicator", layers[0])
        choose(page, "#map-period", period)
        site.settle()
        assert page.get_attribute("#map", "data-period") == period
        cell = page.locator(f"#map-table tr[data-hamlet='{hamlet}'] td.value")
        _assert_hidden(cell, f"map {hamlet} {period} {question} ({reason})")
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


def test_every_page_fits_a_phone(phone, release):
    wide = {}
    for rel in [*PAGES, *(indicator_page(c) for c in _indicator_sample(release)[:2])]:
        page = phone.open(rel)
        width = page.evaluate("document.scrollingElement.scrollWidth")
        if width > 390 + 1:
            wide[rel] = width
    assert wide == {}, f"pages wider than a 390px phone: {wide}"


def test_map_table_and_tooltip_carry_value_fraction_threshold_unit_and_on_time(site, release):
    """For a ratio indicator, every hamlet row of the map's table shows the published value, numerator /
    denominator and threshold met; the reporting unit and on-time columns come from fact_indicator_value and
    mart_reporting_compliance; hovering a shape shows the same in Vega's tooltip."""
    rows = query(
        release,
        "select m.indicator_code, m.period_code, m.hamlet_code, m.value, m.numerator, m.denominator, "
        "m.met_threshold from {m} m join {i} i using (indicator_code) where i.value_type = 'percent' "
        "and m.numerator is not null and m.existed_at_period_end order by m.period_code desc, "
        "m.indicator_code, m.hamlet_code",
        m="mart_hamlet_indicator",
        i="dim_indicator",
    )
    code, period = rows[0][0], rows[0][1]
    expected = {r[2]: r for r in rows if r[0] == code and r[1] == period}
    page = site.open("map.html")
    choose(page, "#map-indicator", code)
    choose(page, "#map-period", period)
    checked = 0
    for hamlet, (_, _, _, value, num, den, met) in expected.items():
        cells = page.locator(f"#map-table tr[data-hamlet='{hamlet}'] > *").all_inner_texts()
        _name, shown, fraction, met_text, unit, on_time, _change = cells
        assert shown_matches(shown.strip(), value), (hamlet, shown, value)
        n, d = (parse_vi(x.strip()) for x in fraction.split("/"))
        assert abs(n - num) < 0.06 and abs(d - den) < 0.06, (hamlet, fraction, num, den)
        assert met_text == ("Có" if met else "Không")
        assert unit.strip() and ("Đúng hạn" in on_time or on_time.startswith("Muộn")), (hamlet, unit, on_time)
        checked += 1
    assert checked >= 5
    box = page.locator("#map svg g.role-mark.mark-shape > path").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tooltip = page.wait_for_selector("#vg-tooltip-element.visible", timeout=5000)
    text = tooltip.inner_text()
    for label in ("Thôn", "Giá trị", "Tử số / mẫu số", "Đạt ngưỡng", "Đơn vị báo cáo", "Đúng hạn"):
        assert label in text, (label, text)
    site.assert_clean()
