"""The OCOP rating rule of QĐ 148/QĐ-TTg, in one place: the 100-point score and the stars it earns.

5★ 90-100, 4★ 70-89, 3★ 50-69 are certified OCOP products; 2★ (30-49) and 1★ (below 30) are bands of the
scale that no certificate carries. Used by the ingest (a record's stars must match its score), the quality
gate (the same rule in SQL) and the synthetic data (which plants mismatches on purpose).
"""

from __future__ import annotations

STAR_BANDS: tuple[tuple[int, float], ...] = ((5, 90.0), (4, 70.0), (3, 50.0), (2, 30.0), (1, 0.0))
CERTIFIED_MIN_STARS = 3


def stars_for_score(score: float) -> int:
    """Stars a 100-point score falls in, 1 to 5."""
    for stars, lo in STAR_BANDS:
        if score >= lo:
            return stars
    return 1


def certified_stars(score: float) -> int | None:
    """Stars of the certificate a score earns, or None below the 3★ band (no certificate)."""
    stars = stars_for_score(score)
    return stars if stars >= CERTIFIED_MIN_STARS else None
