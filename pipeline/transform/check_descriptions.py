"""Bilingual descriptions of the asset checks that dagster-dbt makes from dbt tests.

dagster-dbt 0.29 gives a dbt test's asset check the description in the test's ``meta.description`` and
nothing otherwise, so the checks of this project had none. :func:`describe_test` gives every test one,
Vietnamese first, English second:

1. the test's own ``description`` from its ``.yml`` (a generic test's ``description:`` property, or a
   singular test's entry in ``dbt_project/tests/_singular_tests.yml``), or ``meta.description``;
2. otherwise a sentence generated from the test kind, the table and the columns, for the project's set-based
   generic tests (``not_null_set``, ``accepted_values_set``, ``relationships_set``, ``unique_keys`` in
   ``dbt_project/tests/generic``: every column, value list, foreign key and key they check is named) and the
   dbt built-ins (``not_null``, ``unique``, ``accepted_values``, ``relationships``);
3. any other test: its name, table, column and arguments, in both languages.

A warn-level test says so (it never blocks publishing); a ``where:`` filter is quoted. Tables are named as
in the warehouse (``marts.dim_hamlet``). Pure function of the manifest (no dbt, no Dagster).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from pipeline.lib import dbt_tests

_REF = re.compile(r"""ref\(\s*['"]([^'"]+)['"]\s*(?:,\s*['"]([^'"]+)['"]\s*)?\)""")
_SOURCE = re.compile(r"""source\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)""")


def _relation(node: Mapping[str, Any] | None) -> str | None:
    if not node:
        return None
    name = node.get("alias") or node.get("identifier") or node.get("name")
    return f"{node['schema']}.{name}" if node.get("schema") else name


def _node(manifest: Mapping[str, Any], unique_id: str | None) -> Mapping[str, Any] | None:
    if not unique_id:
        return None
    return manifest.get("nodes", {}).get(unique_id) or manifest.get("sources", {}).get(unique_id)


def _target(manifest: Mapping[str, Any], test: Mapping[str, Any], expr: str) -> str:
    """The relation a ``ref('x')`` / ``source('s', 't')`` argument points at, among the test's parents."""
    parents = [_node(manifest, uid) for uid in test.get("depends_on", {}).get("nodes", [])]
    if m := _SOURCE.search(expr):
        for p in parents:
            if p and p.get("resource_type") == "source" and (p["source_name"], p["name"]) == m.groups():
                return _relation(p) or expr
        return f"{m[1]}.{m[2]}"
    if m := _REF.search(expr):
        name = m[2] or m[1]
        for p in parents:
            if p and p.get("resource_type") != "source" and p.get("name") == name:
                return _relation(p) or name
        return name
    return expr


def _values(values: list[Any]) -> str:
    return ", ".join(json.dumps(v, ensure_ascii=False) if isinstance(v, str) else str(v) for v in values)


def _given(test: Mapping[str, Any]) -> str | None:
    for text in (
        test.get("description"),
        (test.get("meta") or {}).get("description"),
        (test.get("config", {}).get("meta") or {}).get("description"),
    ):
        if isinstance(text, str) and text.strip():
            return " ".join(text.split())
    return None


def _generated(manifest: Mapping[str, Any], test: Mapping[str, Any]) -> tuple[str, str]:
    meta = test.get("test_metadata") or {}
    kind = meta.get("name")
    kwargs = meta.get("kwargs") or {}
    table = _relation(_node(manifest, test.get("attached_node")))
    if table is None:
        parents = test.get("depends_on", {}).get("nodes", [])
        table = _relation(_node(manifest, parents[0])) if parents else "?"
    col = test.get("column_name") or kwargs.get("column_name")
    if kind is None:  # a singular test (a .sql file under dbt_project/tests) without a description
        path = test.get("original_file_path", test.get("name"))
        return (
            f"kiểm thử dbt riêng {path} (trên {table}): đạt khi truy vấn không trả về dòng nào",
            f"singular dbt test {path} (on {table}): passes when its query returns no rows",
        )
    if kind in dbt_tests.SET_TESTS:
        return _generated_set(manifest, test, kind, table)
    if kind == "not_null":
        return f"not_null: cột {col} của {table} không rỗng", f"column {col} of {table} is never null"
    if kind == "unique":
        return (
            f"unique: cột {col} của {table} không có giá trị trùng",
            f"column {col} of {table} has no duplicate values",
        )
    if kind == "accepted_values":
        vals = _values(list(kwargs.get("values") or []))
        return (
            f"accepted_values: cột {col} của {table} chỉ nhận các giá trị {vals}",
            f"column {col} of {table} only takes the values {vals}",
        )
    if kind == "relationships":
        to = _target(manifest, test, str(kwargs.get("to", "")))
        field = kwargs.get("field")
        return (
            f"relationships: mọi giá trị khác rỗng của cột {col} của {table} có trong cột {field} của {to}",
            f"every non-null value of column {col} of {table} exists in column {field} of {to}",
        )
    args = {k: v for k, v in kwargs.items() if k not in ("model", "column_name")}
    on_col_vi = f", cột {col}" if col else ""
    on_col_en = f", column {col}" if col else ""
    arg_text = json.dumps(args, ensure_ascii=False, sort_keys=True) if args else "-"
    return (
        f"{kind}: kiểm thử dbt {kind} trên {table}{on_col_vi}, tham số {arg_text}",
        f"dbt test {kind} on {table}{on_col_en}, arguments {arg_text}",
    )


def _generated_set(
    manifest: Mapping[str, Any], test: Mapping[str, Any], kind: str, table: str
) -> tuple[str, str]:
    """A set-based test: one clause per column, key or foreign key it checks, all on ``table``."""
    rules = dbt_tests.rules_of(test)
    vi: list[str] = []
    en: list[str] = []
    for r in rules:
        cols = ", ".join(r.columns)
        if r.kind == dbt_tests.NOT_NULL:
            vi.append(f"cột {cols} không rỗng")
            en.append(f"column {cols} is never null")
        elif r.kind == dbt_tests.ACCEPTED_VALUES:
            vals = _values(list(r.values))
            vi.append(f"cột {cols} chỉ nhận các giá trị {vals}")
            en.append(f"column {cols} only takes the values {vals}")
        elif r.kind == dbt_tests.RELATIONSHIPS:
            to = _target(manifest, test, str(r.to or ""))
            fields = ", ".join(r.fields)
            vi.append(f"mọi giá trị khác rỗng của cột {cols} có trong cột {fields} của {to}")
            en.append(f"every non-null value of column {cols} exists in column {fields} of {to}")
        elif r.kind == dbt_tests.UNIQUE:
            vi.append(f"cột {cols} không có giá trị trùng")
            en.append(f"column {cols} has no duplicate values")
        elif r.kind == dbt_tests.GRAIN:
            vi.append(f"không có hai dòng trùng bộ cột ({cols}), rỗng coi như bằng nhau")
            en.append(f"no two rows share the same ({cols}), nulls comparing equal")
    return (
        f"{kind}: trong {table}, " + "; ".join(vi),
        f"in {table}: " + "; ".join(en),
    )


def describe_test(manifest: Mapping[str, Any], unique_id: str) -> str:
    """The bilingual description (``"<Vietnamese> / <English>"``) of the dbt test ``unique_id``."""
    test = manifest["nodes"][unique_id]
    given = _given(test)
    if given:
        return given
    vi, en = _generated(manifest, test)
    config = test.get("config") or {}
    if str(config.get("severity") or "error").lower() == "warn":
        vi += " (mức cảnh báo: không chặn công bố)"
        en += " (warn level: never blocks publishing)"
    if config.get("where"):
        where = " ".join(str(config["where"]).split())
        vi += f" (chỉ xét các dòng where {where})"
        en += f" (only rows where {where})"
    return f"{vi}. / {en}."
