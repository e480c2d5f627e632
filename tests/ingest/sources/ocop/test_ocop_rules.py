"""The OCOP star rule is defined once (pipeline.ingest.sources.ocop.rules); the ingest's vectorised form agrees with it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pipeline.ingest.sources.ocop.rules import certified_stars, stars_for_score
from pipeline.ingest.sources.ocop.validate import expected_stars


def test_certified_stars_only_from_three_stars():
    assert [certified_stars(s) for s in (100, 90, 89.99, 70, 50, 49.99, 30, 0)] == [
        5,
        5,
        4,
        4,
        3,
        None,
        None,
        None,
    ]
    assert [stars_for_score(s) for s in (49.99, 30, 29.9, 0)] == [2, 2, 1, 1]


def test_the_ingest_rule_is_the_same_rule():
    scores = pd.Series(np.append(np.arange(0, 100.25, 0.25), [np.nan]))
    got = expected_stars(scores)
    for score, stars in zip(scores, got, strict=True):
        want = None if math.isnan(score) else certified_stars(score)
        assert math.isnan(stars) if want is None else stars == want, (score, stars, want)
