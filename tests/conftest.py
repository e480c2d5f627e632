"""Session-wide fixtures shared across test folders."""

from __future__ import annotations

import os

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


# fixtures that run the whole pipeline: a test that uses one (directly or through another fixture) is slow
BUILD_FIXTURES = frozenset({"pipeline_build", "built_release"})


def _is_slow(item) -> bool:
    names = set(getattr(item, "fixturenames", ()))
    if BUILD_FIXTURES & names:
        return True
    parts = item.path.relative_to(item.config.rootpath).parts  # tests/<folder>/...
    if "ops" in parts:  # make test-ops: real dagster dev, daemons, SIGKILL
        return True
    # tests/site's `release` asks for the session build through request.getfixturevalue (invisible in
    # fixturenames) unless NTM_TEST_RELEASE names an existing release
    return "site" in parts and "release" in names and not os.environ.get("NTM_TEST_RELEASE")


def pytest_collection_modifyitems(config, items):
    """Mark every test that needs a whole pipeline build, or starts Dagster's services, as ``slow``, so
    ``make test-fast`` (``-m "not slow"``) leaves it out without each test saying so."""
    for item in items:
        if _is_slow(item):
            item.add_marker(pytest.mark.slow)
