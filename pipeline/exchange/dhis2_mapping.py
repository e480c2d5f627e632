"""The DHIS2 mapping (``raw/reference/dhis2_mapping.csv``): indicator -> data element and category option combo,
hamlet/commune -> org unit, the attribute option combo; its checks (:func:`load_mapping`, errors naming file, row,
column and reason) and the synthetic sample mapping (:func:`sample_mapping_rows`, UIDs from :func:`make_uid`).
Used by the export (:mod:`pipeline.exchange.dhis2`) and the import (:mod:`pipeline.exchange.dhis2_import`)."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

#: the mapping file in the landing zone's reference folder (optional: without it no DHIS2 export)
MAPPING_FILE = "dhis2_mapping.csv"
MAPPING_COLUMNS = ("kind", "code", "dhis2_uid", "category_option_combo", "value_type", "name", "synthetic")
KINDS = ("data_element", "org_unit", "attribute_option_combo")
UID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]{10}$")
#: DHIS2 value types we use, per our ``dim_indicator.value_type``
VALUE_TYPES = {
    "count": "INTEGER_ZERO_OR_POSITIVE",
    "percent": "NUMBER",
    "ratio": "NUMBER",
    "yesno": "BOOLEAN",
}
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


class MappingError(ValueError):
    """The mapping file is invalid (named file, row, column and reason, Vietnamese then English)."""


def make_uid(kind: str, code: str) -> str:
    """A deterministic DHIS2-shaped UID (letter + 10 letters/digits) for a synthetic mapping: the same
    (kind, code) always gives the same UID. Real deployments copy the UIDs of their DHIS2 instance."""
    digest = hashlib.sha256(f"ntm-dhis2:{kind}:{code}".encode()).digest()
    n = int.from_bytes(digest, "big")
    chars = [_ALNUM[n % 52]]  # first: a letter
    n //= 52
    for _ in range(10):
        chars.append(_ALNUM[n % 62])
        n //= 62
    return "".join(chars)


@dataclass
class Mapping:
    """indicator → (data element UID, category option combo UID, DHIS2 value type); our org unit code
    (hamlet or commune) → org unit UID; the attribute option combo (``default``)."""

    data_elements: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    org_units: dict[str, str] = field(default_factory=dict)
    attribute_option_combo: str = ""
    synthetic: bool = False
    rows: list[dict[str, str]] = field(default_factory=list)

    @property
    def indicator_of(self) -> dict[str, str]:
        return {de: code for code, (de, _, _) in self.data_elements.items()}

    @property
    def location_of(self) -> dict[str, str]:
        return {uid: code for code, uid in self.org_units.items()}


def _err(path: Path, row: int, column: str, vi: str, en: str) -> MappingError:
    return MappingError(
        f"{path.name}, dòng {row}, cột {column}: {vi} / {path.name}, row {row}, column {column}: {en}"
    )


def load_mapping(path: Path) -> Mapping:
    """Read and check ``dhis2_mapping.csv`` (UTF-8, header row = :data:`MAPPING_COLUMNS`). Rows are
    numbered as a spreadsheet shows them (header = row 1)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in MAPPING_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise _err(path, 1, ", ".join(missing), "thiếu cột", "missing column(s)")
    m = Mapping()
    uids: dict[str, int] = {}
    synthetic: set[str] = set()
    for i, r in enumerate(reader, start=2):
        r = {k: (v or "").strip() for k, v in r.items() if k in MAPPING_COLUMNS}
        kind, code, uid, coc = r["kind"], r["code"], r["dhis2_uid"], r["category_option_combo"]
        if kind not in KINDS:
            raise _err(path, i, "kind", f"loại không hợp lệ {kind!r} (cho phép: {', '.join(KINDS)})",
                       f"invalid kind {kind!r} (allowed: {', '.join(KINDS)})")  # fmt: skip
        if not code:
            raise _err(path, i, "code", "thiếu mã", "missing code")
        if not UID_RE.match(uid):
            raise _err(path, i, "dhis2_uid", f"UID {uid!r} không đúng dạng DHIS2 (1 chữ cái + 10 chữ/số)",
                       f"UID {uid!r} is not a DHIS2 UID (a letter + 10 letters/digits)")  # fmt: skip
        key = f"{kind}:{uid}"
        if key in uids:
            raise _err(path, i, "dhis2_uid", f"UID {uid} trùng với dòng {uids[key]}",
                       f"UID {uid} repeats row {uids[key]}")  # fmt: skip
        uids[key] = i
        synthetic.add(r["synthetic"].lower())
        if kind == "data_element":
            if not UID_RE.match(coc):
                raise _err(path, i, "category_option_combo", f"UID {coc!r} không đúng dạng DHIS2",
                           f"UID {coc!r} is not a DHIS2 UID")  # fmt: skip
            if r["value_type"] not in set(VALUE_TYPES.values()):
                raise _err(path, i, "value_type", f"kiểu giá trị không hỗ trợ {r['value_type']!r}",
                           f"unsupported value type {r['value_type']!r}")  # fmt: skip
            if code in m.data_elements:
                raise _err(
                    path, i, "code", f"chỉ tiêu {code} đã có dòng trước", f"indicator {code} mapped twice"
                )
            m.data_elements[code] = (uid, coc, r["value_type"])
        elif kind == "org_unit":
            if code in m.org_units:
                raise _err(
                    path, i, "code", f"đơn vị {code} đã có dòng trước", f"org unit {code} mapped twice"
                )
            m.org_units[code] = uid
        else:
            if m.attribute_option_combo:
                raise _err(path, i, "kind", "chỉ được một dòng attribute_option_combo",
                           "only one attribute_option_combo row is allowed")  # fmt: skip
            m.attribute_option_combo = uid
        m.rows.append(r)
    if not m.attribute_option_combo:
        raise _err(path, 1, "kind", "thiếu dòng attribute_option_combo (default)",
                   "no attribute_option_combo row (default)")  # fmt: skip
    m.synthetic = synthetic == {"true"}
    return m


def sample_mapping_rows(indicators_csv: Path, hamlets_csv: Path) -> list[dict[str, str]]:
    """The bundled sample's mapping: every indicator of the catalog, every hamlet and commune of the
    registry, the ``default`` attribute option combo; UIDs from :func:`make_uid`, marked synthetic."""
    with open(indicators_csv, encoding="utf-8") as fh:
        indicators = list(csv.DictReader(fh))
    with open(hamlets_csv, encoding="utf-8") as fh:
        hamlets = list(csv.DictReader(fh))
    coc = make_uid("category_option_combo", "default")
    rows = [
        {
            "kind": "data_element",
            "code": i["indicator_code"],
            "dhis2_uid": make_uid("data_element", i["indicator_code"]),
            "category_option_combo": coc,
            "value_type": VALUE_TYPES[i["value_type"]],
            "name": i["name_en"],
            "synthetic": "true",
        }
        for i in indicators
    ]
    seen: set[str] = set()
    for code, name in [(h["commune_code"], f"Commune {h['commune_code']}") for h in hamlets] + [
        (h["hamlet_code"], h["name"]) for h in hamlets
    ]:
        if code not in seen:
            seen.add(code)
            rows.append({"kind": "org_unit", "code": code, "dhis2_uid": make_uid("org_unit", code),
                         "category_option_combo": "", "value_type": "", "name": name, "synthetic": "true"})  # fmt: skip
    rows.append({"kind": "attribute_option_combo", "code": "default",
                 "dhis2_uid": make_uid("attribute_option_combo", "default"), "category_option_combo": "",
                 "value_type": "", "name": "default", "synthetic": "true"})  # fmt: skip
    return rows


def write_mapping(rows: list[dict[str, str]], path: Path) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(MAPPING_COLUMNS), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    Path(path).write_text(buf.getvalue(), encoding="utf-8")
