"""Administrative units built from the vietnam-provinces package (QĐ 19/2025 list, since 1 Jul 2025)."""

from __future__ import annotations

import unicodedata

import pytest

from pipeline.ingest.sources.reference.admin_units import DATA_VERSION, communes_frame, provinces_frame


@pytest.fixture(scope="module")
def provinces():
    return provinces_frame()


@pytest.fixture(scope="module")
def communes():
    return communes_frame()


def test_data_version_comes_from_package():
    import vietnam_provinces

    assert vietnam_provinces.__data_version__ == DATA_VERSION
    assert len(DATA_VERSION) == 10  # YYYY-MM-DD


def test_34_provinces(provinces):
    assert len(provinces) == 34
    assert list(provinces.columns) == [
        "province_code",
        "name",
        "division_type_vi",
        "division_type_en",
        "codename",
    ]
    assert provinces["province_code"].is_unique
    assert provinces["province_code"].str.fullmatch(r"\d{2}").all()
    assert set(provinces["division_type_vi"]) == {"tỉnh", "thành phố trung ương"}
    assert provinces.notna().all().all()


def test_3321_communes(communes):
    assert len(communes) == 3321
    assert communes["commune_code"].is_unique
    assert communes["commune_code"].str.fullmatch(r"\d{5}").all()
    assert (communes["commune_code"].str.len() == 5).all()
    assert set(communes["division_type_vi"]) <= {"xã", "phường", "đặc khu"}
    assert set(communes["division_type_en"]) <= {"commune", "ward", "special zone"}
    assert communes.notna().all().all()


def test_every_commune_belongs_to_a_known_province(communes, provinces):
    assert set(communes["province_code"]) == set(provinces["province_code"])


def test_dong_loc(communes, provinces):
    row = communes.set_index("commune_code").loc["18484"]
    assert row["name"] == "Xã Đồng Lộc"
    assert row["province_code"] == "42"
    assert row["division_type_vi"] == "xã"
    assert row["division_type_en"] == "commune"
    assert provinces.set_index("province_code").loc["42", "name"].endswith("Hà Tĩnh")


def test_ha_tinh_has_69_units(communes):
    ht = communes[communes["province_code"] == "42"]
    assert len(ht) == 69
    counts = ht["division_type_vi"].value_counts().to_dict()
    assert counts == {"xã": 60, "phường": 9}


def test_text_is_nfc(communes, provinces):
    for frame in (communes, provinces):
        for col in ("name", "division_type_vi"):
            assert frame[col].map(lambda s: unicodedata.is_normalized("NFC", s)).all()
