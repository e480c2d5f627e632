"""The fixed cost of a run (issue 17, item 5): what every `python -m pipeline run` pays whatever changed.

Each rule here keeps a saving from costing a guarantee: the process's exit does not walk the heap
(``gc.freeze``) only where the process ends right after; the change check walks the landing zone with
``os.scandir`` and gives the same answer; the ingest's per-run metadata lists the files it did something with.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys

from pipeline.config import REPO_ROOT
from pipeline.exit_codes import ExitCode


def _env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NTM_", "DAGSTER_", "PYTHON"))}
    env.update(
        NTM_RAW_DIR=str(tmp_path / "no_such_raw_dir"),  # pre-flight stops: exit 4, no Dagster run
        NTM_WAREHOUSE=str(tmp_path / "wh" / "ntm.duckdb"),
        NTM_OPEN_DATA_DIR=str(tmp_path / "od"),
        DAGSTER_HOME=str(tmp_path / "dagster_home"),
    )
    return env


def test_python_m_pipeline_freezes_the_heap_before_the_process_ends(tmp_path):
    """`python -m pipeline` ends with gc.freeze() (the interpreter's final collections do not walk every
    object: 5-9 s on this machine after a run's summary) and its exit code passes through unchanged."""
    code = (
        "import gc, runpy, sys\n"
        "sys.argv = ['pipeline', 'check']\n"
        "try:\n"
        "    runpy.run_module('pipeline', run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    from pipeline import cli\n"
        "    print('exit', exc.code, 'frozen', gc.get_freeze_count(), 'flag', cli.EXITS_AFTER_COMMAND)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=_env(tmp_path), capture_output=True, text=True
    )
    last = proc.stdout.strip().splitlines()[-1].split()
    assert last[:2] == ["exit", str(int(ExitCode.PREFLIGHT))], proc.stdout + proc.stderr
    assert int(last[3]) > 0, "the heap was not frozen before the interpreter shut down"
    assert last[5] == "True"


def test_cli_main_in_a_longer_lived_process_freezes_nothing(tmp_path, monkeypatch):
    """Called in-process (tests, a notebook), the CLI leaves the collector alone: objects frozen there and
    garbage later would never be freed."""
    from pipeline import cli

    for k, v in _env(tmp_path).items():
        monkeypatch.setenv(k, v)
    gc.unfreeze()
    assert cli.EXITS_AFTER_COMMAND is False
    assert cli.main(["check"]) == ExitCode.PREFLIGHT
    assert gc.get_freeze_count() == 0


def test_the_change_check_walks_the_landing_zone_like_rglob_did(tmp_path):
    """pipeline.changes walks raw/ with os.scandir (one stat per file): the same files as the
    ``sorted(Path.rglob("*"))`` it replaced, in the same order (by path component, so ``a/b.csv`` before
    ``a-b/c.csv``): hidden files and folders, the top-level templates/, READMEs and partial downloads left
    out; a link to a file kept (its target's content), a link to a folder not followed, a dangling link
    left out."""
    from pipeline import changes

    raw = tmp_path / "raw"
    for rel in (
        "a/b.csv",
        "a-b/c.csv",
        "A.csv",
        "a.csv",
        "sub/.hidden/x.csv",
        ".hidden.csv",
        "templates/t.csv",
        "x/templates/t.csv",
        "README.md",
        "x/readme.txt",
        "x/y.part",
        "x/z.csv~",
    ):
        (raw / rel).parent.mkdir(parents=True, exist_ok=True)
        (raw / rel).write_text(rel)
    (raw / "link.csv").symlink_to(raw / "a" / "b.csv")
    (raw / "linkdir").symlink_to(raw / "a")
    (raw / "dangling.csv").symlink_to(raw / "nowhere")

    expected = ["A.csv", "a/b.csv", "a-b/c.csv", "a.csv", "link.csv", "x/templates/t.csv"]
    assert [p.relative_to(raw).as_posix() for p in changes.landing_files(raw)] == expected
    rglob = [
        p.relative_to(raw).as_posix()
        for p in sorted(raw.rglob("*"))
        if p.is_file()
        and p.relative_to(raw).parts[0] != "templates"
        and not any(part.startswith(".") for part in p.relative_to(raw).parts)
        and not p.name.lower().startswith("readme")
        and not p.name.endswith(changes.IGNORED_SUFFIXES)
    ]
    assert rglob == expected
    snap = changes.snapshot(raw)
    assert list(snap) == expected
    assert snap["link.csv"][0] == snap["a/b.csv"][0]  # a link is its target's content
    assert changes.landing_files(tmp_path / "missing") == [] and changes.snapshot(tmp_path / "missing") == {}


def test_the_ingest_files_table_lists_what_the_run_did_and_counts_the_rest():
    """The ``files`` metadata of an ingest asset: the files read, rejected or found as duplicate content (up
    to FILES_TABLE_MAX, then how many more), and one bilingual count of the files already ingested and not
    read again, instead of a 48,155-row table when nothing changed."""
    from pipeline.ingest import dagster_support as ds
    from pipeline.ingest.reports import FileOutcome, IngestReport

    report = IngestReport(source="submissions")
    report.files = [FileOutcome(f"submissions/old_{i}.csv", f"s{i}", "already_ingested") for i in range(5)]
    report.files += [
        FileOutcome("submissions/new.csv", "n", "loaded", rows_read=3, rows_loaded=2, rows_quarantined=1),
        FileOutcome("submissions/bad.csv", "b", "rejected", reason="empty_file: ..."),
    ]
    md = ds.files_table(report)
    assert "submissions/new.csv" in md and "submissions/bad.csv" in md and "old_" not in md
    assert "5 tệp đã nạp trước đó" in md and "5 file(s) already ingested and unchanged" in md

    report.files += [
        FileOutcome(f"submissions/n{i}.csv", f"x{i}", "loaded") for i in range(ds.FILES_TABLE_MAX)
    ]
    md = ds.files_table(report)
    assert md.count("| loaded") + md.count("| rejected") == ds.FILES_TABLE_MAX
    assert "thêm 2 tệp" in md and "2 more file(s) (see audit.ingest_files)" in md

    only_unchanged = IngestReport(source="surveys")
    only_unchanged.files = [FileOutcome("surveys/a.csv", "a", "already_ingested")]
    assert "|" not in ds.files_table(only_unchanged)
    assert ds.files_table(IngestReport(source="ocop")) == "(none)"
