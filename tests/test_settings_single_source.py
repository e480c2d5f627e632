"""One settings object: pipeline/config.py is the only module that reads the environment, and every NTM_*
variable named in pipeline/ is documented, in config's table and in the README's configuration section.
Each rule is also shown to fail on a tree that breaks it."""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONFIG = Path("pipeline/config.py")
NAME = re.compile(r"(?<![A-Za-z0-9_])(NTM_[A-Z0-9_]*[A-Z0-9])(?![A-Za-z0-9_])")


def environment_reads(root: Path) -> list[str]:
    """Every read of the environment in a module of ``root/pipeline`` other than config.py: any use of
    ``os.environ`` / ``os.environb`` (``.get``, ``[...]``, ``.items()``, ``setdefault``, passing it on) except
    the store ``os.environ[name] = value``, and any ``os.getenv`` or ``from os import environ/getenv``."""
    found = []
    for path in sorted((root / "pipeline").rglob("*.py")):
        rel = path.relative_to(root)
        if rel == CONFIG:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        stores = {
            id(t.value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign)
            for t in node.targets
            if isinstance(t, ast.Subscript)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "os":
                found += [
                    f"{rel}:{node.lineno}: from os import {a.name}"
                    for a in node.names
                    if a.name in ("environ", "environb", "getenv", "getenvb")
                ]
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
                and node.attr in ("environ", "environb", "getenv", "getenvb")
                and id(node) not in stores
            ):
                found.append(f"{rel}:{node.lineno}: os.{node.attr}")
    return found


# names of JavaScript globals the site's pages define (pipeline/site/build.py, ``pages.js_global``): not settings
JS_GLOBALS = {"NTM_CHARTS", "NTM_DATASETS", "NTM_MAP"}


def js_globals(root: Path) -> set[str]:
    """The first argument of every ``js_global("NTM_...", ...)`` call under ``root/pipeline``."""
    return {
        node.args[0].value
        for p in (root / "pipeline").rglob("*.py")
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and getattr(node.func, "attr", getattr(node.func, "id", None)) == "js_global"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }


def names_used(root: Path) -> set[str]:
    """Every NTM_* name in the Python source of ``root/pipeline`` (code, messages and docstrings), but the
    site's JavaScript globals."""
    found = {
        m for p in (root / "pipeline").rglob("*.py") for m in NAME.findall(p.read_text(encoding="utf-8"))
    }
    return found - JS_GLOBALS


def config_table(root: Path) -> set[str]:
    """The variables of config.py's documented tables (the first cell of each row of its docstring)."""
    doc = ast.get_docstring(ast.parse((root / CONFIG).read_text(encoding="utf-8"))) or ""
    return {m.group(1) for m in re.finditer(r"^\|\s*([A-Z][A-Z0-9_]+)\s*\|", doc, re.M)}


def readme_table(root: Path) -> set[str]:
    """The variables of the README's "Configuration (environment variables)" table."""
    text = (root / "README.md").read_text(encoding="utf-8")
    section = text.split("## Configuration (environment variables)", 1)[1].split("\n## ", 1)[0]
    return {m.group(1) for m in re.finditer(r"^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|", section, re.M)}


def test_only_config_reads_the_environment():
    assert environment_reads(REPO) == []


def test_the_names_left_out_are_javascript_globals():
    assert js_globals(REPO) == JS_GLOBALS


def test_every_ntm_variable_is_documented_in_config_and_readme():
    used = names_used(REPO)
    assert used, "no NTM_* name found: the scan is broken"
    assert used - config_table(REPO) == set()
    assert used - readme_table(REPO) == set()


def test_config_and_readme_tables_agree():
    """What config documents the README documents too (the README adds the test-suite variables)."""
    assert config_table(REPO) - readme_table(REPO) == set()


@pytest.fixture
def tree(tmp_path) -> Path:
    shutil.copytree(REPO / "pipeline", tmp_path / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "README.md", tmp_path / "README.md")
    return tmp_path


@pytest.mark.parametrize(
    ("line", "read"),
    [
        ('X = os.environ.get("NTM_RAW_DIR")', "os.environ"),
        ('X = os.environ["NTM_RAW_DIR"]', "os.environ"),
        ('X = os.getenv("NTM_RAW_DIR")', "os.getenv"),
        ("X = dict(os.environ)", "os.environ"),
        ('X = os.environ.setdefault("DAGSTER_HOME", "x")', "os.environ"),
    ],
)
def test_an_injected_read_fails(tree, line, read):
    target = tree / "pipeline" / "changes.py"
    text = target.read_text(encoding="utf-8") + f"\n{line}\n"
    target.write_text(text, encoding="utf-8")
    assert environment_reads(tree) == [f"pipeline/changes.py:{len(text.splitlines())}: {read}"]


def test_an_injected_from_import_fails(tree):
    target = tree / "pipeline" / "jobs.py"
    target.write_text("from os import getenv\n" + target.read_text(encoding="utf-8"), encoding="utf-8")
    assert environment_reads(tree) == ["pipeline/jobs.py:1: from os import getenv"]


def test_a_store_for_a_subprocess_is_not_a_read(tree):
    target = tree / "pipeline" / "changes.py"
    target.write_text(target.read_text(encoding="utf-8") + '\nos.environ["NTM_X"] = "1"\n', encoding="utf-8")
    assert environment_reads(tree) == []


def test_an_undocumented_variable_fails(tree):
    target = tree / "pipeline" / "jobs.py"
    target.write_text(target.read_text(encoding="utf-8") + '\nX = "NTM_NEW_SWITCH"\n', encoding="utf-8")
    assert "NTM_NEW_SWITCH" in names_used(tree) - config_table(tree)
    assert "NTM_NEW_SWITCH" in names_used(tree) - readme_table(tree)
