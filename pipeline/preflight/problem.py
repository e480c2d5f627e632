"""One thing to fix before a run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing to fix before a run: ``subject`` is the variable or path, ``fix`` what to do."""

    code: str
    subject: str
    vi: str
    en: str
    fix_vi: str
    fix_en: str

    @property
    def message(self) -> str:
        return f"{self.vi} / {self.en}"

    @property
    def fix(self) -> str:
        return f"{self.fix_vi} / {self.fix_en}"
