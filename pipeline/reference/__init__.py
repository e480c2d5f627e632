"""Reference data: administrative units from the ``vietnam-provinces`` package."""

from pipeline.reference.admin_units import DATA_VERSION, communes_frame, provinces_frame

__all__ = ["DATA_VERSION", "communes_frame", "provinces_frame"]
