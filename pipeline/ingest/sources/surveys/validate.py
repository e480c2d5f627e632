"""Satisfaction-survey exports (wide: one row per response, columns "C<n>. ..." and "Lý do C<n>") →
long ``raw.survey_answers`` (one row per response × answered question) and ``raw.survey_reasons``.

Personal data: respondent name and phone become ``respondent_hash`` = sha256(salt + normalised name +
digits of the phone) and are never stored in clear (quarantine records show them as ``***``). A response
is loaded whole or quarantined whole.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pipeline.ingest.cells import cell_answer, cell_datetime, cell_text, column_of
from pipeline.ingest.manifest import BATCH_FILES, BatchResult, IngestContext, run_source
from pipeline.ingest.masking import mask_free_text
from pipeline.ingest.problems import Problems
from pipeline.ingest.reference import ReferenceData, hamlet_name_key
from pipeline.ingest.reports import IngestReport
from pipeline.ingest.sources.surveys.template import SURVEY
from pipeline.lib.distinct import in_set, map_distinct
from pipeline.lib.periods import parse_period
from pipeline.lib.pii import key_hash, name_index, name_key
from pipeline.lib.text import nfc_key_series

SOURCE = "surveys"
TICKS = ("x", "X", "✓", "✔")


def respondent_hash(name: pd.Series, phone: pd.Series, salt: str) -> pd.Series:
    """sha256(salt + normalised name + phone digits); <NA> when both are blank."""
    n = nfc_key_series(cell_text(name)).str.lower().fillna("")
    d = cell_text(phone).str.replace(r"\D", "", regex=True).fillna("")
    has = (n != "") | (d != "")
    out = pd.Series(None, index=name.index, dtype=object)
    if has.any():
        joined = (salt + n[has] + d[has]).tolist()
        out[has] = [hashlib.sha256(s.encode("utf-8")).hexdigest() for s in joined]
    return out


def name_hash(name: pd.Series, salt: str) -> pd.Series:
    """sha256(salt + "name:" + normalised name); <NA> when blank. Kept so that the publish step can prove
    that no respondent name reached open data without ever storing a name in clear."""
    n = nfc_key_series(cell_text(name)).str.lower().fillna("")
    out = pd.Series(None, index=name.index, dtype=object)
    has = n != ""
    if has.any():
        out[has] = [hashlib.sha256((salt + "name:" + s).encode("utf-8")).hexdigest() for s in n[has]]
    return out


def name_fold_hash(name: pd.Series, salt: str) -> pd.Series:
    """sha256(salt + "name:" + name key) with the name key of pipeline.lib.pii (no diacritics, lower case,
    words joined by one space); <NA> when blank. The publish step looks for it inside longer text."""
    keys = map_distinct(cell_text(name), name_key)
    has = keys.notna() & (keys != "")
    out = pd.Series(None, index=name.index, dtype=object)
    if has.any():
        out[has] = map_distinct(keys[has], lambda k: key_hash(k, salt))
    return out


def resolve_hamlet(ref: ReferenceData, raw: pd.Series, when: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Hamlet code and commune code from a code or a name (nfc_key, prefix optional); version valid at
    ``when`` preferred. Unresolved → <NA>."""
    text = cell_text(raw)
    code = text.str.upper()
    by_code = code.where(in_set(code, ref.hamlet_codes))
    probe = pd.DataFrame(
        # compared as dates: a version is valid on the whole of its last day (valid_to is a date)
        {
            "_i": np.arange(len(text)),
            "name_key": hamlet_name_key(text),
            "when": pd.to_datetime(when).dt.normalize(),
        }
    )
    probe = probe[by_code.isna().to_numpy() & text.notna().to_numpy()]
    out = by_code.astype(object).to_numpy().copy()
    if not probe.empty:
        m = probe.merge(ref.hamlets[["name_key", "hamlet_code", "valid_from", "valid_to"]], on="name_key")
        if not m.empty:
            m["ok"] = (m["valid_from"].isna() | (m["valid_from"] <= m["when"])) & (
                m["valid_to"].isna() | (m["valid_to"] >= m["when"])
            )
            m = m.sort_values(["_i", "ok", "valid_from"], ascending=[True, False, False]).drop_duplicates(
                "_i"
            )
            out[m["_i"].to_numpy()] = m["hamlet_code"].to_numpy()
    hamlet = pd.Series(out, index=raw.index, dtype=object).where(pd.notna(out), None)
    communes = ref.hamlets.drop_duplicates("hamlet_code").set_index("hamlet_code")["commune_code"]
    return hamlet, hamlet.map(communes)


def validate(b: pd.DataFrame, ctx: IngestContext) -> BatchResult:
    ref, salt = ctx.ref, ctx.salt
    p = Problems(b, SURVEY)
    meta = {"_file_sha256": b["_sha"], "_source_file": b["_path"], "_source_row": b["_row"].astype("int64")}

    resp = cell_text(column_of(b, "response_id"))
    p.add(resp.isna(), "missing_value", "response_id")
    sub_at, sub_err = cell_datetime(column_of(b, "submitted_at"))
    p.add(cell_text(column_of(b, "submitted_at")).isna(), "missing_value", "submitted_at")
    p.add_errors(sub_err, "submitted_at")
    form = cell_text(column_of(b, "form_code"), upper=True)
    p.add(form.isna(), "missing_value", "form_code")
    p.add(form.notna() & ~in_set(form, ref.form_codes), "unknown_form", "form_code")
    hamlet, h_commune = resolve_hamlet(ref, column_of(b, "hamlet"), sub_at)
    h_raw = cell_text(column_of(b, "hamlet"))
    p.add(h_raw.isna(), "missing_value", "hamlet")
    p.add(h_raw.notna() & hamlet.isna(), "unknown_hamlet", "hamlet")
    commune = cell_text(column_of(b, "commune_code"))
    p.add(commune.notna() & ~in_set(commune, ref.commune_codes), "unknown_commune", "commune_code")
    commune = commune.astype(object).where(commune.notna(), h_commune)

    period_raw = cell_text(column_of(b, "period"))
    parsed = parse_period(period_raw)
    pcode = pd.Series(parsed.values, index=b.index).astype("string")
    perr = pd.Series(parsed.error, index=b.index)
    p.add(period_raw.notna() & (perr.notna() | pcode.isna()), "malformed_period", "period")
    year = sub_at.dt.year.astype("Int64").astype("string")
    period = pcode.str[:4].where(period_raw.notna(), year)

    # duplicate response ids inside one file
    dup = resp.notna() & pd.DataFrame({"s": b["_sha"], "r": resp}).duplicated(keep="first")
    p.add(dup, "duplicate_row", "response_id")

    qcols = sorted(
        (c for c in b.columns if isinstance(c, str) and c.startswith("q:")), key=lambda c: int(c[2:])
    )
    rcols = [c for c in b.columns if isinstance(c, str) and c.startswith("r:")]
    qmap = {
        (f, int(n)): c
        for f, n, c in ref.questions[["form_code", "question_no", "question_code"]].itertuples(index=False)
    }
    answers: dict[str, pd.Series] = {}
    texts = {c: cell_text(b[c]) for c in qcols}
    # tick-export files: every non-blank answer in the file is a tick -> a blank is "not satisfied"
    # in a row that holds at least one tick
    if qcols:
        tt = pd.DataFrame(texts)
        nonblank = tt.notna()
        is_tick = tt.isin(TICKS)
        per_file_nonblank = nonblank.groupby(b["_sha"]).sum().sum(axis=1)
        per_file_ticks = is_tick.groupby(b["_sha"]).sum().sum(axis=1)
        tick_files = set(per_file_ticks.index[(per_file_ticks == per_file_nonblank) & (per_file_ticks > 0)])
        tick_row = b["_sha"].isin(tick_files) & is_tick.any(axis=1)
    else:
        tick_row = pd.Series(False, index=b.index)
    for c in qcols:
        n = int(c[2:])
        vals, err = cell_answer(b[c])
        vals = vals.mask(texts[c].isna() & tick_row, False)
        col = f"C{n}"
        p.add(err.notna(), "unparseable_answer", c, name=col)
        known_q = in_set(form, {f for f, m in qmap if m == n})
        p.add(vals.notna() & in_set(form, ref.form_codes) & ~known_q, "unknown_question", c, name=col)
        answers[c] = vals

    good = ~pd.Series(p.bad, index=b.index)
    rhash = respondent_hash(
        column_of(b, "respondent_name").where(good, None),
        column_of(b, "respondent_phone").where(good, None),
        salt,
    )
    base = pd.DataFrame(
        {
            "response_id": resp,
            "submitted_at": sub_at,
            "commune_code": commune,
            "hamlet_code": hamlet,
            "period_code": period,
            "form_code": form,
            "respondent_hash": rhash,
            "respondent_name_hash": name_hash(column_of(b, "respondent_name").where(good, None), salt),
            "respondent_name_fold_hash": name_fold_hash(
                column_of(b, "respondent_name").where(good, None), salt
            ),
            **meta,
        }
    )[good]
    long_parts = []
    reason_parts = []
    for c in qcols:
        n = int(c[2:])
        a = answers[c][good]
        sel = a.notna()
        if not sel.any():
            continue
        part = base[sel.to_numpy()].copy()
        part["satisfied"] = a[sel].astype(bool).to_numpy()
        part["question_code"] = map_distinct(part["form_code"], lambda f, n=n: qmap.get((f, n))).to_numpy()
        long_parts.append(part)
    for c in rcols:
        n = int(c[2:])
        t = cell_text(b[c])[good]
        sel = t.notna()
        if not sel.any():
            continue
        part = base.loc[
            sel[sel].index, ["response_id", "form_code", "_file_sha256", "_source_file", "_source_row"]
        ].copy()
        part["reason_text"] = t[sel].to_numpy()
        part["question_code"] = map_distinct(
            part["form_code"], lambda f, n=n: qmap.get((f, n), f"Q{n:02d}"), na=f"Q{n:02d}"
        ).to_numpy()
        reason_parts.append(part.drop(columns=["form_code"]))
    long = pd.concat(long_parts, ignore_index=True) if long_parts else pd.DataFrame()
    reasons = pd.concat(reason_parts, ignore_index=True) if reason_parts else pd.DataFrame()
    # reasons are masked against the known names and this batch's respondents (still in clear here)
    names = ctx.names
    if names is not None:
        names = names.copy()
        names.add_names(cell_text(column_of(b, "respondent_name")).dropna().unique())
    return BatchResult(
        tables=mask_free_text({"raw.survey_answers": long, "raw.survey_reasons": reasons}, names),
        quarantine=p.quarantine(),
        loaded_rows=b.loc[good, ["_sha", "_row"]],
    )


def ingest_surveys(
    con: duckdb.DuckDBPyConnection,
    raw_dir: Path,
    ref: ReferenceData,
    *,
    today: date,
    salt: str = "",
    batch_files: int = BATCH_FILES,
) -> IngestReport:
    """Ingest new files of ``raw_dir/surveys/**``. ``salt`` (NTM_PII_SALT) keys the respondent hash."""
    return run_source(
        con,
        raw_dir,
        SOURCE,
        SURVEY,
        validate,
        context=IngestContext(ref=ref, today=today, salt=salt, names=name_index(con, salt)),
        wide=True,
        batch_files=batch_files,
    )
