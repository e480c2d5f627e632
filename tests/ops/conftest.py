"""A session-wide uninterrupted run of the pipeline that the fault and partition tests compare with."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.ops._support import make_env, marts_fingerprint, pipeline_run


@pytest.fixture(scope="session")
def reference(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("reference")
    env = make_env(tmp)
    t = time.monotonic()
    rc = pipeline_run(env, tmp / "run.log")
    assert rc == 0, (tmp / "run.log").read_text(errors="replace")[-4000:]
    return {
        "tmp": tmp,
        "env": env,
        "marts": marts_fingerprint(Path(env["NTM_WAREHOUSE"])),
        "seconds": time.monotonic() - t,
    }
