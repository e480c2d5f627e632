"""The landing-zone sources, one package each: its Dagster asset (``assets.py``), its template contract
(``template.py``), its validation and load (``validate.py``) and its own rules. The shared machinery they all
use (decoding, readers, files, manifest, quarantine, problems, reference data) is ``pipeline.ingest``.
"""
