"""The reporting period a landed file belongs to, from its name, and the narrowest period covering several.

Pure (no Dagster, no pandas): pipeline.changes uses it in the CLI's no-op check, which must stay fast;
pipeline.partitions re-exports it for the run tag ``ntm/period``.
"""

from __future__ import annotations

import re

FIRST_YEAR = 2025
LAST_YEAR = 2030

QUARTER_KEYS = [f"{y}-Q{q}" for y in range(FIRST_YEAR, LAST_YEAR + 1) for q in range(1, 5)]
YEAR_KEYS = [str(y) for y in range(FIRST_YEAR, LAST_YEAR + 1)]

_PERIOD_RE = re.compile(r"(?<!\d)(20\d\d)(?:[-_ ]?[Qq]([1-4]))?(?!\d)")


def period_from_name(name: str) -> str | None:
    """The reporting period in a file name: ``18484-KT_2026-Q3.csv`` → ``2026-Q3``; ``…_2025.csv`` → ``2025``."""
    matches = _PERIOD_RE.findall(name)
    if not matches:
        return None
    year, quarter = matches[-1]
    return f"{year}-Q{quarter}" if quarter else year


def period_for_files(periods: list[str | None]) -> str | None:
    """The narrowest period covering these files' periods: one period → it; periods of one year → the year;
    anything else (or an unknown period) → None (every period)."""
    if not periods or any(p is None for p in periods):
        return None
    uniq = sorted(set(periods))
    if len(uniq) == 1:
        return uniq[0] if uniq[0] in QUARTER_KEYS or uniq[0] in YEAR_KEYS else None
    years = {p[:4] for p in uniq}
    if len(years) == 1 and next(iter(years)) in YEAR_KEYS:
        return next(iter(years))
    return None


def covers(scope: str | None, period: str | None) -> bool:
    """Whether a run scoped to ``scope`` (None: every period) rebuilds the facts of ``period``: a quarter's
    run replaces that quarter and its year, a year's run the year and its quarters."""
    if scope is None:
        return True
    if period is None:
        return False
    if len(scope) == 4:
        return period[:4] == scope
    return period in (scope, scope[:4])
