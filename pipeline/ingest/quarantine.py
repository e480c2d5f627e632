"""Reason-code catalog (Vietnamese + English) and vectorised builders of ``audit.quarantine`` rows.

A quarantine record names one problem of one row: the file, the row number a person sees, the column,
the raw value and a reason code with a message a data officer understands. A row can carry several
records; it is then quarantined whole (never partly loaded).
"""

from __future__ import annotations

import pandas as pd

# code -> (message_vi, message_en)
REASONS: dict[str, tuple[str, str]] = {
    # whole-file rejections
    "empty_file": ("Tệp rỗng, không có dữ liệu.", "The file is empty."),
    "header_only": (
        "Tệp chỉ có dòng tiêu đề, không có dòng dữ liệu.",
        "The file has a header but no data rows.",
    ),
    "binary_file": (
        "Nội dung tệp là dữ liệu nhị phân không rõ loại (không phải văn bản, không phải bảng tính).",
        "The file's content is binary data of no known type (neither text nor a spreadsheet).",
    ),
    "undecodable_text": (
        "Không nhận dạng được bảng mã ký tự của tệp.",
        "The text encoding of the file could not be recognised.",
    ),
    "truncated_file": (
        "Tệp bảng tính bị hỏng hoặc bị cắt cụt, không mở được.",
        "The spreadsheet is corrupt or truncated and cannot be opened.",
    ),
    "no_header": (
        "Không tìm thấy dòng tiêu đề theo mẫu biểu trong 20 dòng đầu.",
        "No header row matching the template was found in the first 20 rows.",
    ),
    "missing_required_columns": (
        "Thiếu cột bắt buộc theo mẫu biểu.",
        "Required template columns are missing.",
    ),
    "unsupported_format": (
        "Nội dung tệp không phải CSV, XLSX hay JSON (ví dụ PDF, ảnh, .xls cũ, .docx), hoặc là tệp đang tải "
        "dở / tệp tạm (.part, .tmp, .crdownload, .swp, ~).",
        "The file's content is not CSV, XLSX or JSON (e.g. PDF, an image, an old .xls, a .docx), or it is "
        "an unfinished download / temporary file (.part, .tmp, .crdownload, .swp, ~).",
    ),
    "duplicate_column": (
        "Dòng tiêu đề có cùng một cột hai lần (sau khi chuẩn hoá tên cột); tệp bị từ chối để không cột nào "
        "bị bỏ qua âm thầm.",
        "The header names the same column twice (after header normalisation); the file is rejected so "
        "that no column is dropped silently.",
    ),
    "file_too_large": (
        "Tệp vượt giới hạn (dung lượng tệp, số dòng, hoặc dung lượng giải nén của một phần XLSX); "
        "không được đọc.",
        "The file exceeds a limit (file size, rows, or the uncompressed size of an XLSX part); it was not "
        "read.",
    ),
    # files no source reads (audit.ingest_files status reference / ignored / not_ingested)
    "reference_file": (
        "Danh mục trong raw/reference/, được nạp ở bước danh mục (raw.hamlets ...).",
        "Registry file of raw/reference/, loaded by the registry step (raw.hamlets ...).",
    ),
    "template_file": (
        "Mẫu trắng (thư mục templates/), không phải dữ liệu; không nạp.",
        "Blank template (a templates/ folder), not data; not loaded.",
    ),
    "documentation": (
        "Tài liệu (README, .md), không phải dữ liệu; không nạp.",
        "Documentation (README, .md), not data; not loaded.",
    ),
    "hidden_file": (
        "Tệp ẩn (tên bắt đầu bằng '.' hoặc '~$', hoặc nằm trong thư mục ẩn); không nạp. Nếu là dữ liệu, "
        "hãy đổi tên.",
        "Hidden file (name starts with '.' or '~$', or inside a hidden folder); not loaded. If it is data, "
        "rename it.",
    ),
    "unknown_location": (
        "Tệp nằm ngoài các thư mục submissions/, surveys/, ocop/, dhis2/ (trực tiếp trong raw/ hoặc trong "
        "thư mục lạ); không nạp. Hãy chuyển vào đúng thư mục.",
        "The file is outside submissions/, surveys/, ocop/ and dhis2/ (directly in raw/ or in an unknown "
        "folder); not loaded. Move it into the right folder.",
    ),
    "symlink_escape": (
        "Liên kết tượng trưng trỏ ra ngoài thư mục dữ liệu gốc; không được đọc.",
        "Symbolic link points outside the raw data folder; it was not followed.",
    ),
    "unreadable_file": ("Không đọc được tệp (quyền truy cập hoặc lỗi đọc).", "The file cannot be read."),
    "malformed_json": ("Tệp JSON không đúng cú pháp.", "The JSON file is not valid JSON."),
    # hamlet boundaries (raw/reference/hamlet_boundaries.geojson, pipeline.ingest.sources.reference.boundaries)
    "malformed_geojson": (
        "Tệp ranh giới không đúng GeoJSON (cần một FeatureCollection, mỗi phần tử là Feature có properties).",
        "The boundary file is not valid GeoJSON (expected a FeatureCollection of Features with properties).",
    ),
    "unparseable_crs": (
        "Không nhận dạng được hệ toạ độ (thành phần crs), ví dụ đúng: urn:ogc:def:crs:EPSG::3405 hoặc EPSG:9210.",
        "The coordinate reference system (crs member) cannot be recognised; e.g. urn:ogc:def:crs:EPSG::3405 or "
        "EPSG:9210.",
    ),
    "not_a_polygon": (
        "Hình học không phải Polygon hoặc MultiPolygon (hoặc bị thiếu).",
        "The geometry is not a Polygon or MultiPolygon (or it is missing).",
    ),
    "invalid_geometry": (
        "Đa giác không hợp lệ (tự cắt, vòng không khép, toạ độ sai hoặc ngoài phạm vi WGS84 sau khi đổi hệ toạ độ).",
        "Invalid polygon (self-intersection, unclosed ring, bad coordinates, or outside WGS84 range after the "
        "CRS conversion).",
    ),
    "invalid_date_range": (
        "Ngày hết hiệu lực (valid_to) trước ngày bắt đầu hiệu lực (valid_from).",
        "valid_to is before valid_from.",
    ),
    "boundary_no_hamlet_version": (
        "Thời gian hiệu lực của ranh giới không trùng phiên bản nào của thôn trong hamlets.csv.",
        "The boundary's validity overlaps no version of this hamlet in hamlets.csv.",
    ),
    "duplicate_boundary": (
        "Hai ranh giới trở lên cho cùng một phiên bản thôn (hiệu lực chồng lấn); không ranh giới nào được "
        "chọn thay người dùng, cả hai bị cách ly.",
        "Two or more boundaries for the same hamlet version (overlapping validity); none is picked, all of "
        "them are quarantined.",
    ),
    # row-level reasons
    "malformed_row": (
        "Dòng không đúng cấu trúc (số cột hoặc cú pháp sai).",
        "The row is malformed (wrong number of fields or bad syntax).",
    ),
    "missing_value": ("Thiếu giá trị bắt buộc.", "A required value is missing."),
    "cell_too_long": (
        "Ô dài hơn giới hạn ký tự cho phép (NTM_MAX_CELL_CHARS, mặc định 32.767 như Excel).",
        "The cell is longer than the character limit (NTM_MAX_CELL_CHARS, default 32,767 as in Excel).",
    ),
    "unknown_unit": ("Mã đơn vị báo cáo không có trong danh mục.", "Unknown reporting unit code."),
    "unknown_hamlet": ("Thôn/tổ dân phố không có trong danh mục.", "Unknown hamlet (code or name)."),
    "hamlet_not_valid_in_period": (
        "Thôn/tổ dân phố không còn (hoặc chưa) hiệu lực trong kỳ báo cáo.",
        "The hamlet does not exist (merged, renamed or not yet created) in the reporting period.",
    ),
    "hamlet_level_mismatch": (
        "Mã thôn không khớp cấp chỉ tiêu (chỉ tiêu cấp xã không ghi mã thôn; chỉ tiêu cấp thôn phải có mã thôn).",
        "Hamlet code does not fit the indicator level (commune-level: no hamlet; hamlet-level: hamlet required).",
    ),
    "unknown_indicator": ("Mã chỉ tiêu không có trong danh mục.", "Unknown indicator code."),
    "unknown_task": ("Mã nhiệm vụ không có trong kế hoạch.", "Unknown plan task code."),
    "unknown_task_status": (
        "Trạng thái nhiệm vụ không hợp lệ (Chưa thực hiện / Đang thực hiện / Hoàn thành / Chậm tiến độ).",
        "Unknown task status (expected Chưa thực hiện / Đang thực hiện / Hoàn thành / Chậm tiến độ).",
    ),
    "unknown_row_type": ("Loại dòng phải là CT (chỉ tiêu) hoặc NV (nhiệm vụ).", "Row type must be CT or NV."),
    "unknown_commune": ("Mã xã không có trong danh mục.", "Unknown commune code."),
    "unknown_form": ("Mã mẫu phiếu khảo sát không có trong danh mục.", "Unknown survey form code."),
    "unknown_question": (
        "Câu hỏi không thuộc mẫu phiếu khảo sát.",
        "The question is not part of this survey form.",
    ),
    "malformed_period": (
        "Kỳ báo cáo sai định dạng (đúng: 2026-Q3 hoặc 2025).",
        "Malformed period (expected e.g. 2026-Q3 or 2025).",
    ),
    "future_period": ("Kỳ báo cáo nằm trong tương lai.", "The period lies in the future."),
    "unparseable_number": ("Không đọc được giá trị số.", "The number cannot be read."),
    "unparseable_date": ("Không đọc được ngày (dd/mm/yyyy hoặc yyyy-mm-dd).", "The date cannot be read."),
    "unparseable_datetime": ("Không đọc được thời điểm.", "The date-time cannot be read."),
    "unparseable_yesno": ("Giá trị Có/Không không hợp lệ.", "The yes/no value cannot be read."),
    "unparseable_answer": (
        "Câu trả lời không hợp lệ (Hài lòng / Không hài lòng).",
        "The answer cannot be read (expected satisfied / not satisfied).",
    ),
    "unexpected_percent_sign": (
        "Giá trị có dấu % nhưng chỉ tiêu không tính theo tỷ lệ %.",
        "The value has a % sign but the indicator is not a percentage.",
    ),
    "value_out_of_range": (
        "Giá trị ngoài khoảng cho phép của chỉ tiêu (ví dụ tỷ lệ > 100%, số lượng âm).",
        "The value is outside the indicator's range (e.g. percent > 100, negative count).",
    ),
    "numerator_exceeds_denominator": (
        "Tử số lớn hơn mẫu số.",
        "The numerator is larger than the denominator.",
    ),
    "zero_denominator": ("Mẫu số bằng 0.", "The denominator is zero."),
    # roll-up rules 7.1 and 7.4 of raw/README.md (declared per indicator in the catalog)
    "missing_fraction": (
        "Chỉ tiêu tổng hợp theo tỷ số của tổng cần cả tử số và mẫu số (danh mục: missing_fraction_rule = "
        "quarantine, hoặc chỉ ghi một trong hai).",
        "This ratio-of-sums indicator needs both numerator and denominator (catalog: missing_fraction_rule = "
        "quarantine, or only one of the two was given).",
    ),
    "missing_weight": (
        "Chỉ có tỷ lệ, không có tử số/mẫu số, và không có số hộ của thôn trong năm này để suy ra "
        "(raw/reference/hamlet_population.csv).",
        "Only the percent was given and the hamlet has no households for that year to derive "
        "numerator/denominator from (raw/reference/hamlet_population.csv).",
    ),
    "reporter_not_allowed": (
        "Đơn vị này không được báo cáo giá trị của thôn này (chỉ chính thôn đó, hoặc đơn vị có mã thôn trong "
        "cột reports_for_hamlets của reporting_units.csv).",
        "This unit may not report this hamlet's value (only the hamlet itself, or a unit whose "
        "reports_for_hamlets column in reporting_units.csv lists the hamlet).",
    ),
    "invalid_value": (
        "Giá trị không thuộc danh sách cho phép.",
        "The value is not one of the allowed values.",
    ),
    "duplicate_row": (
        "Dòng trùng lặp trong cùng tệp (đã giữ lần xuất hiện đầu tiên).",
        "Duplicate row within the file (the first occurrence was kept).",
    ),
    "stars_score_mismatch": (
        "Hạng sao không khớp với điểm (5★ 90–100, 4★ 70–89, 3★ 50–69; dưới 50 điểm không được cấp).",
        "Stars disagree with the score (5★ 90–100, 4★ 70–89, 3★ 50–69; below 50 cannot be certified).",
    ),
    "expiry_not_36_months": (
        "Ngày hết hạn phải đúng 36 tháng sau ngày cấp.",
        "The expiry date must be exactly 36 months after the issue date.",
    ),
}

QUARANTINE_COLUMNS = [
    "file_sha256",
    "source_file",
    "source",
    "row_number",
    "column_name",
    "raw_value",
    "reason_code",
    "message_vi",
    "message_en",
]

PERSONAL_COLUMNS = frozenset({"respondent_name", "respondent_phone"})
MASK = "***"


def message(code: str, column: str | None = None, label_vi: str | None = None) -> tuple[str, str]:
    """The (vi, en) message for a reason code, naming the column when given."""
    vi, en = REASONS[code]
    if column:
        vi = f"{vi} [cột: {label_vi or column}]"
        en = f"{en} [column: {column}]"
    return vi, en


def empty_frame() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in QUARANTINE_COLUMNS}).astype(
        {"row_number": "Int64"}
    )


def _as_text(values: pd.Series) -> pd.Series:
    out = values.astype("object").where(values.notna(), None)
    return out.map(lambda v: v if v is None or isinstance(v, str) else _native_text(v))


def _native_text(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def build(
    rows: pd.DataFrame,
    mask: pd.Series,
    code: str,
    column: str | None,
    *,
    label_vi: str | None = None,
) -> pd.DataFrame:
    """Quarantine records for the rows of ``rows`` where ``mask`` is true.

    ``rows`` must hold ``_sha``, ``_path``, ``_source``, ``_row`` and (when ``column`` is given) the raw
    column. Personal-data columns are masked.
    """
    mask = mask.fillna(False).astype(bool)
    sub = rows.loc[mask]
    if sub.empty:
        return empty_frame()
    vi, en = message(code, column, label_vi)
    if column is None or column not in sub.columns:
        raw = pd.Series([None] * len(sub), index=sub.index, dtype="object")
    elif column in PERSONAL_COLUMNS:
        raw = pd.Series([MASK] * len(sub), index=sub.index, dtype="object")
    else:
        raw = _as_text(sub[column])
    return pd.DataFrame(
        {
            "file_sha256": sub["_sha"].to_numpy(),
            "source_file": sub["_path"].to_numpy(),
            "source": sub["_source"].to_numpy(),
            "row_number": sub["_row"].astype("Int64").to_numpy(),
            "column_name": column,
            "raw_value": raw.to_numpy(),
            "reason_code": code,
            "message_vi": vi,
            "message_en": en,
        }
    )


def concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if f is not None and not f.empty]
    if not frames:
        return empty_frame()
    return pd.concat(frames, ignore_index=True)
