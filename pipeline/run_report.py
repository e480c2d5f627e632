"""The run summary as a person reads it: :func:`render` (at most one screen of bilingual lines, Vietnamese
first), :func:`write_quarantine_csv` (every rejected file and quarantined row of the landing zone, beside the
run's log) and :func:`prune_runs` (the newest ``NTM_KEEP_RUNS`` run folders stay). What is rendered comes from
:func:`pipeline.run_summary.collect`."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

from rich.markup import escape

from pipeline.run_summary import RunSummary

CSV_COLUMNS = [
    "kind",
    "source",
    "file",
    "row",
    "column",
    "reason_code",
    "reason_vi",
    "reason_en",
]
LIST_LIMIT = 5


def _short_reason(p: dict) -> str:
    """code — vi / en, without the column suffix the messages repeat ("[cột: …]", "[column: …]")."""
    vi = re.sub(r"\s*\[cột: [^\]]*\]$", "", p["reason_vi"])
    en = re.sub(r"\s*\[column: [^\]]*\]$", "", p["reason_en"])
    return f"{p['reason_code']} — {vi} / {en}"


def _where(p: dict) -> str:
    return (
        p["file"]
        + (f" · dòng / row {p['row']}" if p["row"] != "" else "")
        + (f" · cột / column {p['column']}" if p["column"] else "")
    )


def render(s: RunSummary, run_dir: Path, log_path: Path | None = None) -> list[str]:
    """The summary as rich-markup lines, Vietnamese first, English second (≈ one screen)."""
    out: list[str] = ["", "[bold]Tóm tắt lượt chạy / Run summary[/bold]"]
    if s.sources:
        out.append(
            "Nguồn: tệp mới · không đổi · từ chối | dòng nạp · cách ly / "
            "source: files new · unchanged · rejected | rows loaded · quarantined"
        )
        for c in s.sources:
            out.append(
                f"  {c.source:<12} {c.new:>6,} · {c.unchanged:>6,} · {c.rejected:>4,} | "
                f"{c.rows_loaded:>9,} · {c.rows_quarantined:>6,}"
            )
    if s.outside_sources:
        counts = ", ".join(f"{k}: {v}" for k, v in s.outside_sources.items())
        out.append(f"Tệp ngoài các nguồn / files outside the sources: {counts}")
    rejected, quarantined = s.rejected_files, s.quarantined
    n_rows = len({(p["file"], p["row"]) for p in quarantined})
    if rejected:
        out.append(
            f"[yellow]Tệp bị từ chối hoặc không nạp / files rejected or not loaded: {len(rejected)}[/yellow]"
        )
        for p in rejected[:LIST_LIMIT]:
            out.append(escape(f"  {_where(p)}: {_short_reason(p)}"))
    if quarantined:
        out.append(
            f"[yellow]Dòng bị cách ly / quarantined rows: {n_rows} ({len(quarantined)} lỗi / problems)[/yellow]"
        )
        for p in quarantined[:LIST_LIMIT]:
            out.append(escape(f"  {_where(p)}: {_short_reason(p)}"))
    if rejected or quarantined:
        out.append(f"  Tất cả / all of them: {run_dir / 'quarantine.csv'}")
    out.append(
        f"Kiểm tra / checks: [green]{s.checks_passed} đạt / passed[/green], "
        f"[red]{len(s.blocking)} lỗi chặn / blocking failures[/red], "
        f"[yellow]{len(s.warnings)} cảnh báo / warnings[/yellow]"
    )
    for f in s.blocking[:8]:
        out.append(f"  [red]LỖI / ERROR[/red] {escape(f.label())}")
        if f is s.blocking[0] and s.sample:
            out.extend(escape(f"      {line}") for line in s.sample.splitlines())
    if len(s.blocking) > 8:
        out.append(f"  … +{len(s.blocking) - 8}")
    named = [f for f in s.warnings if f.expectation]
    for f in named[:8]:
        out.append(f"  [yellow]CẢNH BÁO / WARN[/yellow] {escape(f.label())}")
    if len(named) > 8:
        out.append(f"  … +{len(named) - 8}")
    if s.quality_report:
        out.append(f"Báo cáo chất lượng / quality report: {s.quality_report} (offline)")
    if s.release:
        tables = s.release.get("tables") or {}
        if isinstance(tables, str):
            tables = json.loads(tables)
        rows = sum(int(v) for v in tables.values())
        if s.release.get("changed") in (False, "False"):
            out.append(f"Không có gì mới / nothing new: release {s.release.get('release_id')} unchanged")
        out.append(
            f"Bản phát hành / release [bold]{s.release.get('release_id')}[/bold]: {len(tables)} bảng / tables, "
            f"{rows:,} dòng / rows → {s.release.get('path')}"
        )
        site = Path(str(s.release.get("path"))) / "site" / "index.html"
        if site.is_file():
            out.append(f"Bản đồ và bảng điểm / map and scorecard: {site} (make serve)")
    cause = s.cause()
    if cause:
        out.append(f"[red]{escape(cause)}[/red]")
        if not s.release:
            out.append(
                "Bản phát hành trước (nếu có) giữ nguyên / the previous release (if any) stays in place."
            )
    if log_path is not None:
        out.append(f"Nhật ký đầy đủ / full log: {log_path}")
    out.append(
        f"Mã thoát / exit code {int(s.exit_code)} ({s.exit_code.name}) · thời gian / wall time "
        f"{s.elapsed:.1f} s · run id {s.run_id}"
    )
    return out


def write_quarantine_csv(s: RunSummary, path: Path) -> Path:
    """Every rejected file and quarantined row of the current landing zone (UTF-8 with BOM for Excel)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        w.writeheader()
        w.writerows(s.problems)
    return path


def prune_runs(runs_dir: Path, keep: int, current: str | None = None) -> list[Path]:
    """Keep the newest ``keep`` run folders (by modification time); the current run's folder always stays."""
    if not runs_dir.is_dir():
        return []
    folders = sorted(
        (p for p in runs_dir.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True
    )
    others = [p for p in folders if p.name != current]
    room = max(keep, 1) - (1 if current and (runs_dir / current).is_dir() else 0)
    removed = others[room:]
    for p in removed:
        shutil.rmtree(p, ignore_errors=True)
    return removed
