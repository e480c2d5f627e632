"""The synthetic-data generator: determinism, the committed sample, size, scale layout, template headers."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from pipeline.ingest.sources.ocop.template import OCOP
from pipeline.ingest.sources.submissions.template import SUBMISSION
from pipeline.synth import generate_sample, generate_scale, generate_templates
from pipeline.synth.blank_templates import survey_form, survey_header
from pipeline.synth.generate import REPO, SEEDS, overlaps, parse_period
from pipeline.synth.sample import SPECIAL_FORMAT

RAW = REPO / "raw"
SAMPLE_DIRS = ("submissions", "surveys", "ocop")


def _digests(root: Path, subdirs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for d in subdirs:
        for p in sorted((root / d).rglob("*")):
            if p.is_file():
                out[p.relative_to(root).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def gen(tmp_path_factory) -> dict:
    runs = []
    for name in ("a", "b"):
        root = tmp_path_factory.mktemp(f"sample_{name}")
        res = generate_sample(root, 18484)
        generate_templates(root / "templates")
        runs.append((root, res))
    return {"a": runs[0][0], "b": runs[1][0], "defects": runs[0][1]["defects"]}


def test_same_seed_gives_identical_bytes(gen):
    a = _digests(gen["a"], (*SAMPLE_DIRS, "templates"))
    b = _digests(gen["b"], (*SAMPLE_DIRS, "templates"))
    assert len(a) > 200
    assert a == b


def test_committed_sample_equals_fresh_generation(gen):
    fresh = _digests(gen["a"], (*SAMPLE_DIRS, "templates"))
    committed = _digests(RAW, (*SAMPLE_DIRS, "templates"))
    missing = sorted(set(fresh) - set(committed))
    extra = sorted(set(committed) - set(fresh))
    changed = sorted(k for k in set(fresh) & set(committed) if fresh[k] != committed[k])
    hint = "regenerate with: python -m pipeline.synth sample && python -m pipeline.synth templates"
    assert not missing and not extra and not changed, (missing[:5], extra[:5], changed[:5], hint)


def test_sample_is_small(gen):
    size = sum(p.stat().st_size for d in SAMPLE_DIRS for p in (gen["a"] / d).rglob("*") if p.is_file())
    assert size < 2 * 1024 * 1024


def _decode(path: Path) -> str:
    from pipeline.lib import text

    rel = path.stem.split("_v")[0]
    unit, period = rel.rsplit("_", 1)
    enc = SPECIAL_FORMAT.get((unit, period), "utf-8")
    b = path.read_bytes()
    if enc == "tcvn3":
        return text.tcvn3_decode(b)
    if enc == "vni":
        return text.vni_decode(b)
    return unicodedata.normalize(
        "NFC",
        b.decode({"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "utf-16": "utf-16", "cp1258": "cp1258"}[enc]),
    )


def test_headers_match_template_labels(gen):
    root = gen["a"]
    sub = [c.label_vi for c in SUBMISSION.columns]
    files = sorted((root / "submissions").rglob("*.*"))
    assert {p.suffix for p in files} == {".csv", ".xlsx"}
    for p in files:
        if p.suffix == ".csv":
            assert next(csv.reader(io.StringIO(_decode(p)))) == sub, p
        else:
            wb = load_workbook(p, read_only=True)
            assert wb.sheetnames == [SUBMISSION.sheet, "HuongDan"]
            assert [c.value for c in next(wb[SUBMISSION.sheet].iter_rows(min_row=4, max_row=4))] == sub, p
    _, q = survey_form(pd.read_csv(SEEDS / "survey_questions.csv", dtype=str))
    survey = survey_header(q)
    assert list(pd.read_csv(root / "surveys" / "khao_sat_hai_long_2025.csv", nrows=0).columns) == survey
    for line in (root / "surveys" / "khao_sat_hai_long_2026.jsonl").read_text(encoding="utf-8").splitlines():
        assert set(json.loads(line)) <= set(survey)
    wb = load_workbook(root / "ocop" / "ocop_18484.xlsx", read_only=True)
    assert [c.value for c in next(wb[OCOP.sheet].iter_rows(min_row=4, max_row=4))] == [
        c.label_vi for c in OCOP.columns
    ]
    for stem, labels in (
        ("bao_cao_dinh_ky", sub),
        ("khao_sat_hai_long", survey),
        ("ocop", [c.label_vi for c in OCOP.columns]),
    ):
        text = (root / "templates" / f"{stem}.csv").read_bytes()
        assert text.startswith(b"\xef\xbb\xbf")
        assert next(csv.reader(io.StringIO(text.decode("utf-8-sig")))) == labels


def test_readme_lists_every_deliberate_defect(gen):
    readme = (RAW / "README.md").read_text(encoding="utf-8")
    for d in gen["defects"]:
        assert re.search(rf"`{re.escape(d.file)}` \| {d.row} \|", readme), d


def test_scale_commune_two_quarters(tmp_path):
    stats = generate_scale(tmp_path, "commune", seed=7, first="2026-Q1", last="2026-Q2")
    assert json.loads((tmp_path / "scale_manifest.json").read_text()) == stats
    hamlets = pd.read_csv(tmp_path / "reference" / "hamlets.csv", dtype=str)
    units = pd.read_csv(tmp_path / "reference" / "reporting_units.csv", dtype=str)
    assert stats["hamlets"] == len(hamlets) and 20 <= len(hamlets) <= 30
    assert set(hamlets["hamlet_code"].str.fullmatch(r"18484-T\d\d")) == {True}
    assert stats["units"] == len(units)
    ind = pd.read_csv(SEEDS / "indicators.csv", dtype=str, keep_default_na=False)
    files = sorted((tmp_path / "submissions" / "2026").glob("*.csv"))
    assert len(files) == stats["submission_files"]
    assert all(re.fullmatch(r"18484-[A-Z0-9]+_2026-Q[12](_v2)?\.csv", p.name) for p in files)
    rows = 0
    for p in files:
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
        assert list(df.columns) == [c.label_vi for c in SUBMISSION.columns]
        unit, period = p.stem.removesuffix("_v2").rsplit("_", 1)
        assert set(df["Mã đơn vị"]) == {unit} and set(df["Kỳ báo cáo"]) == {period}
        if not p.stem.endswith("_v2"):
            rows += len(df)
        if re.fullmatch(r"18484-T\d\d", unit):  # a hamlet reports every hamlet-level indicator once
            per = parse_period(period)
            valid = [
                overlaps(f, t, per.start, per.end)
                for f, t in zip(ind["valid_from"], ind["valid_to"], strict=True)
            ]
            n = int(
                (
                    (ind["level"] == "hamlet") & (ind["reporter_unit_type"] == "hamlet") & pd.Series(valid)
                ).sum()
            )
            assert len(df) == n, p
    assert rows == stats["value_rows"]
    n_unit_periods = stats["units"] * 2
    n_v1 = sum(not p.stem.endswith("_v2") for p in files)
    assert n_v1 + stats["missing"] <= n_unit_periods  # units with nothing to report send no file
    assert sum(p.stem.endswith("_v2") for p in files) == stats["resubmitted"]
    assert (tmp_path / "surveys" / "khao_sat_hai_long_42_2026.csv").exists()
    assert (tmp_path / "ocop" / "ocop_42.csv").exists() or stats["ocop_rows"] == 0
