"""Statistical disclosure control of the satisfaction-survey results (kept as the import path).

Cell suppression lives in :mod:`pipeline.publish.suppression` (:func:`suppress_satisfaction`, re-exported
here): primary cells (``0 < respondents < min_count``, ``NTM_SUPPRESSION_MIN_COUNT``, default 5) and
complementary cells chosen so that every hidden cell's ``respondents`` and ``satisfied`` (both hidden) keep
at least two possible values given every published cell, marker and margin; the exact rule is in that
module's docstring and in the release README.
:mod:`pipeline.publish.disclosure_audit` is the attacker that recomputes each hidden cell's feasible
interval from the released files (linear programming) and blocks the release if one is exact.
The personal-data scan of published text is :mod:`pipeline.publish.pii`.
"""

from __future__ import annotations

from .suppression import COMPLEMENTARY, PRIMARY, suppress_satisfaction  # noqa: F401
