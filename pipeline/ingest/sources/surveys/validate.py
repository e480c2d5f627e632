"""Satisfaction-survey exports (wide: one row per response, columns "C<n>. ..." and "Lý do C<n>") →
long ``raw.survey_answers`` (one row per response × answered question) and ``raw.survey_reasons``.

Personal data: respondent name and phone become ``respondent_hash`` = sha256(salt + normalised name +
digits of the phone) and are never stored in clear (quarantine records show them as ``***``). A response
is loaded whole or quarantined whole.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.ingest.batch import BatchResult, IngestContext, source_columns
from pipeline.ingest.cells import cell_answer, cell_datetime, cell_text, column_of
from pipeline.ingest.manifest import TemplateSource
from pipeline.ingest.masking import mask_free_text
from pipeline.ingest.problems import Problems
from pipeline.ingest.reference import ReferenceData, hamlet_name_key
from pipeline.ingest.sources.surveys.template import SURVEY
from pipeline.lib.distinct import in_set, map_distinct
from pipeline.lib.periods import parse_period
from pipeline.lib.pii import NameIndex, key_hash, name_key
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
    return hamlet, hamlet.map(ref.hamlet_communes)


def validate(b: pd.DataFrame, ctx: IngestContext) -> BatchResult:
    """One batch of survey responses (one wide row each): each response loaded whole or quarantined whole
    with its reasons. The steps run in this order (the order of the quarantine records): the response's
    cells, the duplicates inside a file, the answers."""
    p = Problems(b, SURVEY)
    resp = _response_cells(b, p, ctx.ref)
    p.add_repeats(resp.response_id.notna(), "response_id", resp.response_id)
    questions = _questions(b, ctx.ref)
    answers = _answers(b, p, ctx.ref, resp.form, questions)

    good = p.good
    base = _responses(b, good, resp, ctx.salt)
    tables = {
        "raw.survey_answers": _answer_rows(base, answers, good, questions),
        "raw.survey_reasons": _reason_rows(b, base, good, questions),
    }
    return p.result(mask_free_text(tables, _with_respondents(ctx.names, b)))


@dataclass
class _Response:
    """The cells of each response besides its answers."""

    response_id: pd.Series
    submitted_at: pd.Series
    form: pd.Series
    hamlet: pd.Series
    commune: pd.Series
    period: pd.Series  # the year: of the period when given, else of submitted_at


def _response_cells(b: pd.DataFrame, p: Problems, ref: ReferenceData) -> _Response:
    """Response id, submitted_at and form are required; the hamlet (a code or a name) must resolve; a commune
    code, when given, must be known (else the hamlet's commune); a period, when given, must be readable."""
    resp = cell_text(column_of(b, "response_id"))
    p.add(resp.isna(), "missing_value", "response_id")
    sub_at, _ = p.required("submitted_at", cell_datetime)
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
    return _Response(resp, sub_at, form, hamlet, commune, period)


@dataclass
class _Questions:
    """The question columns of the batch and the catalog's question codes."""

    answers: list[str]  # "q:<n>" (column "C<n>. ..."), in question order
    reasons: list[str]  # "r:<n>" (column "Lý do C<n>")
    codes: dict[tuple[str, int], str]  # (form_code, question_no) -> question_code


def _questions(b: pd.DataFrame, ref: ReferenceData) -> _Questions:
    return _Questions(
        answers=sorted(
            (c for c in b.columns if isinstance(c, str) and c.startswith("q:")), key=lambda c: int(c[2:])
        ),
        reasons=[c for c in b.columns if isinstance(c, str) and c.startswith("r:")],
        codes={
            (f, int(n)): c
            for f, n, c in ref.questions[["form_code", "question_no", "question_code"]].itertuples(
                index=False
            )
        },
    )


def _answers(
    b: pd.DataFrame, p: Problems, ref: ReferenceData, form: pd.Series, questions: _Questions
) -> dict[str, pd.Series]:
    """Each answer column read as satisfied (True), not (False) or blank (<NA>); an unreadable answer and an
    answer to a question the form does not have are quarantined."""
    texts = {c: cell_text(b[c]) for c in questions.answers}
    tick_row = _tick_rows(b, texts)
    answers: dict[str, pd.Series] = {}
    for c in questions.answers:
        n = int(c[2:])
        vals, err = cell_answer(b[c])
        vals = vals.mask(texts[c].isna() & tick_row, False)
        col = f"C{n}"
        p.add(err.notna(), "unparseable_answer", c, name=col)
        known_q = in_set(form, {f for f, m in questions.codes if m == n})
        p.add(vals.notna() & in_set(form, ref.form_codes) & ~known_q, "unknown_question", c, name=col)
        answers[c] = vals
    return answers


def _tick_rows(b: pd.DataFrame, texts: dict[str, pd.Series]) -> pd.Series:
    """Rows of tick-export files (every non-blank answer in the file is a tick) that hold at least one tick:
    there a blank answer is "not satisfied"."""
    if not texts:
        return pd.Series(False, index=b.index)
    tt = pd.DataFrame(texts)
    nonblank = tt.notna()
    is_tick = tt.isin(TICKS)
    per_file_nonblank = nonblank.groupby(b["_sha"]).sum().sum(axis=1)
    per_file_ticks = is_tick.groupby(b["_sha"]).sum().sum(axis=1)
    tick_files = set(per_file_ticks.index[(per_file_ticks == per_file_nonblank) & (per_file_ticks > 0)])
    return b["_sha"].isin(tick_files) & is_tick.any(axis=1)


def _responses(b: pd.DataFrame, good: pd.Series, resp: _Response, salt: str) -> pd.DataFrame:
    """One row per loaded response: its cells and the respondent's hashes (name and phone never in clear)."""
    name = column_of(b, "respondent_name").where(good, None)
    return pd.DataFrame(
        {
            "response_id": resp.response_id,
            "submitted_at": resp.submitted_at,
            "commune_code": resp.commune,
            "hamlet_code": resp.hamlet,
            "period_code": resp.period,
            "form_code": resp.form,
            "respondent_hash": respondent_hash(
                name, column_of(b, "respondent_phone").where(good, None), salt
            ),
            "respondent_name_hash": name_hash(name, salt),
            "respondent_name_fold_hash": name_fold_hash(name, salt),
            **source_columns(b),
        }
    )[good]


def _answer_rows(
    base: pd.DataFrame, answers: dict[str, pd.Series], good: pd.Series, questions: _Questions
) -> pd.DataFrame:
    """raw.survey_answers: one row per loaded response x answered question."""
    parts = []
    for c in questions.answers:
        n = int(c[2:])
        a = answers[c][good]
        sel = a.notna()
        if not sel.any():
            continue
        part = base[sel.to_numpy()].copy()
        part["satisfied"] = a[sel].astype(bool).to_numpy()
        part["question_code"] = map_distinct(
            part["form_code"], lambda f, n=n: questions.codes.get((f, n))
        ).to_numpy()
        parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _reason_rows(b: pd.DataFrame, base: pd.DataFrame, good: pd.Series, questions: _Questions) -> pd.DataFrame:
    """raw.survey_reasons: one row per loaded response x reason given (question code Q<nn> when the form does
    not know the question)."""
    parts = []
    for c in questions.reasons:
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
            part["form_code"], lambda f, n=n: questions.codes.get((f, n), f"Q{n:02d}"), na=f"Q{n:02d}"
        ).to_numpy()
        parts.append(part.drop(columns=["form_code"]))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _with_respondents(names: NameIndex | None, b: pd.DataFrame) -> NameIndex | None:
    """The names the reasons are masked against: the known names and this batch's respondents (still in
    clear here)."""
    if names is None:
        return None
    names = names.copy()
    names.add_names(cell_text(column_of(b, "respondent_name")).dropna().unique())
    return names


#: ``salt`` (NTM_PII_SALT) keys the respondent hash and the name hashes of the masking
ingest_surveys = TemplateSource(SOURCE, SURVEY, validate, wide=True, masks_names=True).ingest
