"""Benchmark volumes: synthetic hamlets, units, quarterly submissions, surveys and OCOP for many communes.

Scales: ``commune`` (18484 only), ``province`` (the 69 units of Hà Tĩnh, 42), ``national`` (all 3,321
communes of the ``vietnam-provinces`` package). ~25 synthetic hamlets per commune (``<commune>-Tnn``).
Submissions: one CSV per unit per period (commune, province), or one CSV per province per period holding all
its units' rows (national). Built per period from numpy arrays and written with pyarrow, so memory stays
bounded by one period. Defects: ~3 % late, ~1 % missing, ~1 % resubmitted (``_v2``), ~0.5 % bad rows.
No hamlet boundaries are written (no reference/hamlet_boundaries.geojson): raw.hamlet_boundaries and
dim_hamlet_boundary stay empty and the site's map falls back to its tile grid of hamlets.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from pipeline.ingest.sources.ocop.template import OCOP
from pipeline.ingest.sources.submissions.template import SUBMISSION
from pipeline.synth.blank_templates import survey_form, survey_header
from pipeline.synth.generate import COMMUNE, Period, csv_text, overlaps, quarters, seed

LATE, MISSING, RESUBMIT, BAD = 0.03, 0.01, 0.01, 0.005
HOUSEHOLDS_PER_HAMLET_SURVEYED = (25, 36)
VT = {"count": 0, "percent": 1, "ratio": 2, "yesno": 3}
WRITE = pcsv.WriteOptions(include_header=False, quoting_style="needed")


def communes(scale: str, only: list[str] | None = None) -> pd.DataFrame:
    """commune_code, province_code, name for the chosen scale (sorted by province, commune); ``only``: just
    these communes of the scale (a small province: ``--scale province --communes 18481,18484,18496``)."""
    from vietnam_provinces import Ward

    rows = [(f"{int(w.code):05d}", f"{int(w.province_code):02d}", w.name) for w in Ward.iter_all()]
    df = pd.DataFrame(rows, columns=["commune_code", "province_code", "name"])
    if scale == "commune":
        df = df[df["commune_code"] == COMMUNE]
    elif scale == "province":
        df = df[df["province_code"] == "42"]
    elif scale != "national":
        raise ValueError(f"unknown scale {scale!r}")
    if only:
        codes = [f"{int(c):05d}" for c in only]
        unknown = sorted(set(codes) - set(df["commune_code"]))
        if unknown:
            raise ValueError(
                f"không có xã {', '.join(unknown)} trong quy mô {scale!r} / no commune {', '.join(unknown)} "
                f"in scale {scale!r}"
            )
        df = df[df["commune_code"].isin(codes)]
    return df.sort_values(["province_code", "commune_code"]).reset_index(drop=True)


def _hash01(*keys: np.ndarray | int) -> np.ndarray:
    """Deterministic pseudo-random numbers in [0, 1) from integer keys (vectorised, no state)."""
    x = np.uint64(1469598103934665603)
    with np.errstate(over="ignore"):  # FNV-style mixing wraps around on purpose
        for k in keys:
            x = (x ^ np.asarray(k, dtype=np.uint64)) * np.uint64(1099511628211)
            x ^= x >> np.uint64(29)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _to_str(a: np.ndarray | pa.Array) -> pa.Array:
    arr = a if isinstance(a, pa.Array) else pa.array(a, from_pandas=True)
    return pc.cast(arr, pa.string())


def _write(path: Path, header: list[str], table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    buf.write(csv_text(header, []).encode("utf-8"))
    pcsv.write_csv(table, buf, WRITE)
    path.write_bytes(buf.getvalue())


class World:
    """Synthetic hamlets and units for a set of communes."""

    def __init__(
        self,
        scale: str,
        seed_: int,
        seeds_dir: Path | None,
        only: list[str] | None = None,
        hamlets: int | tuple[int, int] | None = None,
    ):
        rng = np.random.default_rng([seed_, 1])
        self.c = communes(scale, only)
        nc = len(self.c)
        self.n_hamlets = rng.integers(20, 31, nc)
        if hamlets is not None:  # a small test province: lo, lo + 1, ..., hi, lo, ... hamlets in code order
            lo, hi = (hamlets, hamlets) if isinstance(hamlets, int) else hamlets
            if not 1 <= lo <= hi <= 99:
                raise ValueError(f"hamlets per commune must be within 1..99 (lo <= hi), got {hamlets}")
            self.n_hamlets = lo + np.arange(nc) % (hi - lo + 1)
        self.h_commune = np.repeat(np.arange(nc), self.n_hamlets)
        h_no = np.concatenate([np.arange(1, n + 1) for n in self.n_hamlets])
        cc = self.c["commune_code"].to_numpy().astype(str)
        self.h_code = np.char.add(np.char.add(cc[self.h_commune], "-T"), np.char.zfill(h_no.astype(str), 2))
        self.households = rng.integers(120, 520, len(self.h_code))
        types = seed("reporting_unit_types.csv", seeds_dir)
        types = types[types["unit_type"] != "hamlet"]
        abbrs, utypes, names = [], [], []
        for t, a, n in zip(types["unit_type"], types["abbr"], types["name_vi"], strict=True):
            k = 2 if t == "cooperative" else 1
            for i in range(1, k + 1):
                abbrs.append(f"{a}{i}" if k > 1 else a)
                utypes.append(t)
                names.append(f"{n} {i}" if k > 1 else n)
        self.unit_types = np.array(utypes)
        nu = len(abbrs)
        self.u_commune = np.repeat(np.arange(nc), nu)
        self.u_type = np.tile(self.unit_types, nc)
        self.u_abbr = np.tile(np.array(abbrs), nc)
        self.u_name = np.tile(np.array(names), nc)
        self.u_code = np.char.add(np.char.add(cc[self.u_commune], "-"), self.u_abbr)
        self.cc = cc
        self.prov = self.c["province_code"].to_numpy().astype(str)

    def write_reference(self, out: Path, years: list[int]) -> None:
        ref = out / "reference"
        ref.mkdir(parents=True, exist_ok=True)
        nh = len(self.h_code)
        pd.DataFrame(
            {
                "hamlet_key": np.arange(1, nh + 1),
                "hamlet_code": self.h_code,
                "commune_code": self.cc[self.h_commune],
                "name": np.char.add("Thôn ", np.char.zfill((np.arange(nh) % 100 + 1).astype(str), 2)),
                "hamlet_type": "thon",
                "valid_from": "2020-01-01",
                "valid_to": "",
            }
        ).to_csv(ref / "hamlets.csv", index=False)
        yrs = np.array(years)
        hh = np.round(self.households[:, None] * 1.01 ** (yrs[None, :] - yrs[0])).astype(int)
        pd.DataFrame(
            {
                "hamlet_code": np.repeat(self.h_code, len(yrs)),
                "year": np.tile(yrs, nh),
                "households": hh.ravel(),
                "population": np.round(hh.ravel() * 3.7).astype(int),
            }
        ).to_csv(ref / "hamlet_population.csv", index=False)
        units = pd.DataFrame(
            {
                "unit_code": self.u_code,
                "commune_code": self.cc[self.u_commune],
                "unit_type": self.u_type,
                "abbr": self.u_abbr,
                "name_vi": self.u_name,
                "name_en": self.u_abbr,
                "valid_from": "2025-07-01",
                "valid_to": "",
            }
        )
        hamlets = pd.DataFrame(
            {
                "unit_code": self.h_code,
                "commune_code": self.cc[self.h_commune],
                "unit_type": "hamlet",
                "abbr": [c.rsplit("-", 1)[1] for c in self.h_code],
                "name_vi": "Thôn",
                "name_en": "Hamlet",
                "valid_from": "2020-01-01",
                "valid_to": "",
            }
        )
        pd.concat([units, hamlets]).to_csv(ref / "reporting_units.csv", index=False)
        # no merges/splits in the synthetic registry: the crosswalk is present (the ingest requires it) but empty
        (ref / "hamlet_crosswalk.csv").write_text(
            "predecessor_code,successor_code,change_type,effective_date,population_share\n", encoding="utf-8"
        )


def _period_rows(w: World, ind: pd.DataFrame, period: Period, t: int, seed_: int) -> dict[str, np.ndarray]:
    """All CT rows of one period as arrays: unit index (hamlets first, then units), hamlet index, indicator."""
    ok = np.array(
        [
            overlaps(f, to, period.start, period.end)
            for f, to in zip(ind["valid_from"], ind["valid_to"], strict=True)
        ],
        dtype=bool,
    )
    iv = np.flatnonzero(ok)
    lvl, rep = ind["level"].to_numpy()[iv], ind["reporter_unit_type"].to_numpy()[iv]
    nh, parts = len(w.h_code), []
    a = iv[(lvl == "hamlet") & (rep == "hamlet")]  # hamlets report their own hamlet
    parts.append((np.repeat(np.arange(nh), len(a)), np.repeat(np.arange(nh), len(a)), np.tile(a, nh)))
    for typ in w.unit_types:  # other units: hamlet-level for all their hamlets, commune-level once
        ui = np.flatnonzero(w.u_type == typ)
        b = iv[(lvl == "hamlet") & (rep == typ)]
        if len(b):
            first = ui[np.unique(w.u_commune[ui], return_index=True)[1]]  # one unit per commune
            u_of_h = np.full(len(w.cc), -1)
            u_of_h[w.u_commune[first]] = first
            parts.append(
                (
                    nh + np.repeat(u_of_h[w.h_commune], len(b)),
                    np.repeat(np.arange(nh), len(b)),
                    np.tile(b, nh),
                )
            )
        c = iv[(lvl == "commune") & (rep == typ)]
        if len(c):
            parts.append((nh + np.repeat(ui, len(c)), np.full(len(ui) * len(c), -1), np.tile(c, len(ui))))
    unit, ham, ind_i = (np.concatenate(x) for x in zip(*parts, strict=True))
    return {"unit": unit, "hamlet": ham, "ind": ind_i}


def _values(w: World, ind: pd.DataFrame, r: dict, t: int, period: Period, seed_: int) -> dict[str, pa.Array]:
    unit, ham, ii = r["unit"], r["hamlet"], r["ind"]
    ent = np.where(ham >= 0, ham, len(w.h_code) + unit)
    base = _hash01(seed_, ent, ii, 1)
    slope = _hash01(seed_, ent, ii, 2)
    noise = _hash01(seed_, ent, ii, t + 10) * 2 - 1
    vt = ind["value_type"].map(VT).to_numpy()[ii]
    ros = (ind["aggregation"].to_numpy() == "ratio_of_sums")[ii]
    hi = pd.to_numeric(ind["max_value"], errors="coerce").fillna(1e9).to_numpy()[ii]
    hh = np.where(ham >= 0, w.households[np.maximum(ham, 0)] * 1.01 ** (period.year - 2026), 0).round()
    den = np.where(ham >= 0, hh, np.floor(8 + 400 * base**3))
    pct = np.clip(30 + 40 * base + (2 + 3 * slope) * t + 1.5 * noise, 0, 100)
    ratio = np.minimum(hi, 1.1 + base + 0.12 * t + 0.05 * noise)
    num_p, num_r = np.round(den * pct / 100), np.round(den * ratio)
    lam = np.minimum(hi, 400) * (0.03 + 0.12 * base) * (1 + (0.05 + 0.1 * slope) * t)
    count = np.minimum(hi, np.random.default_rng([seed_, 7, t]).poisson(lam))
    yes = (_hash01(seed_, ent, ii, 3) < 0.35 + 0.09 * t).astype(float)
    value = np.select(
        [vt == 0, (vt == 1) & ros, vt == 1, vt == 2],
        [
            count,
            np.round(100 * num_p / np.maximum(den, 1), 1),
            np.round(pct, 1),
            np.round(num_r / np.maximum(den, 1), 2),
        ],
        yes,
    )
    has_nd = ((vt == 1) & ros) | (vt == 2)
    num = np.where(has_nd, np.where(vt == 2, num_r, num_p), np.nan)
    return {"value": value, "numerator": num, "denominator": np.where(has_nd, den, np.nan)}


def write_scale(
    out: Path,
    scale: str,
    seed_: int,
    first: str,
    last: str,
    seeds_dir: Path | None = None,
    only: list[str] | None = None,
    hamlets: int | tuple[int, int] | None = None,
) -> dict:
    out = Path(out)
    w = World(scale, seed_, seeds_dir, only, hamlets)
    ind = seed("indicators.csv", seeds_dir)
    periods = quarters(first, last)
    years = sorted({p.year for p in periods})
    w.write_reference(out, years)
    header = [c.label_vi for c in SUBMISSION.columns]
    codes = ind["indicator_code"].to_numpy().astype(str)
    all_units = np.concatenate([w.h_code, w.u_code])
    unit_prov = np.concatenate([w.prov[w.h_commune], w.prov[w.u_commune]])
    unit_rank = np.empty(len(all_units), dtype=np.int64)  # files group rows by province, then unit
    unit_rank[np.lexsort((np.arange(len(all_units)), unit_prov))] = np.arange(len(all_units))
    stats = {
        "scale": scale,
        "communes": len(w.cc),
        "hamlets": len(w.h_code),
        "units": len(all_units),
        "periods": len(periods),
        "submission_files": 0,
        "value_rows": 0,
        "late": 0,
        "missing": 0,
        "resubmitted": 0,
        "bad_rows": 0,
    }
    for t, period in enumerate(periods):
        rng = np.random.default_rng([seed_, 3, t])
        r = _period_rows(w, ind, period, t, seed_)
        v = _values(w, ind, r, t, period, seed_)
        n_units = len(all_units)
        fate = rng.uniform(size=n_units)
        missing, late, resub = (
            fate < MISSING,
            (fate >= MISSING) & (fate < MISSING + LATE),
            ((fate >= MISSING + LATE) & (fate < MISSING + LATE + RESUBMIT)),
        )
        dl = np.datetime64(period.deadline.isoformat(), "m")
        offs = np.where(late, rng.integers(1, 11, n_units) * 1440, -rng.integers(1, 14, n_units) * 1440)
        ts = dl + (offs + rng.integers(7 * 60, 17 * 60, n_units)).astype("timedelta64[m]")
        keep = ~missing[r["unit"]]
        order = np.flatnonzero(keep)
        order = order[np.argsort(unit_rank[r["unit"][order]], kind="stable")]
        unit = r["unit"][order]
        value = _to_str(v["value"][order])
        bad = rng.uniform(size=len(order)) < BAD
        kind = rng.integers(0, 3, len(order))
        value = pc.if_else(pa.array(bad & (kind == 0)), "abc", value)
        value = pc.if_else(pa.array(bad & (kind == 1)), "-1", value)
        ind_code = np.where(bad & (kind == 2), "XX.99", codes[r["ind"][order]])
        ham = r["hamlet"][order]
        n = len(order)
        table = pa.table(
            {
                "unit_code": all_units[unit],
                "period": np.full(n, period.code),
                "submitted_at": np.datetime_as_string(ts[unit], unit="m"),
                "row_type": np.full(n, "CT"),
                "hamlet_code": pa.array(np.where(ham >= 0, w.h_code[np.maximum(ham, 0)], None)),
                "indicator_code": ind_code,
                "value": value,
                "numerator": _to_str(v["numerator"][order]),
                "denominator": _to_str(v["denominator"][order]),
                "task_code": pa.nulls(n, pa.string()),
                "task_status": pa.nulls(n, pa.string()),
                "percent_done": pa.nulls(n, pa.string()),
                "note": pa.nulls(n, pa.string()),
            }
        )
        stats["value_rows"] += n
        stats["bad_rows"] += int(bad.sum())
        stats["missing"] += int(missing.sum())
        stats["late"] += int(late.sum())
        # resubmissions: the same rows again, two days later, one value corrected (+1) per unit
        rs = resub[unit]
        v2 = table.filter(pa.array(rs))
        ts2 = np.datetime_as_string(ts[unit[rs]] + np.timedelta64(2 * 1440, "m"), unit="m")
        v2 = v2.set_column(2, "submitted_at", pa.array(ts2))
        stats["resubmitted"] += int(np.unique(unit[rs]).size)
        stats["submission_files"] += _write_period(out, header, period, table, unit, unit_prov, scale, "")
        stats["submission_files"] += _write_period(out, header, period, v2, unit[rs], unit_prov, scale, "_v2")
    stats["survey_rows"] = _write_surveys(out, w, years, seed_, seeds_dir)
    stats["ocop_rows"] = _write_ocop(out, w, seed_)
    (out / "scale_manifest.json").write_text(json.dumps(stats, indent=1) + "\n", encoding="utf-8")
    return stats


def _write_period(
    out: Path,
    header: list[str],
    period: Period,
    table: pa.Table,
    unit: np.ndarray,
    unit_prov: np.ndarray,
    scale: str,
    suffix: str,
) -> int:
    """One file per unit (commune, province scale) or per province (national); rows sorted by unit."""
    if table.num_rows == 0:
        return 0
    key = unit_prov[unit] if scale == "national" else unit
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    ends = np.r_[starts[1:], len(key)]
    names = table.column(0).to_numpy(zero_copy_only=False)
    for s, e in zip(starts, ends, strict=True):
        stem = f"{unit_prov[unit[s]]}" if scale == "national" else names[s]
        _write(
            out / "submissions" / str(period.year) / f"{stem}_{period.code}{suffix}.csv",
            header,
            table.slice(s, e - s),
        )
    return len(starts)


def _write_surveys(out: Path, w: World, years: list[int], seed_: int, seeds_dir: Path | None) -> int:
    """One wide CSV per province per year; ~30 households per hamlet, answers 1/0, hamlet by code."""
    questions = seed("survey_questions.csv", seeds_dir)
    total = 0
    for y in years:
        form, q = survey_form(questions, y)
        header = survey_header(q)
        rng = np.random.default_rng([seed_, 5, y])
        k = rng.integers(*HOUSEHOLDS_PER_HAMLET_SURVEYED, len(w.h_code))
        hi = np.repeat(np.arange(len(w.h_code)), k)
        prov = w.prov[w.h_commune[hi]]
        for p in np.unique(prov):
            sel = hi[prov == p]
            n = len(sel)
            secs = np.sort(rng.integers(0, 30 * 86400, n)).astype("timedelta64[s]")
            cols = {
                "Mã phiếu": np.char.add(f"R-{p}-{y}-", np.arange(total + 1, total + n + 1).astype(str)),
                "Thời gian": np.datetime_as_string(np.datetime64(f"{y}-10-01T07:00:00") + secs, unit="s"),
                "Mã xã": w.cc[w.h_commune[sel]],
                "Thôn": w.h_code[sel],
                "Mã mẫu phiếu": np.full(n, form),
                "Kỳ khảo sát": np.full(n, str(y)),
                "Họ và tên": pa.nulls(n, pa.string()),
                "Số điện thoại": pa.nulls(n, pa.string()),
            }
            p_sat = 0.6 + 0.35 * _hash01(seed_, sel, y)
            for h in header[len(cols) :]:
                if h.startswith("Lý do"):
                    cols[h] = pa.nulls(n, pa.string())
                else:
                    cols[h] = np.where(rng.uniform(size=n) < p_sat, "1", "0")
            _write(out / "surveys" / f"khao_sat_hai_long_{p}_{y}.csv", header, pa.table(cols))
            total += n
    return total


def _write_ocop(out: Path, w: World, seed_: int) -> int:
    """~5 OCOP products per commune, one CSV per province; scores consistent with stars, +36 months."""
    rng = np.random.default_rng([seed_, 6])
    k = rng.poisson(5, len(w.cc))
    ci = np.repeat(np.arange(len(w.cc)), k)
    n = len(ci)
    stars = rng.choice([3, 4, 5], n, p=[0.55, 0.38, 0.07])
    lo, hi = (
        np.select([stars == 5, stars == 4], [90, 70], 50),
        np.select([stars == 5, stars == 4], [100, 89], 69),
    )
    score = np.round(lo + rng.uniform(size=n) * (hi - lo), 1)
    issued = np.datetime64("2023-01-01") + rng.integers(0, 3 * 365, n).astype("timedelta64[D]")
    iss = pd.to_datetime(issued)
    exp = iss + pd.DateOffset(months=36)
    seq = np.concatenate([np.arange(1, m + 1) for m in k]) if n else np.array([], int)
    pid = np.char.add(np.char.add(np.char.add("OCOP-", w.cc[ci]), "-"), np.char.zfill(seq.astype(str), 3))
    first_h = np.r_[0, np.cumsum(w.n_hamlets)[:-1]]
    ham = w.h_code[first_h[ci] + rng.integers(0, 1000, n) % w.n_hamlets[ci]]
    group = rng.integers(1, 7, n)
    ptypes = np.array(["Doanh nghiệp", "Hợp tác xã", "Tổ hợp tác", "Hộ kinh doanh"])
    df = pd.DataFrame(
        {
            "product_id": pid,
            "product_name": np.char.add("Sản phẩm mẫu ", pid),
            "group_code": group,
            "subgroup": "",
            "producer_name": np.char.add("Chủ thể mẫu ", pid),
            "producer_type": ptypes[rng.integers(0, 4, n)],
            "hamlet_code": ham,
            "score": score,
            "stars": stars,
            "rating_level": np.where(stars == 5, "Trung ương", "Tỉnh"),
            "certificate_no": np.char.add(np.arange(1, n + 1).astype(str), "/QĐ-UBND"),
            "issued_on": iss.strftime("%d/%m/%Y"),
            "expires_on": exp.strftime("%d/%m/%Y"),
            "material_area_code": "",
            "traceability_url": "",
            "status": np.where(exp < pd.Timestamp("2026-09-30"), "Hết hạn", "Còn hiệu lực"),
        }
    )
    header = [c.label_vi for c in OCOP.columns]
    assert list(df.columns) == [c.code for c in OCOP.columns]
    prov = w.prov[ci]
    for p in np.unique(prov):
        _write(
            out / "ocop" / f"ocop_{p}.csv", header, pa.Table.from_pandas(df[prov == p], preserve_index=False)
        )
    return n
