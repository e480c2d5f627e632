"""The unit periodic report template (sheet ``BaoCao``): its columns and the task-status codes it accepts."""

from __future__ import annotations

from pipeline.ingest.template import Column, Template

SUBMISSION = Template(
    source="submissions",
    name_vi="Báo cáo định kỳ của đơn vị",
    name_en="Unit periodic report",
    sheet="BaoCao",
    columns=(
        Column(
            "unit_code",
            "Mã đơn vị",
            "Unit code",
            "text",
            True,
            example="18484-KT",
            aliases=("ma don vi", "don vi"),
        ),
        Column(
            "period",
            "Kỳ báo cáo",
            "Reporting period",
            "period",
            True,
            example="2026-Q3",
            aliases=("ky bao cao", "ky"),
        ),
        Column(
            "submitted_at",
            "Thời điểm gửi",
            "Submitted at",
            "datetime",
            True,
            example="14/09/2026 16:30",
            aliases=("thoi diem gui", "ngay gui"),
        ),
        Column(
            "row_type",
            "Loại dòng",
            "Row type",
            "text",
            True,
            allowed=("CT", "NV"),
            example="CT",
            aliases=("loai dong",),
        ),
        Column(
            "hamlet_code", "Mã thôn", "Hamlet code", "text", example="18484-T07", aliases=("ma thon", "thon")
        ),
        Column(
            "indicator_code",
            "Mã chỉ tiêu",
            "Indicator code",
            "text",
            example="CDS.05",
            aliases=("ma chi tieu",),
        ),
        Column("value", "Giá trị", "Value", "number", example="85%", aliases=("gia tri",)),
        Column("numerator", "Tử số", "Numerator", "number", example="17", aliases=("tu so",)),
        Column("denominator", "Mẫu số", "Denominator", "number", example="20", aliases=("mau so",)),
        Column("task_code", "Mã nhiệm vụ", "Task code", "text", example="III.4", aliases=("ma nhiem vu",)),
        Column(
            "task_status",
            "Trạng thái",
            "Task status",
            "text",
            allowed=("Chưa thực hiện", "Đang thực hiện", "Hoàn thành", "Chậm tiến độ"),
            example="Đang thực hiện",
            aliases=("trang thai",),
        ),
        Column(
            "percent_done",
            "% hoàn thành",
            "Percent done",
            "percent",
            example="60",
            aliases=("ty le hoan thanh", "phan tram hoan thanh"),
        ),
        Column("note", "Ghi chú", "Note", "text", example="Số liệu ước tính", aliases=("ghi chu",)),
    ),
    optional_columns=(
        # Roll-up rule 7.3 (raw/README.md): a resubmission replaces only the indicators it carries, unless
        # one of its rows says "có" here; then it replaces the unit's whole earlier report for the period.
        Column(
            "replace_all",
            "Thay thế toàn bộ",
            "Replace all",
            "yesno",
            allowed=("có", "không"),
            example="có",
            aliases=("thay the toan bo", "thay the tat ca", "replace_all"),
        ),
    ),
)

TASK_STATUS_CODES = {
    "Chưa thực hiện": "not_started",
    "Đang thực hiện": "in_progress",
    "Hoàn thành": "done",
    "Chậm tiến độ": "overdue",
}
