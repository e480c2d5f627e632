"""The one in-process build of the whole asset graph that the end-to-end and browser tests share.

`tests/conftest.py` runs it once per session (fixture ``pipeline_build``). tests/e2e checks that run and then
mutates its warehouse and open-data dir (a second run, an overlapping run), so the release is copied right
after the build (``Build.release``) and the browser tests (tests/site) read that untouched copy.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from tests.e2e.support import pipeline_env


@dataclass(frozen=True)
class Build:
    base: Path  # raw/, warehouse/, open_data/, dagster_home/ of the build
    env: dict[str, str]  # the NTM_* / DAGSTER_HOME variables the build ran with
    result: dg.ExecuteInProcessResult
    release: Path | None  # copy of open_data/latest (symlink resolved) taken right after the build
    quality_report: Path | None = None  # copy of the run's warehouse/data_docs/<run_id>/ (offline report)

    @contextmanager
    def environ(self) -> Iterator[None]:
        with environ(self.env):
            yield


def materialize_all() -> dg.ExecuteInProcessResult:
    """Every asset and asset check of the code location, in process, on an ephemeral instance."""
    from pipeline.definitions import defs

    return dg.materialize(
        [*defs.assets, *defs.asset_checks],
        resources=defs.resources,
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


@contextmanager
def environ(env: dict[str, str]) -> Iterator[None]:
    """Set env for the duration of the block and put the previous values back afterwards."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def build(base: Path, copy_to: Path) -> Build:
    """Run the whole graph once with a fresh landing zone, warehouse and open-data dir under base, then
    copy the published release (when there is one) to copy_to/<release id> and the run's quality report to
    copy_to/data_docs/<run id>."""
    env = pipeline_env(base)
    with environ(env):
        result = materialize_all()
    latest = base / "open_data" / "latest"
    release = None
    if latest.exists():
        release = copy_to / latest.resolve().name
        shutil.copytree(latest.resolve(), release)
    docs = base / "warehouse" / "data_docs" / result.run_id
    report = None
    if docs.exists():
        report = copy_to / "data_docs" / result.run_id
        shutil.copytree(docs, report)
    return Build(base=base, env=env, result=result, release=release, quality_report=report)
