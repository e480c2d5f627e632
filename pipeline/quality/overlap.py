"""Which GX rules repeat a dbt test: one owner per rule (issue 16, item 2).

dbt owns schema (enforced contracts), keys, grain, relationships, accepted values and not-null (a ``not_null``
constraint in the enforced contract of a table or incremental model, which DuckDB enforces on every insert, or a
``not_null`` data test on a view); a suite in ``expectations/`` states none of them again. The dbt tests are the
set-based ones of ``dbt_project/tests/generic`` (one node per model and kind, several columns each), read rule
by rule (:func:`pipeline.lib.dbt_tests.rules_of`) and named ``<test> [<column or key>]``.
:func:`find_duplicates` reads the suites and the dbt manifest and lists every expectation or declared SQL check
that a dbt test or contract on the same model and column already guarantees. Not to miss: only a dbt test at
least as strict covers (severity ``error``, no ``where``, default thresholds; a subset of the accepted values; a
grain on the same columns or fewer); ``mostly`` < 1 is never covered.
This module holds the report, the ledger of removed rules and the command
``python -m pipeline.quality.overlap [--check | --remove | --refresh-ledger]``; the dbt rules and the matching
are :mod:`pipeline.quality.overlap_rules`. Tests: ``tests/quality/test_one_owner.py``.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .overlap_rules import (
    KEY_ENUM_TYPES,
    LEDGER_PATH,
    MATCH_SET,
    OF_TYPE,
    README_BEGIN,
    README_END,
    README_PATH,
    DbtModelRules,
    Duplicate,
    dbt_rules,
    expectation_covered_by,
    find_duplicates,
    load_manifest,
    sql_check_covered_by,
)
from .suites import load_all


def counts(suites: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """How many rules the suites state: all expectations, the key/enum ones, the declared SQL checks."""
    exps = [e for s in suites.values() for e in s.get("expectations", [])]
    sql = [c for s in suites.values() for c in (s.get("meta") or {}).get("sql_checks") or []]
    return {
        "expectations": len(exps),
        "key_enum_expectations": sum(e["type"] in KEY_ENUM_TYPES for e in exps),
        "schema_expectations": sum(e["type"] in (MATCH_SET, OF_TYPE) for e in exps),
        "sql_checks": len(sql),
        "sql_column_types": sum(c["check"] == "column_types" for c in sql),
        "sql_referential": sum(c["check"] == "referential" for c in sql),
    }


def dbt_counts(rules: Mapping[str, DbtModelRules]) -> dict[str, int]:
    kinds = Counter(t.kind for r in rules.values() for t in r.tests)
    return {
        **{f"dbt_{k}": v for k, v in sorted(kinds.items())},
        "dbt_contracts": sum(r.contract is not None for r in rules.values()),
        "dbt_not_null_constraints": sum(len(r.not_null_constraints) for r in rules.values()),
    }


def report(suites: Mapping[str, Mapping[str, Any]], rules: Mapping[str, DbtModelRules]) -> str:
    dups = find_duplicates(suites, rules)
    lines = []
    by_suite: dict[str, list[Duplicate]] = {}
    for d in dups:
        by_suite.setdefault(d.suite, []).append(d)
    for suite, items in by_suite.items():
        lines.append(f"{suite}: {len(items)} duplicate(s)")
        for d in items:
            lines.append(f"  {d.rule} [{d.column}] ({d.severity}) <- {', '.join(d.covered_by)}")
    c = counts(suites)
    kinds = Counter(d.rule for d in dups)
    lines.append("")
    lines.append("counts: " + ", ".join(f"{k}={v}" for k, v in c.items()))
    lines.append("dbt: " + ", ".join(f"{k}={v}" for k, v in dbt_counts(rules).items()))
    key_dups = sum(v for k, v in kinds.items() if k in KEY_ENUM_TYPES)
    lines.append(
        f"duplicates: {len(dups)} ({key_dups} of {c['key_enum_expectations']} not-null/unique/in-set "
        "expectations; " + ", ".join(f"{k}={v}" for k, v in sorted(kinds.items())) + ")"
    )
    return "\n".join(lines)


def ledger_entry(suite: Mapping[str, Any], dup: Duplicate) -> dict[str, Any]:
    """What was removed (the expectation or SQL check as the file had it) and what covers it."""
    if dup.index is not None:
        stated = dict(suite["expectations"][dup.index])
    else:
        stated = dict(suite["meta"]["sql_checks"][dup.sql_index])
    return {
        "suite": dup.suite,
        "rule": dup.rule,
        "column": dup.column,
        "severity": dup.severity,
        "stated": stated,
        "covered_by": list(dup.covered_by),
    }


def entry_covered_by(entry: Mapping[str, Any], rules: Mapping[str, DbtModelRules]) -> list[str]:
    """Re-check one ledger entry against the manifest: the dbt tests that still cover it (empty = lost)."""
    model = rules.get(entry["suite"])
    if model is None:
        return []
    stated = entry["stated"]
    if stated.get("type") == MATCH_SET or stated.get("check") == "column_types":
        # the guarantee is "the table has its contract's columns and types", whatever they are by now
        return ["contract (enforced)"] if model.contract is not None else []
    if "type" in stated:
        return expectation_covered_by(stated, model)
    return sql_check_covered_by(stated, entry["suite"], model, f"marts.{entry['suite']}")


def refresh_ledger(
    rules: Mapping[str, DbtModelRules], ledger_path: Path | None = None
) -> list[dict[str, Any]]:
    """Rewrite each ledger entry's ``covered_by`` with the dbt tests that hold it now (after dbt tests were
    renamed or regrouped); refuses when a rule is no longer held by any."""
    ledger_path = Path(ledger_path) if ledger_path is not None else LEDGER_PATH
    ledger = load_ledger(ledger_path)
    lost = [e for e in ledger if not entry_covered_by(e, rules)]
    if lost:
        names = "; ".join(f"{e['suite']} {e['rule']} [{e['column']}]" for e in lost)
        raise ValueError(f"no blocking dbt test holds these ledger rules any more: {names}")
    for e in ledger:
        e["covered_by"] = entry_covered_by(e, rules)
    ledger_path.write_text(json.dumps(ledger, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return ledger


def load_ledger(path: Path | None = None) -> list[dict[str, Any]]:
    path = Path(path) if path is not None else LEDGER_PATH
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


def remove_duplicates(
    rules: Mapping[str, DbtModelRules], directory: Path | None = None, ledger_path: Path | None = None
) -> list[dict[str, Any]]:
    """Delete from the suite files every rule a dbt test or contract covers; add them to the ledger.

    The files are rewritten in the shape they are kept in (``json.dumps(indent=2, ensure_ascii=False)``);
    indices refer to the files as stored (loading keeps the order of expectations and SQL checks).
    """
    from .suites import list_suites

    paths = list_suites(directory)
    suites = {t: load_suite_dict_raw(p) for t, p in paths.items()}
    dups = find_duplicates(load_all(directory), rules)
    entries = [ledger_entry(suites[d.suite], d) for d in dups]
    for table, raw in suites.items():
        mine = [d for d in dups if d.suite == table]
        if not mine:
            continue
        drop = {d.index for d in mine if d.index is not None}
        drop_sql = {d.sql_index for d in mine if d.sql_index is not None}
        raw["expectations"] = [e for i, e in enumerate(raw["expectations"]) if i not in drop]
        meta = raw.get("meta") or {}
        if "sql_checks" in meta:
            meta["sql_checks"] = [c for j, c in enumerate(meta["sql_checks"]) if j not in drop_sql]
        paths[table].write_text(json.dumps(raw, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    ledger_path = Path(ledger_path) if ledger_path is not None else LEDGER_PATH
    ledger = load_ledger(ledger_path) + entries
    ledger_path.parent.mkdir(parents=True, exist_ok=True)
    ledger_path.write_text(json.dumps(ledger, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return entries


def load_suite_dict_raw(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def ledger_markdown(ledger: Iterable[Mapping[str, Any]]) -> str:
    """The ledger as a Markdown table (expectations/README.md, between the owned-by-dbt markers)."""
    rows = [
        "| suite | removed GX rule | column | covered by (dbt, severity error) |",
        "| --- | --- | --- | --- |",
    ]
    for e in ledger:
        covered = "<br>".join(f"`{c}`" for c in e["covered_by"])
        rows.append(f"| `{e['suite']}` | `{e['rule']}` | `{e['column']}` | {covered} |")
    return "\n".join(rows)


def write_readme_table(ledger: list[dict[str, Any]], readme: Path | None = None) -> None:
    readme = Path(readme) if readme is not None else README_PATH
    text = readme.read_text(encoding="utf-8")
    start, end = text.index(README_BEGIN), text.index(README_END)
    body = f"{README_BEGIN}\n{ledger_markdown(ledger)}\n"
    readme.write_text(text[:start] + body + text[end:], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """``python -m pipeline.quality.overlap [--check | --remove | --refresh-ledger]``: print the duplicates and
    the counts; ``--check`` exits 1 when there is one, or when a ledger rule is no longer held by a blocking
    dbt test or the ledger names other tests than those that hold it; ``--remove`` deletes them from the
    suites and records them in the ledger and in expectations/README.md; ``--refresh-ledger`` rewrites the
    ledger's ``covered_by`` (and the README table) with the tests that hold each rule now."""
    argv = argv or []
    rules = dbt_rules(load_manifest())
    suites = load_all()
    print(report(suites, rules))
    if "--remove" in argv:
        entries = remove_duplicates(rules)
        write_readme_table(load_ledger(), README_PATH)
        print(f"\nremoved {len(entries)} rule(s); after:")
        print(report(load_all(), rules))
    if "--refresh-ledger" in argv:
        write_readme_table(refresh_ledger(rules), README_PATH)
    stale = [e for e in load_ledger() if entry_covered_by(e, rules) != e["covered_by"]]
    for e in stale:
        now = entry_covered_by(e, rules)
        print(
            f"ledger: {e['suite']} {e['rule']} [{e['column']}] names {e['covered_by']}, held now by "
            f"{now or 'NOTHING'}" + ("" if now else " (a guarantee was lost)")
        )
    return 1 if "--check" in argv and (find_duplicates(suites, rules) or stale) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
