"""Named fault points: where a test may make the pipeline fail, without test logic in production code.

Production code marks a point it must survive being killed at with one call, ``fault_point("publish.before_swap")``.
With no hook installed (always, in production) the call does nothing. A test installs a hook, a callable that
receives each point's name and may raise, or kill the process, at the point it wants:

* in-process: ``with installed(hook): ...`` (or :func:`install` / :func:`uninstall`);
* in a subprocess (a pipeline run, a ``dagster asset materialize``): the one setting ``NTM_FAULT_HOOK=module:callable``
  (:func:`pipeline.config.fault_hook_spec`), imported at the first fault point the process reaches. The
  hooks the tests use are in ``tests/fault_hooks.py``.

The points (every ``fault_point`` call in ``pipeline/``; ``tests/lib/test_faults_hook.py`` holds this list equal
to the code):

| point                  | where                                                                           |
| ---------------------- | ------------------------------------------------------------------------------- |
| publish.file_written   | after each Parquet data file of a release is written and closed (staging folder) |
| publish.before_swap    | the staged release is complete and fsynced, before it is renamed into releases/  |
| publish.after_swap     | ``latest`` and ``LATEST`` point at the new release, before the root CHANGELOG.md |
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator

from pipeline.config import fault_hook_spec

Hook = Callable[[str], None]

POINTS = ("publish.file_written", "publish.before_swap", "publish.after_swap")

_installed: Hook | None = None
_from_setting: tuple[str, Hook] | None = None  # (NTM_FAULT_HOOK value, the callable it names), loaded once


def fault_point(name: str) -> None:
    """A named point a fault may be injected at: calls the installed hook with ``name``; a no-op without one."""
    if name not in POINTS:
        raise ValueError(f"unknown fault point {name!r}: add it to pipeline.lib.faults.POINTS")
    hook = _installed or _setting_hook()
    if hook is not None:
        hook(name)


def install(hook: Hook) -> None:
    """Install ``hook`` in this process (it takes precedence over ``NTM_FAULT_HOOK``)."""
    global _installed
    _installed = hook


def uninstall() -> None:
    global _installed
    _installed = None


@contextlib.contextmanager
def installed(hook: Hook) -> Iterator[None]:
    """``hook`` installed for the duration of the block."""
    previous = _installed
    install(hook)
    try:
        yield
    finally:
        install(previous) if previous is not None else uninstall()


def load(spec: str) -> Hook:
    """The callable named by ``module:callable`` (ValueError naming the setting when it is not one)."""
    module, sep, attr = spec.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"NTM_FAULT_HOOK must be module:callable, got {spec!r}")
    hook = getattr(importlib.import_module(module), attr)
    if not callable(hook):
        raise ValueError(f"NTM_FAULT_HOOK={spec!r} is not callable")
    return hook


def _setting_hook() -> Hook | None:
    global _from_setting
    spec = fault_hook_spec()
    if spec is None:
        return None
    if _from_setting is None or _from_setting[0] != spec:
        _from_setting = (spec, load(spec))
    return _from_setting[1]
