"""Session-wide fixtures shared across test folders."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def pipeline_build(tmp_path_factory):
    """The whole asset graph materialized once per session (a few minutes), shared by tests/e2e and
    tests/site: a `tests.shared_build.Build`. `pytest tests/site` alone builds it too."""
    from tests.shared_build import build  # dagster is imported only by the sessions that build

    return build(tmp_path_factory.mktemp("ntm"), tmp_path_factory.mktemp("release_copy"))
