"""Exit codes of ``python -m pipeline run`` (and so of ``make run``), documented in the README.

| code | name       | meaning                                                                          |
| ---- | ---------- | -------------------------------------------------------------------------------- |
| 0    | OK         | published a new release, or the release is unchanged, or nothing changed         |
| 1    | RUN_FAILED | a step failed with an error (not a check): nothing new published                 |
| 2    | USAGE      | the command line is wrong (argparse)                                             |
| 3    | BLOCKED    | a blocking quality check failed: nothing published, the last release stays      |
| 4    | PREFLIGHT  | pre-flight found a problem (settings, paths, disk, manifest): no run was started |
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    RUN_FAILED = 1
    USAGE = 2
    BLOCKED = 3
    PREFLIGHT = 4
