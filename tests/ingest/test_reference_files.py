"""Reference seeds (dbt_project/seeds) and the hamlet registry (raw/reference) keep their contract."""

from __future__ import annotations

import csv
import unicodedata
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "dbt_project" / "seeds"
REGISTRY = ROOT / "raw" / "reference"

SEED_COLUMNS = {
    "indicators": [
        "indicator_code",
        "criteria_set",
        "criterion_code",
        "name_vi",
        "name_en",
        "unit_vi",
        "unit_en",
        "value_type",
        "level",
        "aggregation",
        "annual_rule",
        "direction",
        "threshold",
        "min_value",
        "max_value",
        "reporter_unit_type",
        "valid_from",
        "valid_to",
        # the roll-up rules the indicator declares (raw/README.md section 7)
        "measure_kind",
        "missing_fraction_rule",
        "fraction_weight",
        "omitted_on_resubmission",
        "hamlet_reporters",
    ],
    "indicator_targets": ["indicator_code", "year", "target_value", "target_scope", "source_vi", "source_en"],
    "indicator_thresholds": ["indicator_code", "commune_group", "threshold"],
    "communes_group": ["commune_code", "commune_group"],
    "reporting_unit_types": [
        "unit_type",
        "abbr",
        "name_vi",
        "name_en",
        "reports_quarterly",
        "reports_annual",
    ],
    "plan_tasks": [
        "task_code",
        "section_code",
        "title_vi",
        "title_en",
        "lead_unit_abbr",
        "coordinating_unit_abbrs",
        "timeframe_start",
        "timeframe_end",
    ],
    "survey_questions": ["form_code", "question_code", "question_no", "text_vi", "text_en", "topic"],
    "criteria_sets": ["criteria_set", "name_vi", "name_en", "legal_basis", "valid_from", "valid_to"],
}
REGISTRY_COLUMNS = {
    "hamlets": ["hamlet_key", "hamlet_code", "commune_code", "name", "hamlet_type", "valid_from", "valid_to"],
    "hamlet_population": ["hamlet_code", "year", "households", "population"],
    "hamlet_crosswalk": [
        "predecessor_code",
        "successor_code",
        "change_type",
        "effective_date",
        "population_share",
    ],
    "reporting_units": [
        "unit_code",
        "commune_code",
        "unit_type",
        "abbr",
        "name_vi",
        "name_en",
        "valid_from",
        "valid_to",
    ],
}
EXPECTED_TASKS = (
    [f"I.{i}" for i in range(1, 8)]
    + ["II.1", "II.2"]
    + [f"III.{i}" for i in range(1, 7)]
    + [f"IV.{i}" for i in range(1, 5)]
    + ["V.1", "V.2"]
)
FAR_FUTURE = pd.Timestamp("2262-01-01")


def _read(path: Path) -> pd.DataFrame:
    # everything as text, blanks stay blank: the tests decide types
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


@pytest.fixture(scope="module")
def seeds() -> dict[str, pd.DataFrame]:
    return {name: _read(SEEDS / f"{name}.csv") for name in SEED_COLUMNS}


@pytest.fixture(scope="module")
def registry() -> dict[str, pd.DataFrame]:
    return {name: _read(REGISTRY / f"{name}.csv") for name in REGISTRY_COLUMNS}


def _num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s.replace("", None), errors="raise")


def _date(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s.replace("", None), format="%Y-%m-%d", errors="raise")


# ---------------------------------------------------------------- files and columns


@pytest.mark.parametrize("name", sorted(SEED_COLUMNS))
def test_seed_parses_with_declared_columns(name, seeds):
    df = seeds[name]
    assert list(df.columns) == SEED_COLUMNS[name]
    assert len(df) > 0
    with open(SEEDS / f"{name}.csv", newline="", encoding="utf-8") as f:
        widths = {len(row) for row in csv.reader(f)}
    assert widths == {len(SEED_COLUMNS[name])}


@pytest.mark.parametrize("name", sorted(REGISTRY_COLUMNS))
def test_registry_parses_with_declared_columns(name, registry):
    assert list(registry[name].columns) == REGISTRY_COLUMNS[name]
    assert len(registry[name]) > 0


def test_seeds_yml_documents_every_seed_and_column():
    doc = yaml.safe_load((SEEDS / "_seeds.yml").read_text(encoding="utf-8"))
    by_name = {s["name"]: s for s in doc["seeds"]}
    assert set(by_name) == set(SEED_COLUMNS)
    for name, cols in SEED_COLUMNS.items():
        seed = by_name[name]
        assert seed.get("description")
        documented = [c["name"] for c in seed["columns"]]
        assert documented == cols, name
        assert all(c.get("description") for c in seed["columns"])
        assert set(seed["config"]["column_types"]) == set(cols), name


def test_all_text_is_nfc():
    for path in [*SEEDS.glob("*.csv"), SEEDS / "_seeds.yml", *REGISTRY.glob("*.csv")]:
        text = path.read_text(encoding="utf-8")
        assert unicodedata.is_normalized("NFC", text), path.name
        assert not text.startswith("\ufeff"), path.name


# ---------------------------------------------------------------- indicators


def test_indicator_codes_unique_and_well_formed(seeds):
    ind = seeds["indicators"]
    assert ind["indicator_code"].is_unique
    assert (
        ind["indicator_code"]
        .str.fullmatch(r"(CDS\.\d{2}|TC\d{1,2}\.\d(\.T)?|QD51\.\d{1,2}(\.\d{1,2})?)")
        .all()
    )
    assert 45 <= len(ind) <= 60
    assert (ind["level"] == "hamlet").sum() >= 15


def test_indicator_enums(seeds):
    ind = seeds["indicators"]
    sets = set(seeds["criteria_sets"]["criteria_set"])
    assert sets == {"NTM2021_BASIC", "NTM2021_ADV", "NTM2026", "KH_CDS_DL"}
    assert set(ind["criteria_set"]) == sets
    assert set(ind["value_type"]) <= {"count", "percent", "ratio", "yesno"}
    assert set(ind["level"]) <= {"hamlet", "commune"}
    assert set(ind["aggregation"]) <= {
        "sum",
        "mean",
        "ratio_of_sums",
        "share_meeting",
        "last",
        "max",
        "all_yes",
    }
    assert set(ind["annual_rule"]) <= {"sum", "mean", "last", "max", "ratio_of_sums"}
    assert set(ind["direction"]) <= {"higher_better", "lower_better"}
    assert set(ind["reporter_unit_type"]) <= set(seeds["reporting_unit_types"]["unit_type"])
    # hamlet indicators are reported by hamlets, and only hamlets report hamlet indicators
    assert ((ind["level"] == "hamlet") == (ind["reporter_unit_type"] == "hamlet")).all()
    # hamlet-to-commune roll-ups that only make sense for hamlets
    assert (ind.loc[ind["aggregation"].isin(["share_meeting", "all_yes"]), "level"] == "hamlet").all()
    assert ind.loc[ind["aggregation"] == "share_meeting", "threshold"].ne("").all()


def test_indicator_ranges(seeds):
    ind = seeds["indicators"]
    lo, hi, thr = _num(ind["min_value"]), _num(ind["max_value"]), _num(ind["threshold"])
    assert lo.notna().all() and hi.notna().all()
    assert (lo <= hi).all()
    has = thr.notna()
    assert ((lo[has] <= thr[has]) & (thr[has] <= hi[has])).all()
    pct = ind["value_type"] == "percent"
    assert (lo[pct] == 0).all() and (hi[pct] == 100).all()
    yn = ind["value_type"] == "yesno"
    assert (lo[yn] == 0).all() and (hi[yn] == 1).all()
    assert (lo[ind["value_type"] == "count"] >= 0).all()


def test_indicator_validity(seeds):
    ind = seeds["indicators"]
    vf, vt = _date(ind["valid_from"]), _date(ind["valid_to"])
    assert vf.notna().all()
    assert (vt.fillna(FAR_FUTURE) >= vf).all()
    # the plan keeps the hamlet variants of 8.4 and 15.2 through 2030
    by_code = ind.set_index("indicator_code")
    for code in ("TC8.4.T", "TC15.2.T"):
        assert by_code.loc[code, "level"] == "hamlet"
        assert by_code.loc[code, "valid_to"] == "2030-12-31"
    # criteria-set windows
    sets = seeds["criteria_sets"].set_index("criteria_set")
    assert sets.loc["NTM2026", "valid_from"] == "2026-02-15"
    assert sets.loc["NTM2021_BASIC", "valid_from"] == "2022-03-08"
    qd51 = ind[ind["criteria_set"] == "NTM2026"]
    assert set(qd51["criterion_code"]) == {str(k) for k in range(1, 11)}


def test_targets_reference_known_indicators(seeds):
    ind = seeds["indicators"].set_index("indicator_code")
    tgt = seeds["indicator_targets"]
    assert set(tgt["indicator_code"]) <= set(ind.index)
    years = _num(tgt["year"])
    assert years.between(2026, 2030).all()
    assert not tgt.duplicated(["indicator_code", "year"]).any()
    assert set(tgt["target_scope"]) == {"commune"}
    assert tgt["source_vi"].str.contains("KH CĐS NTM xã Đồng Lộc 2026-2030").all()
    value = _num(tgt["target_value"])
    lo = _num(tgt["indicator_code"].map(ind["min_value"]))
    hi = _num(tgt["indicator_code"].map(ind["max_value"]))
    share = tgt["indicator_code"].map(ind["aggregation"]).isin(["share_meeting"])
    hi = hi.where(~share, 100)  # share_meeting rolls up to a percent of hamlets
    assert ((lo <= value) & (value <= hi)).all()
    # the plan's named end targets
    last = tgt[years == 2030].set_index("indicator_code")["target_value"].astype(float)
    assert last["TC8.4.T"] == 100 and last["TC15.2.T"] == 50


def test_thresholds_by_group(seeds):
    th = seeds["indicator_thresholds"]
    ind = seeds["indicators"].set_index("indicator_code")
    assert set(th["indicator_code"]) <= set(ind.index)
    assert (th["indicator_code"].map(ind["criteria_set"]) == "NTM2026").all()
    assert set(th["commune_group"]) <= {"1", "2", "3"}
    assert not th.duplicated(["indicator_code", "commune_group"]).any()
    groups = seeds["communes_group"]
    assert groups["commune_code"].str.fullmatch(r"\d{5}").all()
    assert set(groups["commune_group"]) <= {"1", "2", "3"}
    assert "18484" in set(groups["commune_code"])


# ---------------------------------------------------------------- units, tasks, survey


def test_reporting_unit_types(seeds):
    rut = seeds["reporting_unit_types"]
    assert rut["unit_type"].is_unique and rut["abbr"].is_unique
    assert {"KT", "VHXH", "VP", "CA", "MTTQ", "HND", "HPN", "CCB", "DTN", "HTX", "T"} == set(rut["abbr"])
    assert set(rut["reports_quarterly"]) <= {"true", "false"}
    assert set(rut["reports_annual"]) <= {"true", "false"}


def test_plan_tasks_cover_appendix_exactly(seeds):
    tasks = seeds["plan_tasks"]
    assert list(tasks["task_code"]) == EXPECTED_TASKS
    assert (tasks["section_code"] == tasks["task_code"].str.split(".").str[0]).all()
    abbrs = set(seeds["reporting_unit_types"]["abbr"])
    assert set(tasks["lead_unit_abbr"]) <= abbrs
    for coord in tasks["coordinating_unit_abbrs"]:
        assert coord and set(coord.split(";")) <= abbrs
    start, end = _num(tasks["timeframe_start"]), _num(tasks["timeframe_end"])
    assert (start <= end).all() and start.between(2020, 2030).all()
    by_code = tasks.set_index("task_code")
    assert (by_code.loc["IV.4", "timeframe_start"], by_code.loc["IV.4", "timeframe_end"]) == ("2025", "2025")
    assert by_code.loc["I.1", "lead_unit_abbr"] == "VHXH"
    assert by_code.loc["III.4", "lead_unit_abbr"] == "VHXH"


def test_survey_questions(seeds):
    q = seeds["survey_questions"]
    assert set(q["form_code"]) == {"HL-NTM-2025"}
    assert list(q["question_code"]) == [f"Q{i:02d}" for i in range(1, 11)]
    assert list(q["question_no"]) == [str(i) for i in range(1, 11)]
    assert q["topic"].is_unique
    assert (q[["text_vi", "text_en"]] != "").all().all()


# ---------------------------------------------------------------- hamlet registry


def test_hamlet_codes_and_keys(registry):
    h = registry["hamlets"]
    assert h["hamlet_code"].str.fullmatch(r"18484-T\d\d").all()
    assert h["hamlet_key"].str.fullmatch(r"\d+").all() and h["hamlet_key"].is_unique
    assert set(h["commune_code"]) == {"18484"}
    assert set(h["hamlet_type"]) == {"thon", "to_dan_pho"}
    assert not h.duplicated(["hamlet_code", "valid_from"]).any()
    current = h[h["valid_to"] == ""]
    assert current["hamlet_code"].is_unique
    assert 20 <= len(current) <= 35


def test_hamlet_validity_intervals_do_not_overlap(registry):
    h = registry["hamlets"].assign(vf=lambda d: _date(d["valid_from"]), vt=lambda d: _date(d["valid_to"]))
    h["vt"] = h["vt"].fillna(FAR_FUTURE)
    assert (h["vt"] >= h["vf"]).all()
    for _, g in h.sort_values("vf").groupby("hamlet_code"):
        assert (g["vf"].iloc[1:].to_numpy() > g["vt"].iloc[:-1].to_numpy()).all()


def test_crosswalk(registry):
    h, x = registry["hamlets"], registry["hamlet_crosswalk"]
    codes = set(h["hamlet_code"])
    assert set(x["predecessor_code"]) <= codes and set(x["successor_code"]) <= codes
    assert set(x["change_type"]) == {"merge", "split", "rename"}
    share = _num(x["population_share"])
    assert share.between(0, 1).all() and (share > 0).all()
    eff = _date(x["effective_date"])
    hv = h.assign(vf=_date(h["valid_from"]), vt=_date(h["valid_to"]))
    for (pred, succ, _ctype), day in zip(
        x[["predecessor_code", "successor_code", "change_type"]].itertuples(index=False), eff, strict=True
    ):
        # the predecessor version ends the day before, the successor version starts that day
        assert (hv.loc[hv["hamlet_code"] == pred, "vt"] == day - pd.Timedelta(days=1)).any()
        assert (hv.loc[hv["hamlet_code"] == succ, "vf"] == day).any()
    split = x[x["change_type"] == "split"].assign(s=share)
    assert not split.empty
    assert (split.groupby("predecessor_code")["s"].sum().round(9) == 1).all()
    assert (split.groupby("predecessor_code").size() >= 2).all()
    merge = x[x["change_type"] == "merge"].assign(s=share)
    assert (merge.groupby("successor_code").size() >= 2).all() and (merge["s"] == 1).all()
    rename = x[x["change_type"] == "rename"]
    assert (rename["predecessor_code"] == rename["successor_code"]).all()
    for code in rename["predecessor_code"]:
        assert h.loc[h["hamlet_code"] == code, "name"].nunique() >= 2


def _valid_mid_year(h: pd.DataFrame, code: str, year: int) -> bool:
    day = pd.Timestamp(f"{year}-07-01")
    g = h[h["hamlet_code"] == code]
    return bool(((_date(g["valid_from"]) <= day) & (_date(g["valid_to"]).fillna(FAR_FUTURE) >= day)).any())


def test_hamlet_population(registry):
    h, p = registry["hamlets"], registry["hamlet_population"]
    assert set(p["hamlet_code"]) <= set(h["hamlet_code"])
    assert not p.duplicated(["hamlet_code", "year"]).any()
    hh, pop, year = _num(p["households"]), _num(p["population"]), _num(p["year"])
    assert year.between(2024, 2030).all()
    assert hh.between(100, 900).all()
    assert (pop / hh).between(2.5, 5).all()
    # one row per hamlet valid on 1 July of the year: no double counting around changes
    expected = {(c, y) for c in set(h["hamlet_code"]) for y in range(2024, 2031) if _valid_mid_year(h, c, y)}
    assert set(zip(p["hamlet_code"], year.astype(int), strict=True)) == expected


def test_reporting_units(registry, seeds):
    u, h = registry["reporting_units"], registry["hamlets"]
    types = seeds["reporting_unit_types"].set_index("unit_type")
    assert set(u["unit_type"]) <= set(types.index)
    assert set(u["commune_code"]) == {"18484"}
    assert u["unit_code"].str.fullmatch(r"18484-([A-Z]+\d?|T\d\d)").all()
    assert not u.duplicated(["unit_code", "valid_from"]).any()
    for code in ["KT", "VHXH", "VP", "CA", "MTTQ", "HND", "HPN", "CCB", "DTN", "HTX1", "HTX2", "HTX3"]:
        assert f"18484-{code}" in set(u["unit_code"])
    non_hamlet = u[u["unit_type"] != "hamlet"]
    assert (non_hamlet["unit_code"] == "18484-" + non_hamlet["abbr"]).all()
    assert (
        non_hamlet["abbr"]
        .str.replace(r"\d+$", "", regex=True)
        .eq(non_hamlet["unit_type"].map(types["abbr"]))
        .all()
    )
    # every hamlet version is a reporting unit with the same code and validity
    hu = u[u["unit_type"] == "hamlet"]
    left = set(h[["hamlet_code", "name", "valid_from", "valid_to"]].itertuples(index=False, name=None))
    right = set(hu[["unit_code", "name_vi", "valid_from", "valid_to"]].itertuples(index=False, name=None))
    assert left == right


def test_history_has_merge_rename_split(registry):
    x = registry["hamlet_crosswalk"]
    dates = x.groupby("change_type")["effective_date"].agg(set).to_dict()
    assert dates["merge"] == {"2025-07-01"}
    assert dates["split"] == {"2026-01-01"}
    assert len(dates["rename"]) == 1
