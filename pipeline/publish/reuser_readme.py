"""Bilingual (vi / en) README.md for reusers and the CHANGELOG.md of releases (plain string building)."""

from __future__ import annotations

from typing import Any

from pipeline.publish.home import HomeCommune, home_commune


def _home(home: HomeCommune | None) -> HomeCommune:
    """The release's commune (default: the configured one, NTM_HOME_COMMUNE)."""
    if home is not None:
        return home
    from pipeline.config import home_commune as configured

    return home_commune(configured())


def _read_snippets(res: dict[str, Any]) -> dict[str, str]:
    name = res["name"]
    if isinstance(res["path"], list):
        folder = f"data/{name}/"
        return {
            "duckdb": f"SELECT * FROM read_parquet('{folder}*.parquet');",
            "pandas": f"pd.read_parquet('{folder}')",
            "polars": f"pl.read_parquet('{folder}*.parquet')",
            "pyarrow": f"pq.read_table('{folder}')",
        }
    path = res["path"]
    return {
        "duckdb": f"SELECT * FROM read_parquet('{path}');",
        "pandas": f"pd.read_parquet('{path}')",
        "polars": f"pl.read_parquet('{path}')",
        "pyarrow": f"pq.read_table('{path}')",
    }


def render_readme(dp: dict[str, Any], *, min_count: int = 5, home: HomeCommune | None = None) -> str:
    home = _home(home)
    rid = dp["ntm:release_id"]
    created = dp["created"]
    lines: list[str] = []
    add = lines.append
    add(f"# {dp['title']}")
    add("")
    if dp.get("ntm:is_synthetic"):
        add("> **CẢNH BÁO: DỮ LIỆU MẪU TỔNG HỢP, KHÔNG PHẢI SỐ LIỆU THẬT CỦA XÃ.**")
        add("> **WARNING: SYNTHETIC SAMPLE DATA, NOT THE COMMUNE'S REAL FIGURES.**")
        add("")
    add(f"- Phiên bản / Release: `{rid}` (version {dp['version']}, tạo lúc / created {created})")
    add(f"- Giấy phép / Licence: [{dp['licenses'][0]['title']}]({dp['licenses'][0]['path']})")
    add(
        f"- Mã xã / Commune code: {home.code} ({home.name}, {home.province_name} - mã tỉnh {home.province_code})"
    )
    add(
        f"- Mô tả máy đọc được / Machine-readable description: `datapackage.json` (Frictionless Data Package, profile `{dp['profile']}`)"
    )
    add(
        "- Định dạng / Format: Apache Parquet (nén zstd), mã hoá UTF-8, chuỗi chuẩn hoá Unicode NFC / NFC-normalised text"
    )
    add("")
    add("## Giới thiệu / About")
    add("")
    add(
        f"Bộ dữ liệu mở do {home.committee_vi} công bố theo Nghị định 47/2020/NĐ-CP: miễn phí, không cần "
        "đăng ký, được tái sử dụng với điều kiện ghi nguồn."
    )
    add("")
    add(
        f"Open data published by the {home.committee_en} under Decree 47/2020/ND-CP: free, "
        "no registration, reusable provided the source is cited."
    )
    add("")
    add("## Các bảng / Tables")
    add("")
    add("| bảng / table | nội dung / content | số dòng / rows | tệp / files |")
    add("| --- | --- | ---: | --- |")
    for res in dp["resources"]:
        files = res["path"] if isinstance(res["path"], list) else [res["path"]]
        where = (
            f"`{files[0]}`"
            if len(files) == 1
            else f"`data/{res['name']}/` ({len(files)} phần / parts, theo / by `{res['ntm:partition_by']}`)"
        )
        add(
            f"| `{res['name']}` | {res['ntm:title_vi']} / {res['ntm:title_en']} | {res['ntm:rows']:,} | {where} |"
        )
    add("")
    for res in dp["resources"]:
        add(f"### `{res['name']}` - {res['ntm:title_vi']} / {res['ntm:title_en']}")
        add("")
        if res["description"]:
            add(res["description"])
            add("")
        pk = res["schema"].get("primaryKey")
        if pk:
            add(f"Khoá chính / Primary key: `{', '.join(pk)}`")
            add("")
        for fk in res["schema"].get("foreignKeys", []):
            add(
                f"Khoá ngoại / Foreign key: `{', '.join(fk['fields'])}` → "
                f"`{fk['reference']['resource']}({', '.join(fk['reference']['fields'])})`"
            )
            add("")
        add("| cột / column | kiểu / type | mô tả (vi) | description (en) |")
        add("| --- | --- | --- | --- |")
        for f in res["schema"]["fields"]:
            add(
                f"| `{f['name']}` | {f['type']} | {f.get('ntm:description_vi', '')} | {f.get('ntm:description_en', '')} |"
            )
        add("")
    add("## Cách đọc / How to read")
    add("")
    add("Đường dẫn tính từ thư mục phiên bản này. / Paths are relative to this release folder.")
    add("")
    snippets = {k: [] for k in ("duckdb", "pandas", "polars", "pyarrow")}
    for res in dp["resources"]:
        for k, v in _read_snippets(res).items():
            snippets[k].append(v)
    add("DuckDB (SQL):")
    add("")
    add("```sql")
    lines.extend(snippets["duckdb"])
    add("```")
    add("")
    add("pandas:")
    add("")
    add("```python")
    add("import pandas as pd")
    for res, s in zip(dp["resources"], snippets["pandas"], strict=True):
        add(f"{res['name']} = {s}")
    add("```")
    add("")
    add("polars:")
    add("")
    add("```python")
    add("import polars as pl")
    for res, s in zip(dp["resources"], snippets["polars"], strict=True):
        add(f"{res['name']} = {s}")
    add("```")
    add("")
    add("pyarrow:")
    add("")
    add("```python")
    add("import pyarrow.parquet as pq")
    for res, s in zip(dp["resources"], snippets["pyarrow"], strict=True):
        add(f"{res['name']} = {s}")
    add("```")
    add("")
    add(
        "Bảng lớn được chia thành một tệp mỗi kỳ (`data/<bảng>/<kỳ>.parquet`); mỗi tệp chứa đủ các cột, kể cả "
        "cột kỳ, nên đọc cả thư mục hoặc từng tệp đều được. / Large tables are split into one file per period "
        "(`data/<table>/<period>.parquet`); every file holds all columns, the period included, so read the "
        "folder or any single file."
    )
    add("")
    add(
        "Kiểm tra toàn vẹn / Integrity: `ntm:files` trong `datapackage.json` ghi kích thước và sha256 của từng tệp;"
    )
    add(
        "`frictionless validate datapackage.json` kiểm tra kiểu dữ liệu và khoá. / `ntm:files` in `datapackage.json`"
    )
    add("lists each file's size and sha256; `frictionless validate datapackage.json` checks types and keys.")
    add(
        "`build.json` là sổ ghi của bên phát hành (không phải dữ liệu): tệp nào được lấy nguyên từ bản phát hành "
        "trước vì bảng không đổi. / `build.json` is the publisher's record (not data): which files were taken "
        "unchanged from the previous release because their table did not change."
    )
    add("")
    lines.extend(timestamp_lines(dp))
    if any(r["name"] == "dim_hamlet_boundary" for r in dp["resources"]):
        lines.extend(boundary_lines(dp))
    add("## Bảo vệ dữ liệu cá nhân / Disclosure control")
    add("")
    lines.extend(suppression_rule_lines(min_count))
    add(
        "- Không công bố ý kiến tự do, họ tên, số điện thoại, số CMND/CCCD, e-mail. Trước khi công bố, mọi cột văn "
        "bản (trừ khoá thay thế `*_key` và `submission_id`, là mã băm, và `geometry_geojson`, chỉ gồm toạ độ do "
        "pipeline ghi) được quét, mỗi giá trị khác nhau một lần: "
        "số điện thoại Việt Nam (đầu `0`/`84`/`+84`; di động `0[35789]` + 8 chữ số, cố định `02` + 9 chữ số; "
        "có thể cách bằng dấu cách, `.`, `-`), số CMND/CCCD (9 hoặc 12 chữ số, có thể cách từng nhóm), địa chỉ "
        "e-mail, và tên người trả lời khảo sát cùng chủ hộ kinh doanh — cả khi nằm trong văn bản dài hơn (vd. tên "
        'sản phẩm "Bánh <tên>"), không phân biệt hoa thường và dấu (`đ` = `d`), tên nhiều từ được so như một cụm '
        "từ trọn vẹn, tên một từ chỉ khi là cả ô. Chỉ cần một ô khớp là không công bố, kèm thông báo song ngữ nêu "
        "bảng, cột và khoá dòng (đã che)."
    )
    add(
        "- Ô văn bản bắt đầu bằng `=`, `+`, `-` hoặc `@` (bảng tính có thể hiểu là công thức) được công bố nguyên "
        "văn trong Parquet và được cảnh báo trong mô tả cột (Parquet và datapackage.json). Bản sao CSV trong "
        "`site/downloads/` (UTF-8 có BOM, mỗi bảng một tệp, cùng bảng điểm `scorecard.xlsx`) đã được vô hiệu "
        "hoá: các ô đó bắt đầu bằng dấu nháy `'`; số không bao giờ bị đổi. Các CSV trao đổi máy-với-máy "
        "(`exchange/upward/` trong gói báo cáo, `exchange/dhis2/datavaluesets.csv`) là bản sao chính xác, không "
        "thêm dấu nháy: đừng mở chúng bằng bảng tính. Khi tự xuất ra CSV/XLSX, hãy thêm dấu nháy `'` ở đầu các ô đó."
    )
    add(
        "- No free-text answers, names, phone numbers, ID numbers or e-mail addresses are published. Before "
        "release every text column (except the surrogate keys `*_key` and `submission_id`, which are hashes, and "
        "`geometry_geojson`, only coordinates the pipeline writes) is scanned, once per distinct value, for Vietnamese phone numbers (prefix `0`/`84`/`+84`; mobile "
        "`0[35789]` + 8 digits, landline `02` + 9 digits; spaces, `.` or `-` allowed between digits), ID numbers "
        "(CMND/CCCD: 9 or 12 digits, groups may be separated), e-mail addresses, and the names of survey "
        "respondents and household-business owners — also inside longer text (e.g. a product name "
        '"Bánh <name>"), ignoring case and diacritics (`đ` = `d`), a multi-word name as a whole phrase, a '
        "one-word name only as a whole cell. One matching cell blocks the release, with a bilingual message "
        "naming the table, column and row key (masked)."
    )
    add(
        "- Text cells starting with `=`, `+`, `-` or `@` (a spreadsheet may run them as a formula) are published "
        "as they are in Parquet and flagged in the column description (Parquet and datapackage.json). The "
        "CSV copies in `site/downloads/` (UTF-8 with BOM, one per table, plus the scorecard as "
        "`scorecard.xlsx`) are neutralised: such text cells start with an apostrophe `'`; numbers are never "
        "changed. The machine-to-machine CSVs (`exchange/upward/` inside the report package, "
        "`exchange/dhis2/datavaluesets.csv`) are exact copies without the apostrophe: do not open them in a "
        "spreadsheet. When you export a CSV yourself for a spreadsheet, neutralise such cells the same way."
    )
    add(
        "- `site/index.html`: Bản đồ số và bảng điểm / the digital map and scorecard of this release, built "
        "from these files only; it opens offline from the file."
    )
    add("")
    add("## Trích dẫn / How to cite")
    add("")
    add("```text")
    add(
        f"{home.committee_vi} ({home.province_division_vi} {home.province_name}). {dp['title'].split(' / ')[0]}. "
        f"Phiên bản {rid}. {home.portal_url}"
    )
    add(
        f"{home.committee_en} ({home.province_name}). {dp['title'].split(' / ')[-1]}. Release {rid}. "
        f"{home.portal_url}"
    )
    add(f"Giấy phép / Licence: {dp['licenses'][0]['name']}")
    add("```")
    add("")
    add("## Lịch sử / Changelog")
    add("")
    add("Xem / See `CHANGELOG.md`.")
    add("")
    return "\n".join(lines)


def changelog_entry(
    *,
    release_id: str,
    created: str,
    rows: dict[str, int],
    previous_rows: dict[str, int] | None,
    previous_id: str | None,
) -> str:
    lines = [f"## {release_id}", "", f"- Thời gian / Time: {created}"]
    lines.append(f"- Phiên bản trước / Previous release: {previous_id or '-'}")
    lines.append("")
    lines.append("| bảng / table | số dòng / rows | thay đổi / delta |")
    lines.append("| --- | ---: | ---: |")
    prev = previous_rows or {}
    for name in sorted(rows):
        delta = "mới / new" if previous_rows is None or name not in prev else f"{rows[name] - prev[name]:+,}"
        lines.append(f"| `{name}` | {rows[name]:,} | {delta} |")
    for name in sorted(set(prev) - set(rows)):
        lines.append(f"| `{name}` | 0 | bỏ / removed ({-prev[name]:+,}) |")
    lines.append("")
    return "\n".join(lines) + "\n"


def changelog_header(home: HomeCommune | None = None) -> str:
    home = _home(home)
    return (
        f"# CHANGELOG - Dữ liệu mở NTM {home.division_vi} {home.name} / {home.name} NTM open data\n\n"
        "Mới nhất ở trên. / Newest first.\n\n"
    )


def prepend_changelog(previous: str | None, entry: str, home: HomeCommune | None = None) -> str:
    header = changelog_header(home)
    body = ""
    if previous and previous.startswith(header):
        body = previous[len(header) :]
    elif previous:
        body = previous
    return header + entry + ("\n" + body if body else "")


def timestamp_lines(dp: dict[str, Any]) -> list[str]:
    """The time-zone rule of the published timestamps (datetime fields carry ``ntm:timezone``)."""
    cols = sorted(
        {
            f"`{r['name']}.{f['name']}`"
            for r in dp["resources"]
            for f in r["schema"]["fields"]
            if f["type"] == "datetime"
        }
    )
    if not cols:
        return []
    zones = sorted(
        {
            f.get("ntm:timezone", "")
            for r in dp["resources"]
            for f in r["schema"]["fields"]
            if f["type"] == "datetime"
        }
    )
    tz = ", ".join(z for z in zones if z) or "Asia/Ho_Chi_Minh"
    return [
        "## Thời gian / Times",
        "",
        f"Các cột thời điểm ({', '.join(cols)}) là giờ Việt Nam, múi giờ `{tz}` (UTC+07:00, không có giờ mùa hè). "
        "Thời điểm gửi trong các tệp báo cáo không ghi múi giờ và được hiểu là giờ Việt Nam (raw/README.md quy "
        "tắc 7.5). Trong Parquet chúng là kiểu timestamp có múi giờ (isAdjustedToUTC = true, lưu theo UTC kèm tên "
        "múi giờ): DuckDB đọc ra `TIMESTAMP WITH TIME ZONE` (hiển thị theo `SET TimeZone`), pandas và pyarrow ra "
        f"`datetime64[us, {tz}]`; trong bản CSV chúng được ghi theo ISO 8601 kèm độ lệch, ví dụ "
        "`2026-03-20T08:15:00+07:00` (= 01:15 UTC).",
        "",
        f"The timestamp columns ({', '.join(cols)}) are Vietnam time, zone `{tz}` (UTC+07:00, no daylight saving). "
        "The submission time in the report files carries no zone and is read as Vietnam time (raw/README.md rule "
        "7.5). In Parquet they are timestamps with a time zone (isAdjustedToUTC = true, stored as UTC with the "
        "zone name): DuckDB reads `TIMESTAMP WITH TIME ZONE` (shown in its `SET TimeZone`), pandas and pyarrow "
        f"`datetime64[us, {tz}]`; the CSV copies write them in ISO 8601 with the offset, e.g. "
        "`2026-03-20T08:15:00+07:00` (= 01:15 UTC).",
        "",
    ]


def boundary_lines(dp: dict[str, Any]) -> list[str]:
    """How ``dim_hamlet_boundary`` is made (the rules of raw/README.md 1.3.1 / 2.3.1, for reusers)."""
    res = next(r for r in dp["resources"] if r["name"] == "dim_hamlet_boundary")
    out = ["## Ranh giới thôn / Hamlet boundaries", ""]
    if res["ntm:rows"] == 0:
        out += [
            "Bản phát hành này không có ranh giới thôn (xã chưa cung cấp tệp). / This release has no hamlet "
            "boundaries (the commune has not provided a file).",
            "",
        ]
        return out
    if dp.get("ntm:is_synthetic"):
        out += [
            "> **Ranh giới thôn là GIẢ LẬP (`is_synthetic`), không phải số liệu đo đạc. / The hamlet boundaries are "
            "SYNTHETIC (`is_synthetic`), not surveyed.**",
            "",
        ]
    out += [
        "- `dim_hamlet_boundary`: mỗi phiên bản thôn (`dim_hamlet`) có ranh giới một dòng. `geometry_geojson` là "
        "đối tượng hình học GeoJSON (RFC 7946, Polygon/MultiPolygon, kinh độ/vĩ độ WGS84 làm tròn 6 chữ số thập "
        "phân, vòng ngoài ngược chiều kim đồng hồ); tệp gốc có hệ toạ độ khác (vd. VN-2000) được đổi sang WGS84 "
        "bằng pyproj. Một ranh giới thuộc mọi phiên bản thôn có hiệu lực chồng lên hiệu lực của nó (không ghi "
        "ngày = mọi phiên bản); `area_km2` = diện tích trắc địa trên elipxoit WGS84 (pyproj `Geod`), "
        "`centroid_lon/lat` = tâm hình phẳng của đa giác kinh/vĩ độ, đều làm tròn 6 chữ số.",
        "- `dim_hamlet_boundary`: one row per hamlet version (`dim_hamlet`) that has a boundary. `geometry_geojson` "
        "is a GeoJSON geometry object (RFC 7946, Polygon/MultiPolygon, WGS84 lon/lat rounded to 6 decimals, "
        "exterior rings counter-clockwise); a source file in another CRS (e.g. VN-2000) was converted to WGS84 "
        "with pyproj. A boundary belongs to every hamlet version whose validity overlaps its own (no dates = "
        "every version); `area_km2` = geodesic area on the WGS84 ellipsoid (pyproj `Geod`), `centroid_lon/lat` "
        "= the planar centroid of the lon/lat polygon, both rounded to 6 decimals.",
        "",
    ]
    return out


def suppression_rule_lines(min_count: int = 5) -> list[str]:
    """The cell-suppression rule of ``mart_satisfaction``, precisely enough to recompute it (Vietnamese, then
    English). The code is :mod:`pipeline.publish.suppression`; the check is
    :mod:`pipeline.publish.disclosure_audit`."""
    m = min_count
    return [
        "### Ẩn ô khảo sát sự hài lòng",
        "",
        "Bảng `mart_satisfaction`: mỗi *nhóm* là một xã × kỳ × mẫu phiếu × câu hỏi, gồm một dòng cho mỗi thôn và "
        "một dòng toàn xã (`hamlet_code` rỗng). Dòng xã đếm cả các phiếu không ghi thôn (số phiếu này không công "
        "bố). Mỗi *khối* là một xã × kỳ × mẫu phiếu (mọi câu hỏi của mẫu). Gọi n = `respondents` (số người trả "
        f"lời), s = `satisfied` (số hài lòng), t = {m} (ngưỡng, `NTM_SUPPRESSION_MIN_COUNT`, tối thiểu 3).",
        "",
        f"1. **Ẩn sơ cấp** (`suppression_reason = primary`): mọi dòng (thôn hoặc xã) có 0 < n < {m}. Dòng có "
        "n = 0 không có câu trả lời nào và không bị ẩn.",
        "2. **Nhất quán trong khối**: một địa bàn (thôn, hoặc dòng xã) bị ẩn ở một câu hỏi thì bị ẩn ở mọi câu hỏi "
        "của khối mà nó có n > 0 (lý do `primary` nếu n < t ở câu đó, nếu không `complementary`), để n hiện ở câu "
        "khác không làm lộ n bị ẩn (phần lớn người trả lời trả lời mọi câu).",
        "3. **Người đọc biết gì** về một dòng bị ẩn: `primary` ⇒ 1 ≤ n ≤ t − 1; `complementary` ⇒ n ≥ t; "
        "0 ≤ s ≤ n. Trong nhóm có dòng xã công bố: T = n xã − tổng n các thôn công bố, R = s xã − tổng s các "
        "thôn công bố (tổng trên các thôn bị ẩn và phiếu không ghi thôn, số này ≥ 0 và không biết), "
        "L = số thôn bị ẩn `primary` + t × số thôn bị ẩn `complementary`. Thôn bị ẩn i (cận dưới Lᵢ, cận trên "
        "Uᵢ) có thể có mọi n từ Lᵢ đến min(Uᵢ, T − L + Lᵢ) và mọi s từ max(0, R − T + Lᵢ) đến min(n lớn nhất, R); "
        '"mọi người đều hài lòng" chắc chắn khi và chỉ khi R = T. Nhóm được **bảo vệ** (mọi ô bị ẩn còn ít '
        "nhất hai giá trị cho n và cho s, và không chắc ai cũng hài lòng) **khi và chỉ khi** L < T và "
        "0 < R < T. Nếu dòng xã bị ẩn: không còn phương trình; nhóm được bảo vệ nếu dòng xã là `complementary`, "
        "hoặc là `primary` với số thôn có trả lời < t − 1 (nếu không, n xã ≤ t − 1 buộc mọi thôn có n = 1).",
        "4. **Ẩn bổ sung** (`complementary`), từng khối: chừng nào còn nhóm chưa được bảo vệ, lấy nhóm đầu tiên "
        "(theo thứ tự `question_code`, so chuỗi) và ẩn, ở mọi câu hỏi của khối, thôn đang công bố (n > 0 ở "
        "nhóm đó) có **ít người "
        "trả lời nhất** (tổng n trên các câu hỏi của khối; bằng nhau thì `hamlet_code` nhỏ hơn theo thứ tự "
        "chuỗi) mà riêng việc ẩn nó làm nhóm đó được bảo vệ; nếu không thôn nào làm được, ẩn dòng xã (ở mọi câu "
        "hỏi của khối); rồi xét lại từ nhóm đầu tiên. Nếu dòng xã đã bị ẩn mà nhóm vẫn chưa được bảo vệ (chỉ khi "
        "dòng xã là `primary` với t − 1 thôn có trả lời, mỗi thôn n = 1: ẩn thêm thôn không thay đổi điều kiện ở "
        "mục 3 và không còn thôn nào để ẩn), bản phát hành dừng lại với thông báo (không công bố): nâng ngưỡng "
        "lên một đơn vị sẽ giải quyết.",
        "5. Ở dòng bị ẩn, `respondents`, `satisfied`, `satisfied_rate` và `meets_90` để trống, "
        "`suppressed = true`, `suppression_reason` cho biết lý do. Dòng xã công bố vẫn có n, s.",
        "6. **Kiểm tra như kẻ tấn công** trước khi công bố (và trên `latest`): từ chính các tệp Parquet của bản "
        "phát hành, mỗi nhóm là một bài toán quy hoạch tuyến tính (`scipy.optimize.linprog`) với biến n, s cho "
        "mỗi ô bị ẩn và cho phiếu không ghi thôn, ràng buộc theo mục 3 (cận từ lý do ẩn, 0 ≤ s ≤ n, n xã = tổng "
        "n thôn + n không ghi thôn, tương tự cho s). Với mỗi ô bị ẩn, tính n nhỏ nhất/lớn nhất, s nhỏ nhất/lớn "
        "nhất và n − s lớn nhất. Ma trận ràng buộc là ma trận liên thuộc của một đồ thị hai phía (đổi biến "
        "d = n − s), nên hoàn toàn đơn môđun: nghiệm tối ưu của bài toán tuyến tính là số nguyên, khoảng tìm "
        "được đúng bằng khoảng của các giá trị nguyên. Ô bị ẩn mà còn hiện giá trị, tỷ lệ hay cờ 90 % bị coi là "
        "lộ ngay (không đưa ràng buộc đó vào LP). Ô có n hoặc s chỉ còn một giá trị, ô chắc chắn mọi người hài "
        "lòng, hay địa bàn bị ẩn mà vẫn hiện n ở câu khác cùng khối: bản phát hành bị chặn, `latest` giữ nguyên.",
        "",
        "Ví dụ 1 (t = 5): nhóm có các thôn (n, s) = (3, 3), (4, 4), (20, 15), (30, 20); dòng xã 57 / 42. Hai thôn 3 và 4 "
        "bị ẩn sơ cấp: L = 2, T = 57 − 50 = 7, R = 42 − 35 = 7 = T: chắc chắn mọi người ở hai thôn đều hài lòng. "
        "Thôn 20 (s = 15) là thôn nhỏ nhất làm được: L = 2 + 5 = 7 < T = 27, 0 < R = 22 < 27 → ẩn bổ sung. Người "
        "đọc chỉ còn biết n ∈ 1…4, 1…4, 5…25 và s ∈ 0…4, 0…4, 0…22.",
        "",
        "Ví dụ 2 (t = 5): thôn (1, 0), (5, 3), (20, 10); xã 26 / 13. Thôn 1 bị ẩn sơ cấp: L = 1 = T = 1 (n bị lộ). Ẩn thêm "
        "thôn 5 thì L = 1 + 5 = 6 = T = 6: n của cả hai bị lộ (1 và 5). Thôn 20 làm được: L = 6 < T = 21, "
        "0 < R = 10 < 21 → ẩn bổ sung; n ∈ 1…4 và 5…20.",
        "",
        "Giới hạn: việc so sánh nhiều bản phát hành khác nhau, hay suy luận từ chính việc ô nào được chọn để ẩn "
        "bổ sung, không nằm trong phép kiểm tra. Phiếu không ghi thôn không phải là ô: khi không thôn nào bị ẩn, "
        "n và s của chúng suy ra được từ dòng xã (không gắn với địa bàn nào).",
        "",
        "### Satisfaction cell suppression",
        "",
        "Table `mart_satisfaction`: each *group* is one commune × period × form × question, with one row per "
        "hamlet and one commune row (`hamlet_code` null). The commune row also counts the answers not attributed "
        "to a hamlet (their number is not published). Each *block* is one commune × period × form (all "
        "questions of the form). n = `respondents`, s = `satisfied`, t = "
        f"{m} (the threshold, `NTM_SUPPRESSION_MIN_COUNT`, at least 3).",
        "",
        f"1. **Primary** (`suppression_reason = primary`): every row (hamlet or commune) with 0 < n < {m}. Rows "
        "with n = 0 hold no answer and are never hidden.",
        "2. **Consistent within a block**: a location (a hamlet, or the commune row) hidden on one question is "
        "hidden on every question of the block where its n > 0 (reason `primary` if n < t there, otherwise "
        "`complementary`), so that its n shown on another question cannot give the hidden n away (most "
        "respondents answer every question).",
        "3. **What a reader knows** about a hidden row: `primary` ⇒ 1 ≤ n ≤ t − 1; `complementary` ⇒ n ≥ t; "
        "0 ≤ s ≤ n. In a group whose commune row is published: T = commune n − the published hamlets' n, "
        "R = commune s − the published hamlets' s (sums over the hidden hamlets and the unattributed answers, "
        "whose number is ≥ 0 and unknown), L = the number of `primary` hidden hamlets + t × the number of "
        "`complementary` ones. A hidden hamlet i (lower bound Lᵢ, upper bound Uᵢ) can have any n from Lᵢ to "
        'min(Uᵢ, T − L + Lᵢ) and any s from max(0, R − T + Lᵢ) to min(its largest n, R); "everyone satisfied" '
        "is certain if and only if R = T. The group is **protected** (every hidden cell keeps at least two "
        'values for n and for s, and "everyone satisfied" is never certain) **if and only if** L < T and '
        "0 < R < T. If the commune row is hidden, no equation is left; the group is protected if the commune row "
        "is `complementary`, or `primary` with fewer than t − 1 answered hamlets (otherwise commune n ≤ t − 1 "
        "forces every hamlet's n to 1).",
        "4. **Complementary** (`complementary`), per block: while a group is not protected, take the first one "
        "(in `question_code` string order) and hide, on every question of the block, the published hamlet "
        "(n > 0 in that "
        "group) with the **fewest respondents** (its n summed over the block's questions; ties: the smaller "
        "`hamlet_code` in string order) whose hiding alone protects that group; if no hamlet can, hide the "
        "commune row (on every question of the block); then look again from the first group. If the commune row "
        "is already hidden and the group is still not protected (only when the commune row is `primary` with "
        "t − 1 answered hamlets of n = 1 each: hiding more hamlets does not change the criterion of step 3 and "
        "no hamlet is left to hide), the release stops with a message (nothing published): raising the "
        "threshold by one solves it.",
        "5. On a hidden row `respondents`, `satisfied`, `satisfied_rate` and `meets_90` are null, "
        "`suppressed = true` and `suppression_reason` says why. A published commune row keeps its n and s.",
        "6. **Attacker check** before publishing (and on `latest`): from the release's own Parquet files, each "
        "group is a linear program (`scipy.optimize.linprog`) with variables n, s for every hidden cell and for "
        "the unattributed answers, constrained as in point 3 (bounds from the reason, 0 ≤ s ≤ n, commune n = "
        "hamlets' n + unattributed n, the same for s). For every hidden cell it computes the smallest and "
        "largest n, the smallest and largest s and the largest n − s. With d = n − s the constraint matrix is "
        "the incidence matrix of a bipartite graph, hence totally unimodular: the LP optima are integers and the "
        "intervals are exactly those of the integer values. A hidden cell that still shows a value, a rate or "
        "the 90 % flag counts as disclosed at once (that constraint never enters the LP). A cell whose n or s "
        "has a single value, a cell where everyone is certainly satisfied, or a hidden location that shows its "
        "n on another question of its block blocks the release, and `latest` stays as it was.",
        "",
        "Example 1 (t = 5): hamlets (n, s) = (3, 3), (4, 4), (20, 15), (30, 20) and commune row 57 / 42. The 3 and the 4 "
        "are primary: L = 2, T = 57 − 50 = 7, R = 42 − 35 = 7 = T: everyone in both is certainly satisfied. The "
        "20 (s = 15) is the smallest hamlet that helps: L = 2 + 5 = 7 < T = 27, 0 < R = 22 < 27 → complementary. "
        "A reader is left with n ∈ 1…4, 1…4, 5…25 and s ∈ 0…4, 0…4, 0…22.",
        "",
        "Example 2 (t = 5): hamlets (1, 0), (5, 3), (20, 10); commune 26 / 13. The 1 is primary: L = 1 = T = 1 (n "
        "disclosed). Hiding the 5 too gives L = 1 + 5 = 6 = T = 6: both n disclosed (1 and 5). The 20 helps: "
        "L = 6 < T = 21, 0 < R = 10 < 21 → complementary; n ∈ 1…4 and 5…20.",
        "",
        "Limits: combining different releases, or reasoning from which cell was chosen as complementary, is "
        "outside the check. Unattributed answers are not a cell: when no hamlet is hidden their n and s follow "
        "from the commune row (tied to no location).",
        "",
    ]
