"""Content fingerprints of the gated tables (pipeline.quality.fingerprint) on small DuckDB tables."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.quality.fingerprint import mismatch_message, record_gate, table_fingerprint, verify_gate


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("create schema marts")
    c.execute(
        "create table marts.t as select * from (values (1, 'a', 1.5), (2, 'b', 2.5), (3, 'c', null)) v(k, s, x)"
    )
    c.execute("create table marts.u as select range as k from range(10)")
    yield c
    c.close()


def fp(con):
    return table_fingerprint(con, "marts.t")


def test_fingerprint_is_order_free_and_sees_every_kind_of_change(con):
    base = fp(con)
    assert base.rows == 3
    con.execute("create or replace table marts.t as select * from marts.t order by k desc")
    assert fp(con) == base  # a rebuild with the same rows in another order is the same content
    changes = [
        "update marts.t set s = 'B' where k = 2",  # one value
        "update marts.t set x = 0 where k = 3",  # null -> value
        "insert into marts.t values (2, 'b', 2.5)",  # a duplicated row
        "delete from marts.t where k = 1",  # a lost row
        "create or replace table marts.t as select k, s, x::decimal(4, 1) as x from marts.t",  # a type
        "create or replace table marts.t as select k, x as s, s as x from marts.t",  # columns swapped
    ]
    seen = {base.digest}
    for sql in changes:
        con.execute("create or replace table marts.keep as select * from marts.t")
        con.execute(sql)
        changed = fp(con)
        assert changed.digest not in seen, sql
        seen.add(changed.digest)
        con.execute("create or replace table marts.t as select * from marts.keep")
        assert fp(con) == base


def test_verify_accepts_what_this_runs_gate_checked(con):
    taken = {"marts.t": fp(con), "marts.u": table_fingerprint(con, "marts.u")}
    record_gate(con, "run-a", taken, {"marts.t": True, "marts.u": True})
    checked_by, problems = verify_gate(con, "run-a", ["marts.t", "marts.u"])
    assert problems == []
    assert checked_by == {"marts.t": "run-a", "marts.u": "run-a"}


def test_a_rebuild_after_the_gate_is_refused_naming_table_and_both_runs(con):
    record_gate(con, "run-a", {"marts.t": fp(con)}, {"marts.t": True})
    con.execute("delete from marts.t where k = 1")  # another run rebuilt it with one row less
    checked_by, problems = verify_gate(con, "run-a", ["marts.t"])
    assert checked_by == {}
    assert [(p.table, p.checked_run_id, p.rows_checked, p.rows_now, p.reason) for p in problems] == [
        ("marts.t", "run-a", 3, 2, "changed")
    ]
    message = mismatch_message("run-a", problems, lambda table, checked: "run-b")
    vi, en = message.split(" / ")
    assert "marts.t" in vi and "run-a" in vi and "run-b" in vi and "3 → 2 dòng" in vi
    assert "marts.t changed after run run-a checked it (3 → 2 rows), rebuilt by run run-b" in en
    assert "previous release stays" in en
    unknown = mismatch_message("run-a", problems)
    assert "unknown writer" in unknown


def test_this_runs_gate_wins_over_a_later_gate_of_another_run(con):
    record_gate(con, "run-a", {"marts.t": fp(con)}, {"marts.t": True})
    con.execute("delete from marts.t where k = 1")
    # run b checked (and passed) its rebuilt content after run a's gate
    record_gate(con, "run-b", {"marts.t": fp(con)}, {"marts.t": True})
    _, problems = verify_gate(con, "run-a", ["marts.t"])
    assert [p.reason for p in problems] == ["changed"]  # run a did not check what is there now
    checked_by, problems = verify_gate(con, "run-b", ["marts.t"])
    assert problems == [] and checked_by == {"marts.t": "run-b"}


def test_a_publish_only_run_needs_the_latest_gate_to_have_passed_on_this_content(con):
    record_gate(con, "run-a", {"marts.t": fp(con)}, {"marts.t": True})
    # a run that only publishes (no gate of its own) publishes content the latest gate passed
    checked_by, problems = verify_gate(con, "publish-only", ["marts.t"])
    assert problems == [] and checked_by == {"marts.t": "run-a"}
    # ...but not content a later gate failed
    record_gate(con, "run-c", {"marts.t": fp(con)}, {"marts.t": False})
    _, problems = verify_gate(con, "publish-only", ["marts.t"])
    assert [(p.checked_run_id, p.reason) for p in problems] == [("run-c", "failed_gate")]
    # and a table no gate ever saw is refused
    _, problems = verify_gate(con, "publish-only", ["marts.u"])
    assert [(p.table, p.reason) for p in problems] == [("marts.u", "never_checked")]
    assert "never checked" in mismatch_message("publish-only", problems)


def test_no_gate_table_yet_means_nothing_was_checked(con):
    _, problems = verify_gate(con, "run-a", ["marts.t", "marts.u"])
    assert {p.reason for p in problems} == {"never_checked"}
