"""Which dbt nodes a run rebuilds: the nodes downstream of the raw tables that changed, and of the nodes that
read something else than their inputs (today's date, the run, the environment).

Pure functions of the dbt manifest (``target/manifest.json`` as a dict): no Dagster, no dbt import. The dbt
step (pipeline.transform.assets) asks :func:`select_for` with the raw tables pipeline.changes says the changed
landing files can have changed (:meth:`pipeline.changes.ChangeSet.raw_tables`).

**The rule.** A dbt model is a function of its parents (``ref``/``source``), the project's code and the dbt vars.
The code and the settings dbt reads are in pipeline.changes' fingerprints (a change of them: everything), the
vars are the same in every run but the period (the incremental models: macros/periods.sql), so a node none
of whose ancestors changed would be rebuilt into the table it already is. Rebuilt: every node downstream of a
changed raw table (``source:raw.<table>+``: the graph's children, so every test that reads one of them, also
one that reads an unchanged table beside it), and every node whose SQL (or a project macro it calls) reads the clock, the
run or the environment (:data:`RUN_LEVEL`), with its descendants. Not rebuilt: every other model and seed, and
their tests, which passed on these same tables when they were last built.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: SQL or Jinja that reads something else than the node's parents: today's date, the time, the dbt run, the
#: environment. A node that matches is rebuilt in every run (with its descendants).
RUN_LEVEL = re.compile(
    r"\b(current_date|current_time|current_timestamp|localtimestamp|localtime|now\s*\(|today\s*\("
    r"|get_current_timestamp|run_started_at|invocation_id|env_var\s*\()",
    re.IGNORECASE,
)
#: The environment variables a node may read without being rebuilt in every run: the period of a run
#: (macros/periods.sql), which only the incremental models read and which the period scope already rules, and
#: the test period (macros/set_tests.sql), which only narrows the rows a test of a rebuilt node checks.
PERIOD_ENV = re.compile(r"""env_var\(\s*['"]NTM_DBT_(TEST_)?PERIOD_CODE['"]""")
BUILT_TYPES = ("model", "seed", "snapshot")


@dataclass(frozen=True)
class Selection:
    """``select``: the dbt selection of the nodes to rebuild, for a person (None: every node); ``rebuilt``: the
    unique ids of the models, seeds and tests it selects; ``exclude``: the ``--exclude`` terms (``fqn:`` of
    every other node) that make dbt build exactly ``rebuilt``; ``reason``: why, for the log.

    Why ``--exclude`` and not ``--select``: dagster-dbt adds the assets' own selection (``--select fqn:*``) to
    the command, and dbt takes the union of several ``--select``, i.e. everything; an ``--exclude`` is
    subtracted from it. Why ``--indirect-selection empty``: with dbt's default (eager) an excluded model takes
    out every test that reads it, so the relationships tests from a rebuilt fact to an unchanged dimension
    would not run; with ``empty`` the tests are exactly those ``fqn:*`` selected minus those excluded by name
    (tests/transform/test_selection.py compares with ``dbt ls``)."""

    select: tuple[str, ...] | None
    rebuilt: frozenset[str]
    reason: str
    exclude: tuple[str, ...] = ()

    @property
    def everything(self) -> bool:
        return self.select is None

    def dbt_args(self) -> list[str]:
        """The arguments of ``dbt build`` that make it build exactly :attr:`rebuilt`."""
        if self.everything or not self.exclude:
            return []
        return ["--indirect-selection", "empty", "--exclude", " ".join(self.exclude)]


def buildable(manifest: Mapping[str, Any]) -> set[str]:
    """The nodes a ``dbt build`` runs in a pipeline run: models, seeds, snapshots and data tests (unit tests
    run in ``make test``)."""
    return {uid for uid, n in manifest["nodes"].items() if n["resource_type"] in (*BUILT_TYPES, "test")}


def downstream(manifest: Mapping[str, Any], roots: Iterable[str]) -> set[str]:
    """Every buildable node below ``roots`` (the roots themselves when buildable)."""
    nodes = buildable(manifest)
    children = manifest["child_map"]
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        uid = stack.pop()
        for child in children.get(uid, ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return (seen | set(roots)) & nodes


def run_level_nodes(manifest: Mapping[str, Any]) -> set[str]:
    """The buildable nodes whose SQL, or a macro of this project they call (directly or through another),
    reads the clock, the run or the environment (:data:`RUN_LEVEL`)."""
    macros = manifest.get("macros", {})
    project = manifest.get("metadata", {}).get("project_name") or "ntm"

    def reads_run(uid: str, seen: set[str]) -> bool:
        node = manifest["nodes"].get(uid) or macros.get(uid)
        if node is None or uid in seen:
            return False
        seen.add(uid)
        if RUN_LEVEL.search(PERIOD_ENV.sub("", node.get("raw_code") or node.get("macro_sql") or "")):
            return True
        called = (node.get("depends_on") or {}).get("macros", [])
        return any(reads_run(m, seen) for m in called if m.startswith(f"macro.{project}."))

    return {uid for uid in buildable(manifest) if reads_run(uid, set())}


def _term(node: Mapping[str, Any]) -> str:
    return f"{node['name']}+" if node["resource_type"] in BUILT_TYPES else node["name"]


def select_for(manifest: Mapping[str, Any], raw_tables: set[str] | None, reason: str) -> Selection:
    """The nodes to rebuild when ``raw_tables`` (schema raw) may have changed; None: every node."""
    if raw_tables is None:
        return Selection(None, frozenset(buildable(manifest)), reason)
    sources = {
        uid: s for uid, s in manifest["sources"].items() if s["schema"] == "raw" and s["name"] in raw_tables
    }
    run_level = run_level_nodes(manifest)
    terms = [f"source:raw.{s['name']}+" for s in sorted(sources.values(), key=lambda s: s["name"])]
    terms += sorted(_term(manifest["nodes"][uid]) for uid in run_level)
    rebuilt = downstream(manifest, [*sources, *run_level])
    if run_level:
        names = ", ".join(sorted(manifest["nodes"][u]["name"] for u in run_level))
        reason += f"; read the clock, the run or the environment: {names}"
    nodes = manifest["nodes"]
    exclude = sorted("fqn:" + ".".join(nodes[u]["fqn"]) for u in buildable(manifest) - rebuilt)
    return Selection(tuple(terms), frozenset(rebuilt), reason, tuple(exclude))


def names(manifest: Mapping[str, Any], uids: Iterable[str], resource_type: str = "model") -> list[str]:
    """The sorted names of the ``uids`` of one resource type."""
    nodes = manifest["nodes"]
    return sorted(nodes[u]["name"] for u in uids if nodes[u]["resource_type"] == resource_type)
