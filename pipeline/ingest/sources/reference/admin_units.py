"""Provinces and communes of Viet Nam (two-tier government since 1 Jul 2025) as pandas frames.

Everything comes from the ``vietnam-provinces`` package (list of QĐ 19/2025): 34 provinces and 3,321
communes (xã, phường, đặc khu). Codes are returned as zero-padded text: province 2 characters, commune
5 characters (``"42"``, ``"18484"``). The only thing defined here is the English label of each division
type enum member of the package.
"""

from __future__ import annotations

import unicodedata

import pandas as pd
import vietnam_provinces as _vp
from vietnam_provinces import Province, VietNamDivisionType, Ward

#: Version of the administrative-unit data shipped by the package (e.g. ``"2025-10-18"``).
DATA_VERSION: str = _vp.__data_version__
#: Version of the package itself.
PACKAGE_VERSION: str = _vp.__version__

#: English label per division type of the package (the Vietnamese label is the enum value).
DIVISION_TYPE_EN: dict[VietNamDivisionType, str] = {
    VietNamDivisionType.TINH: "province",
    VietNamDivisionType.THANH_PHO_TRUNG_UONG: "centrally-run city",
    VietNamDivisionType.XA: "commune",
    VietNamDivisionType.PHUONG: "ward",
    VietNamDivisionType.DAC_KHU: "special zone",
}

PROVINCE_COLUMNS = [
    "province_code",
    "name",
    "division_type_vi",
    "division_type_en",
    "codename",
]
COMMUNE_COLUMNS = [
    "commune_code",
    "name",
    "division_type_vi",
    "division_type_en",
    "province_code",
    "codename",
]


def _nfc(s: pd.Series) -> pd.Series:
    return s.map(lambda v: unicodedata.normalize("NFC", v))


def _division_types(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Vietnamese (enum value) and English labels of a series of division-type values."""
    vi = s.astype(str)
    en = vi.map({member.value: label for member, label in DIVISION_TYPE_EN.items()})
    if en.isna().any():  # a new enum member in a future package version
        unknown = sorted(set(vi[en.isna()]))
        raise ValueError(f"division types without an English label: {unknown}")
    return _nfc(vi), en


def provinces_frame() -> pd.DataFrame:
    """One row per province: ``province_code`` (2-char text), name, division type vi/en, codename.

    The data version is :data:`DATA_VERSION`."""
    raw = pd.DataFrame(
        [(int(p.code), p.name, p.division_type.value, p.codename) for p in Province.iter_all()],
        columns=["code", "name", "division_type", "codename"],
    )
    vi, en = _division_types(raw["division_type"])
    out = pd.DataFrame(
        {
            "province_code": raw["code"].astype(str).str.zfill(2),
            "name": _nfc(raw["name"]),
            "division_type_vi": vi,
            "division_type_en": en,
            "codename": raw["codename"],
        }
    )
    return out.sort_values("province_code", ignore_index=True)[PROVINCE_COLUMNS].astype("string")


def communes_frame() -> pd.DataFrame:
    """One row per commune (xã / phường / đặc khu): ``commune_code`` (5-char text), name, division type
    vi/en, ``province_code`` (2-char text), codename."""
    raw = pd.DataFrame(
        [
            (int(w.code), w.name, w.division_type.value, int(w.province_code), w.codename)
            for w in Ward.iter_all()
        ],
        columns=["code", "name", "division_type", "province_code", "codename"],
    )
    vi, en = _division_types(raw["division_type"])
    out = pd.DataFrame(
        {
            "commune_code": raw["code"].astype(str).str.zfill(5),
            "name": _nfc(raw["name"]),
            "division_type_vi": vi,
            "division_type_en": en,
            "province_code": raw["province_code"].astype(str).str.zfill(2),
            "codename": raw["codename"],
        }
    )
    return out.sort_values("commune_code", ignore_index=True)[COMMUNE_COLUMNS].astype("string")
