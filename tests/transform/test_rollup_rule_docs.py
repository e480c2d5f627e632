"""The roll-up rules 7.0-7.5 are written in both languages, with a worked example, where a person reads them:
raw/README.md section 7 (the landing-zone contract), the catalog columns of dim_indicator that carry each rule,
and the mart_commune_indicator description that reaches the release README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
RAW_README = (REPO / "raw" / "README.md").read_text(encoding="utf-8")

# rule -> the dim_indicator column that carries it
CATALOG_COLUMN = {
    "7.1": "missing_fraction_rule",
    "7.2": "measure_kind",
    "7.3": "omitted_on_resubmission",
    "7.4": "hamlet_reporters",
}


def _section(number: str) -> str:
    """The text of raw/README.md's ``### <number>.`` section, up to the next heading."""
    m = re.search(
        rf"^### {re.escape(number)}\. .*?$(.*?)(?=^#{{2,3}} )", RAW_README, re.MULTILINE | re.DOTALL
    )
    assert m, f"raw/README.md has no section {number}"
    return m.group(1)


def _columns(model: str) -> dict[str, str]:
    doc = yaml.safe_load(
        (REPO / "dbt_project" / "models" / "marts" / f"{model}.yml").read_text(encoding="utf-8")
    )
    (m,) = doc["models"]
    return {c["name"]: " ".join(c.get("description", "").split()) for c in m["columns"]}


@pytest.mark.parametrize("rule", ["7.1", "7.2", "7.3", "7.4"])
def test_raw_readme_states_each_rule_in_both_languages_with_an_example(rule):
    text = _section(rule)
    vi, _, en = text.partition("**English.**")
    assert "**Tiếng Việt.**" in vi and en, f"rule {rule}: a Vietnamese and an English paragraph"
    assert "Ví dụ" in vi, f"rule {rule}: no worked example in Vietnamese"
    assert "Example" in en, f"rule {rule}: no worked example in English"


@pytest.mark.parametrize("rule", sorted(CATALOG_COLUMN))
def test_the_catalog_column_of_each_rule_says_it_in_both_languages(rule):
    desc = _columns("dim_indicator")[CATALOG_COLUMN[rule]]
    vi, sep, en = desc.partition(" / ")
    assert sep, f"{CATALOG_COLUMN[rule]}: a bilingual 'vi / en' description"
    assert f"Quy tắc {rule}" in vi and f"Rule {rule}" in en


def test_the_commune_mart_description_carries_every_rule_in_both_languages():
    doc = yaml.safe_load(
        (REPO / "dbt_project" / "models" / "marts" / "mart_commune_indicator.yml").read_text(encoding="utf-8")
    )
    (m,) = doc["models"]
    desc = " ".join(m["description"].split())
    vi, sep, en = desc.partition(" / ")
    assert sep
    for rule in ("7.1", "7.2", "7.3", "7.4", "7.5"):
        assert f" {rule} " in vi, f"Vietnamese half lacks rule {rule}"
        assert f" {rule} " in en, f"English half lacks rule {rule}"
