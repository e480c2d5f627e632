"""tests/ mirrors pipeline/ (README, "Tests"): every folder of tests/ that holds Python code is the mirror of a
package of pipeline/ (tests/lib for pipeline/lib, tests/ingest/sources/ocop for pipeline/ingest/sources/ocop)
or one of the named cross-cutting suites; the top level holds the tests of pipeline's own modules and of the
repository as a whole. The rule is also shown to fail on a tree that breaks it."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# the suites that cut across the stages and mirror no package of pipeline/ (README, "Tests", says what each holds)
CROSS_CUTTING = ("bench", "dbt", "e2e", "ops")


def misplaced(tests_dir: Path, pipeline_dir: Path) -> list[str]:
    """Every Python file under ``tests_dir`` in a folder that mirrors no package of ``pipeline_dir`` (a folder
    with an ``__init__.py``) and is not in a cross-cutting suite. Files directly in ``tests_dir`` are in
    place."""
    found = []
    for path in sorted(tests_dir.rglob("*.py")):
        folder = path.parent.relative_to(tests_dir)
        if not folder.parts or folder.parts[0] in CROSS_CUTTING:
            continue
        if not (pipeline_dir / folder / "__init__.py").is_file():
            found.append(
                f"{path.relative_to(tests_dir.parent).as_posix()}: tests/{folder.as_posix()} mirrors no "
                f"package of pipeline/ and is not one of the suites {', '.join(CROSS_CUTTING)}"
            )
    return found


def test_every_test_folder_mirrors_a_pipeline_package_or_is_a_cross_cutting_suite():
    assert misplaced(REPO / "tests", REPO / "pipeline") == []


def test_the_cross_cutting_suites_exist_and_the_readme_names_each():
    assert all((REPO / "tests" / suite).is_dir() for suite in CROSS_CUTTING)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^### Tests$(.*?)(?=^#{1,3} |\Z)", readme, re.MULTILINE | re.DOTALL)
    assert section, 'README.md has no "### Tests" section'
    assert "`tests/<path>/test_<module>.py` tests `pipeline/<path>/<module>.py`" in section.group(1)
    listed = re.findall(r"^- `tests/(\w+)`:", section.group(1), re.MULTILINE)
    assert sorted(listed) == sorted(CROSS_CUTTING)


def test_a_folder_that_mirrors_no_package_is_found(tmp_path: Path):
    pipeline = tmp_path / "pipeline"
    for package in ("", "lib", "ingest", "ingest/sources", "ingest/sources/ocop"):
        (pipeline / package).mkdir(parents=True, exist_ok=True)
        (pipeline / package / "__init__.py").write_text("")
    (pipeline / "synth").mkdir()  # a folder, not a package
    tests = tmp_path / "tests"
    for name in (
        "test_changes.py",  # the top level: in place
        "fault_hooks.py",
        "lib/test_text.py",
        "ingest/sources/ocop/test_ocop_rules.py",
        "ops/test_faults.py",  # cross-cutting suites, at any depth
        "e2e/sub/test_x.py",
        "unit/test_periods.py",  # a folder of kinds of test, not of code
        "ingest/sources/dhis2/test_dhis2.py",  # no such source
        "synth/test_synth.py",  # pipeline/synth holds no __init__.py here
        "opsx/conftest.py",  # conftest and helpers too
    ):
        (tests / name).parent.mkdir(parents=True, exist_ok=True)
        (tests / name).write_text("")
    suites = "bench, dbt, e2e, ops"
    assert misplaced(tests, pipeline) == [
        f"tests/ingest/sources/dhis2/test_dhis2.py: tests/ingest/sources/dhis2 mirrors no package of pipeline/ "
        f"and is not one of the suites {suites}",
        f"tests/opsx/conftest.py: tests/opsx mirrors no package of pipeline/ and is not one of the suites {suites}",
        f"tests/synth/test_synth.py: tests/synth mirrors no package of pipeline/ and is not one of the suites {suites}",
        f"tests/unit/test_periods.py: tests/unit mirrors no package of pipeline/ and is not one of the suites {suites}",
    ]
