"""The examples of the READMEs run: the fenced shell, SQL and Python snippets of the repository README.md
that read the release or the read-only warehouse copy, and every SQL and Python snippet of the release's own
README.md (pipeline/publish/reuser_readme.py), executed against the session's pipeline build
(tests/conftest.py ``pipeline_build``; no second pipeline run).

A snippet of README.md is run when an HTML comment ``<!-- test: release -->`` (reads ``open_data/latest``)
or ``<!-- test: warehouse -->`` (reads ``warehouse/ntm_read.duckdb``) stands on the line before its fence.
Each runs from a folder laid out like the repository after ``make run``. A fenced snippet of README.md that
names one of those paths without the comment fails the test, so a new example cannot go untested.

Shell snippets call the DuckDB CLI, which is not a dependency of the project: they run with a ``duckdb``
on PATH that takes the CLI's arguments used here (``-readonly``, a database file, ``-c SQL``) and runs the
SQL with the duckdb Python package; an argument it does not know fails the test instead of being ignored.
NTM_TEST_RELEASE=<release dir> checks an existing release instead of building one (release snippets only).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
FENCE = re.compile(
    r"(?:^<!-- test: (?P<tag>[a-z]+) -->\n)?^```(?P<lang>[a-z]*)\n(?P<body>.*?)^```$", re.M | re.S
)
NEEDS = {"release": "open_data/latest", "warehouse": "ntm_read.duckdb"}
RUNNABLE = {"bash", "sh", "shell", "sql", "python"}


@dataclass(frozen=True)
class Snippet:
    source: str
    line: int
    tag: str | None
    lang: str
    body: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line} ({self.lang})"


def snippets(path: Path, source: str) -> list[Snippet]:
    text = path.read_text(encoding="utf-8")
    found = []
    for m in FENCE.finditer(text):
        line = text.count("\n", 0, m.start("lang")) + 1
        found.append(Snippet(source, line, m.group("tag"), m.group("lang"), m.group("body")))
    return found


CLI_SHIM = textwrap.dedent(
    """\
    #!{python}
    # Stand-in for the DuckDB CLI in tests/e2e/test_readme_snippets.py (see there).
    import sys
    import duckdb
    args, read_only, sql, db = sys.argv[1:], False, None, ":memory:"
    while args:
        a = args.pop(0)
        if a == "-readonly":
            read_only = True
        elif a == "-c" and args:
            sql = args.pop(0)
        elif not a.startswith("-") and db == ":memory:":
            db = a
        else:
            sys.exit(f"duckdb stand-in: argument {{a!r}} not known; extend the stand-in")
    if sql is None:
        sys.exit("duckdb stand-in: no -c SQL")
    con = duckdb.connect(db, read_only=read_only)
    rel = con.sql(sql)
    rows = rel.fetchall()
    print(rel.columns)
    for row in rows:
        print(row)
    sys.exit(0 if rows else "duckdb stand-in: the query returned no row")
    """
)


@pytest.fixture(scope="module")
def release_dir(request) -> Path:
    given = os.environ.get("NTM_TEST_RELEASE")
    if given:
        return Path(given).resolve()
    build = request.getfixturevalue("pipeline_build")
    assert build.release is not None, "the session's pipeline build published no release"
    return build.release


@pytest.fixture(scope="module")
def place(request, release_dir, tmp_path_factory) -> Path:
    """A folder laid out like the repository after `make run`: open_data/latest -> the release, and (when the
    session built one) warehouse/ntm_read.duckdb, a copy of the build's read-only warehouse."""
    root = tmp_path_factory.mktemp("readme_place")
    (root / "open_data").mkdir()
    (root / "open_data" / "latest").symlink_to(release_dir, target_is_directory=True)
    if not os.environ.get("NTM_TEST_RELEASE"):
        build = request.getfixturevalue("pipeline_build")
        read_copy = Path(build.env["NTM_WAREHOUSE"]).with_name("ntm_read.duckdb")
        (root / "warehouse").mkdir()
        shutil.copy(read_copy, root / "warehouse" / "ntm_read.duckdb")
    return root


@pytest.fixture(scope="module")
def cli_bin(tmp_path_factory) -> Path:
    bin_dir = tmp_path_factory.mktemp("cli_bin")
    shim = bin_dir / "duckdb"
    shim.write_text(CLI_SHIM.format(python=sys.executable), encoding="utf-8")
    shim.chmod(0o755)
    return bin_dir


def _empty_tables(cwd: Path) -> set[str]:
    """Published tables of the release in cwd with no row (e.g. mart_commune_report_compliance at level
    commune): their examples must run but cannot show a row."""
    return {p.stem for p in (cwd / "data").glob("*.parquet") if pq.read_metadata(p).num_rows == 0}


def run_snippet(snippet: Snippet, cwd: Path, cli_bin: Path, monkeypatch) -> None:
    """Run one snippet from cwd; it must succeed and read at least one row (none from a table published
    empty)."""
    empty_tables = _empty_tables(cwd)
    if snippet.lang in ("bash", "sh", "shell"):
        env = {**os.environ, "PATH": f"{cli_bin}{os.pathsep}{os.environ['PATH']}"}
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", snippet.body],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{snippet} failed:\n{snippet.body}\n{done.stdout}\n{done.stderr}"
        assert done.stdout.strip(), f"{snippet} printed nothing"
    elif snippet.lang == "sql":
        monkeypatch.chdir(cwd)
        con = duckdb.connect()
        try:
            statements = [s for s in snippet.body.split(";") if s.strip(" \n") and not _only_comments(s)]
            assert statements, f"{snippet} has no statement"
            for statement in statements:
                rows = con.sql(statement).fetchall()
                if any(f"data/{t}.parquet" in statement for t in empty_tables):
                    continue  # ran; the table is published empty
                assert rows, f"{snippet}: {statement.strip()} returned no row"
        finally:
            con.close()
    elif snippet.lang == "python":
        monkeypatch.chdir(cwd)
        namespace: dict[str, object] = {}
        exec(compile(snippet.body, str(snippet), "exec"), namespace)  # noqa: S102 - the README's own example
        tables = {k: v for k, v in namespace.items() if isinstance(v, pd.DataFrame | pl.DataFrame | pa.Table)}
        assert tables, f"{snippet} read no table into a variable"
        empty = [k for k, v in tables.items() if len(v) == 0]
        named_empty = [t for t in empty_tables if f"data/{t}.parquet" in snippet.body]
        assert len(empty) <= len(named_empty), f"{snippet}: {empty} read no row"
        for v in namespace.values():
            if isinstance(v, duckdb.DuckDBPyConnection):
                v.close()
    else:
        raise AssertionError(f"{snippet}: no runner for language {snippet.lang!r}")


def _only_comments(sql: str) -> bool:
    return all(not ln.strip() or ln.strip().startswith("--") for ln in sql.splitlines())


def readme_snippets() -> list[Snippet]:
    return snippets(REPO / "README.md", "README.md")


def test_every_readme_snippet_that_reads_the_release_or_warehouse_is_marked():
    found = readme_snippets()
    # a runnable snippet, or an unlabelled fence with a command line (output and diagrams are not run)
    unmarked = [
        str(s)
        for s in found
        if s.tag is None
        and any(path in s.body for path in NEEDS.values())
        and (s.lang in RUNNABLE or re.search(r"^(duckdb|python3?) ", s.body, re.M))
    ]
    assert unmarked == [], f"mark these with <!-- test: release --> or <!-- test: warehouse -->: {unmarked}"
    unknown = [
        (str(s), s.tag, s.lang) for s in found if s.tag and (s.tag not in NEEDS or s.lang not in RUNNABLE)
    ]
    assert unknown == []
    # bash (DuckDB CLI), SQL, pandas, polars and pyarrow on the release; CLI and Python on the warehouse copy
    assert sum(s.tag == "release" for s in found) >= 5
    assert sum(s.tag == "warehouse" for s in found) >= 2


def test_readme_release_snippets_run(place, cli_bin, monkeypatch):
    ran = 0
    for snippet in readme_snippets():
        if snippet.tag == "release":
            run_snippet(snippet, place, cli_bin, monkeypatch)
            ran += 1
    assert ran >= 5


def test_readme_warehouse_snippets_run(place, cli_bin, monkeypatch):
    if not (place / "warehouse").exists():
        pytest.skip("NTM_TEST_RELEASE given: no warehouse was built")
    ran = 0
    for snippet in readme_snippets():
        if snippet.tag == "warehouse":
            run_snippet(snippet, place, cli_bin, monkeypatch)
            ran += 1
    assert ran >= 2


def test_release_readme_snippets_run(release_dir, cli_bin, monkeypatch):
    """The release's README ("Cách đọc / How to read") reads every table with DuckDB, pandas, polars and
    pyarrow, with paths relative to the release folder."""
    found = [
        s for s in snippets(release_dir / "README.md", "release README.md") if s.lang in ("sql", "python")
    ]
    langs = sorted({s.lang for s in found})
    assert langs == ["python", "sql"] and len(found) >= 4, [str(s) for s in found]
    for snippet in found:
        run_snippet(snippet, release_dir, cli_bin, monkeypatch)
    tables = [p.stem for p in (release_dir / "data").glob("*.parquet")]
    text = "".join(s.body for s in found)
    assert tables and all(f"data/{t}.parquet" in text for t in tables), "a table of data/ has no example"
