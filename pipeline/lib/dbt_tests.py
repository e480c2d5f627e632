"""What a dbt generic test guarantees, column by column: one reading of the manifest for every consumer.

The project's column rules are set-based generic tests (``dbt_project/tests/generic``): one node per model and
rule kind (``not_null_set``, ``accepted_values_set``, ``relationships_set``, ``unique_keys``), each covering
several columns. :func:`rules_of` expands one test node into the :class:`ColumnRule` s it holds, and reads the
dbt built-ins (``not_null``, ``unique``, ``accepted_values``, ``relationships``) the same way, so the quality
ledger (:mod:`pipeline.quality.overlap`), the check descriptions and the release's foreign keys ask one place.
Pure functions of the manifest; no dbt, no Dagster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# the rule kinds a column rule can be
NOT_NULL = "not_null"
UNIQUE = "unique"  # one column, nulls ignored (dbt's unique)
GRAIN = "grain"  # a combination of columns, nulls compare equal
ACCEPTED_VALUES = "accepted_values"
RELATIONSHIPS = "relationships"

# the set-based generic tests of dbt_project/tests/generic
SET_TESTS = ("not_null_set", "accepted_values_set", "relationships_set", "unique_keys")


@dataclass(frozen=True)
class ColumnRule:
    """One guarantee of a generic dbt test: a kind on one column (or, for a grain or a composite foreign key,
    a list of columns)."""

    kind: str
    columns: tuple[str, ...]
    values: tuple[Any, ...] = ()  # accepted_values, as written (their YAML types)
    to: str | None = None  # relationships: the ``to`` argument as written, e.g. "ref('dim_period')"
    fields: tuple[str, ...] = ()  # relationships: the columns of ``to``

    @property
    def column(self) -> str | None:
        return self.columns[0] if len(self.columns) == 1 else None

    def label(self) -> str:
        """How the rule is named beside its test: ``commune_group``, ``(hamlet_code, version_no)``,
        ``province_code -> dim_province.province_code``."""
        cols = ", ".join(self.columns)
        if self.kind == GRAIN:
            return f"({cols})"
        if self.kind == RELATIONSHIPS:
            return f"{cols} -> {ref_name(self.to)}.{', '.join(self.fields)}"
        return cols


def ref_name(ref: str | None) -> str | None:
    """``ref('dim_province')`` -> ``dim_province`` (a bare name is returned as is)."""
    if not ref:
        return None
    inner = str(ref).strip()
    if inner.startswith("ref(") and inner.endswith(")"):
        inner = inner[4:-1]
    return inner.strip().strip("'\"").split(",")[-1].strip().strip("'\" ")


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def rules_of(test: Mapping[str, Any]) -> list[ColumnRule]:
    """The column rules of one test node of the manifest (empty for a singular test or an unknown kind)."""
    meta = test.get("test_metadata") or {}
    kind = meta.get("name")
    kwargs = meta.get("kwargs") or {}
    column = test.get("column_name") or kwargs.get("column_name")
    if kind == "not_null_set":
        return [ColumnRule(NOT_NULL, (c,)) for c in kwargs.get("columns") or ()]
    if kind == "accepted_values_set":
        return [
            ColumnRule(ACCEPTED_VALUES, (c,), values=tuple(v or ()))
            for c, v in (kwargs.get("columns") or {}).items()
        ]
    if kind == "relationships_set":
        return [
            ColumnRule(
                RELATIONSHIPS, _as_tuple(fk.get("column")), to=fk.get("to"), fields=_as_tuple(fk.get("field"))
            )
            for fk in kwargs.get("foreign_keys") or ()
        ]
    if kind == "unique_keys":
        return [ColumnRule(UNIQUE, (c,)) for c in kwargs.get("columns") or ()] + [
            ColumnRule(GRAIN, tuple(g)) for g in kwargs.get("grains") or ()
        ]
    # the dbt built-ins, one rule per test
    if kind == "not_null" and column:
        return [ColumnRule(NOT_NULL, (column,))]
    if kind == "unique" and column:
        return [ColumnRule(UNIQUE, (column,))]
    if kind == "accepted_values" and column:
        return [ColumnRule(ACCEPTED_VALUES, (column,), values=tuple(kwargs.get("values") or ()))]
    if kind == "relationships":
        cols = _as_tuple(kwargs.get("column_names") or column)
        return [
            ColumnRule(
                RELATIONSHIPS,
                cols,
                to=kwargs.get("to"),
                fields=_as_tuple(kwargs.get("fields") or kwargs.get("field")),
            )
        ]
    return []
