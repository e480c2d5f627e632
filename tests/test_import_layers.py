"""The import rules of pipeline/ (README, "Layout"): stages import only downward and no package has an import
circle, inside ingest the shared machinery imports no source and no source imports another (the import-linter
contracts in pyproject.toml, also run by `make lint`), and no module imports
another module's private (``_name``) names. Each rule is also shown to fail on a tree that breaks it."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    """`lint-imports` with the repository's contracts on the ``pipeline`` package found in ``cwd``."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(REPO / "pyproject.toml")],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(cwd)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def private_imports(root: Path) -> list[str]:
    """Every use of another module's private name under ``root`` (a folder holding the ``pipeline``
    package): ``from pipeline.x import _name`` (relative forms too) and ``module._name`` where ``module`` was
    imported from pipeline. Dunder names are not private."""
    found = []
    for path in sorted((root / "pipeline").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_package else parts)
        package = module.split(".") if is_package else module.split(".")[:-1]
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        modules = {}  # local name -> the pipeline module it is bound to
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                source = ".".join([*base, *([node.module] if node.module else [])])
                if not source.startswith("pipeline"):
                    continue
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__") and source != module:
                        found.append(
                            f"{path.relative_to(root)}:{node.lineno}: from {source} import {alias.name}"
                        )
                    modules[alias.asname or alias.name] = f"{source}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname and alias.name.startswith("pipeline."):  # import pipeline.x.y as m
                        modules[alias.asname] = alias.name
                    elif alias.name.split(".")[0] == "pipeline":  # import pipeline.x.y binds "pipeline"
                        modules["pipeline"] = "pipeline"
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                chain, value = [], node.value
                while isinstance(value, ast.Attribute):
                    chain.append(value.attr)
                    value = value.value
                if isinstance(value, ast.Name) and value.id in modules:
                    owner = ".".join([modules[value.id], *reversed(chain)])
                    if owner != module:
                        found.append(f"{path.relative_to(root)}:{node.lineno}: {owner}.{node.attr}")
    return found


@pytest.fixture
def pipeline_copy(tmp_path: Path) -> Path:
    shutil.copytree(
        REPO / "pipeline", tmp_path / "pipeline", ignore=shutil.ignore_patterns("static", "templates")
    )
    return tmp_path


def test_import_contracts_hold():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_the_layers(pipeline_copy: Path):
    checks = pipeline_copy / "pipeline" / "transform" / "check_descriptions.py"
    checks.write_text(checks.read_text() + "\nfrom pipeline.quality import suites  # noqa: E402\n")
    result = lint_imports(pipeline_copy)
    assert result.returncode == 1
    assert "pipeline.transform is not allowed to import pipeline.quality" in result.stdout
    assert "pipeline.transform.check_descriptions -> pipeline.quality.suites" in result.stdout


def test_an_import_circle_breaks_the_contract(pipeline_copy: Path):
    # lib.values already imports lib.text: the reverse closes a circle inside pipeline.lib
    text = pipeline_copy / "pipeline" / "lib" / "text.py"
    text.write_text(text.read_text() + "\nfrom pipeline.lib import values  # noqa: E402\n")
    result = lint_imports(pipeline_copy)
    assert result.returncode == 1
    assert "No cycles are allowed in pipeline.lib." in result.stdout


def test_shared_ingest_machinery_importing_a_source_breaks_the_contract(pipeline_copy: Path):
    cells = pipeline_copy / "pipeline" / "ingest" / "cells.py"
    cells.write_text(cells.read_text() + "\nfrom pipeline.ingest.sources.ocop import rules  # noqa: E402\n")
    result = lint_imports(pipeline_copy)
    assert result.returncode == 1
    assert "pipeline.ingest.cells is not allowed to import pipeline.ingest.sources" in result.stdout
    assert "pipeline.ingest.cells -> pipeline.ingest.sources.ocop.rules" in result.stdout


def test_a_source_importing_another_source_breaks_the_contract(pipeline_copy: Path):
    surveys = pipeline_copy / "pipeline" / "ingest" / "sources" / "surveys" / "validate.py"
    surveys.write_text(
        surveys.read_text() + "\nfrom pipeline.ingest.sources.submissions import validate  # noqa: E402\n"
    )
    result = lint_imports(pipeline_copy)
    assert result.returncode == 1
    assert "No ingest source imports another source BROKEN" in result.stdout
    # lint-imports wraps long lines: compare with the whitespace collapsed
    assert (
        "pipeline.ingest.sources.surveys.validate -> pipeline.ingest.sources.submissions.validate"
        in " ".join(result.stdout.split())
    )


def test_no_module_imports_another_modules_private_names():
    assert private_imports(REPO) == []


def test_private_imports_are_found(tmp_path: Path):
    pkg = tmp_path / "pipeline" / "stage"
    pkg.mkdir(parents=True)
    (tmp_path / "pipeline" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("from .a import _own  # a package re-exporting its module's name\n")
    (pkg / "a.py").write_text("def _own(): ...\n_own()\n")
    (pkg / "b.py").write_text(
        "from pipeline.stage.a import _own, __doc__\n"
        "from .a import _own as mine\n"
        "import pipeline.stage.a as a\n"
        "from pipeline.stage import a as a2\n"
        "a._own(); a2._own(); a.__name__\n"
    )
    assert private_imports(tmp_path) == [
        "pipeline/stage/__init__.py:1: from pipeline.stage.a import _own",
        "pipeline/stage/b.py:1: from pipeline.stage.a import _own",
        "pipeline/stage/b.py:2: from pipeline.stage.a import _own",
        "pipeline/stage/b.py:5: pipeline.stage.a._own",
        "pipeline/stage/b.py:5: pipeline.stage.a._own",
    ]


def helper_import_problems(tests_dir: Path) -> list[str]:
    """Every way of importing a test helper under ``tests_dir`` other than the one way (README, "Tests"):
    ``from tests.<folder>.<module> import name`` (the repository root is on sys.path through pytest's
    ``pythonpath``; test modules are imported with ``--import-mode=importlib``). Found: a relative import, a
    bare import of a module that lives in tests/, an import from a conftest.py (fixtures are found by pytest,
    not imported), an edit of sys.path, and an ``__init__.py`` (tests/ holds no packages)."""
    local = {p.stem for p in tests_dir.rglob("*.py")} - {"__init__", "conftest"}
    found = [
        f"{p.relative_to(tests_dir.parent)}: __init__.py" for p in sorted(tests_dir.rglob("__init__.py"))
    ]
    for path in sorted(tests_dir.rglob("*.py")):
        where = path.relative_to(tests_dir.parent)
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in sorted(ast.walk(tree), key=lambda n: getattr(n, "lineno", 0)):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level:
                    found.append(f"{where}:{node.lineno}: relative import from {'.' * node.level}{module}")
                elif module.split(".")[0] in local:
                    found.append(f"{where}:{node.lineno}: bare import from {module}")
                elif module.split(".")[-1] == "conftest":
                    found.append(f"{where}:{node.lineno}: import from {module}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in local:
                        found.append(f"{where}:{node.lineno}: bare import {alias.name}")
            elif (
                isinstance(node, ast.Attribute)
                and node.attr == "path"
                and isinstance(node.value, ast.Name)
                and node.value.id == "sys"
            ):
                found.append(f"{where}:{node.lineno}: sys.path")
    return found


def test_test_helpers_are_imported_one_way():
    assert helper_import_problems(REPO / "tests") == []


def test_other_ways_of_importing_helpers_are_found(tmp_path: Path):
    tests = tmp_path / "tests"
    (tests / "ops").mkdir(parents=True)
    (tests / "ops" / "__init__.py").write_text("")
    (tests / "ops" / "_support.py").write_text("X = 1\n")
    (tests / "ops" / "conftest.py").write_text("Y = 2\n")
    (tests / "ops" / "test_a.py").write_text(
        "import sys\n"
        "sys.path.insert(0, 'tests/ops')\n"
        "from ._support import X\n"
        "from _support import X\n"
        "import _support\n"
        "from tests.ops.conftest import Y\n"
        "from tests.ops._support import X\n"  # the one way
    )
    assert helper_import_problems(tests) == [
        "tests/ops/__init__.py: __init__.py",
        "tests/ops/test_a.py:2: sys.path",
        "tests/ops/test_a.py:3: relative import from ._support",
        "tests/ops/test_a.py:4: bare import from _support",
        "tests/ops/test_a.py:5: bare import _support",
        "tests/ops/test_a.py:6: import from tests.ops.conftest",
    ]
