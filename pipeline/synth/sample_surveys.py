"""The bundled survey exports of the commune sample: 2025 as a wide CSV, 2026 as JSON lines.

Respondent names and phones are FAKE (phones in the unused 0900 0xx xxx range).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.synth.blank_templates import (
    REASON_QUESTION_NOS,
    question_header,
    reason_header,
    survey_form,
    survey_header,
)
from pipeline.synth.generate import (
    COMMUNE,
    csv_text,
    reference,
    seed,
    valid_on,
    write_bytes,
)
from pipeline.synth.sample import seeded_rng

FAMILY = np.array(["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Phan", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô"])
MIDDLE = np.array(["Văn", "Thị", "Đình", "Hữu", "Xuân", "Minh", "Thanh", "Ngọc"])
GIVEN = np.array(
    [
        "An",
        "Bình",
        "Châu",
        "Dũng",
        "Hà",
        "Hải",
        "Hòa",
        "Hùng",
        "Lan",
        "Linh",
        "Long",
        "Mai",
        "Nam",
        "Nga",
        "Phúc",
        "Quang",
        "Sơn",
        "Tâm",
        "Thảo",
        "Thủy",
        "Trung",
        "Tuấn",
        "Vân",
        "Yến",
    ]
)
REASONS = np.array(
    [
        "Đường vào xóm còn lầy lội khi trời mưa",
        "Chưa được hướng dẫn dùng dịch vụ công trực tuyến",
        "Sóng điện thoại và Wi-Fi ở xóm còn yếu",
        "Rác chưa được thu gom thường xuyên",
        "Nhà văn hóa xuống cấp, ít hoạt động",
        "Thủ tục còn phải đi lại nhiều lần",
        "Giá nông sản thấp, thu nhập chưa ổn định",
        "Trạm y tế thiếu thuốc",
    ]
)
OLD_TONE = {
    "òa": "oà",
    "óa": "oá",
    "ỏa": "oả",
    "õa": "oã",
    "ọa": "oạ",
    "ùy": "uỳ",
    "úy": "uý",
    "ủy": "uỷ",
    "ũy": "uỹ",
    "ụy": "uỵ",
}
SMALL_HAMLETS_2026 = {"18484-T06": 3, "18484-T13": 4}  # cells under 5 respondents (suppression)


def old_tone(name: str) -> str:
    """The old-style tone placement ("Hòa" -> "Hoà") that real exports mix with the new style."""
    for a, b in OLD_TONE.items():
        name = name.replace(a, b)
    return name


def _hamlets_at(day: dt.date, ref_dir: Path | None) -> pd.DataFrame:
    h = reference("hamlets.csv", ref_dir)
    h = h[h["commune_code"] == COMMUNE]
    ok = [valid_on(f, t, day) for f, t in zip(h["valid_from"], h["valid_to"], strict=True)]
    return h[ok].sort_values("hamlet_code").reset_index(drop=True)


def _name_variants(names: np.ndarray, g: np.random.Generator) -> np.ndarray:
    """Hamlet names as people type them: full, without "Thôn "/"Tổ dân phố ", old tone placement."""
    bare = np.array([n.removeprefix("Thôn ").removeprefix("Tổ dân phố ") for n in names])
    old = np.array([old_tone(n) for n in names])
    k = g.choice(3, size=len(names), p=[0.6, 0.2, 0.2])
    return np.where(k == 0, names, np.where(k == 1, bare, old))


def _respondents(g: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    names = np.char.add(
        np.char.add(np.char.add(np.char.add(g.choice(FAMILY, n), " "), g.choice(MIDDLE, n)), " "),
        g.choice(GIVEN, n),
    )
    phones = np.char.add("09000", np.char.zfill(g.integers(0, 100000, n).astype(str), 5))
    anon = g.uniform(size=n) < 0.12  # some respondents leave name and phone blank
    return np.where(anon, "", names), np.where(anon, "", phones)


def _answers(g: np.random.Generator, hamlet_idx: np.ndarray, nq: int, n_h: int, p_blank: float):
    """satisfied (bool n×q) and answered (bool n×q): satisfaction differs by hamlet and question."""
    p = g.uniform(0.55, 0.97, size=(n_h, nq))[hamlet_idx]
    sat = g.uniform(size=p.shape) < p
    answered = g.uniform(size=p.shape) >= p_blank
    return sat, answered


def write_surveys(out: Path, seed_: int, seeds_dir: Path | None = None, ref_dir: Path | None = None) -> None:
    questions = seed("survey_questions.csv", seeds_dir)
    _survey_2025(out, seed_, questions, ref_dir)
    _survey_2026(out, seed_, questions, ref_dir)


def _survey_2025(out: Path, seed_: int, questions: pd.DataFrame, ref_dir: Path | None) -> None:
    """Wide CSV, one row per household; answer spelling by column group: words, 1/0, ticks x/blank."""
    g = seeded_rng(seed_, "survey", 2025)
    form, q = survey_form(questions, 2025)
    h = _hamlets_at(dt.date(2025, 11, 15), ref_dir)
    counts = g.integers(20, 31, size=len(h))
    hi = np.repeat(np.arange(len(h)), counts)
    n, nq = len(hi), len(q)
    sat, answered = _answers(g, hi, nq, len(h), 0.03)
    secs = np.sort(g.integers(0, 20 * 86400, n))
    ts = pd.to_datetime("2025-11-01 07:00:00") + pd.to_timedelta(secs, unit="s")
    names, phones = _respondents(g, n)
    cols = {
        "Mã phiếu": np.char.add("R-2025-", np.char.zfill(np.arange(1, n + 1).astype(str), 4)),
        "Thời gian": ts.strftime("%Y-%m-%d %H:%M:%S").to_numpy(),
        "Mã xã": np.full(n, COMMUNE),
        "Thôn": _name_variants(h["name"].to_numpy()[hi], g),
        "Mã mẫu phiếu": np.full(n, form),
        "Kỳ khảo sát": np.full(n, "2025"),
        "Họ và tên": names,
        "Số điện thoại": phones,
    }
    neg = np.where(g.uniform(size=n) < 0.5, "Không hài lòng", "Chưa hài lòng")
    reasons = g.choice(REASONS, size=(n, nq))
    give_reason = g.uniform(size=(n, nq)) < 0.5
    for j, (no, text) in enumerate(zip(q["no"], q["text_vi"], strict=True)):
        s, a = sat[:, j], answered[:, j]
        if no <= 4:
            v = np.where(s, "Hài lòng", neg)
        elif no <= 7:
            v = np.where(s, "1", "0")
        else:  # tick export: x = satisfied, blank = not satisfied
            v = np.where(s, "x", "")
            a = np.ones(n, bool)
        cols[question_header(int(no), text)] = np.where(a, v, "")
        if no in REASON_QUESTION_NOS:
            cols[reason_header(int(no))] = np.where(a & ~s & give_reason[:, j], reasons[:, j], "")
    header = survey_header(q)
    assert list(cols) == header
    rows = np.column_stack([cols[c] for c in header]).tolist()
    write_bytes(out / "surveys" / "khao_sat_hai_long_2025.csv", csv_text(header, rows).encode("utf-8"))


def _survey_2026(out: Path, seed_: int, questions: pd.DataFrame, ref_dir: Path | None) -> None:
    """JSON lines, one object per response, same Vietnamese keys; unanswered questions are left out."""
    g = seeded_rng(seed_, "survey", 2026)
    form, q = survey_form(questions, 2026)
    h = _hamlets_at(dt.date(2026, 10, 15), ref_dir)
    counts = g.integers(8, 13, size=len(h))
    for code, k in SMALL_HAMLETS_2026.items():
        counts[h.index[h["hamlet_code"] == code]] = k
    hi = np.repeat(np.arange(len(h)), counts)
    n, nq = len(hi), len(q)
    sat, answered = _answers(g, hi, nq, len(h), 0.06)
    secs = np.sort(g.integers(0, 25 * 86400, n))
    ts = (pd.to_datetime("2026-10-01 06:30:00") + pd.to_timedelta(secs, unit="s")).strftime(
        "%Y-%m-%d %H:%M:%S"
    )
    names, phones = _respondents(g, n)
    hamlet = _name_variants(h["name"].to_numpy()[hi], g)
    reasons = g.choice(REASONS, size=(n, nq))
    give_reason = g.uniform(size=(n, nq)) < 0.4
    lines = []
    for i in range(n):  # ~300 small objects: a plain loop is clearest here
        obj = {
            "Mã phiếu": f"R-2026-{i + 1:04d}",
            "Thời gian": ts[i],
            "Mã xã": COMMUNE,
            "Thôn": hamlet[i],
            "Mã mẫu phiếu": form,
            "Kỳ khảo sát": "2026",
            "Họ và tên": names[i],
            "Số điện thoại": phones[i],
        }
        for j, (no, text) in enumerate(zip(q["no"], q["text_vi"], strict=True)):
            if not answered[i, j]:
                continue
            obj[question_header(int(no), text)] = "Hài lòng" if sat[i, j] else "Chưa hài lòng"
            if no in REASON_QUESTION_NOS and not sat[i, j] and give_reason[i, j]:
                obj[reason_header(int(no))] = str(reasons[i, j])
        lines.append(json.dumps(obj, ensure_ascii=False))
    write_bytes(out / "surveys" / "khao_sat_hai_long_2026.jsonl", ("\n".join(lines) + "\n").encode("utf-8"))
