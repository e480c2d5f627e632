"""Synthetic data for the NTM pipeline: the bundled commune sample, blank templates, benchmark volumes.

``python -m pipeline.synth sample`` writes the SYNTHETIC sample of Đồng Lộc (18484) into raw/ (submissions,
surveys, OCOP and the synthetic hamlet boundaries raw/reference/hamlet_boundaries.geojson);
``python -m pipeline.synth templates`` the blank templates into raw/templates/;
``python -m pipeline.synth scale --scale commune|province|national --out DIR`` benchmark volumes
(``--communes 18481,18484,18496 --hamlets 3-5``: a small province of just these communes, with 3, 4 and 5
hamlets);
``python -m pipeline.synth split --src DIR --out DIR`` one landing zone per commune of a generated one
(:mod:`pipeline.synth.split`: one instance per commune, the federation test).
All output is deterministic for a seed (byte-identical reruns).
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_SEED = 18484


def generate_sample(
    out: Path | str = "raw",
    seed: int = DEFAULT_SEED,
    seeds_dir: Path | None = None,
    ref_dir: Path | None = None,
) -> dict:
    """Write submissions/, surveys/, ocop/ and reference/hamlet_boundaries.geojson of the commune sample
    under ``out``; returns a summary."""
    from pipeline.synth.boundaries import write_boundaries
    from pipeline.synth.sample import write_submissions
    from pipeline.synth.sample_ocop import write_ocop
    from pipeline.synth.sample_surveys import write_surveys

    out = Path(out)
    files, defects = write_submissions(out, seed, seeds_dir, ref_dir)
    write_surveys(out, seed, seeds_dir, ref_dir)
    defects += write_ocop(out)
    boundaries = write_boundaries(out, seed, ref_dir)
    return {"submission_files": len(files), "defects": defects, "boundaries": boundaries}


def generate_templates(out: Path | str = "raw/templates", seeds_dir: Path | None = None) -> list[Path]:
    from pipeline.synth.blank_templates import write_templates

    return write_templates(Path(out), seeds_dir)


def generate_scale(
    out: Path | str,
    scale: str = "commune",
    seed: int = DEFAULT_SEED,
    first: str = "2026-Q1",
    last: str = "2030-Q4",
    seeds_dir: Path | None = None,
    communes: list[str] | None = None,
    hamlets: int | tuple[int, int] | None = None,
) -> dict:
    """Benchmark volumes; ``communes`` keeps only these communes of the scale; ``hamlets`` = N gives every
    commune N hamlets, (lo, hi) gives the communes lo, lo + 1, ..., hi, lo, ... hamlets in code order (default:
    20..30 at random)."""
    from pipeline.synth.scale import write_scale

    return write_scale(Path(out), scale, seed, first, last, seeds_dir, communes, hamlets)


def split_by_commune(src: Path | str, out: Path | str) -> dict[str, Path]:
    """One landing zone per commune (``out/<commune_code>/``) of the landing zone ``src``; see
    :mod:`pipeline.synth.split`."""
    from pipeline.synth.split import split_by_commune as split

    return split(Path(src), Path(out))
