"""Open-data release: Parquet + Frictionless Data Package, disclosure control, atomic swap of ``latest``."""

from .datapackage import validate_descriptor, validate_package
from .disclosure_audit import DisclosureAuditError, audit_release_dir, feasible_intervals
from .parquet import ReleaseIntegrityError, TableSpec
from .pii import Hit, PIIFoundError, scan_pii
from .release import ReleaseResult, publish_release, verify_release
from .release_dir import PublishLockedError, current_release, prune_releases
from .suppression import suppress_satisfaction

__all__ = [
    "DisclosureAuditError",
    "Hit",
    "PIIFoundError",
    "PublishLockedError",
    "ReleaseIntegrityError",
    "ReleaseResult",
    "TableSpec",
    "audit_release_dir",
    "current_release",
    "feasible_intervals",
    "prune_releases",
    "publish_release",
    "scan_pii",
    "suppress_satisfaction",
    "validate_descriptor",
    "validate_package",
    "verify_release",
]
