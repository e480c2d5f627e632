"""Session-wide fixtures shared across test folders."""

from __future__ import annotations

import json
import os
import tempfile

import pytest


@pytest.fixture(scope="session")
def pipeline_build(tmp_path_factory):
    """The whole asset graph materialized once per session (a few minutes), shared by tests/e2e and
    tests/site: a `tests.shared_build.Build`. `pytest tests/site` alone builds it too."""
    from tests.shared_build import build  # dagster is imported only by the sessions that build

    return build(tmp_path_factory.mktemp("ntm"), tmp_path_factory.mktemp("release_copy"))


@pytest.fixture(scope="session")
def built_release(pipeline_build):
    """The release the session's build published (a copy taken right after the build); fails, naming why,
    when the build failed or published nothing."""
    assert pipeline_build.result.success, (
        "the session's pipeline build failed; see tests/e2e/test_materialize_all"
    )
    assert pipeline_build.release is not None, "the session's pipeline build published no release"
    return pipeline_build.release


@pytest.fixture(scope="session")
def reference(tmp_path_factory) -> dict:
    """One uninterrupted `python -m pipeline run` over the bundled sample, started the way `make run` starts it
    (from a directory outside the repository, the repository on PYTHONPATH), on a temporary raw dir,
    warehouse, open-data dir and DAGSTER_HOME (``tests.ops._support.make_env``). tests/e2e/test_cli.py reads
    what it printed (``stdout``, ``stderr``, ``returncode``); the tests of tests/ops copy its state
    (``tests.ops._support.copy_state``) and compare their marts with its ``marts``."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    from tests.ops._support import REPO, kill_group, make_env, marts_fingerprint

    tmp = tmp_path_factory.mktemp("reference")
    env = make_env(tmp)
    cwd = tmp / "cwd"
    cwd.mkdir()
    out, err = tmp / "run.stdout", tmp / "run.stderr"
    t = time.monotonic()
    with open(out, "wb") as fo, open(err, "wb") as fe:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "run"],
            cwd=cwd,
            env={**env, "PYTHONPATH": str(REPO), "COLUMNS": "200"},
            stdout=fo,
            stderr=fe,
            start_new_session=True,
        )
        try:
            code = proc.wait(timeout=900)
        finally:
            kill_group(proc)
    stdout, stderr = out.read_text(errors="replace"), err.read_text(errors="replace")
    assert code == 0, stdout[-4000:] + stderr[-4000:]
    return {
        "tmp": tmp,
        "env": env,
        "stdout": stdout,
        "stderr": stderr,
        "returncode": code,
        "marts": marts_fingerprint(Path(env["NTM_WAREHOUSE"])),
        "seconds": time.monotonic() - t,
    }


# fixtures that run the whole pipeline: a test that uses one (directly or through another fixture) is slow
BUILD_FIXTURES = frozenset({"pipeline_build", "built_release"})


def _is_slow(item) -> bool:
    parts = item.path.relative_to(item.config.rootpath).parts  # tests/<folder>/...
    # "ops": make test-ops, real dagster dev, daemons, SIGKILL; "reference": the session's CLI run
    return "ops" in parts or "reference" in getattr(item, "fixturenames", ()) or _uses_session_build(item)


def _uses_session_build(item) -> bool:
    names = set(getattr(item, "fixturenames", ()))
    if BUILD_FIXTURES & names:
        return True
    if os.environ.get("NTM_TEST_RELEASE"):
        return False
    path = "/".join(item.path.relative_to(item.config.rootpath).parts)
    # these fixtures ask for the session build through request.getfixturevalue (invisible in fixturenames)
    # unless NTM_TEST_RELEASE names an existing release; a test on one of them outside group pipeline_build
    # would build the session's pipeline a second time, on another worker
    return any(path.startswith(prefix) and name in names for prefix, name in LAZY_BUILD_FIXTURES)


#: (test path prefix, fixture): fixtures that call ``request.getfixturevalue("pipeline_build")``
LAZY_BUILD_FIXTURES = (
    ("tests/site/", "release"),
    ("tests/e2e/test_readme_snippets.py", "release_dir"),
)


def xdist_group(item) -> str:
    """The group of tests one pytest-xdist worker runs together (``make test``: ``-n 2 --dist loadgroup``),
    chosen so that no expensive fixture is built twice:

    - every test that reads the session's pipeline build (``pipeline_build``/``built_release``, tests/site's
      ``release``) is in group ``pipeline_build``: the build runs once, on one worker;
    - every test on the session's CLI run ``reference`` (tests/ops, tests/e2e/test_cli.py) is in group
      ``ops_reference``;
    - tests/ops, tests/e2e, tests/exchange and tests/bench modules each form a group (their module fixtures
      run pipelines), and so does each test module directly in tests/; every other folder of tests/ (the
      mirrors of pipeline/'s packages, README "Tests"), its subfolders included, forms one group (its
      conftest's session fixtures, such as tests/publish's synthetic warehouse or tests/site's browser, are
      built once)."""
    if _uses_session_build(item):
        return "pipeline_build"
    parts = item.path.relative_to(item.config.rootpath).parts  # tests/<folder>/.../test_x.py
    if "reference" in getattr(item, "fixturenames", ()):
        return "ops_reference"
    if len(parts) < 3 or parts[1] in ("ops", "e2e", "exchange", "bench"):
        return "/".join(parts)
    return "/".join(parts[:2])


# Longest first (measured `make test` durations, CI log of 2026-11-30): a worker that starts the longest
# group first leaves the short ones to even out the end, so two workers finish close together. Groups not
# named here follow: the other slow ones, then the fast ones, each in collection order.
HEAVY_GROUPS = (
    "ops_reference",  # the CLI run, faults, partitions, readers, sensor seed: about 9 minutes on one worker
    "pipeline_build",  # the session build and everything that reads it (tests/e2e, tests/site)
    "tests/exchange/test_federation.py",  # five pipeline builds in its module fixtures
    "tests/ops/test_e2e_dagster.py",  # dagster dev + daemon + sensor
)


@pytest.hookimpl(tryfirst=True)  # before pytest's -m deselection and xdist's group suffixes
def pytest_collection_modifyitems(config, items):
    """Mark every test that needs a whole pipeline build, or starts Dagster's services, as ``slow``, so
    ``make test-fast`` (``-m "not slow"``) leaves it out without each test saying so. Under pytest-xdist
    (``-n``) also put each test in its ``xdist_group`` and order the groups longest first (run with
    ``--dist loadgroup --no-loadscope-reorder``, as `make test` does)."""
    for item in items:
        if _is_slow(item):
            item.add_marker(pytest.mark.slow)
    if not _distributed(config):
        return
    groups = {item: xdist_group(item) for item in items}
    slow = {groups[item] for item in items if item.get_closest_marker("slow")}
    first_seen: dict[str, int] = {}
    for i, item in enumerate(items):
        first_seen.setdefault(groups[item], i)

    def rank(group: str) -> tuple[int, int]:
        if group in HEAVY_GROUPS:
            return (HEAVY_GROUPS.index(group), 0)
        return (len(HEAVY_GROUPS) + (group not in slow), first_seen[group])

    items.sort(key=lambda item: rank(groups[item]))  # stable: a group keeps its collection order
    for item in items:
        item.add_marker(pytest.mark.xdist_group(groups[item]))
    # pytest 9 derives an item's nodeid from its structured id, so xdist's own "@group" suffix (set on the
    # old ``_nodeid``) no longer reaches the scheduler: each worker hands its map to the controller's
    # scheduler below through the folder the controller made
    folder = os.environ.get(GROUPS_DIR_ENV)
    worker = getattr(config, "workerinput", {}).get("workerid")
    if folder and worker:
        mapping = {item.nodeid: groups[item] for item in items}
        tmp = os.path.join(folder, f"{worker}.json.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(mapping, fh)
        os.replace(tmp, os.path.join(folder, f"{worker}.json"))


GROUPS_DIR_ENV = "NTM_TEST_XDIST_GROUPS_DIR"


def pytest_configure(config):
    """In the controller of a ``--dist loadgroup`` session: a folder for the workers' nodeid → group maps."""
    if getattr(config.option, "dist", "no") == "loadgroup" and not hasattr(config, "workerinput"):
        os.environ[GROUPS_DIR_ENV] = tempfile.mkdtemp(prefix="ntm-xdist-groups-")


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: absent with `-p no:xdist`
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup`` with the groups of :func:`xdist_group`: xdist's scope scheduling, each scope one
    group, read from the maps the workers wrote at collection (every worker collects the same tests)."""
    if getattr(config.option, "dist", "no") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        _groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self._groups is None:
                folder = os.environ.get(GROUPS_DIR_ENV, "")
                merged: dict[str, str] = {}
                for name in sorted(os.listdir(folder)) if folder else ():
                    if name.endswith(".json"):
                        with open(os.path.join(folder, name), encoding="utf-8") as fh:
                            merged.update(json.load(fh))
                self._groups = merged
            return self._groups.get(nodeid, nodeid)

    return GroupScheduling(config, log)


def _distributed(config) -> bool:
    """True in a pytest-xdist worker (and in the controller) of a ``--dist loadgroup`` session. A worker's
    ``dist`` option is "no": xdist's ``setup_config`` turns ``--dist loadgroup`` into ``option.loadgroup``
    there, and only the workers collect, so the groups are made from that flag."""
    return (
        bool(getattr(config.option, "loadgroup", False))
        or getattr(config.option, "dist", "no") == "loadgroup"
    )
