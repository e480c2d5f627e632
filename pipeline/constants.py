"""Names shared by the code location."""

OWNERS = ["team:phong-kinh-te"]  # Phòng Kinh tế (Economic Department) owns every asset
OWNER_LABEL = "Phòng Kinh tế xã Đồng Lộc / Economic Department, Đồng Lộc commune"
