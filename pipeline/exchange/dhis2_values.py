"""One DHIS2 ``dataValueSets`` payload read and checked, without a database: :func:`parse_datavalueset` (JSON or
CSV), :func:`validate` (each value against the mapping and the indicator catalog, giving the value or its
conflict) and :class:`ImportSummary` (DHIS2's import summary). The rules are listed in
:mod:`pipeline.exchange.dhis2_import`, which loads the checked values into the warehouse."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.exchange.dhis2 import from_dhis2_period
from pipeline.exchange.dhis2_mapping import UID_RE, Mapping

# code -> (property, message_vi, message_en); {v} is the offending value
REASONS: dict[str, tuple[str, str, str]] = {
    "unknown_data_element": (
        "dataElement",
        "Phần tử dữ liệu {v} không có trong bảng ánh xạ DHIS2 (dhis2_mapping.csv).",
        "Data element {v} is not in the DHIS2 mapping (dhis2_mapping.csv).",
    ),
    "unknown_org_unit": (
        "orgUnit",
        "Đơn vị tổ chức {v} không có trong bảng ánh xạ DHIS2.",
        "Org unit {v} is not in the DHIS2 mapping.",
    ),
    "org_unit_level_mismatch": (
        "orgUnit",
        "Đơn vị tổ chức {v} không đúng cấp báo cáo của chỉ tiêu (thôn / xã).",
        "Org unit {v} is not of the level the indicator is reported at (hamlet / commune).",
    ),
    "unknown_category_option_combo": (
        "categoryOptionCombo",
        "Tổ hợp phân tổ {v} không phải tổ hợp được ánh xạ cho phần tử dữ liệu này.",
        "Category option combo {v} is not the one mapped for this data element.",
    ),
    "unknown_attribute_option_combo": (
        "attributeOptionCombo",
        "Tổ hợp thuộc tính {v} không phải tổ hợp mặc định được ánh xạ.",
        "Attribute option combo {v} is not the mapped default.",
    ),
    "malformed_period": (
        "period",
        "Kỳ {v} không phải kỳ quý (YYYYQn) hoặc năm (YYYY) của DHIS2.",
        "Period {v} is not a DHIS2 quarter (YYYYQn) or year (YYYY).",
    ),
    "invalid_value_type": (
        "value",
        "Giá trị {v} không đúng kiểu giá trị của phần tử dữ liệu.",
        "Value {v} does not match the data element's value type.",
    ),
    "value_out_of_range": (
        "value",
        "Giá trị {v} nằm ngoài khoảng cho phép của chỉ tiêu.",
        "Value {v} is outside the indicator's allowed range.",
    ),
    "missing_value": (
        "value",
        "Giá trị trống (xoá) nhưng chưa có giá trị nào để xoá.",
        "Empty value (a deletion) but there is no value to delete.",
    ),
    "missing_value_field": (
        "dataElement",
        "Thiếu trường bắt buộc (dataElement, period, orgUnit).",
        "A required field is missing (dataElement, period, orgUnit).",
    ),
}
_BOOL = {"true": 1.0, "t": 1.0, "1": 1.0, "false": 0.0, "f": 0.0, "0": 0.0}
_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_INT_RE = re.compile(r"^\+?\d+$")
_FIELDS = ("dataElement", "period", "orgUnit", "categoryOptionCombo", "attributeOptionCombo", "value")


class NotDataValueSet(ValueError):
    pass


@dataclass
class ImportSummary:
    """DHIS2's ImportSummary for one file (``responseType``, ``status``, ``importCount``, ``conflicts``)."""

    file: str
    file_sha256: str
    imported: int = 0
    updated: int = 0
    ignored: int = 0
    deleted: int = 0
    conflicts: list[dict] = field(default_factory=list)
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    status: str = "SUCCESS"
    description: str = ""

    def as_json(self) -> dict:
        return {
            "responseType": "ImportSummary",
            "status": self.status,
            "description": self.description,
            "file": self.file,
            "fileSha256": self.file_sha256,
            "importCount": {
                "imported": self.imported,
                "updated": self.updated,
                "ignored": self.ignored,
                "deleted": self.deleted,
            },
            "conflicts": self.conflicts,
            "rejectedIndexes": sorted({i for c in self.conflicts for i in c["indexes"]}),
        }


def parse_datavalueset(data: bytes) -> list[dict[str, str]]:
    """The data values of a JSON or CSV dataValueSets payload, each with the set-level defaults applied
    (JSON ``period`` / ``orgUnit`` / ``attributeOptionCombo`` on the set). Values are kept as text."""
    text = data.decode("utf-8-sig")
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            obj = json.loads(stripped)
        except ValueError as e:
            raise NotDataValueSet(f"invalid JSON: {e}") from e
        dvs = obj.get("dataValues") if isinstance(obj, dict) else None
        if not isinstance(dvs, list):
            raise NotDataValueSet("no dataValues list")
        defaults = {k: obj.get(k) for k in ("period", "orgUnit", "attributeOptionCombo")}
        out = []
        for dv in dvs:
            if not isinstance(dv, dict):
                raise NotDataValueSet("a dataValues entry is not an object")
            rec = {k: dv.get(k, defaults.get(k)) for k in _FIELDS}
            out.append({k: (None if v is None else str(v).strip()) for k, v in rec.items()})
        return out
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or len(rows[0]) < 3:
        raise NotDataValueSet("not a CSV with the dataValueSets columns")
    out = []
    for r in rows[1:]:  # DHIS2: the first row is a header and is ignored
        if not any(c.strip() for c in r):
            continue
        r = [*r, *[""] * (6 - len(r))]
        rec = dict(zip(_FIELDS, [c.strip() for c in r[:6]], strict=True))
        out.append({k: (v if v != "" or k == "value" else None) for k, v in rec.items()})
    return out


def _num(text: str, value_type: str) -> float | None:
    if value_type == "BOOLEAN":
        return _BOOL.get(text.lower())
    if value_type == "INTEGER_ZERO_OR_POSITIVE":
        return float(int(text)) if _INT_RE.match(text) else None
    return float(text) if _NUMBER_RE.match(text) else None


@dataclass
class Catalog:
    """What validation needs besides the mapping: each indicator's level and range, the hamlet codes."""

    level: dict[str, str]  # indicator_code -> hamlet | commune
    min_value: dict[str, float | None]
    max_value: dict[str, float | None]
    hamlet_codes: set[str]

    @classmethod
    def from_files(cls, indicators_csv: Path, hamlets_csv: Path) -> Catalog:
        with open(indicators_csv, encoding="utf-8") as fh:
            ind = list(csv.DictReader(fh))
        with open(hamlets_csv, encoding="utf-8") as fh:
            ham = list(csv.DictReader(fh))

        def f(x: str) -> float | None:
            return float(x) if x not in ("", None) else None

        return cls(
            {i["indicator_code"]: i["level"] for i in ind},
            {i["indicator_code"]: f(i["min_value"]) for i in ind},
            {i["indicator_code"]: f(i["max_value"]) for i in ind},
            {h["hamlet_code"] for h in ham},
        )


def validate(
    records: list[dict[str, str]], mapping: Mapping, catalog: Catalog, previous: dict[tuple, float | None]
) -> tuple[list[dict], list[dict], dict[str, int]]:
    """(loaded rows, conflicts, counts). ``previous``: key → value currently loaded (None = deleted);
    updated in place as the file is applied in order."""
    ind_of, loc_of = mapping.indicator_of, mapping.location_of
    loaded: list[dict] = []
    conflicts: list[dict] = []
    counts = {"imported": 0, "updated": 0, "ignored": 0, "deleted": 0}
    for idx, r in enumerate(records):
        problems: list[tuple[str, str]] = []
        de, ou, pe = r.get("dataElement"), r.get("orgUnit"), r.get("period")
        coc, aoc = r.get("categoryOptionCombo"), r.get("attributeOptionCombo")
        value = r.get("value") or ""
        if not de or not ou or not pe:
            missing = [k for k in ("dataElement", "orgUnit", "period") if not r.get(k)]
            problems.append(("missing_value_field", ", ".join(missing)))
        indicator = ind_of.get(de) if de and UID_RE.match(de) else None
        if de and indicator is None:
            problems.append(("unknown_data_element", de))
        location = loc_of.get(ou) if ou and UID_RE.match(ou) else None
        if ou and location is None:
            problems.append(("unknown_org_unit", ou))
        period = from_dhis2_period(pe) if pe else None
        if pe and period is None:
            problems.append(("malformed_period", pe))
        level = None
        if location is not None:
            level = "hamlet" if location in catalog.hamlet_codes else "commune"
            if indicator is not None and catalog.level.get(indicator) != level:
                problems.append(("org_unit_level_mismatch", ou))
        vt = None
        if indicator is not None:
            _, mapped_coc, vt = mapping.data_elements[indicator]
            if coc and coc != mapped_coc:
                problems.append(("unknown_category_option_combo", coc))
            coc = mapped_coc
        if aoc and aoc != mapping.attribute_option_combo:
            problems.append(("unknown_attribute_option_combo", aoc))
        aoc = mapping.attribute_option_combo
        num = None
        if value != "" and vt is not None:
            num = _num(value, vt)
            if num is None:
                problems.append(("invalid_value_type", value))
            else:
                lo, hi = catalog.min_value.get(indicator), catalog.max_value.get(indicator)
                if (lo is not None and num < lo) or (hi is not None and num > hi):
                    problems.append(("value_out_of_range", value))
        key = (de, ou, pe, coc, aoc)
        if not problems and value == "" and previous.get(key) is None:
            problems.append(("missing_value", ""))
        if problems:
            counts["ignored"] += 1
            for code, v in problems:
                prop, vi, en = REASONS[code]
                conflicts.append(
                    {
                        "object": v,
                        "property": prop,
                        "value": en.format(v=v),
                        "errorCode": code,
                        "message_vi": vi.format(v=v),
                        "indexes": [idx],
                    }
                )
            continue
        if value == "":
            action = "deleted"
        elif key not in previous or previous[key] is None:
            action = "imported"
        else:
            action = "updated" if previous[key] != num else "ignored"
        counts[action] += 1
        previous[key] = num
        loaded.append(
            {
                "row_number": idx,
                "data_element": de,
                "period": pe,
                "org_unit": ou,
                "category_option_combo": coc,
                "attribute_option_combo": aoc,
                "value_text": value,
                "indicator_code": indicator,
                "location_code": location,
                "location_level": level,
                "period_code": period,
                "value": num,
                "is_deletion": value == "",
                "import_action": action,
            }
        )
    return loaded, conflicts, counts
