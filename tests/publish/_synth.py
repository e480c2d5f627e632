"""Synthetic marts for the publish tests (importable from a subprocess: no pytest imports)."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.publish import TableSpec, publish_release, suppress_satisfaction

HAMLETS = [
    ("18484-T01", "Thôn Trung Thượng", "thon"),
    ("18484-T02", "Thôn Đông Hà", "thon"),
    ("18484-T03", "Tổ dân phố Hòa Bình", "to_dan_pho"),
]
INDICATORS = [f"CDS.{i:02d}" for i in range(1, 11)]
PERIODS = ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]


def build_warehouse(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists marts")
    con.execute(
        "create or replace table marts.dim_hamlet (hamlet_code varchar primary key, commune_code varchar, "
        "name varchar, hamlet_type varchar, valid_from date)"
    )
    con.executemany(
        "insert into marts.dim_hamlet values (?, '18484', ?, ?, date '2025-07-01')",
        [list(h) for h in HAMLETS],
    )
    rows = []
    for pi, p in enumerate(PERIODS):
        for hi, (h, _, _) in enumerate(HAMLETS):
            for ii, ind in enumerate(INDICATORS):
                v = float((pi * 7 + hi * 13 + ii * 3) % 100)
                rows.append((ind, p, h, v, round(v / 3, 4), datetime(2026, 3 * (pi + 1), 15, 8, 30), v >= 50))
    con.execute(
        "create or replace table marts.fact_indicator_value (indicator_code varchar, period_code varchar, "
        "hamlet_code varchar, value double, value_dec decimal(18, 4), computed_at timestamp, meets_target boolean)"
    )
    con.executemany("insert into marts.fact_indicator_value values (?, ?, ?, ?, ?, ?, ?)", rows)
    # nulls of every type must survive the readers and Frictionless
    con.execute(
        "update marts.fact_indicator_value set value = null, value_dec = null, computed_at = null, "
        "meets_target = null where indicator_code = 'CDS.10' and period_code = '2026-Q4'"
    )
    con.execute("update marts.dim_hamlet set valid_from = null where hamlet_code = '18484-T03'")

    cells = pd.DataFrame(
        {
            "commune_code": "18484",
            "period_code": "2026",
            "question_code": ["Q01"] * 3 + ["Q02"] * 3,
            "hamlet_code": [h[0] for h in HAMLETS] * 2,
            "respondents": [12, 3, 20, 30, 25, 40],
            "satisfied": [10, 2, 15, 28, 20, 39],
        }
    )
    sup = suppress_satisfaction(
        cells,
        group_cols=["commune_code", "period_code", "question_code"],
        cell_col="hamlet_code",
        block_cols=["commune_code", "period_code"],
    )
    con.register("sup_df", sup)
    con.execute(
        "create or replace table marts.fact_satisfaction as select commune_code, period_code, question_code, "
        "hamlet_code, respondents::integer as respondents, satisfied::integer as satisfied, suppressed, "
        "suppression_reason from sup_df"
    )
    con.close()


def specs() -> list[TableSpec]:
    return [
        TableSpec(
            name="dim_hamlet",
            sql="select * from marts.dim_hamlet",
            title_vi="Danh mục thôn, tổ dân phố",
            title_en="Hamlets",
            description_vi="Các thôn, tổ dân phố của xã.",
            description_en="The commune's hamlets.",
            fields={
                "hamlet_code": ("Mã thôn", "Hamlet code"),
                "commune_code": ("Mã xã", "Commune code"),
                "name": ("Tên thôn", "Hamlet name"),
                "hamlet_type": ("Loại", "Type"),
                "valid_from": ("Hiệu lực từ", "Valid from"),
            },
            primary_key=["hamlet_code"],
        ),
        TableSpec(
            name="fact_indicator_value",
            sql="select * from marts.fact_indicator_value",
            title_vi="Giá trị chỉ tiêu theo kỳ",
            title_en="Indicator values by period",
            fields={
                "indicator_code": ("Mã chỉ tiêu", "Indicator code"),
                "period_code": ("Kỳ báo cáo", "Period"),
                "hamlet_code": ("Mã thôn", "Hamlet code"),
                "value": ("Giá trị", "Value"),
                "value_dec": ("Giá trị (thập phân)", "Value (decimal)"),
                "computed_at": ("Thời điểm tính", "Computed at"),
                "meets_target": ("Đạt mục tiêu", "Meets the target"),
            },
            primary_key=["indicator_code", "period_code", "hamlet_code"],
            foreign_keys=[(["hamlet_code"], "dim_hamlet", ["hamlet_code"])],
            partition_by="period_code",
        ),
        TableSpec(
            name="fact_satisfaction",
            sql="select * from marts.fact_satisfaction",
            title_vi="Kết quả khảo sát sự hài lòng",
            title_en="Satisfaction survey results",
            fields={
                "commune_code": ("Mã xã", "Commune code"),
                "period_code": ("Năm khảo sát", "Survey year"),
                "question_code": ("Mã câu hỏi", "Question code"),
                "hamlet_code": ("Mã thôn", "Hamlet code"),
                "respondents": ("Số hộ trả lời", "Responding households"),
                "satisfied": (
                    "Số hộ hài lòng (rỗng nếu bị che)",
                    "Satisfied households (null if suppressed)",
                ),
                "suppressed": ("Bị che theo quy tắc bảo mật", "Suppressed by the disclosure rule"),
                "suppression_reason": ("Lý do che", "Suppression reason"),
            },
            primary_key=["commune_code", "period_code", "question_code", "hamlet_code"],
            foreign_keys=[(["hamlet_code"], "dim_hamlet", ["hamlet_code"])],
        ),
    ]


def publish(db: Path, open_data: Path, **kw):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return publish_release(con, specs(), open_data, partition_min_rows=50, **kw)
    finally:
        con.close()


if __name__ == "__main__":  # used by the crash test: python _synth.py <db> <open_data>
    res = publish(Path(sys.argv[1]), Path(sys.argv[2]), is_synthetic=True)
    print(res.release_id)
