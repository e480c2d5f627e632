"""Builders of the ingest tests (importable by name, unlike conftest): a tmp raw dir with a tiny reference
set and seeds written inline, and template rows and files."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

from pipeline.ingest.sources.ocop.template import OCOP
from pipeline.ingest.sources.submissions.template import SUBMISSION

TODAY = date(2026, 11, 20)
SALT = "test-salt"

REFERENCE = {
    "hamlets.csv": """hamlet_key,hamlet_code,commune_code,name,hamlet_type,valid_from,valid_to
1,18484-T01,18484,Tổ dân phố Trung Hòa,to_dan_pho,2020-01-01,
2,18484-T05,18484,Thôn Bắc Sơn,thon,2020-01-01,
3,18484-T09,18484,Thôn Hòa Bình,thon,2020-01-01,2025-09-30
4,18484-T09,18484,Thôn Hòa Thịnh,thon,2025-10-01,
5,18484-T21,18484,Thôn Kim Sơn,thon,2020-01-01,2025-06-30
""",
    "hamlet_population.csv": """hamlet_code,year,households,population
18484-T01,2026,341,1237
18484-T05,2026,200,800
""",
    "hamlet_crosswalk.csv": """predecessor_code,successor_code,change_type,effective_date,population_share
18484-T09,18484-T09,rename,2025-10-01,1.0
""",
    # KT may report the hamlets' values (roll-up rule 7.4: listed in reports_for_hamlets); VP may not
    "reporting_units.csv": """unit_code,commune_code,unit_type,abbr,name_vi,name_en,valid_from,valid_to,reports_for_hamlets
18484-KT,18484,economic_dept,KT,Phòng Kinh tế,Economic Department,2025-07-01,,18484-T01;18484-T05; 18484-T09;18484-T21
18484-VP,18484,office,VP,Văn phòng,Office,2025-07-01,,
18484-T01,18484,hamlet,T01,Tổ dân phố Trung Hòa,Trung Hoa,2025-07-01,,
18484-T05,18484,hamlet,T05,Thôn Bắc Sơn,Bac Son,2025-07-01,,
""",
}

SEEDS = {
    "indicators.csv": """indicator_code,criteria_set,criterion_code,name_vi,name_en,unit_vi,unit_en,value_type,level,aggregation,annual_rule,direction,threshold,min_value,max_value,reporter_unit_type,valid_from,valid_to,measure_kind,missing_fraction_rule,fraction_weight,omitted_on_resubmission,hamlet_reporters
CDS.01,KH_CDS_DL,CQS,Tỷ lệ hồ sơ,Dossiers online,%,percent,percent,commune,ratio_of_sums,ratio_of_sums,higher_better,,0,100,office,2026-01-01,2030-12-31,flow,quarantine,,keep_earlier,not_applicable
CDS.07,KH_CDS_DL,CQS,Wi-Fi,Wi-Fi,Có/Không,yes/no,yesno,commune,all_yes,last,higher_better,,0,1,office,2026-01-01,2030-12-31,stock,not_applicable,,keep_earlier,not_applicable
CDS.11,KH_CDS_DL,KTS,Số lớp,Classes,lớp,classes,count,commune,sum,sum,higher_better,,0,10000,office,2026-01-01,2030-12-31,flow,not_applicable,,keep_earlier,not_applicable
CDS.23,KH_CDS_DL,XHS,Tổ CNS,Team,Có/Không,yes/no,yesno,hamlet,share_meeting,last,higher_better,,0,1,hamlet,2026-01-01,2030-12-31,stock,not_applicable,,keep_earlier,own_or_listed
CDS.24,KH_CDS_DL,XHS,Tỷ lệ hộ,Share,%,percent,percent,hamlet,ratio_of_sums,last,higher_better,,0,100,hamlet,2026-01-01,2030-12-31,stock,derive_from_weight,households,keep_earlier,own_or_listed
CDS.25,KH_CDS_DL,XHS,Thiết bị/hộ,Devices per household,thiết bị/hộ,per household,ratio,hamlet,ratio_of_sums,last,higher_better,,0,10,hamlet,2026-01-01,2030-12-31,stock,derive_from_weight,households,keep_earlier,own_or_listed
""",
    "plan_tasks.csv": """task_code,section_code,title_vi,title_en,lead_unit_abbr,coordinating_unit_abbrs,timeframe_start,timeframe_end
I.1,I,Tuyên truyền,Propaganda,VHXH,KT,2026,2030
III.4,III,Vùng nguyên liệu,Material areas,KT,HTX,2026,2030
""",
    "survey_questions.csv": """form_code,question_code,question_no,text_vi,text_en,topic
HL-NTM-2025,Q01,1,Giao thông?,Roads?,roads
HL-NTM-2025,Q02,2,Nước sạch?,Water?,water
HL-NTM-2025,Q03,3,Môi trường?,Environment?,environment
""",
}


def make_raw_dir(tmp_path: Path) -> Path:
    """A raw dir with the tiny reference set, and the seeds in ``tmp_path/dbt_project/seeds``."""
    raw = tmp_path / "raw"
    (raw / "reference").mkdir(parents=True)
    for name, text in REFERENCE.items():
        (raw / "reference" / name).write_text(text, encoding="utf-8")
    seeds = tmp_path / "dbt_project" / "seeds"
    seeds.mkdir(parents=True)
    for name, text in SEEDS.items():
        (seeds / name).write_text(text, encoding="utf-8")
    for s in ("submissions", "surveys", "ocop"):
        (raw / s).mkdir()
    return raw


# ------------------------------------------------------------------------------------------ builders

SUB_HEADER = [c.label_vi for c in SUBMISSION.columns]
OCOP_HEADER = [c.label_vi for c in OCOP.columns]


def sub_row(
    unit="18484-KT",
    period="2026-Q3",
    submitted="14/09/2026 16:30",
    row_type="CT",
    hamlet="",
    indicator="CDS.01",
    value="85",
    num="17",  # CDS.01 is a ratio of sums: its catalog rule quarantines a percent without a fraction
    den="20",
    task="",
    status="",
    pct="",
    note="Số liệu ước tính",
) -> list[str]:
    return [unit, period, submitted, row_type, hamlet, indicator, value, num, den, task, status, pct, note]


def task_row(task="I.1", status="Đang thực hiện", pct="60", **kw) -> list[str]:
    return sub_row(row_type="NV", indicator="", value="", task=task, status=status, pct=pct, **kw)


def csv_text(header: list[str], rows: list[list[str]], sep: str = ",") -> str:
    import csv

    buf = io.StringIO()
    w = csv.writer(buf, delimiter=sep, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def ocop_row(
    pid="OCOP-18484-001",
    name="Nhút Thanh Chương",
    group="1",
    subgroup="Thực phẩm chế biến",
    producer="HTX Nông nghiệp Đồng Lộc",
    ptype="Hợp tác xã",
    hamlet="18484-T05",
    score="72,5",
    stars="4",
    level="Tỉnh",
    cert="123/QĐ-UBND",
    issued="15/08/2024",
    expires="15/08/2027",
    area="VN-42-18484-001",
    url="https://truyxuat.hatinh.gov.vn/sp/001",
    status="Còn hiệu lực",
) -> list[str]:
    return [
        pid,
        name,
        group,
        subgroup,
        producer,
        ptype,
        hamlet,
        score,
        stars,
        level,
        cert,
        issued,
        expires,
        area,
        url,
        status,
    ]


SURVEY_HEADER = [
    "Mã phiếu",
    "Thời gian",
    "Mã xã",
    "Thôn",
    "Mã mẫu phiếu",
    "Họ và tên",
    "Số điện thoại",
    "C1. Giao thông nông thôn",
    "Lý do C1",
    "C2. Nước sạch",
    "C3. Môi trường",
]


def survey_row(
    rid="R-1",
    ts="2025-11-03 09:12:44",
    hamlet="Thôn Bắc Sơn",
    a1="Hài lòng",
    r1="",
    a2="Không hài lòng",
    a3="",
    name="Nguyễn Văn A",
    phone="0912 345 678",
    form="HL-NTM-2025",
    commune="18484",
):
    return [rid, ts, commune, hamlet, form, name, phone, a1, r1, a2, a3]


def xlsx_bytes(rows: list[list]) -> bytes:
    """A one-sheet workbook ("BaoCao") holding ``rows``, as the bytes of an .xlsx file."""
    import io

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "BaoCao"
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
