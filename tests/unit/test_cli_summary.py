"""`python -m pipeline run`'s summary names why a step failed: the asset's own exception, not only
Dagster's wrapper ("Error occurred while executing op ...")."""

from __future__ import annotations

import dagster as dg
from rich.console import Console

from pipeline import cli
from pipeline.quality.fingerprint import Problem, UncheckedContentError, mismatch_message


def test_summary_prints_the_publish_refusal_in_both_languages(monkeypatch):
    message = mismatch_message("run-a", [Problem("marts.mart_satisfaction", "run-a", 550, 549, "changed")])

    @dg.asset(key=dg.AssetKey(["publish", "open_data_release"]))
    def refuses() -> None:
        raise UncheckedContentError(message)

    result = dg.materialize([refuses], raise_on_error=False)
    console = Console(record=True, width=400, highlight=False)
    monkeypatch.setattr(cli, "console", console)
    assert cli.summarise(result, 1.0) == 1
    out = console.export_text()
    assert "FAILED step publish__open_data_release" in out
    assert "marts.mart_satisfaction đã thay đổi sau khi lượt chạy run-a kiểm tra" in out
    assert "marts.mart_satisfaction changed after run run-a checked it (550 → 549 rows)" in out
    assert "nothing published" in out
