"""The steps the sources' validate() share (pipeline.ingest.problems, cells, batch, manifest): each on a tiny
batch, with the exact records and values it must give."""

from __future__ import annotations

from datetime import date

import pandas as pd

from pipeline.ingest.batch import source_columns
from pipeline.ingest.cells import cell_code, cell_date, cell_number, cell_text
from pipeline.ingest.manifest import TemplateSource
from pipeline.ingest.problems import Problems
from pipeline.ingest.sources.ocop.template import OCOP, PRODUCER_TYPE_CODES


def batch(**columns: list) -> pd.DataFrame:
    """A batch of two files: rows 0-2 from file "a", the rest from file "b" (row numbers as a person sees them)."""
    n = len(next(iter(columns.values())))
    frame = pd.DataFrame(columns, dtype=object)
    frame["_sha"] = ["a"] * min(n, 3) + ["b"] * max(n - 3, 0)
    frame["_path"] = frame["_sha"].map({"a": "ocop/a.csv", "b": "ocop/b.csv"})
    frame["_source"] = "ocop"
    frame["_row"] = range(2, n + 2)
    return frame


def records(p: Problems) -> list[tuple[int, str | None, str]]:
    q = p.quarantine()
    return list(zip(q["row_number"].astype(int), q["column_name"], q["reason_code"], strict=True))


def test_required_records_blank_then_unreadable_and_returns_the_parsed_values():
    b = batch(score=["85", "  ", "abc", "-", "70,5"])
    p = Problems(b, OCOP)
    score, _, _ = p.required("score", cell_number)
    assert score.tolist()[0] == 85.0 and score.tolist()[4] == 70.5
    assert score.isna().tolist() == [False, True, True, True, False]
    assert records(p) == [
        (3, "score", "missing_value"),
        (5, "score", "missing_value"),
        (4, "score", "unparseable_number"),
    ]
    assert p.good.tolist() == [True, False, False, False, True]


def test_required_of_a_column_the_file_lacks_quarantines_every_row():
    b = batch(product_id=["P1", "P2"])
    p = Problems(b, OCOP)
    issued, _ = p.required("issued_on", cell_date)
    assert issued.isna().all()
    assert records(p) == [(2, "issued_on", "missing_value"), (3, "issued_on", "missing_value")]


def test_add_repeats_keeps_the_first_row_of_each_file_and_compares_blank_keys_equal():
    pid = ["P1", "P1", None, "P1", None, None]  # rows 2-4 in file a, 5-7 in file b
    kind = ["x", "x", "x", "x", "y", "y"]
    b = batch(product_id=pid, kind=kind)
    p = Problems(b, OCOP)
    key = cell_text(b["product_id"])
    p.add_repeats(pd.Series(True, index=b.index), "product_id", key, cell_text(b["kind"]))
    # row 3 repeats row 2 (file a); row 5 is the first P1 of file b; row 7 repeats row 6 (blank, "y")
    assert records(p) == [(3, "product_id", "duplicate_row"), (7, "product_id", "duplicate_row")]


def test_add_repeats_only_among_the_rows_asked():
    b = batch(product_id=["P1", "P1", "P1"])
    p = Problems(b, OCOP)
    key = cell_text(b["product_id"])
    p.add_repeats(pd.Series([True, False, True]), "product_id", key)
    assert records(p) == [(4, "product_id", "duplicate_row")]


def test_cell_code_reads_the_word_or_the_code_whatever_the_accents_and_case():
    text = cell_text(
        pd.Series(["Hợp tác xã", "HOP TAC XA:", "household", "Công ty", None, "-"], dtype=object)
    )
    assert cell_code(text, PRODUCER_TYPE_CODES).tolist() == [
        "cooperative",
        "cooperative",
        "household",
        None,
        None,
        None,
    ]


def test_result_loads_the_rows_without_a_problem_and_carries_the_records():
    b = batch(product_id=["P1", None, "P3"])
    p = Problems(b, OCOP)
    pid = cell_text(b["product_id"])
    p.add(pid.isna(), "missing_value", "product_id")
    frame = pd.DataFrame({"product_id": pid, **source_columns(b)})[p.good]
    result = p.result({"raw.ocop_products": frame})
    assert result.loaded_rows.to_dict("list") == {"_sha": ["a", "a"], "_row": [2, 4]}
    assert result.tables["raw.ocop_products"].to_dict("list") == {
        "product_id": ["P1", "P3"],
        "_file_sha256": ["a", "a"],
        "_source_file": ["ocop/a.csv", "ocop/a.csv"],
        "_source_row": [2, 4],
    }
    assert len(result.quarantine) == 1 and result.quarantine["row_number"].tolist() == [3]


def test_template_source_hands_the_validator_its_context(con, raw_dir, ref):
    seen = []

    def validate(b, ctx):
        seen.append(ctx)
        return Problems(b, OCOP).result({})

    (raw_dir / "ocop").mkdir(exist_ok=True)
    (raw_dir / "ocop" / "one.csv").write_text(
        ",".join(c.label_vi for c in OCOP.columns) + "\n" + ",".join("x" for _ in OCOP.columns) + "\n",
        encoding="utf-8",
    )
    source = TemplateSource("ocop", OCOP, validate)
    report = source.ingest(con, raw_dir, ref, today=date(2026, 12, 1), salt="s")
    assert report.files_new == 1 and report.rows_read == 1 and report.rows_loaded == 1
    assert [(c.ref is ref, c.today, c.salt, c.names) for c in seen] == [(True, date(2026, 12, 1), "s", None)]
    masked = TemplateSource("ocop", OCOP, validate, masks_names=True)
    (raw_dir / "ocop" / "two.csv").write_text(
        ",".join(c.label_vi for c in OCOP.columns) + "\n" + ",".join("y" for _ in OCOP.columns) + "\n",
        encoding="utf-8",
    )
    masked.ingest(con, raw_dir, ref, today=date(2026, 12, 1), salt="s")
    assert seen[-1].names is not None
