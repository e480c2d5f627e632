"""Dagster metadata shared by the asset checks of several stages (the quality gate, the release check)."""

from __future__ import annotations

import dagster as dg
import pandas as pd


def md_table(rows: list[dict], limit: int = 10) -> dg.MetadataValue:
    """The first ``limit`` rows as a Markdown table (``-`` when there are none)."""
    if not rows:
        return dg.MetadataValue.md("-")
    return dg.MetadataValue.md(pd.DataFrame(rows).head(limit).astype(str).to_markdown(index=False))
