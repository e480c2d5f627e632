"""Build the release site (Bản đồ số và bảng điểm / digital map and scorecard) from one release's files.

``build_site(release_dir, site_dir)`` reads ``release_dir/datapackage.json`` and the Parquet files it lists
(never the warehouse), renders the pages with Jinja2 and the charts with Vega-Lite specs (Altair), copies the
vendored Vega scripts and writes the spreadsheet downloads. Everything a page needs is in the site folder or
the release beside it (``../data/*.parquet``), so it opens from ``file://`` and from any static server with no
network. The publisher calls it inside the release's staging folder, so a site appears atomically with its
release; :func:`ensure_site` rebuilds the site of an existing release (same content published again after the
site's generator changed) in a temporary folder and swaps it in.

Pages: ``index.html`` (overview + scorecard), ``map.html``, ``indicators/index.html`` and one
``indicators/<code>.html`` per indicator, ``reporting.html``, ``satisfaction.html``, ``ocop.html``,
``tasks.html``; ``site.json`` lists every file with its size and sha256.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from pathlib import Path
from typing import Any

import jinja2

from pipeline.lib.swap import replace_dir

from . import charts, geometry, pages
from .i18n import AGGREGATION, ANNUAL, DIRECTION, FORMULA, STATUS, digits_for, fmt_date, num, t
from .release_data import Release, open_release

HERE = Path(__file__).parent
STATIC = HERE / "static"
SITE_DIRNAME = "site"
MANIFEST = "site.json"
# what a download entry carries for this run and the publisher's build.json, not for site.json
RUN_ONLY = ("reused_from", "record", "sheet_taken")

NAV = [
    ("overview", "index.html", "Tổng quan", "Overview"),
    ("map", "map.html", "Bản đồ số", "Map"),
    ("indicators", "indicators/index.html", "Chỉ tiêu", "Indicators"),
    ("reporting", "reporting.html", "Báo cáo", "Reporting"),
    ("satisfaction", "satisfaction.html", "Hài lòng", "Satisfaction"),
    ("ocop", "ocop.html", "OCOP", "OCOP"),
    ("tasks", "tasks.html", "Nhiệm vụ", "Plan tasks"),
]


def _generator_hash() -> str:
    """Changes when the site's code, templates or static files change (a no-op release then gets a new site)."""
    h = hashlib.sha256()
    for p in sorted(HERE.rglob("*")):
        if p.is_file() and p.suffix in {".py", ".j2", ".js", ".css"} and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(HERE)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


SITE_VERSION = _generator_hash()


@dataclass
class SiteResult:
    path: Path
    pages: list[str] = field(default_factory=list)
    files: int = 0
    bytes_total: int = 0
    geo_kind: str = ""
    downloads: list[dict[str, Any]] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """What the publisher keeps in build.json "site" for the next release (the workbook's record)."""
        return {d["name"]: d["record"] for d in self.downloads if d.get("record")}

    def metadata(self) -> dict[str, Any]:
        return {
            "pages": len(self.pages),
            "files": self.files,
            "bytes_total": self.bytes_total,
            "map_geometry": self.geo_kind,
            "downloads": len(self.downloads),
            "downloads_reused": {d["name"]: d["reused_from"] for d in self.downloads if d.get("reused_from")},
            "scorecard_sheet_taken": any(d.get("sheet_taken") for d in self.downloads),
        }


def fname(code: str) -> str:
    """An indicator code as a file name (letters, digits, '.', '-', '_')."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", code)


def _ndigits(v: float | None) -> int:
    return 0 if v is None or float(v).is_integer() else 2


def _yesno(v: bool | None) -> Any:
    if v is None:
        return ""
    return t("Có", "Yes") if v else t("Không", "No")


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(t=t, num=num, yesno=_yesno, status=STATUS, nav=NAV, site_version=SITE_VERSION)
    env.filters.update(fname=fname, ddmmyyyy=fmt_date, ndigits=_ndigits)
    return env


class _Writer:
    def __init__(self, site_dir: Path, env: jinja2.Environment, base: dict[str, Any]):
        self.site_dir, self.env, self.base = site_dir, env, base
        self.pages: list[str] = []

    def page(self, rel_path: str, template: str, page: str, title: tuple[str, str], *, charts_: dict | None = None,
             extra_scripts: tuple[str, ...] = (), **ctx: Any) -> None:  # fmt: skip
        depth = rel_path.count("/")
        root = "../" * depth
        scripts = list(extra_scripts)
        if charts_:
            name = "charts-" + rel_path.replace("/", "-").removesuffix(".html") + ".js"
            self.write_text(f"assets/data/{name}", _charts_script(charts_))
            scripts.insert(0, name)
        html = self.env.get_template(template).render(
            **self.base, **ctx, root=root, page=page, page_title_vi=title[0], data_scripts=scripts,
            vega=bool(charts_) or "map.js" in scripts, charts=charts_ or {},
        )  # fmt: skip
        self.write_text(rel_path, html)
        self.pages.append(rel_path)

    def write_text(self, rel_path: str, text: str) -> None:
        p = self.site_dir / rel_path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")


def _charts_script(charts_: dict[str, dict[str, dict | None]]) -> str:
    """The page's chart specs; the data sets both languages share are written once (``NTM_DATASETS``,
    keyed by Altair's content hash) and put back into each spec by site.js."""
    datasets: dict[str, Any] = {}
    slim: dict[str, dict[str, dict | None]] = {}
    for key, by_lang in charts_.items():
        slim[key] = {}
        for lang, spec in by_lang.items():
            if spec is not None and "datasets" in spec:
                spec = dict(spec)
                datasets.update(spec.pop("datasets"))
            slim[key][lang] = spec
    return pages.js_global("NTM_DATASETS", datasets) + pages.js_global("NTM_CHARTS", slim)


def build_site(release_dir: Path, site_dir: Path, previous: Path | None = None) -> SiteResult:
    """Write the site for the release in ``release_dir`` into ``site_dir`` (created; must not exist).
    ``previous``: an earlier release whose CSV downloads may be linked when made from the same Parquet files
    (:func:`pipeline.site.downloads.write_downloads`)."""
    release_dir, site_dir = Path(release_dir), Path(site_dir)
    site_dir.mkdir(parents=True)
    rel = open_release(release_dir)
    try:
        result = _build(rel, site_dir, previous)
    finally:
        rel.close()
    return result


def _build(rel: Release, site_dir: Path, previous: Path | None = None) -> SiteResult:
    shutil.copytree(STATIC, site_dir / "assets", ignore=shutil.ignore_patterns("README.md"))
    shutil.copy(STATIC / "vendor" / "README.md", site_dir / "assets" / "vendor" / "README.md")
    commune = pages.commune(rel)
    shapes, geo_kind, geo_synthetic = geometry.hamlet_shapes(rel)
    created = rel.created
    try:
        release_date = datetime.fromisoformat(created).strftime("%d/%m/%Y")
    except ValueError:
        release_date = created
    res_index = {r["name"]: r for r in rel.descriptor.get("resources", [])}
    base = {
        "commune_name": commune.get("commune_name") or "",
        "commune_title": f"{commune.get('commune_name', '')}, {commune.get('province_name', '')} "
        f"({commune.get('commune_code', '')})",
        "release_id": rel.release_id,
        "release_date": release_date,
        "synthetic": rel.is_synthetic,
        "geo_synthetic": geo_synthetic,
        "geo_kind": geo_kind,
    }
    w = _Writer(site_dir, _env(), base)

    # 1. overview
    score = pages.scorecard(rel)
    sparks = {
        f"spark:{r['indicator_code']}": {
            lang: charts.sparkline(score["trend"].get(r["indicator_code"], []), r["target_value"], lang)
            for lang in ("vi", "en")
        }
        for r in score["rows"]
    }
    resources = [
        {"name": name, "title_vi": r.get("ntm:title_vi", name), "title_en": r.get("ntm:title_en", name),
         "rows": r.get("ntm:rows"), "files": [f["path"] for f in r.get("ntm:files", [])]}
        for name, r in res_index.items()
    ]  # fmt: skip
    w.page("index.html", "index.html.j2", "overview", ("Tổng quan", "Overview"), charts_=sparks,
           score=score, headline=pages.headline(rel), resources=resources)  # fmt: skip

    # 2. map
    map_payload = pages.map_data(rel, shapes, geo_kind)
    map_payload["specs"] = {
        f"{kind}:{lang}": charts.map_spec(lang, geo_kind, kind == "yesno")
        for kind in ("quant", "yesno")
        for lang in ("vi", "en")
    }
    w.write_text("assets/data/map.js", pages.js_global("NTM_MAP", map_payload))
    w.page("map.html", "map.html.j2", "map", ("Bản đồ số", "Map"), extra_scripts=("map.js",),
           has_boundaries=rel.has("dim_hamlet_boundary"))  # fmt: skip

    # 3. indicators
    inds = pages.indicators(rel)
    groups = [(k, list(g)) for k, g in groupby(inds, key=lambda r: r["criteria_set"])]
    w.page(
        "indicators/index.html", "indicators.html.j2", "indicators", ("Chỉ tiêu", "Indicators"), groups=groups
    )
    hamlet_files = [f["path"] for f in res_index.get("mart_hamlet_indicator", {}).get("ntm:files", [])]
    for ind in inds:
        series = pages.indicator_series(rel, ind["indicator_code"])
        spec = {lang: charts.indicator_chart(series, ind, lang) for lang in ("vi", "en")}
        has_chart = spec["vi"] is not None
        w.page(
            f"indicators/{fname(ind['indicator_code'])}.html", "indicator.html.j2", "indicators",
            (ind["indicator_name_vi"], ind["indicator_name_en"]),
            charts_={"indicator": spec} if has_chart else None,
            ind=ind, series=series, has_chart=has_chart, digits=digits_for(ind["value_type"]),
            formula=FORMULA.get(ind["value_type"], (ind["value_type"], ind["value_type"])),
            aggregation=AGGREGATION.get(ind["aggregation"], (ind["aggregation"], ind["aggregation"])),
            annual=ANNUAL.get(ind["annual_rule"] or ""), direction=DIRECTION.get(ind["direction"] or "", ("", "")),
            hamlet_table=bool(series["hamlets"]), hamlet_files=hamlet_files, pivot=series["pivot"],
        )  # fmt: skip

    # 4-7. reporting, satisfaction, OCOP, tasks
    w.page(
        "reporting.html", "reporting.html.j2", "reporting", ("Báo cáo", "Reporting"), rep=pages.reporting(rel)
    )
    sat = pages.satisfaction(rel)
    sat_charts = {}
    for period, p in sat["periods"].items():
        commune_cells = p["locations"].get("__commune__", {}).get("cells", {})
        spec = {lang: charts.satisfaction_chart(list(commune_cells.values()), lang) for lang in ("vi", "en")}
        if spec["vi"] is not None:
            sat_charts[f"sat:{period}"] = spec
    w.page("satisfaction.html", "satisfaction.html.j2", "satisfaction", ("Hài lòng", "Satisfaction"),
           charts_=sat_charts, sat=sat)  # fmt: skip
    w.page("ocop.html", "ocop.html.j2", "ocop", ("OCOP", "OCOP"), oc=pages.ocop(rel))
    w.page("tasks.html", "tasks.html.j2", "tasks", ("Nhiệm vụ", "Plan tasks"), tk=pages.tasks(rel))

    # downloads (CSV for every published table, the scorecard as XLSX)
    downloads = _write_downloads(rel.root, site_dir, rel.release_id, previous)
    return _finish(site_dir, w.pages, geo_kind, downloads, rel.release_id)


def _write_downloads(
    release_dir: Path, site_dir: Path, release_id: str, previous: Path | None
) -> list[dict[str, Any]]:
    from .downloads import write_downloads

    return write_downloads(release_dir, site_dir, release_id, previous=previous)


def _finish(site_dir: Path, pages_: list[str], geo_kind: str, downloads: list, release_id: str) -> SiteResult:
    # the downloads were hashed as they were written (or verified when linked): not read a second time
    known = {d["path"]: (d["bytes"], d["sha256"]) for d in downloads}
    files = []
    for p in sorted(site_dir.rglob("*")):
        if p.is_file():
            rel = p.relative_to(site_dir).as_posix()
            if rel in known:
                size, digest = known[rel]
            else:
                data = p.read_bytes()
                size, digest = len(data), hashlib.sha256(data).hexdigest()
            files.append({"path": rel, "bytes": size, "sha256": digest})
    # the downloads with their keys (pipeline.site.downloads.csv_key): what the next release may link; which
    # release a file was linked from is this run's news, not the site's (a site is the same bytes either way)
    listed = [{k: v for k, v in d.items() if k not in RUN_ONLY} for d in downloads]
    manifest = {"release_id": release_id, "generator": SITE_VERSION, "pages": pages_, "map_geometry": geo_kind,
                "files": files, "downloads": listed}  # fmt: skip
    (site_dir / MANIFEST).write_text(
        json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return SiteResult(site_dir, pages_, len(files) + 1, sum(f["bytes"] for f in files), geo_kind, downloads)


def site_is_current(release_dir: Path) -> bool:
    """The release's site exists and was built by this version of the generator for this release."""
    try:
        m = json.loads((Path(release_dir) / SITE_DIRNAME / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    rel_id = json.loads((Path(release_dir) / "datapackage.json").read_text(encoding="utf-8")).get(
        "ntm:release_id"
    )
    return m.get("generator") == SITE_VERSION and m.get("release_id") == rel_id


def ensure_site(release_dir: Path, scratch_dir: Path) -> SiteResult | None:
    """Rebuild ``release_dir/site`` when it is missing or stale: built in ``scratch_dir``, then swapped in
    (the old site is renamed away first, so a reader sees the old site, briefly none, then the new one - never
    a half-written one). Returns None when the site was current."""
    release_dir = Path(release_dir)
    if site_is_current(release_dir):
        return None
    scratch_dir.mkdir(parents=True, exist_ok=True)
    tmp = scratch_dir / f"site-{secrets.token_hex(4)}"
    try:
        result = build_site(release_dir, tmp)
        final = release_dir / SITE_DIRNAME
        replace_dir(tmp, final, scratch_dir)
        result.path = final
        return result
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


class _SiteBuilder:
    """The publisher's hook (``pipeline.publish.release.SiteBuilder``)."""

    def __call__(self, release_dir: Path, site_dir: Path, previous: Path | None = None) -> SiteResult:
        return build_site(release_dir, site_dir, previous)

    def ensure(self, release_dir: Path, scratch_dir: Path) -> SiteResult | None:
        return ensure_site(release_dir, scratch_dir)


SITE_BUILDER = _SiteBuilder()


def site_metadata(release_dir: Path) -> dict[str, Any]:
    """pages / files / bytes of a release's site, from its site.json (for a release whose site was current)."""
    try:
        m = json.loads((Path(release_dir) / SITE_DIRNAME / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"pages": 0, "files": 0, "bytes_total": 0, "map_geometry": "none"}
    return {
        "pages": len(m.get("pages", [])),
        "files": len(m.get("files", [])) + 1,
        "bytes_total": sum(f["bytes"] for f in m.get("files", [])),
        "map_geometry": m.get("map_geometry", ""),
        "downloads": sum(1 for f in m.get("files", []) if f["path"].startswith("downloads/")),
    }
