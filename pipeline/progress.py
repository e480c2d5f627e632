"""Progress of a long step (files of an ingest, tables of a release) for whoever shows it.

A step calls :func:`advance` as it goes; the CLI (:class:`pipeline.run_output.StepProgress`) listens on the
logger ``ntm.progress`` and moves the running step's bar. Nobody listening (the UI, tests): nothing happens.
"""

from __future__ import annotations

import logging

LOGGER = logging.getLogger("ntm.progress")
LOGGER.propagate = False  # not a log line: never printed, never stored
LOGGER.setLevel(logging.INFO)


def advance(done: int, total: int, unit: str = "") -> None:
    """``done`` of ``total`` units (files, tables) of the running step are finished."""
    if LOGGER.handlers:
        LOGGER.info(unit, extra={"ntm_done": int(done), "ntm_total": int(total)})
