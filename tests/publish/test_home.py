"""The release names its home commune (pipeline.publish.home): the bundled sample keeps its texts byte for byte,
another commune's instance (NTM_HOME_COMMUNE) gets its own name, titles, publisher and changelog header."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.publish import datapackage as dpk
from pipeline.publish.home import home_commune, release_home
from pipeline.publish.reuser_readme import changelog_header, prepend_changelog, render_readme


def _descriptor(home=None) -> dict:
    return dpk.package_descriptor(
        resources=[], release_id="20261129-0123456789", content_sha256="x", version="v", created="c",
        is_synthetic=False, previous_release_id=None, home=home,
    )  # fmt: skip


def test_the_sample_commune_keeps_its_name_and_titles(monkeypatch):
    monkeypatch.delenv("NTM_HOME_COMMUNE", raising=False)
    dp = _descriptor()
    assert dp["name"] == "ntm-dong-loc-18484" and dp["id"] == "ntm-dong-loc-18484/20261129-0123456789"
    assert dp["title"] == (
        "Dữ liệu mở chỉ tiêu nông thôn mới và chuyển đổi số - xã Đồng Lộc, tỉnh Hà Tĩnh (18484) / Open data on "
        "new-rural (NTM) and digital-transformation indicators - Đồng Lộc commune, Hà Tĩnh (18484)"
    )
    assert dp["contributors"][0]["title"] == (
        "Ủy ban nhân dân xã Đồng Lộc / People's Committee of Đồng Lộc commune"
    )
    assert dp["sources"][0]["path"] == "https://example.invalid/dong-loc/open-data"
    assert dp["keywords"][-2:] == ["Hà Tĩnh", "Đồng Lộc"]
    readme = render_readme(dp)
    assert "- Mã xã / Commune code: 18484 (Đồng Lộc, Hà Tĩnh - mã tỉnh 42)" in readme
    assert "Ủy ban nhân dân xã Đồng Lộc (tỉnh Hà Tĩnh). Dữ liệu mở" in readme
    assert changelog_header().startswith(
        "# CHANGELOG - Dữ liệu mở NTM xã Đồng Lộc / Đồng Lộc NTM open data\n"
    )


def test_another_commune_instance_names_its_own_commune(monkeypatch):
    monkeypatch.setenv("NTM_HOME_COMMUNE", "18496")
    dp = _descriptor()
    assert dp["name"] == "ntm-huong-khe-18496"
    assert (
        "xã Hương Khê, tỉnh Hà Tĩnh (18496)" in dp["title"]
        and "Hương Khê commune, Hà Tĩnh (18496)" in dp["title"]
    )
    text = str(dp) + render_readme(dp) + changelog_header()
    assert "Đồng Lộc" not in text and "18484" not in text and "dong-loc" not in text
    # the previous changelog's header is recognised and not repeated
    first = prepend_changelog(None, "## a\n")
    assert prepend_changelog(first, "## b\n").count("# CHANGELOG") == 1


@pytest.mark.parametrize(
    ("code", "name", "place_vi", "place_en"),
    [
        ("18754", "ntm-song-tri-18754", "phường Sông Trí, tỉnh Hà Tĩnh", "Sông Trí ward, Hà Tĩnh"),
        ("00070", "ntm-hoan-kiem-00070", "phường Hoàn Kiếm, thành phố Hà Nội", "Hoàn Kiếm ward, Hà Nội"),
        (
            "06994",
            "ntm-van-don-06994",
            "đặc khu Vân Đồn, tỉnh Quảng Ninh",
            "Vân Đồn special zone, Quảng Ninh",
        ),
    ],
)
def test_wards_special_zones_and_city_provinces_are_named_by_their_kind(code, name, place_vi, place_en):
    home = home_commune(code)
    assert (home.package_name, home.place_vi, home.place_en) == (name, place_vi, place_en)


def test_an_unknown_code_is_refused_in_both_languages():
    with pytest.raises(ValueError, match="không có trong danh mục.*not in the admin registry"):
        home_commune("18487")


def test_the_release_takes_its_home_commune_from_the_warehouse(monkeypatch):
    monkeypatch.setenv("NTM_HOME_COMMUNE", "18481")
    con = duckdb.connect()
    assert release_home(con).code == "18481"  # no dim_commune: the configured one
    con.execute("create schema marts")
    con.execute(
        "create table marts.dim_commune as select * from (values ('18484', false), ('18496', true)) "
        "v(commune_code, is_home_commune)"
    )
    con.execute("begin")
    assert release_home(con).code == "18496"
    con.execute("select 1")  # the caller's transaction is still usable
