"""The commune a release is published for (its "home commune"), as the release's texts name it.

One instance serves one commune (``NTM_HOME_COMMUNE``, :func:`pipeline.config.home_commune`). A release reads
its home commune from the warehouse it publishes (``marts.dim_commune.is_home_commune``), falling back to the
configured code when the warehouse has no such table (the publisher's unit tests); names come from the admin
registry (vietnam-provinces, QĐ 19/2025), the same one ``dim_commune`` is built from. For 18484 the texts are
the ones the release always had (``ntm-dong-loc-18484``, "xã Đồng Lộc, tỉnh Hà Tĩnh").
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import duckdb

# division type (vietnam-provinces enum value) -> English word after the name, codename prefix
_COMMUNE_KINDS = {
    "xã": ("commune", "xa_"),
    "phường": ("ward", "phuong_"),
    "đặc khu": ("special zone", "dac_khu_"),
}


@dataclass(frozen=True)
class HomeCommune:
    code: str  # "18484"
    name: str  # without its division type: "Đồng Lộc"
    division_vi: str  # "xã", "phường", "đặc khu"
    division_en: str  # "commune", "ward", "special zone"
    slug: str  # "dong-loc" (codename without its division prefix, "-" for "_")
    province_code: str  # "42"
    province_name: str  # without its division type: "Hà Tĩnh"
    province_division_vi: str  # "tỉnh" or "thành phố"

    @property
    def package_name(self) -> str:
        """The release's Data Package name: ``ntm-<slug>-<code>`` (``ntm-dong-loc-18484``)."""
        return f"ntm-{self.slug}-{self.code}"

    @property
    def place_vi(self) -> str:
        """``xã Đồng Lộc, tỉnh Hà Tĩnh``"""
        return f"{self.division_vi} {self.name}, {self.province_division_vi} {self.province_name}"

    @property
    def place_en(self) -> str:
        """``Đồng Lộc commune, Hà Tĩnh``"""
        return f"{self.name} {self.division_en}, {self.province_name}"

    @property
    def committee_vi(self) -> str:
        """``Ủy ban nhân dân xã Đồng Lộc``"""
        return f"Ủy ban nhân dân {self.division_vi} {self.name}"

    @property
    def committee_en(self) -> str:
        """``People's Committee of Đồng Lộc commune``"""
        return f"People's Committee of {self.name} {self.division_en}"

    @property
    def portal_url(self) -> str:
        return f"https://example.invalid/{self.slug}/open-data"  # placeholder until the portal URL exists


def _strip_prefix(name: str, prefix: str) -> str:
    return name[len(prefix) + 1 :] if name.lower().startswith(prefix.lower() + " ") else name


def home_commune(code: str) -> HomeCommune:
    """The commune ``code`` of the admin registry; ValueError (bilingual) when the registry has no such code."""
    from vietnam_provinces import Province, VietNamDivisionType, Ward

    try:
        ward = Ward.from_code(int(code))
    except ValueError as exc:
        raise ValueError(
            f"Mã xã {code!r} không có trong danh mục đơn vị hành chính (vietnam-provinces). / "
            f"Commune code {code!r} is not in the admin registry (vietnam-provinces)."
        ) from exc
    nfc = lambda s: unicodedata.normalize("NFC", s)  # noqa: E731
    division_vi = nfc(ward.division_type.value)
    division_en, codename_prefix = _COMMUNE_KINDS.get(division_vi, ("commune", ""))
    codename = ward.codename.removeprefix(codename_prefix)
    province = Province.from_code(int(ward.province_code))
    city = province.division_type == VietNamDivisionType.THANH_PHO_TRUNG_UONG
    province_division_vi = "thành phố" if city else "tỉnh"
    return HomeCommune(
        code=f"{int(code):05d}",
        name=_strip_prefix(nfc(ward.name), division_vi),
        division_vi=division_vi,
        division_en=division_en,
        slug=codename.replace("_", "-"),
        province_code=f"{int(ward.province_code):02d}",
        province_name=_strip_prefix(nfc(province.name), province_division_vi),
        province_division_vi=province_division_vi,
    )


def release_home(con: duckdb.DuckDBPyConnection | None) -> HomeCommune:
    """The home commune of the warehouse behind ``con`` (``marts.dim_commune.is_home_commune``); the configured
    one (NTM_HOME_COMMUNE) when there is no such table or row."""
    from pipeline.config import home_commune as configured

    code = None
    # looked up first, not tried: a failed query would abort a transaction the caller may have open
    has_table = (
        con is not None
        and con.execute(
            "select count(*) from duckdb_columns() where schema_name = 'marts' and table_name = 'dim_commune' "
            "and column_name in ('commune_code', 'is_home_commune')"
        ).fetchone()[0]
        == 2
    )
    if has_table:
        row = con.execute(
            "select commune_code from marts.dim_commune where is_home_commune order by commune_code limit 1"
        ).fetchone()
        code = row[0] if row else None
    return home_commune(code or configured())
