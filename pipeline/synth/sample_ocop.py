"""The bundled OCOP product list of the commune sample (XLSX, sheet "OCOP", title rows above the header).

Ten products across the six groups; scores agree with stars and certificates run 36 months, except two
deliberate bad rows (listed in raw/README.md). One certificate expires within 6 months of 2026-09-30 and
one has already expired. Producer names with "(mẫu)" / "Mẫu" are fake.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pipeline.ingest.sources.ocop.rules import certified_stars
from pipeline.ingest.sources.ocop.template import OCOP
from pipeline.synth.blank_templates import instruction_rows
from pipeline.synth.generate import COMMUNE, TITLE_OCOP, write_xlsx_table
from pipeline.synth.sample import Defect

OCOP_PRODUCTS = [
    (
        "Gạo hữu cơ Mỹ Lộc",
        1,
        "Thực phẩm tươi sống - gạo",
        "HTX SX và KD Lúa gạo Mỹ Lộc",
        "Hợp tác xã",
        15,
        78.5,
        4,
        dt.date(2024, 11, 20),
        36,
        "Còn hiệu lực",
    ),
    (
        "Kẹo cu đơ Đồng Lộc",
        1,
        "Thực phẩm chế biến",
        "Hộ kinh doanh Trần Thị Mẫu",
        "Hộ kinh doanh",
        3,
        66.0,
        3,
        dt.date(2023, 12, 18),
        36,
        "Còn hiệu lực",
    ),
    (
        "Trà thảo dược Thượng Lộc",
        3,
        "Dược liệu, sản phẩm từ dược liệu",
        "Tổ hợp tác Dược liệu Thượng Lộc",
        "Tổ hợp tác",
        7,
        72.5,
        4,
        dt.date(2025, 3, 12),
        36,
        "Còn hiệu lực",
    ),
    (
        "Rượu nếp Thượng Lộc",
        2,
        "Đồ uống có cồn",
        "Hộ kinh doanh Lê Văn Mẫu",
        "Hộ kinh doanh",
        8,
        58.0,
        3,
        dt.date(2022, 8, 15),
        36,
        "Hết hạn",
    ),
    (
        "Chổi đót Mỹ Lộc",
        4,
        "Thủ công mỹ nghệ gia dụng",
        "Tổ hợp tác Chổi đót Mỹ Phú",
        "Tổ hợp tác",
        15,
        61.5,
        3,
        dt.date(2024, 6, 5),
        36,
        "Còn hiệu lực",
    ),
    (
        "Bánh đa vừng Đồng Lộc",
        1,
        "Thực phẩm chế biến",
        "Hộ kinh doanh Phạm Thị Mẫu",
        "Hộ kinh doanh",
        12,
        68.5,
        4,
        dt.date(2025, 5, 20),
        36,
        "Còn hiệu lực",
    ),  # BAD: 68.5 points is 3 stars
    (
        "Lan hồ điệp Đồng Lộc",
        5,
        "Hoa, cây cảnh",
        "Công ty TNHH Hoa lan Đồng Lộc (mẫu)",
        "Doanh nghiệp",
        4,
        74.0,
        4,
        dt.date(2025, 9, 10),
        36,
        "Còn hiệu lực",
    ),
    (
        "Du lịch cộng đồng Ngã ba Đồng Lộc",
        6,
        "Dịch vụ du lịch cộng đồng, điểm du lịch",
        "HTX Dịch vụ Du lịch Đồng Lộc (mẫu)",
        "Hợp tác xã",
        1,
        92.0,
        5,
        dt.date(2025, 12, 22),
        36,
        "Còn hiệu lực",
    ),
    (
        "Nhang trầm Mỹ Lộc",
        4,
        "Thủ công mỹ nghệ",
        "Tổ hợp tác Nhang trầm Mỹ Hòa",
        "Tổ hợp tác",
        16,
        55.0,
        3,
        dt.date(2024, 4, 10),
        48,
        "Còn hiệu lực",
    ),  # BAD: expiry = issue + 48 months
    (
        "Mật ong Thượng Lộc",
        1,
        "Thực phẩm chế biến",
        "HTX Nông nghiệp và Dịch vụ Thượng Lộc",
        "Hợp tác xã",
        5,
        70.0,
        4,
        dt.date(2026, 3, 18),
        36,
        "Còn hiệu lực",
    ),
]
OCOP_TEXT_SCORE = {2}  # product index whose score is typed as text with a decimal comma
OCOP_TEXT_DATE = {4}  # product index whose dates are typed as dd/mm/yyyy text


def _add_months(d: dt.date, m: int) -> dt.date:
    y, mo = divmod(d.month - 1 + m, 12)
    return d.replace(year=d.year + y, month=mo + 1)


def write_ocop(out: Path) -> list[Defect]:
    header = [c.label_vi for c in OCOP.columns]
    rows, defects = [], []
    for i, (name, grp, sub, prod, ptype, hno, score, stars, issued, months, status) in enumerate(
        OCOP_PRODUCTS
    ):
        pid = f"OCOP-{COMMUNE}-{i + 1:03d}"
        expires = _add_months(issued, months)
        agri = grp in (1, 2, 3)
        row = [
            pid,
            name,
            grp,
            sub,
            prod,
            ptype,
            f"{COMMUNE}-T{hno:02d}",
            str(score).replace(".", ",") if i in OCOP_TEXT_SCORE else score,
            stars,
            "Trung ương" if stars == 5 else "Tỉnh",
            f"{120 + 17 * i}/QĐ-UBND",
            issued.strftime("%d/%m/%Y") if i in OCOP_TEXT_DATE else issued,
            expires.strftime("%d/%m/%Y") if i in OCOP_TEXT_DATE else expires,
            f"VN-42-{COMMUNE}-{i + 1:03d}" if agri else "",
            f"https://truyxuat.example.vn/ocop/{COMMUNE}-{i + 1:03d}",
            status,
        ]
        rows.append(row)
        if grp and stars != (certified_stars(score) or 0):
            defects.append(
                Defect(
                    "ocop/ocop_18484.xlsx",
                    5 + i,
                    "stars",
                    str(stars),
                    f"hạng sao không khớp điểm {score}",
                    f"stars disagree with score {score}",
                )
            )
        if months != 36:
            defects.append(
                Defect(
                    "ocop/ocop_18484.xlsx",
                    5 + i,
                    "expires_on",
                    expires.isoformat(),
                    "ngày hết hạn khác ngày cấp + 36 tháng",
                    "expiry is not issue date + 36 months",
                )
            )
    validations = {header.index(c.label_vi): list(c.allowed) for c in OCOP.columns if c.allowed}
    fmts = {header.index("Ngày cấp"): "dd/mm/yyyy", header.index("Ngày hết hạn"): "dd/mm/yyyy"}
    write_xlsx_table(
        out / "ocop" / "ocop_18484.xlsx",
        OCOP.sheet,
        TITLE_OCOP,
        "Danh sách sản phẩm OCOP được công nhận — số liệu đến 30/09/2026 (dữ liệu mẫu tổng hợp)",
        header,
        rows,
        instruction_rows(OCOP),
        validations,
        fmts,
        validation_rows=100,
    )
    return defects
