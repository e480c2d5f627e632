"""What a landing-zone template is: Vietnamese header labels mapped to stable English column codes.

Each source states its own template with these classes (``pipeline/ingest/sources/<source>/template.py``):
the single contract shared by the readers (ingest), the sample generator, the blank templates in
``raw/templates/`` and ``raw/README.md``. A header cell matches a column when its normalised form (NFC, lower
case, accents kept, spaces collapsed) equals the normalised Vietnamese label, the English code, or one of the
aliases.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    code: str  # stable English code used in the warehouse
    label_vi: str  # header a person sees in the template
    label_en: str
    type: str  # text | int | number | percent | date | datetime | period | yesno | answer
    required: bool = False  # the column must exist in the file header
    allowed: tuple[str, ...] = ()
    example: str = ""
    aliases: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Template:
    source: str  # submissions | surveys | ocop
    name_vi: str
    name_en: str
    sheet: str  # sheet name to pick in XLSX files
    columns: tuple[Column, ...]
    # Optional columns a file MAY add after the standard ones: read and documented (raw/README.md), but not
    # written by the blank templates nor by the sample (their standard header stays ``columns``).
    optional_columns: tuple[Column, ...] = ()

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.columns if c.required)

    @property
    def all_columns(self) -> tuple[Column, ...]:
        return self.columns + self.optional_columns

    def column(self, code: str) -> Column:
        for c in self.all_columns:
            if c.code == code:
                return c
        raise KeyError(code)


# Wide question columns (the survey export, read with ``wide=True``): header "C<n>. <question text>" (answer)
# and "Lý do C<n>" (free-text reason), matched by the shared header reader (pipeline.ingest.header);
# question codes Q01..Qnn and their texts live in dbt_project/seeds/survey_questions.csv.
SURVEY_QUESTION_PATTERN = r"^\s*C\s*(?P<n>\d{1,2})\s*[.:)\-]"
SURVEY_REASON_PATTERN = r"^\s*L[ýy] do\s*C\s*(?P<n>\d{1,2})\b"
