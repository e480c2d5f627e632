"""The satisfaction-survey export template (sheet ``Responses``): its fixed columns; the wide question columns
("C<n>. …", "Lý do C<n>") follow the shared patterns of pipeline.ingest.template."""

from __future__ import annotations

from pipeline.ingest.template import Column, Template

SURVEY_FIXED = (
    Column(
        "response_id",
        "Mã phiếu",
        "Response id",
        "text",
        True,
        example="R-000123",
        aliases=("ma phieu", "id", "response id"),
    ),
    Column(
        "submitted_at",
        "Thời gian",
        "Submitted at",
        "datetime",
        True,
        example="2025-11-03 09:12:44",
        aliases=("thoi gian", "timestamp", "dấu thời gian", "dau thoi gian"),
    ),
    Column("commune_code", "Mã xã", "Commune code", "text", example="18484", aliases=("ma xa",)),
    Column(
        "hamlet",
        "Thôn",
        "Hamlet (name or code)",
        "text",
        True,
        example="Thôn Trung Hòa",
        aliases=("thon", "thôn/tổ dân phố", "thon/to dan pho"),
    ),
    Column(
        "form_code",
        "Mã mẫu phiếu",
        "Form code",
        "text",
        True,
        example="HL-NTM-2025",
        aliases=("ma mau phieu", "form"),
    ),
    Column(
        "period",
        "Kỳ khảo sát",
        "Survey period (year)",
        "period",
        example="2025",
        aliases=("ky khao sat", "nam"),
    ),
    Column(
        "respondent_name",
        "Họ và tên",
        "Respondent name (personal data)",
        "text",
        example="Nguyễn Văn A",
        aliases=("ho va ten", "ho ten"),
    ),
    Column(
        "respondent_phone",
        "Số điện thoại",
        "Respondent phone (personal data)",
        "text",
        example="0912345678",
        aliases=("so dien thoai", "dien thoai"),
    ),
)
SURVEY_ANSWERS_SATISFIED = ("Hài lòng", "1", "x", "X", "Có", "Yes", "TRUE")
SURVEY_ANSWERS_NOT_SATISFIED = ("Không hài lòng", "Chưa hài lòng", "0", "Không", "No", "FALSE")
# A blank answer means "not answered" (no row), not "not satisfied", except on forms where the tool
# exports ticks (x / blank): there a blank is "not satisfied" only when at least one tick is in the row.

SURVEY = Template(
    source="surveys",
    name_vi="Phiếu khảo sát sự hài lòng (xuất từ công cụ khảo sát)",
    name_en="Satisfaction survey export",
    sheet="Responses",
    columns=SURVEY_FIXED,
)
