"""The process's one Great Expectations Data Context, and the lock that serialises its use.

Shared by two stages without either importing the other: the quality gate validates with it
(:mod:`pipeline.quality.gx_runner`, :mod:`pipeline.quality.gx_docs`) and the dbt step warms it up while
``dbt build`` runs in its subprocess (:func:`prewarm_context`, called from :mod:`pipeline.transform.assets`).
Importing GX is slow (about 10 s here), so this module imports it only inside :func:`get_context`.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from pipeline.config import gx_prewarm

DATASOURCE_NAME = "ntm_duckdb"

LOCK = threading.RLock()  # held around every use of the context (GX's stores are not thread-safe)
_CONTEXT: Any = None


def get_context():
    """The process-wide ephemeral GX Data Context (created on first use; imports GX)."""
    global _CONTEXT
    with LOCK:
        if _CONTEXT is None:
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            ctx = gx.get_context(mode="ephemeral")
            ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
            ctx.data_sources.add_pandas(name=DATASOURCE_NAME)
            _CONTEXT = ctx
        return _CONTEXT


def prewarm_context() -> threading.Thread | None:
    """Import GX and create the context in a background thread (about 10 s here) while the caller waits on
    something else (the dbt step waits on its ``dbt build`` subprocess). ``get_context`` then returns at
    once, or waits on the lock for the import to finish. Off with ``NTM_GX_PREWARM=0``."""
    if _CONTEXT is not None or not gx_prewarm():
        return None

    def warm() -> None:
        with contextlib.suppress(Exception):  # a real failure surfaces again in get_context()
            get_context()

    th = threading.Thread(target=warm, name="gx-prewarm", daemon=True)
    th.start()
    return th
