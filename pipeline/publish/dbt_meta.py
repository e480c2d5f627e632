"""What the release's datapackage.json takes from the dbt manifest, so that it cannot drift from the models:

* titles: ``meta.title_vi`` / ``meta.title_en`` of the model (``config: meta:`` in its .yml), else the first
  whole sentence of each half of its "tiếng Việt / English" description - never cut inside a sentence;
* foreign keys: one per foreign key of a dbt ``relationships_set`` test (or a built-in ``relationships``
  test) between two published models (attached to the child model, ``to: ref('parent')``, ``field:``;
  read by :func:`pipeline.lib.dbt_tests.rules_of`). A test restricted by ``where:`` or of severity
  ``warn`` does not hold on every row, so it is not declared. A key that names several columns
  (``column_names`` / ``fields``) becomes one composite foreign key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pipeline.lib import dbt_tests

ForeignKey = tuple[list[str], str, list[str]]  # (fields, referenced resource, referenced fields)

# a full stop ends a sentence when a space follows it (not "3.321" or "I.1"), outside parentheses
_SENTENCE_END = re.compile(r"\.(?=\s)")


def split_bilingual(text: str | None) -> tuple[str, str]:
    """dbt descriptions are written "tiếng Việt / English"."""
    text = " ".join((text or "").split())
    if " / " in text:
        vi, en = text.split(" / ", 1)
        return vi.strip(), en.strip()
    return text, text


def first_sentence(text: str) -> str:
    """The first sentence of ``text`` without its full stop; a dot inside parentheses or a number
    (``(3.321, ...)``, ``I.1``) does not end it."""
    depth = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(depth - 1, 0)
        elif depth == 0 and ch == "." and _SENTENCE_END.match(text, i):
            return text[:i].strip()
    return text.rstrip(". ").strip()


def model_meta(node: dict[str, Any]) -> dict[str, Any]:
    return {**(node.get("meta") or {}), **((node.get("config") or {}).get("meta") or {})}


def model_title(node: dict[str, Any]) -> tuple[str, str]:
    """(Vietnamese, English) title of a model: its meta title, else the first sentence of each description."""
    meta = model_meta(node)
    vi, en = split_bilingual(node.get("description"))
    return (
        str(meta.get("title_vi") or first_sentence(vi)).strip(),
        str(meta.get("title_en") or first_sentence(en)).strip(),
    )


def relationship_foreign_keys(
    manifest: dict[str, Any], published: Iterable[str]
) -> dict[str, list[ForeignKey]]:
    """Foreign keys of the published models from the manifest's relationships tests: {child: [fk]},
    in a stable order (child, fields, parent). Only pairs where both models are published."""
    published = set(published)
    models = {k: n["name"] for k, n in manifest["nodes"].items() if n.get("resource_type") == "model"}
    found: dict[str, set[tuple[tuple[str, ...], str, tuple[str, ...]]]] = {}
    for node in manifest["nodes"].values():
        if node.get("resource_type") != "test":
            continue
        rules = [r for r in dbt_tests.rules_of(node) if r.kind == dbt_tests.RELATIONSHIPS]
        if not rules:
            continue
        config = node.get("config") or {}
        if config.get("where") or str(config.get("severity", "error")).lower() != "error":
            continue
        if not config.get("enabled", True):
            continue
        child = models.get(node.get("attached_node") or "")
        for rule in rules:
            parent = dbt_tests.ref_name(rule.to) if str(rule.to or "").startswith("ref(") else None
            if not (child and parent and rule.columns and len(rule.columns) == len(rule.fields)):
                continue
            if child in published and parent in published:
                found.setdefault(child, set()).add((rule.columns, parent, rule.fields))
    return {
        child: [(list(f), p, list(r)) for f, p, r in sorted(fks, key=lambda k: (k[0], k[1], k[2]))]
        for child, fks in sorted(found.items())
    }
