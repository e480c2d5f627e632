"""Reference data: the administrative units of the ``vietnam-provinces`` package (``admin_units.py``), the
commune's registry files of raw/reference/ (hamlets with history, population, crosswalk, reporting units; read by
the shared pipeline.ingest.reference, which every source validates against) and the hamlet boundaries
(``boundaries.py``), assembled as one asset in ``assets.py``."""
