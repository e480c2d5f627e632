"""Open-data release: Parquet + Frictionless Data Package, disclosure control, atomic swap of ``latest``."""

from .datapackage import validate_descriptor, validate_package
from .disclosure import suppress_satisfaction
from .parquet import ReleaseIntegrityError, TableSpec
from .pii import Hit, PIIFoundError, scan_pii
from .release import ReleaseResult, publish_release, verify_release
from .release_dir import PublishLockedError, current_release, prune_releases

__all__ = [
    "Hit",
    "PIIFoundError",
    "PublishLockedError",
    "ReleaseIntegrityError",
    "ReleaseResult",
    "TableSpec",
    "current_release",
    "prune_releases",
    "publish_release",
    "scan_pii",
    "suppress_satisfaction",
    "validate_descriptor",
    "validate_package",
    "verify_release",
]
