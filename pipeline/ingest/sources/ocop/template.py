"""The OCOP product-record template (sheet ``OCOP``): its columns and the codes of producer type, rating level
and certificate status it accepts."""

from __future__ import annotations

from pipeline.ingest.template import Column, Template

OCOP = Template(
    source="ocop",
    name_vi="Danh sách sản phẩm OCOP",
    name_en="OCOP product records",
    sheet="OCOP",
    columns=(
        Column(
            "product_id",
            "Mã sản phẩm",
            "Product id",
            "text",
            True,
            example="OCOP-18484-001",
            aliases=("ma san pham",),
        ),
        Column(
            "product_name",
            "Tên sản phẩm",
            "Product name",
            "text",
            True,
            example="Nhút Thanh Chương",
            aliases=("ten san pham",),
        ),
        Column(
            "group_code",
            "Nhóm sản phẩm",
            "Product group (1-6)",
            "int",
            True,
            allowed=("1", "2", "3", "4", "5", "6"),
            example="1",
            aliases=("nhom", "nhom san pham"),
        ),
        Column(
            "subgroup", "Phân nhóm", "Subgroup", "text", example="Thực phẩm chế biến", aliases=("phan nhom",)
        ),
        Column(
            "producer_name",
            "Chủ thể sản xuất",
            "Producer name",
            "text",
            True,
            example="HTX Nông nghiệp Đồng Lộc",
            aliases=("chu the", "chu the san xuat"),
        ),
        Column(
            "producer_type",
            "Loại hình chủ thể",
            "Producer type",
            "text",
            True,
            allowed=("Doanh nghiệp", "Hợp tác xã", "Tổ hợp tác", "Hộ kinh doanh"),
            example="Hợp tác xã",
            aliases=("loai hinh", "loai hinh chu the"),
        ),
        Column("hamlet_code", "Mã thôn", "Hamlet code", "text", example="18484-T03", aliases=("ma thon",)),
        Column(
            "score", "Điểm", "Score (0-100)", "number", True, example="72,5", aliases=("diem", "tong diem")
        ),
        Column(
            "stars",
            "Hạng sao",
            "Stars (3-5)",
            "int",
            True,
            allowed=("3", "4", "5"),
            example="4",
            aliases=("hang sao", "so sao"),
        ),
        Column(
            "rating_level",
            "Cấp đánh giá",
            "Rating level",
            "text",
            allowed=("Tỉnh", "Trung ương"),
            example="Tỉnh",
            aliases=("cap danh gia", "cap"),
        ),
        Column(
            "certificate_no",
            "Số giấy chứng nhận",
            "Certificate number",
            "text",
            example="123/QĐ-UBND",
            aliases=("so giay chung nhan", "so gcn", "so quyet dinh"),
        ),
        Column(
            "issued_on", "Ngày cấp", "Issue date", "date", True, example="15/08/2024", aliases=("ngay cap",)
        ),
        Column(
            "expires_on",
            "Ngày hết hạn",
            "Expiry date",
            "date",
            True,
            example="15/08/2027",
            aliases=("ngay het han",),
        ),
        Column(
            "material_area_code",
            "Mã số vùng nguyên liệu",
            "Raw-material area code",
            "text",
            example="VN-42-18484-001",
            aliases=("ma so vung nguyen lieu", "ma vung"),
        ),
        Column(
            "traceability_url",
            "Đường dẫn truy xuất",
            "Traceability link",
            "text",
            example="https://truyxuat.hatinh.gov.vn/sp/001",
            aliases=("truy xuat", "duong dan truy xuat"),
        ),
        Column(
            "status",
            "Tình trạng",
            "Status",
            "text",
            allowed=("Còn hiệu lực", "Hết hạn", "Thu hồi"),
            example="Còn hiệu lực",
            aliases=("tinh trang",),
        ),
    ),
)

PRODUCER_TYPE_CODES = {
    "Doanh nghiệp": "enterprise",
    "Hợp tác xã": "cooperative",
    "Tổ hợp tác": "cooperative_group",
    "Hộ kinh doanh": "household",
}
RATING_LEVEL_CODES = {"Tỉnh": "province", "Trung ương": "central"}
OCOP_STATUS_CODES = {"Còn hiệu lực": "active", "Hết hạn": "expired", "Thu hồi": "revoked"}
