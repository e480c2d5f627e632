"""pipeline.synth: a small province of chosen communes, and the split into one landing zone per commune."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from pipeline.synth import generate_scale, split_by_commune

COMMUNES = ["18481", "18484", "18496"]


def _digest(root) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


def test_a_small_province_has_just_the_chosen_communes_and_hamlets(tmp_path):
    stats = generate_scale(tmp_path / "a", "province", 3, "2026-Q1", "2026-Q1", communes=COMMUNES, hamlets=2)
    assert (stats["communes"], stats["hamlets"]) == (3, 6)
    hamlets = pd.read_csv(tmp_path / "a" / "reference" / "hamlets.csv", dtype=str)
    assert hamlets.groupby("commune_code").size().to_dict() == dict.fromkeys(COMMUNES, 2)
    generate_scale(tmp_path / "b", "province", 3, "2026-Q1", "2026-Q1", communes=COMMUNES, hamlets=2)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    generate_scale(tmp_path / "c", "province", 3, "2026-Q1", "2026-Q1", communes=COMMUNES, hamlets=(3, 4))
    hamlets = pd.read_csv(tmp_path / "c" / "reference" / "hamlets.csv", dtype=str)
    assert hamlets.groupby("commune_code").size().to_dict() == {"18481": 3, "18484": 4, "18496": 3}


def test_a_commune_outside_the_scale_is_named(tmp_path):
    with pytest.raises(ValueError, match="no commune 00070 in scale 'province'"):
        generate_scale(tmp_path, "province", 3, "2026-Q1", "2026-Q1", communes=["18484", "70"])


def _zone(tmp_path):
    raw = tmp_path / "raw"
    ref = raw / "reference"
    ref.mkdir(parents=True)
    (ref / "hamlets.csv").write_text(
        "hamlet_key,hamlet_code,commune_code,name,hamlet_type,valid_from,valid_to\n"
        "1,18481-T01,18481,Thôn 1,thon,2020-01-01,\n2,18484-T01,18484,Thôn 2,thon,2020-01-01,\n",
        encoding="utf-8",
    )
    (ref / "reporting_units.csv").write_text(
        "unit_code,commune_code,unit_type\n18481-KT,18481,economic_dept\n18484-KT,18484,economic_dept\n",
        encoding="utf-8",
    )
    (ref / "hamlet_population.csv").write_text(
        "hamlet_code,year,households,population\n18481-T01,2026,10,37\n18484-T01,2026,20,74\n",
        encoding="utf-8",
    )
    (ref / "hamlet_crosswalk.csv").write_text(
        "predecessor_code,successor_code,change_type,effective_date,population_share\n", encoding="utf-8"
    )
    (raw / "surveys").mkdir()
    (raw / "surveys" / "khao_sat_hai_long_42_2026.csv").write_text(
        'Mã phiếu,Mã xã,Thôn\nR1,18481,18481-T01\nR2,18484,18484-T01\n"R3","18484","18484-T01"\n',
        encoding="utf-8",
    )
    sub = raw / "submissions" / "2026"
    sub.mkdir(parents=True)
    (sub / "18484-KT_2026-Q1.csv").write_bytes("Mã đơn vị,Kỳ báo cáo\r\n18484-KT,2026-Q1\r\n".encode())
    return raw


def test_the_split_keeps_each_communes_rows_and_copies_whole_files(tmp_path):
    raw = _zone(tmp_path)
    dirs = split_by_commune(raw, tmp_path / "out")
    assert sorted(dirs) == ["18481", "18484"]
    a, b = dirs["18481"], dirs["18484"]
    assert (a / "surveys" / "khao_sat_hai_long_42_2026.csv").read_text(encoding="utf-8") == (
        "Mã phiếu,Mã xã,Thôn\nR1,18481,18481-T01\n"
    )
    assert (b / "surveys" / "khao_sat_hai_long_42_2026.csv").read_text(encoding="utf-8") == (
        'Mã phiếu,Mã xã,Thôn\nR2,18484,18484-T01\n"R3","18484","18484-T01"\n'  # each row's text as landed
    )
    # a file that is all one commune's is copied byte for byte (CRLF kept); the other commune has none
    src = raw / "submissions" / "2026" / "18484-KT_2026-Q1.csv"
    assert (b / "submissions" / "2026" / src.name).read_bytes() == src.read_bytes()
    assert not (a / "submissions").exists()
    assert pd.read_csv(a / "reference" / "hamlet_population.csv", dtype=str)["hamlet_code"].tolist() == [
        "18481-T01"
    ]
    assert pd.read_csv(b / "reference" / "hamlets.csv", dtype=str)["hamlet_key"].tolist() == [
        "2"
    ]  # not renumbered
    assert pd.read_csv(b / "reference" / "reporting_units.csv", dtype=str)["unit_code"].tolist() == [
        "18484-KT"
    ]


def test_rows_of_an_unknown_commune_or_a_file_it_cannot_split_are_named(tmp_path):
    raw = _zone(tmp_path)
    (raw / "surveys" / "khao_sat_hai_long_42_2026.csv").write_text(
        "Mã phiếu,Mã xã,Thôn\nR1,18496,18496-T01\n", encoding="utf-8"
    )
    with pytest.raises(ValueError, match=r"khao_sat_hai_long_42_2026\.csv.*\['18496'\]"):
        split_by_commune(raw, tmp_path / "out")
    (raw / "surveys" / "khao_sat_hai_long_42_2026.csv").unlink()
    (raw / "surveys" / "khao_sat_hai_long_2025.xlsx").write_bytes(b"PK")
    with pytest.raises(ValueError, match=r"khao_sat_hai_long_2025\.xlsx: .*only CSV files can be split"):
        split_by_commune(raw, tmp_path / "out")
