"""Satisfaction-survey exports: raw/surveys/** → raw.survey_answers (no personal data in clear) and
raw.survey_reasons (free text, never published)."""
