"""GX Data Docs of the quality gate: one filesystem site per ``docs_dir`` (a run), built from the validation
results :func:`pipeline.quality.gx_runner.run_suite` recorded for it in this process, then made to open
offline (:mod:`.gx_offline`: vendored assets instead of CDN URLs)."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pipeline.lib.gx_context import LOCK, get_context

from .gx_offline import make_offline

MAX_DOCS_DIRS = 16  # validation results kept in memory for Data Docs, per process
_DOCS_RESULTS: dict[str, dict[Any, Any]] = {}  # docs_dir -> {ValidationResultIdentifier: result}


def _site_name(docs_dir: Path) -> str:
    return "ntm_" + hashlib.sha1(str(docs_dir).encode()).hexdigest()[:12]


def safe_batch_id(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z_.=\-]+", "_", text)


def _ensure_site(ctx, docs_dir: Path) -> str:
    site = _site_name(docs_dir)
    if site not in (ctx.list_data_docs_sites() or {}):
        ctx.add_data_docs_site(
            site_name=site,
            site_config={
                "class_name": "SiteBuilder",
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
            },
        )
    return site


def register_results(docs_dir: Path, results: Mapping[Any, Any]) -> dict[Any, Any]:
    registry = _DOCS_RESULTS.setdefault(str(docs_dir), {})
    registry.update(results)
    while len(_DOCS_RESULTS) > MAX_DOCS_DIRS:  # forget the oldest sites (their HTML stays on disk)
        _DOCS_RESULTS.pop(next(iter(_DOCS_RESULTS)))
    return registry


def build_data_docs(docs_dir: Path, *, only: Sequence[Any] | None = None) -> Path:
    """(Re)build the GX Data Docs site in ``docs_dir`` from the validation results run_suite recorded
    for it in this process; returns ``docs_dir/index.html``. ``only``: render just these result pages
    (the index always lists every result of the site)."""
    docs_dir = Path(docs_dir).resolve()
    docs_dir.mkdir(parents=True, exist_ok=True)
    ctx = get_context()
    with LOCK:
        site = _ensure_site(ctx, docs_dir)
        registry = _DOCS_RESULTS.get(str(docs_dir), {})
        # the index lists what the store holds: hold exactly this docs_dir's results while building
        store = ctx.validation_results_store
        for k in list(store.list_keys()):
            store.remove_key(k)
        for k, v in registry.items():
            store.set(k, v)
        ids = list(only) if only is not None else list(registry)
        ctx.build_data_docs(site_names=[site], resource_identifiers=ids or None, build_index=True)
    index = docs_dir / "index.html"
    if not index.exists():  # pragma: no cover - GX writes the index when build_index=True
        raise RuntimeError(f"GX Data Docs did not write {index}")
    left = make_offline(docs_dir)
    if left:  # a GX upgrade added a CDN asset: the pages still render, but not offline
        logging.getLogger(__name__).warning(
            "GX Data Docs still load %d remote URL(s): %s", len(left), left[:5]
        )
    return index
