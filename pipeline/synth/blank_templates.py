"""Blank templates in raw/templates/: CSV (UTF-8 with BOM) and XLSX (title rows, drop-downs, HuongDan sheet).

The header labels come from ``pipeline.ingest.template`` only; survey question columns come from
``dbt_project/seeds/survey_questions.csv`` at run time.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.ingest.sources.ocop.template import OCOP
from pipeline.ingest.sources.submissions.template import SUBMISSION
from pipeline.ingest.sources.surveys.template import SURVEY
from pipeline.ingest.template import Template
from pipeline.synth.generate import (
    TITLE_OCOP,
    TITLE_SUBMISSION,
    TITLE_SURVEY,
    csv_text,
    seed,
    write_bytes,
    write_xlsx_table,
)

REASON_QUESTION_NOS = (1, 4, 7, 10)  # questions that carry a free-text "Lý do C<n>" column
MAX_QUESTIONS = 10

TYPE_TEXT = {
    "text": ("văn bản", "text"),
    "int": ("số nguyên", "integer"),
    "number": ("số (1.234,5 hoặc 1,234.5)", "number (1.234,5 or 1,234.5)"),
    "percent": ("phần trăm 0-100 (85 hoặc 85%)", "percent 0-100 (85 or 85%)"),
    "date": ("ngày (dd/mm/yyyy)", "date (dd/mm/yyyy)"),
    "datetime": ("ngày giờ (dd/mm/yyyy HH:MM)", "date-time (dd/mm/yyyy HH:MM)"),
    "period": ("kỳ (YYYY-Qn hoặc YYYY)", "period (YYYY-Qn or YYYY)"),
    "yesno": ("có/không", "yes/no"),
    "answer": ("Hài lòng / Không hài lòng", "satisfied / not satisfied"),
}

MEANING = {
    "unit_code": (
        "Mã đơn vị báo cáo (thôn báo cáo bằng mã thôn)",
        "Reporting unit (hamlets use their hamlet code)",
    ),
    "period": ("Kỳ báo cáo: quý YYYY-Qn hoặc năm YYYY", "Reporting period: quarter YYYY-Qn or year YYYY"),
    "submitted_at": (
        "Thời điểm đơn vị gửi báo cáo; dùng để chọn bản mới nhất",
        "When the unit sent the report; decides the latest version",
    ),
    "row_type": (
        "CT = dòng chỉ tiêu, NV = dòng tiến độ nhiệm vụ",
        "CT = indicator value row, NV = task progress row",
    ),
    "hamlet_code": (
        "Mã thôn; để trống với chỉ tiêu cấp xã",
        "Hamlet code; blank for commune-level indicators",
    ),
    "indicator_code": ("Mã chỉ tiêu theo danh mục (dòng CT)", "Indicator code from the catalogue (CT rows)"),
    "value": (
        "Giá trị chỉ tiêu; có/không ghi có/không, x, 1/0",
        "Indicator value; yes/no as có/không, x, 1/0",
    ),
    "numerator": ("Tử số (chỉ tiêu tỷ lệ)", "Numerator (ratio indicators)"),
    "denominator": ("Mẫu số (chỉ tiêu tỷ lệ)", "Denominator (ratio indicators)"),
    "task_code": ("Mã nhiệm vụ trong Phụ lục kế hoạch (dòng NV)", "Plan appendix task code (NV rows)"),
    "task_status": ("Trạng thái thực hiện nhiệm vụ", "Task status"),
    "percent_done": ("Phần trăm khối lượng đã hoàn thành", "Share of the task done"),
    "note": ("Ghi chú tự do", "Free note"),
    "response_id": ("Mã phiếu do công cụ khảo sát sinh ra", "Response id from the survey tool"),
    "commune_code": ("Mã xã (5 chữ số)", "Commune code (5 digits)"),
    "hamlet": ("Tên hoặc mã thôn của hộ trả lời", "Respondent household's hamlet, name or code"),
    "form_code": ("Mã mẫu phiếu khảo sát", "Survey form code"),
    "respondent_name": (
        "Họ tên người trả lời — dữ liệu cá nhân, được băm khi nạp",
        "Respondent name — personal data, hashed at ingest",
    ),
    "respondent_phone": (
        "Số điện thoại — dữ liệu cá nhân, được băm khi nạp",
        "Phone — personal data, hashed at ingest",
    ),
    "product_id": ("Mã sản phẩm do xã/huyện quản lý", "Product id of the local record"),
    "product_name": ("Tên sản phẩm OCOP", "OCOP product name"),
    "group_code": ("Nhóm sản phẩm 1-6 theo QĐ 148/QĐ-TTg", "Product group 1-6 (QĐ 148/QĐ-TTg)"),
    "subgroup": ("Phân nhóm sản phẩm", "Product subgroup"),
    "producer_name": ("Tên chủ thể sản xuất", "Producer name"),
    "producer_type": ("Loại hình chủ thể", "Producer type"),
    "score": ("Tổng điểm đánh giá 0-100", "Total rating score 0-100"),
    "stars": ("Hạng sao: 5★ 90-100, 4★ 70-89, 3★ 50-69", "Stars: 5★ 90-100, 4★ 70-89, 3★ 50-69"),
    "rating_level": ("Cấp đánh giá, công nhận", "Level that rated the product"),
    "certificate_no": ("Số quyết định / giấy chứng nhận", "Certificate / decision number"),
    "issued_on": ("Ngày cấp giấy chứng nhận", "Certificate issue date"),
    "expires_on": ("Ngày hết hạn = ngày cấp + 36 tháng", "Expiry date = issue date + 36 months"),
    "material_area_code": ("Mã số vùng nguyên liệu (nếu có)", "Raw-material area code (if any)"),
    "traceability_url": ("Đường dẫn truy xuất nguồn gốc", "Traceability link"),
    "status": ("Tình trạng giấy chứng nhận", "Certificate status"),
}


def survey_form(questions: pd.DataFrame, year: int | None = None) -> tuple[str, pd.DataFrame]:
    """The survey form used for a year (the form whose code ends in the year, else the latest form)."""
    forms = sorted(questions["form_code"].unique())
    form = next((f for f in forms if year is not None and f.endswith(str(year))), forms[-1])
    q = questions[questions["form_code"] == form].copy()
    q["no"] = q["question_no"].astype(int)
    q = q.sort_values("no").head(MAX_QUESTIONS).reset_index(drop=True)
    return form, q


def question_header(no: int, text_vi: str) -> str:
    return f"C{no}. {text_vi}"


def reason_header(no: int) -> str:
    return f"Lý do C{no}"


def survey_header(q: pd.DataFrame) -> list[str]:
    """Fixed survey columns, then per question its answer column and (for a few) its reason column."""
    header = [c.label_vi for c in SURVEY.columns]
    for no, text in zip(q["no"], q["text_vi"], strict=True):
        header.append(question_header(int(no), text))
        if int(no) in REASON_QUESTION_NOS:
            header.append(reason_header(int(no)))
    return header


def instruction_rows(t: Template, extra: list[tuple[str, str, str, str, str]] = ()) -> list[list[object]]:
    """The bilingual "HuongDan" sheet: one row per column with code, type, required, allowed, example."""
    rows: list[list[object]] = [
        [f"HƯỚNG DẪN ĐIỀN MẪU / HOW TO FILL IN: {t.name_vi} / {t.name_en}"],
        [
            f"Điền dữ liệu vào sheet '{t.sheet}' từ dòng 5, không sửa dòng tiêu đề (dòng 4). "
            f"Fill in sheet '{t.sheet}' from row 5; do not change the header row (row 4)."
        ],
        [
            "Số: 1.234,5 hoặc 1,234.5; phần trăm: 85 hoặc 85%; ngày: dd/mm/yyyy hoặc yyyy-mm-dd. "
            "Numbers: 1.234,5 or 1,234.5; percent: 85 or 85%; dates: dd/mm/yyyy or yyyy-mm-dd."
        ],
        [],
        [
            "Cột / Column",
            "Mã / Code",
            "Kiểu / Type",
            "Bắt buộc / Required",
            "Giá trị cho phép / Allowed values",
            "Ví dụ / Example",
            "Ý nghĩa / Meaning",
        ],
    ]
    for c in t.columns:
        tv, te = TYPE_TEXT[c.type]
        mv, me = MEANING.get(c.code, (c.label_vi, c.label_en))
        rows.append(
            [
                c.label_vi,
                c.code,
                f"{tv} / {te}",
                "Có / Yes" if c.required else "Không / No",
                "; ".join(c.allowed),
                c.example,
                f"{mv} / {me}",
            ]
        )
    for label, code, typ, allowed, meaning in extra:
        rows.append([label, code, " / ".join(TYPE_TEXT[typ]), "Không / No", allowed, "", meaning])
    return rows


def _validations(t: Template, header: list[str]) -> dict[int, list[str]]:
    return {header.index(c.label_vi): list(c.allowed) for c in t.columns if c.allowed}


def write_templates(out: Path, seeds_dir: Path | None = None) -> list[Path]:
    """Write the six blank templates; returns their paths."""
    out = Path(out)
    questions = seed("survey_questions.csv", seeds_dir)
    form, q = survey_form(questions)
    specs = [
        (
            "bao_cao_dinh_ky",
            SUBMISSION,
            [c.label_vi for c in SUBMISSION.columns],
            TITLE_SUBMISSION,
            "Mẫu báo cáo quý và năm của các đơn vị, thôn; hạn nộp: hết ngày 15 của tháng cuối quý (15/3, 15/6, 15/9, 15/12; báo cáo năm: 15/12), tức đến 23:59:59 giờ Asia/Ho_Chi_Minh",
            [],
        ),
        (
            "khao_sat_hai_long",
            SURVEY,
            survey_header(q),
            TITLE_SURVEY,
            f"Mẫu xuất dữ liệu từ công cụ khảo sát — mẫu phiếu {form}",
            _survey_extra(q),
        ),
        (
            "ocop",
            OCOP,
            [c.label_vi for c in OCOP.columns],
            TITLE_OCOP,
            "Danh sách sản phẩm OCOP được công nhận trên địa bàn xã",
            [],
        ),
    ]
    paths = []
    for stem, t, header, title, subtitle, extra in specs:
        p = out / f"{stem}.csv"
        write_bytes(p, csv_text(header, []).encode("utf-8-sig"))
        paths.append(p)
        p = out / f"{stem}.xlsx"
        validations = _validations(t, header)
        if t is SURVEY:
            answers = ["Hài lòng", "Không hài lòng"]
            validations.update({j: answers for j, h in enumerate(header) if h[:1] == "C" and ". " in h})
        write_xlsx_table(p, t.sheet, title, subtitle, header, [], instruction_rows(t, extra), validations)
        paths.append(p)
    return paths


def _survey_extra(q: pd.DataFrame) -> list[tuple[str, str, str, str, str]]:
    out = []
    for no, code, text_vi, text_en in zip(
        q["no"], q["question_code"], q["text_vi"], q["text_en"], strict=True
    ):
        out.append(
            (
                question_header(int(no), text_vi),
                code,
                "answer",
                "Hài lòng; Không hài lòng; Chưa hài lòng; 1; 0; x",
                f"Câu hỏi {no} / Question {no}: {text_en}",
            )
        )
        if int(no) in REASON_QUESTION_NOS:
            out.append(
                (
                    reason_header(int(no)),
                    f"{code}_reason",
                    "text",
                    "",
                    "Lý do (văn bản tự do, không công bố) / Reason (free text, never published)",
                )
            )
    return out
