"""The due-date rule (raw/README.md rule 7.5) is written the same way everywhere a person reads it: the
landing-zone README, the catalog and model docs that reach the release README, and the code that computes it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

EN = (
    "through the 15th of the quarter's last month (15 Mar, 15 Jun, 15 Sep, 15 Dec; annual report: 15 Dec), "
    "23:59:59 Asia/Ho_Chi_Minh"
)
VI = (
    "hết ngày 15 của tháng cuối quý (15/3, 15/6, 15/9, 15/12; báo cáo năm: 15/12), "
    "tức đến 23:59:59 giờ Asia/Ho_Chi_Minh"
)

# file -> the statements it must carry
WHERE = {
    "README.md": (EN,),
    "raw/README.md": (EN, VI),
    "dbt_project/seeds/_seeds.yml": (EN, VI),
    "dbt_project/models/marts/dim_period.yml": (EN, VI),
    "dbt_project/models/marts/fact_submission.yml": (EN, VI),
    "dbt_project/models/marts/mart_commune_indicator.yml": (EN, VI),
    "dbt_project/models/marts/mart_reporting_compliance.yml": (EN, VI),
    "dbt_project/models/marts/fact_submission.sql": (EN,),
    "dbt_project/models/marts/mart_reporting_compliance.sql": (EN,),
    "pipeline/lib/periods.py": (EN,),
    "pipeline/synth/blank_templates.py": (VI,),
}

# older wordings that said something else ("before the 15th" = the 14th at the latest)
OUTDATED = re.compile(
    r"before the 15th|before 15 dec|trước ngày 15|trước 15/12|15th, 23:59:59\)", re.IGNORECASE
)


def _flat(text: str) -> str:
    """One line, single spaces, YAML's doubled quote and Python's string concatenation undone."""
    text = text.replace("''", "'")
    text = re.sub(r'"\s*\n\s*"', "", text)  # "...(15 Mar, 15 Jun, 15 Sep, 15 Dec;" "annual ..."
    text = re.sub(r"\n\s*(#|\*|-\s)?", " ", text)  # comment / wrapped-line prefixes
    return re.sub(r"\s+", " ", text.replace("**", ""))


@pytest.mark.parametrize("path", sorted(WHERE))
def test_due_date_rule_is_written_the_same_way(path):
    text = _flat((REPO / path).read_text(encoding="utf-8"))
    for statement in WHERE[path]:
        assert statement in text, (path, statement)


@pytest.mark.parametrize("path", sorted(WHERE))
def test_no_outdated_due_date_wording(path):
    text = _flat((REPO / path).read_text(encoding="utf-8"))
    assert not OUTDATED.search(text), (path, OUTDATED.search(text).group(0))
