"""Session-wide fixtures shared across test folders."""

from __future__ import annotations

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
