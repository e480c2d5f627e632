"""A change of one landing source rebuilds only the dbt nodes downstream of that source's raw tables
(pipeline.transform.selection): a survey-only change rebuilds the survey branch and not the indicator facts,
an OCOP-only change the OCOP branch; the quality gate and publish still run, the release carries the change,
and the marts equal those of a build of everything on the same input (EXCEPT ALL both ways)."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.ops._support import copy_state, dbt_built, marts_differences, marts_fingerprint, pipeline_run

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(os.environ.get("NTM_SKIP_OPS_TESTS")), reason="NTM_SKIP_OPS_TESTS is set"),
]

INDICATOR_BRANCH = {"fact_indicator_value", "fact_submission", "fact_task_progress", "mart_hamlet_indicator"}
STEPS = (
    'Finished execution of step "quality_gate"',
    'Finished execution of step "publish__open_data_release"',
)


def _add_survey_responses(raw: Path) -> None:
    """Five new 2026 responses (copies of the first five with new ids, C1 answered 'not satisfied')."""
    src = raw / "surveys" / "khao_sat_hai_long_2026.jsonl"
    out = []
    for i, line in enumerate(src.read_text(encoding="utf-8").splitlines()[:5]):
        row = json.loads(line)
        row["Mã phiếu"] = f"R-2026-9{i:03d}"
        row["Thời gian"] = "2026-11-02 08:00:00"
        for k in row:
            if k.startswith("C1."):
                row[k] = "Không hài lòng"
        out.append(json.dumps(row, ensure_ascii=False))
    (raw / "surveys" / "khao_sat_hai_long_2026_bo_sung.jsonl").write_text("\n".join(out) + "\n", "utf-8")


def _add_ocop_product(raw: Path) -> None:
    """One more OCOP product, in a CSV of the template's columns."""
    header = (raw / "templates" / "ocop.csv").read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    row = {
        "Mã sản phẩm": "OCOP-18484-901",
        "Tên sản phẩm": "Mật ong rừng Đồng Lộc",
        "Nhóm sản phẩm": "1",
        "Phân nhóm": "Thực phẩm chế biến",
        "Chủ thể sản xuất": "HTX Ong mật Đồng Lộc",
        "Loại hình chủ thể": "Hợp tác xã",
        "Mã thôn": "18484-T15",
        "Điểm": "72",
        "Hạng sao": "4",
        "Cấp đánh giá": "Tỉnh",
        "Số giấy chứng nhận": "901/QĐ-UBND",
        "Ngày cấp": "2026-05-20",
        "Ngày hết hạn": "2029-05-20",
        "Mã số vùng nguyên liệu": "",
        "Đường dẫn truy xuất": "",
        "Tình trạng": "Còn hiệu lực",
    }
    with open(raw / "ocop" / "ocop_18484_bo_sung.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerow({k: row.get(k, "") for k in header})


def _release_data(env: dict, dest: Path) -> Path:
    """A copy of the published tables (latest/data/*.parquet)."""
    shutil.copytree((Path(env["NTM_OPEN_DATA_DIR"]) / "latest").resolve() / "data", dest)
    return dest


def _parquet_differences(a: Path, b: Path) -> dict[str, tuple[int, int]]:
    """Per published table: (rows of a EXCEPT ALL b, rows of b EXCEPT ALL a)."""
    names = sorted({p.name for p in a.glob("*.parquet")} | {p.name for p in b.glob("*.parquet")})
    con = duckdb.connect()
    try:
        out = {}
        for n in names:
            if not (a / n).exists() or not (b / n).exists():
                out[n] = (-1, -1)
                continue
            ra, rb = f"read_parquet('{a / n}')", f"read_parquet('{b / n}')"
            out[n] = tuple(
                int(con.execute(f"select count(*) from (from {x} except all from {y})").fetchone()[0])
                for x, y in ((ra, rb), (rb, ra))
            )
        return out
    finally:
        con.close()


def test_a_survey_only_change_rebuilds_the_survey_branch_and_equals_a_full_rebuild(reference, tmp_path):
    env = copy_state(reference, tmp_path)
    # the same Dagster instance too: the tests not run carry their latest evaluation recorded there
    shutil.copytree(reference["env"]["DAGSTER_HOME"], env["DAGSTER_HOME"], dirs_exist_ok=True)
    warehouse = Path(env["NTM_WAREHOUSE"])
    before = marts_fingerprint(warehouse)
    _add_survey_responses(Path(env["NTM_RAW_DIR"]))
    log = tmp_path / "survey.log"
    assert pipeline_run(env, log) == 0, log.read_text(errors="replace")[-4000:]
    text = log.read_text(errors="replace")
    assert "nodes: source:raw.survey_answers+ source:raw.survey_reasons+" in text
    built = dbt_built(log)
    assert {"fact_survey_answer", "mart_satisfaction", "relationships_fact_survey_answer"} <= built
    assert not built & INDICATOR_BRANCH, sorted(built & INDICATOR_BRANCH)
    assert "indicators" not in built  # seeds are not reloaded either
    assert "not rebuilt, their inputs unchanged" in text  # the unchanged models' Outputs, with why
    # the tests not run carry their latest result: no blocking check is left without one
    assert "test result(s) carried from their latest evaluation" in text
    assert "no recorded evaluation" not in text
    assert "emitted no result" not in text, [ln for ln in text.splitlines() if "emitted no result" in ln][:3]
    for step in STEPS:  # the gate and the publish step ran (not skipped) after the partial dbt build
        assert step in text, step
    after = marts_fingerprint(warehouse)
    assert after["mart_satisfaction"] != before["mart_satisfaction"]
    assert {t for t in before if before[t] != after.get(t)} == {"fact_survey_answer", "mart_satisfaction"}
    # the release carries the new answers: its satisfaction table differs from the reference's
    release = _release_data(env, tmp_path / "scoped_release")
    ref_release = (Path(reference["env"]["NTM_OPEN_DATA_DIR"]) / "latest").resolve() / "data"
    assert _parquet_differences(release, ref_release)["mart_satisfaction.parquet"] != (0, 0)

    # the same input built in full (--force): the same marts and the same published tables
    scoped = tmp_path / "scoped.duckdb"
    shutil.copy(warehouse, scoped)
    forced = tmp_path / "forced.log"
    assert pipeline_run(env, forced, args=["--force"]) == 0, forced.read_text(errors="replace")[-4000:]
    assert "fact_indicator_value" in dbt_built(forced)
    diff = marts_differences(scoped, warehouse)
    assert len(diff) >= 19 and all(v == (0, 0) for v in diff.values()), {
        t: v for t, v in diff.items() if v != (0, 0)
    }
    published = _parquet_differences(release, _release_data(env, tmp_path / "forced_release"))
    assert len(published) >= 19 and all(v == (0, 0) for v in published.values()), published


def test_an_ocop_only_change_rebuilds_the_ocop_branch_only(reference, tmp_path):
    env = copy_state(reference, tmp_path)
    warehouse = Path(env["NTM_WAREHOUSE"])
    before = marts_fingerprint(warehouse)
    _add_ocop_product(Path(env["NTM_RAW_DIR"]))
    log = tmp_path / "ocop.log"
    assert pipeline_run(env, log) == 0, log.read_text(errors="replace")[-4000:]
    text = log.read_text(errors="replace")
    assert "nodes: source:raw.ocop_products+ (" in text
    built = dbt_built(log)
    assert {"fact_ocop_certificate", "mart_ocop_portfolio"} <= built
    assert not built & (INDICATOR_BRANCH | {"fact_survey_answer", "mart_satisfaction"}), sorted(built)
    for step in STEPS:
        assert step in text, step
    after = marts_fingerprint(warehouse)
    assert after["fact_ocop_certificate"] != before["fact_ocop_certificate"]
    assert {t for t in before if before[t] != after.get(t)} <= {
        "fact_ocop_certificate",
        "mart_ocop_portfolio",
    }
    release = _release_data(env, tmp_path / "release")
    con = duckdb.connect()
    try:  # the new product is published
        assert con.execute(
            f"select count(*) from read_parquet('{release / 'fact_ocop_certificate.parquet'}') "
            "where product_id = 'OCOP-18484-901'"
        ).fetchone()[0]
    finally:
        con.close()
