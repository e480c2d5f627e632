"""pipeline.lib.faults: named fault points, no-ops unless a test installs a hook (in-process, or in a
subprocess through the one setting NTM_FAULT_HOOK); the list of points is the code's."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pipeline.lib import faults
from tests import fault_hooks

REPO = Path(__file__).resolve().parents[2]


def fault_point_calls(root: Path) -> set[str]:
    """The name of every ``fault_point("...")`` call under ``root/pipeline``."""
    names = set()
    for path in (root / "pipeline").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None)) == "fault_point"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                names.add(node.args[0].value)
    return names


def test_points_documented_are_the_points_in_the_code():
    assert fault_point_calls(REPO) == set(faults.POINTS)
    for point in faults.POINTS:
        assert f"| {point}" in faults.__doc__


def test_no_hook_is_a_no_op(monkeypatch):
    monkeypatch.delenv("NTM_FAULT_HOOK", raising=False)
    faults.uninstall()
    for point in faults.POINTS:
        assert faults.fault_point(point) is None


def test_installed_hook_sees_each_point_and_its_failure_propagates():
    seen = []

    def hook(point: str) -> None:
        seen.append(point)
        if point == "publish.before_swap":
            raise RuntimeError("injected")

    with faults.installed(hook):
        faults.fault_point("publish.file_written")
        with pytest.raises(RuntimeError, match="injected"):
            faults.fault_point("publish.before_swap")
    faults.fault_point("publish.before_swap")  # uninstalled on leaving the block
    assert seen == ["publish.file_written", "publish.before_swap"]


def test_unknown_point_is_refused():
    with pytest.raises(ValueError, match="unknown fault point 'publish.befor_swap'"):
        faults.fault_point("publish.befor_swap")


def test_setting_installs_the_named_callable(monkeypatch):
    monkeypatch.setenv("NTM_FAULT_HOOK", "tests.fault_hooks:record")
    fault_hooks.RECORDED.clear()
    faults.fault_point("publish.after_swap")
    assert fault_hooks.RECORDED == ["publish.after_swap"]
    # an installed hook takes precedence over the setting
    with faults.installed(lambda point: None):
        faults.fault_point("publish.after_swap")
    assert fault_hooks.RECORDED == ["publish.after_swap"]


@pytest.mark.parametrize("spec", ["tests.fault_hooks", "tests.fault_hooks:", ":record"])
def test_setting_of_the_wrong_shape_names_itself(monkeypatch, spec):
    monkeypatch.setenv("NTM_FAULT_HOOK", spec)
    with pytest.raises(ValueError, match="NTM_FAULT_HOOK must be module:callable"):
        faults.fault_point("publish.after_swap")
