"""Registry files of ``raw/reference/`` → ``raw.*`` (full replace each run) and the in-memory
:class:`ReferenceData` the validators use (codes, names, validity, the indicator catalog, plan tasks and
survey questions from the dbt seeds: one source of truth).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.config import DBT_PROJECT_DIR
from pipeline.ingest.tables import ensure_warehouse_schema, insert_frame
from pipeline.lib.text import nfc, nfc_key, nfc_key_series

DEFAULT_SEEDS = DBT_PROJECT_DIR / "seeds"

REGISTRY: dict[str, tuple[str, tuple[str, ...], dict[str, str]]] = {
    # file -> (table, required columns, types)
    "hamlets.csv": (
        "raw.hamlets",
        ("hamlet_key", "hamlet_code", "commune_code", "name", "hamlet_type", "valid_from", "valid_to"),
        {"hamlet_key": "int", "valid_from": "date", "valid_to": "date"},
    ),
    "hamlet_population.csv": (
        "raw.hamlet_population",
        ("hamlet_code", "year", "households", "population"),
        {"year": "int", "households": "int", "population": "int"},
    ),
    "hamlet_crosswalk.csv": (
        "raw.hamlet_crosswalk",
        ("predecessor_code", "successor_code", "change_type", "effective_date", "population_share"),
        {"effective_date": "date", "population_share": "float"},
    ),
    "reporting_units.csv": (
        "raw.reporting_units",
        ("unit_code", "commune_code", "unit_type", "abbr", "name_vi", "name_en", "valid_from", "valid_to"),
        {"valid_from": "date", "valid_to": "date"},
    ),
}

#: Optional registry columns (blank when the file has no such column): loaded like the required ones.
OPTIONAL: dict[str, tuple[str, ...]] = {
    # hamlet codes (separated by ';' or spaces) this unit may report hamlet values for (roll-up rule 7.4)
    "reporting_units.csv": ("reports_for_hamlets",),
}

#: Roll-up rules the catalog declares per indicator (raw/README.md section 7) and their allowed values.
RULE_COLUMNS: dict[str, frozenset[str]] = {
    "measure_kind": frozenset({"stock", "flow"}),
    "missing_fraction_rule": frozenset({"derive_from_weight", "quarantine", "not_applicable"}),
    "fraction_weight": frozenset({"", "households"}),
    "omitted_on_resubmission": frozenset({"keep_earlier", "drop"}),
    "hamlet_reporters": frozenset({"own_or_listed", "own_only", "not_applicable"}),
}

HAMLET_PREFIXES = ("thôn", "tổ dân phố", "tdp", "xóm", "khu dân cư", "tổ")


class ReferenceError(ValueError):
    """A registry or seed file is missing or invalid (reference data is curated: fail loudly)."""


def _read_csv(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    if not path.is_file():
        raise ReferenceError(f"reference file missing: {path}")
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    df.columns = [nfc(c).strip() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ReferenceError(f"{path.name}: missing columns {missing}")
    for c in OPTIONAL.get(path.name, ()):
        if c not in df.columns:
            df[c] = ""
    df = df.astype(object)
    for c in df.columns:
        df[c] = df[c].map(lambda v: nfc(v).strip() if isinstance(v, str) else v)
    return df


def _typed(df: pd.DataFrame, types: dict[str, str], name: str) -> pd.DataFrame:
    out = df.copy()
    for col, t in types.items():
        s = out[col].replace("", None)
        if t == "date":
            parsed = pd.to_datetime(s, format="%Y-%m-%d", errors="coerce")
            bad = s.notna() & parsed.isna()
            out[col] = parsed.dt.date.where(parsed.notna(), None)
        elif t == "int":
            parsed = pd.to_numeric(s, errors="coerce")
            bad = s.notna() & parsed.isna()
            out[col] = parsed.astype("Int64")
        else:
            parsed = pd.to_numeric(s, errors="coerce")
            bad = s.notna() & parsed.isna()
            out[col] = parsed.astype("Float64")
        if bad.any():
            raise ReferenceError(f"{name}: column {col} has unreadable values {list(s[bad].head(3))}")
    return out


def hamlet_name_key(names: pd.Series) -> pd.Series:
    """Key for matching hamlet names: nfc_key, optional 'Thôn ' / 'Tổ dân phố ' prefix removed."""
    keys = nfc_key_series(names.astype(object).where(names.notna(), "").astype(str)).str.lower()
    prefixes = sorted({nfc_key(p).lower() for p in HAMLET_PREFIXES}, key=len, reverse=True)
    pattern = r"^(?:" + "|".join(re.escape(p) for p in prefixes) + r")\s+"
    return keys.astype(str).str.replace(pattern, "", regex=True).str.strip()


@dataclass
class ReferenceData:
    hamlets: pd.DataFrame  # hamlet_code, commune_code, name, name_key, valid_from, valid_to (Timestamp/NaT)
    units: pd.DataFrame  # unit_code, commune_code, unit_type, valid_from, valid_to
    indicators: pd.DataFrame  # index indicator_code: value_type, level, min/max_value, roll-up rule columns
    task_codes: frozenset[str]
    questions: pd.DataFrame  # form_code, question_no (int), question_code
    commune_codes: frozenset[str]
    households: dict[tuple[str, int], int] = field(default_factory=dict)  # (hamlet, year) -> households
    reporters: frozenset[tuple[str, str]] = frozenset()  # (unit_code, hamlet_code) from reports_for_hamlets

    # computed once: the ingest asks for them per batch, and a national registry holds ~100k codes

    @cached_property
    def hamlet_codes(self) -> frozenset[str]:
        return frozenset(self.hamlets["hamlet_code"])

    @cached_property
    def hamlet_communes(self) -> pd.Series:
        """The commune of each hamlet code (index: hamlet_code), for ``hamlets.map(ref.hamlet_communes)``."""
        return self.hamlets.drop_duplicates("hamlet_code").set_index("hamlet_code")["commune_code"]

    @cached_property
    def unit_codes(self) -> frozenset[str]:
        return frozenset(self.units["unit_code"]) | self.hamlet_codes

    @cached_property
    def indicator_codes(self) -> frozenset[str]:
        return frozenset(self.indicators.index)

    @cached_property
    def form_codes(self) -> frozenset[str]:
        return frozenset(self.questions["form_code"])

    @classmethod
    def from_files(cls, raw_dir: Path, seeds_dir: Path | None = None) -> ReferenceData:
        frames = _read_registry(Path(raw_dir) / "reference")
        return cls._build(frames, Path(seeds_dir) if seeds_dir else _seeds_for(raw_dir))

    @classmethod
    def _build(cls, frames: dict[str, pd.DataFrame], seeds_dir: Path) -> ReferenceData:
        h = frames["hamlets.csv"]
        hamlets = pd.DataFrame(
            {
                "hamlet_code": h["hamlet_code"].astype(str).str.upper(),
                "commune_code": h["commune_code"].astype(str),
                "name": h["name"].astype(str),
                "valid_from": pd.to_datetime(h["valid_from"]),
                "valid_to": pd.to_datetime(h["valid_to"]),
            }
        )
        hamlets["name_key"] = hamlet_name_key(hamlets["name"])
        u = frames["reporting_units.csv"]
        units = pd.DataFrame(
            {
                "unit_code": u["unit_code"].astype(str).str.upper(),
                "commune_code": u["commune_code"].astype(str),
                "unit_type": u["unit_type"].astype(str),
                "valid_from": pd.to_datetime(u["valid_from"]),
                "valid_to": pd.to_datetime(u["valid_to"]),
            }
        )
        ind = _read_csv(
            seeds_dir / "indicators.csv",
            ("indicator_code", "value_type", "level", "min_value", "max_value", *RULE_COLUMNS),
        )
        indicators = pd.DataFrame(
            {
                "value_type": ind["value_type"].str.lower().to_numpy(),
                "level": ind["level"].str.lower().to_numpy(),
                "min_value": pd.to_numeric(ind["min_value"].replace("", None), errors="coerce").to_numpy(),
                "max_value": pd.to_numeric(ind["max_value"].replace("", None), errors="coerce").to_numpy(),
                **{c: ind[c].astype(str).str.strip().str.lower().to_numpy() for c in RULE_COLUMNS},
            },
            index=pd.Index(ind["indicator_code"].astype(str).str.upper(), name="indicator_code"),
        )
        for c, allowed in RULE_COLUMNS.items():
            bad = sorted(set(indicators[c]) - allowed)
            if bad:
                raise ReferenceError(f"indicators.csv: column {c} has unknown values {bad}")
        needs_weight = indicators["missing_fraction_rule"] == "derive_from_weight"
        if (needs_weight & (indicators["fraction_weight"] == "")).any():
            raise ReferenceError("indicators.csv: derive_from_weight needs a fraction_weight")
        if indicators.index.duplicated().any():
            raise ReferenceError("indicators.csv: duplicate indicator_code")
        bad_types = set(indicators["value_type"]) - {"count", "percent", "ratio", "yesno"}
        if bad_types:
            raise ReferenceError(f"indicators.csv: unknown value_type {sorted(bad_types)}")
        tasks = _read_csv(seeds_dir / "plan_tasks.csv", ("task_code",))
        qs = _read_csv(seeds_dir / "survey_questions.csv", ("form_code", "question_code", "question_no"))
        questions = pd.DataFrame(
            {
                "form_code": qs["form_code"].astype(str).str.upper(),
                "question_no": pd.to_numeric(qs["question_no"]).astype("int64"),
                "question_code": qs["question_code"].astype(str),
            }
        )
        communes = set(hamlets["commune_code"]) | set(units["commune_code"])
        pop = frames["hamlet_population.csv"]
        households = {
            (str(h).upper(), int(y)): int(n)
            for h, y, n in zip(pop["hamlet_code"], pop["year"], pop["households"], strict=True)
            if pd.notna(y) and pd.notna(n)
        }
        reporters = frozenset(
            (str(unit).upper(), code.upper())
            for unit, listed in zip(u["unit_code"], u["reports_for_hamlets"], strict=True)
            for code in re.split(r"[;,\s]+", str(listed or ""))
            if code
        )
        return cls(
            hamlets=hamlets,
            units=units,
            indicators=indicators,
            task_codes=frozenset(tasks["task_code"].astype(str).str.upper()),
            questions=questions,
            commune_codes=frozenset(communes),
            households=households,
            reporters=reporters,
        )


def _seeds_for(raw_dir: Path) -> Path:
    local = Path(raw_dir).resolve().parent / "dbt_project" / "seeds"
    return local if (local / "indicators.csv").is_file() else DEFAULT_SEEDS


def _read_registry(ref_dir: Path) -> dict[str, pd.DataFrame]:
    frames: dict[str, pd.DataFrame] = {}
    for fname, (_table, required, types) in REGISTRY.items():
        df = _read_csv(ref_dir / fname, required)
        typed = _typed(df, types, fname)
        frames[fname] = typed
    h = frames["hamlets.csv"]
    if h["hamlet_key"].duplicated().any():
        raise ReferenceError("hamlets.csv: duplicate hamlet_key")
    u = frames["reporting_units.csv"]
    if u.duplicated(["unit_code", "valid_from"]).any():
        raise ReferenceError("reporting_units.csv: duplicate (unit_code, valid_from)")
    return frames


def load_reference(
    con: duckdb.DuckDBPyConnection, raw_dir: Path, seeds_dir: Path | None = None
) -> ReferenceData:
    """Replace raw.hamlets / hamlet_population / hamlet_crosswalk / reporting_units from
    ``raw_dir/reference`` (one transaction) and return the validators' :class:`ReferenceData`."""
    ensure_warehouse_schema(con)
    ref_dir = Path(raw_dir) / "reference"
    frames = _read_registry(ref_dir)
    con.begin()
    try:
        for fname, (table, required, _types) in REGISTRY.items():
            path = ref_dir / fname
            df = frames[fname]
            columns = [*required, *OPTIONAL.get(fname, ())]
            out = df[columns].copy()
            for c in columns:
                if out[c].dtype == object:
                    out[c] = out[c].replace("", None)
            out["_file_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
            out["_source_file"] = path.relative_to(raw_dir).as_posix()
            out["_source_row"] = range(2, len(out) + 2)
            con.execute(f"delete from {table}")
            insert_frame(con, table, out)
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return ReferenceData._build(frames, Path(seeds_dir) if seeds_dir else _seeds_for(raw_dir))
