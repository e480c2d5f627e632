"""Bilingual (vi / en) README.md for reusers and the CHANGELOG.md of releases (plain string building)."""

from __future__ import annotations

from typing import Any

PORTAL_URL = "https://example.invalid/dong-loc/open-data"  # placeholder until the portal URL exists


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


def render_readme(dp: dict[str, Any], *, min_count: int = 5) -> str:
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
    add("- Mã xã / Commune code: 18484 (Đồng Lộc, Hà Tĩnh - mã tỉnh 42)")
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
        "Bộ dữ liệu mở do Ủy ban nhân dân xã Đồng Lộc công bố theo Nghị định 47/2020/NĐ-CP: miễn phí, không cần "
        "đăng ký, được tái sử dụng với điều kiện ghi nguồn."
    )
    add("")
    add(
        "Open data published by the People's Committee of Đồng Lộc commune under Decree 47/2020/ND-CP: free, "
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
    add("")
    add("## Bảo vệ dữ liệu cá nhân / Disclosure control")
    add("")
    lines.extend(suppression_rule_lines(min_count))
    add(
        "- Không công bố ý kiến tự do, họ tên, số điện thoại, số CMND/CCCD, e-mail. Trước khi công bố, mọi cột văn "
        "bản (trừ khoá thay thế `*_key` và `submission_id`, là mã băm) được quét, mỗi giá trị khác nhau một lần: "
        "số điện thoại Việt Nam (đầu `0`/`84`/`+84`; di động `0[35789]` + 8 chữ số, cố định `02` + 9 chữ số; "
        "có thể cách bằng dấu cách, `.`, `-`), số CMND/CCCD (9 hoặc 12 chữ số, có thể cách từng nhóm), địa chỉ "
        "e-mail, và tên người trả lời khảo sát cùng chủ hộ kinh doanh — cả khi nằm trong văn bản dài hơn (vd. tên "
        'sản phẩm "Bánh <tên>"), không phân biệt hoa thường và dấu (`đ` = `d`), tên nhiều từ được so như một cụm '
        "từ trọn vẹn, tên một từ chỉ khi là cả ô. Chỉ cần một ô khớp là không công bố, kèm thông báo song ngữ nêu "
        "bảng, cột và khoá dòng (đã che)."
    )
    add(
        "- Ô văn bản bắt đầu bằng `=`, `+`, `-` hoặc `@` (bảng tính có thể hiểu là công thức) được công bố nguyên "
        "văn trong Parquet và được cảnh báo trong mô tả cột (Parquet và datapackage.json); bản phát hành không có "
        "tệp CSV/XLSX — khi tự xuất ra CSV/XLSX, hãy thêm dấu nháy `'` ở đầu các ô đó."
    )
    add(
        "- No free-text answers, names, phone numbers, ID numbers or e-mail addresses are published. Before "
        "release every text column (except the surrogate keys `*_key` and `submission_id`, which are hashes) is "
        "scanned, once per distinct value, for Vietnamese phone numbers (prefix `0`/`84`/`+84`; mobile "
        "`0[35789]` + 8 digits, landline `02` + 9 digits; spaces, `.` or `-` allowed between digits), ID numbers "
        "(CMND/CCCD: 9 or 12 digits, groups may be separated), e-mail addresses, and the names of survey "
        "respondents and household-business owners — also inside longer text (e.g. a product name "
        '"Bánh <name>"), ignoring case and diacritics (`đ` = `d`), a multi-word name as a whole phrase, a '
        "one-word name only as a whole cell. One matching cell blocks the release, with a bilingual message "
        "naming the table, column and row key (masked)."
    )
    add(
        "- Text cells starting with `=`, `+`, `-` or `@` (a spreadsheet may run them as a formula) are published "
        "as they are in Parquet and flagged in the column description (Parquet and datapackage.json); the "
        "release has no CSV/XLSX file — when you export one yourself, prefix such cells with an apostrophe `'`."
    )
    add("")
    add("## Trích dẫn / How to cite")
    add("")
    add("```text")
    add(
        f"Ủy ban nhân dân xã Đồng Lộc (tỉnh Hà Tĩnh). {dp['title'].split(' / ')[0]}. Phiên bản {rid}. {PORTAL_URL}"
    )
    add(
        f"People's Committee of Đồng Lộc commune (Hà Tĩnh). {dp['title'].split(' / ')[-1]}. Release {rid}. {PORTAL_URL}"
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


CHANGELOG_HEADER = (
    "# CHANGELOG - Dữ liệu mở NTM xã Đồng Lộc / Đồng Lộc NTM open data\n\n"
    "Mới nhất ở trên. / Newest first.\n\n"
)


def prepend_changelog(previous: str | None, entry: str) -> str:
    body = ""
    if previous and previous.startswith(CHANGELOG_HEADER):
        body = previous[len(CHANGELOG_HEADER) :]
    elif previous:
        body = previous
    return CHANGELOG_HEADER + entry + ("\n" + body if body else "")


def suppression_rule_lines(min_count: int = 5) -> list[str]:
    """The cell-suppression rule of ``mart_satisfaction``, precisely enough to recompute it (Vietnamese, then
    English). The code is :mod:`pipeline.publish.suppression`; the check is
    :mod:`pipeline.publish.disclosure_audit`."""
    m = min_count
    return [
        "### Ẩn ô khảo sát sự hài lòng",
        "",
        "Bảng `mart_satisfaction`: mỗi *nhóm* là một xã × kỳ × mẫu phiếu × câu hỏi, gồm một dòng cho mỗi thôn và "
        "một dòng toàn xã (`hamlet_code` rỗng). Dòng xã đếm cả các phiếu không ghi thôn. Gọi n = `respondents` "
        "(số người trả lời), s = `satisfied` (số hài lòng).",
        "",
        f"1. **Ẩn sơ cấp** (`suppression_reason = primary`): mọi dòng (thôn hoặc xã) có 0 < n < {m}. Dòng có "
        "n = 0 không có câu trả lời nào và không bị ẩn.",
        "2. **Ẩn bổ sung** (`complementary`), trong mỗi nhóm có dòng thôn bị ẩn sơ cấp mà dòng xã vẫn công bố. "
        "Gọi K là các dòng thôn đang bị ẩn cùng với phần phiếu không ghi thôn (n của phần này = n xã − tổng n "
        "các thôn); T = tổng n trên K; R = tổng s trên K (ai cũng tính được: s xã − tổng s các thôn đang công "
        "bố); m = số phần tử của K có n > 0. Từ số liệu công bố, s của một thôn bị ẩn i có thể nhận mọi giá trị "
        "từ max(0, R − (T − nᵢ)) đến min(nᵢ, R); khoảng này có ít nhất hai giá trị cho mọi ô bị ẩn **khi và "
        "chỉ khi** m ≥ 2 và 0 < R < T. Chừng nào điều kiện này chưa đúng:",
        "   - ẩn thêm dòng thôn đang công bố j (nⱼ > 0) làm điều kiện đúng khi thêm vào K "
        "(0 < R + sⱼ < T + nⱼ và m + 1 ≥ 2) có **ít người trả lời nhất**; bằng nhau thì chọn `hamlet_code` "
        "nhỏ hơn (thứ tự chuỗi);",
        "   - nếu không thôn nào làm được (K hài lòng hết và mọi thôn khác cũng hài lòng hết, hoặc K không ai hài "
        "lòng và mọi thôn khác cũng vậy), ẩn dòng xã. Khi đó không còn phương trình nào ràng buộc các thôn bị "
        "ẩn: mỗi thôn i còn 0 … nᵢ, dòng xã còn P … P + T (P = tổng s các thôn công bố).",
        "   Nhóm có dòng xã bị ẩn sơ cấp (n xã < ngưỡng) không cần ẩn thêm.",
        "3. Ở dòng bị ẩn, `satisfied`, `satisfied_rate` và `meets_90` để trống, `suppressed = true`; "
        "`respondents` vẫn được công bố (là mẫu số người dùng cần, không phải câu trả lời cần bảo vệ).",
        "4. **Kiểm tra như kẻ tấn công** trước khi công bố: từ chính các tệp Parquet của bản phát hành, với mỗi ô "
        "bị ẩn, tính giá trị nhỏ nhất và lớn nhất của s bằng quy hoạch tuyến tính (`scipy.optimize.linprog`) "
        "với ràng buộc 0 ≤ s ≤ n, s xã = tổng s thôn + s phiếu không ghi thôn, và mọi giá trị còn hiển thị. Nếu "
        "một ô chỉ còn đúng một giá trị, bản phát hành bị chặn và `latest` giữ nguyên.",
        "",
        "Ví dụ: nhóm có các thôn (n, s) = (3, 3), (4, 4), (20, 15), (30, 20); dòng xã 57 / 42. Hai thôn 3 và 4 "
        "bị ẩn sơ cấp: K = {3, 4}, T = 7, R = 42 − 15 − 20 = 7 = T, nên cả hai bị lộ (3 và 4). Thôn 20 "
        "(s = 15) là thôn nhỏ nhất làm được: R = 22, T = 27, 0 < 22 < 27 → ẩn bổ sung. Người đọc chỉ còn biết "
        "s ∈ 0…3, 0…4 và 15…20.",
        "",
        "Giới hạn: số người trả lời được công bố; việc so sánh nhiều bản phát hành khác nhau, hay suy luận từ "
        "chính việc ô nào được chọn để ẩn bổ sung, không nằm trong phép kiểm tra.",
        "",
        "### Satisfaction cell suppression",
        "",
        "Table `mart_satisfaction`: each *group* is one commune × period × form × question, with one row per "
        "hamlet and one commune row (`hamlet_code` null). The commune row also counts the answers not attributed "
        "to a hamlet. n = `respondents`, s = `satisfied`.",
        "",
        f"1. **Primary** (`suppression_reason = primary`): every row (hamlet or commune) with 0 < n < {m}. Rows "
        "with n = 0 hold no answer and are never hidden.",
        "2. **Complementary** (`complementary`), in every group with a primary hamlet row whose commune row is "
        "published. Let K be the hidden hamlet rows plus the answers not attributed to a hamlet (their n = "
        "commune n − sum of the hamlets' n); T = sum of n over K; R = sum of s over K (anyone can compute it: "
        "commune s − sum of the published hamlets' s); m = the number of members of K with n > 0. Given the "
        "published numbers, the s of a hidden hamlet i can be any value from max(0, R − (T − nᵢ)) to "
        "min(nᵢ, R); this range holds at least two values for every hidden row **if and only if** m ≥ 2 and "
        "0 < R < T. While it does not hold:",
        "   - hide the published hamlet row j (nⱼ > 0) that makes it hold once added to K "
        "(0 < R + sⱼ < T + nⱼ and m + 1 ≥ 2) with the **fewest respondents**; ties go to the smaller "
        "`hamlet_code` (string order);",
        "   - if no hamlet row can (K is all-satisfied and so is every other hamlet, or K is all-unsatisfied and "
        "so is every other hamlet), hide the commune row. No equation then binds the hidden hamlets: each keeps "
        "0 … nᵢ and the commune row keeps P … P + T (P = sum of the published hamlets' s).",
        "   A group whose commune row is primary (commune n below the threshold) needs nothing more.",
        "3. On a hidden row `satisfied`, `satisfied_rate` and `meets_90` are null and `suppressed = true`; "
        "`respondents` stays published (it is the denominator users need, not the answer being protected).",
        "4. **Attacker check** before publishing: from the release's own Parquet files, for every hidden cell, the "
        "smallest and largest s are computed by linear programming (`scipy.optimize.linprog`) subject to "
        "0 ≤ s ≤ n, commune s = sum of hamlet s + s of the unattributed answers, and every value still shown. "
        "If a cell is left with exactly one value, the release is blocked and `latest` stays as it was.",
        "",
        "Example: a group with hamlets (n, s) = (3, 3), (4, 4), (20, 15), (30, 20) and commune row 57 / 42. The 3 "
        "and the 4 are primary: K = {3, 4}, T = 7, R = 42 − 15 − 20 = 7 = T, so both would be disclosed (3 and 4). "
        "The 20 (s = 15) is the smallest hamlet that helps: R = 22, T = 27, 0 < 22 < 27 → complementary. A "
        "reader is left with s ∈ 0…3, 0…4 and 15…20.",
        "",
        "Limits: respondent counts are published; combining different releases, or reasoning from which cell was "
        "chosen as complementary, is outside the check.",
        "",
    ]
