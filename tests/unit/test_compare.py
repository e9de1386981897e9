"""memhp compare on artifacts built from two real recorded boots (6.1 and 6.12)."""
from __future__ import annotations

from pathlib import Path

from report_data import model_file

from harness.analysis.pinning import reservations_in_hotplug_ranges
from harness.logparse import load_boot_log
from harness.run.compare import compare_runs
from harness.run.verdict import RunResult

LOGS = Path(__file__).resolve().parents[2] / "fixtures" / "logs"


def _run_dir(tmp: Path, name: str, log: str, checks: list[tuple[str, str, bool]]) -> Path:
    run = tmp / name
    run.mkdir()
    bootlog = load_boot_log(LOGS / log)
    model_file(bootlog, reservations=reservations_in_hotplug_ranges(bootlog)).write(run / "model.json")
    result = RunResult("s", "debian:6.1", bootlog.kernel_release)
    for check, observed, ok in checks:
        result.add(check, "success", observed, ok=ok)
    result.artifact().write(run / "result.json")
    return run


def test_identical_runs_show_no_difference(tmp_path: Path) -> None:
    checks = [("action offline", "success", True)]
    a = _run_dir(tmp_path, "a", "qemu-6.1-three-node-movable-node.log", checks)
    b = _run_dir(tmp_path, "b", "qemu-6.1-three-node-movable-node.log", checks)
    cmp = compare_runs(a, b)
    assert not cmp.regressions and not cmp.allocations_moved and not cmp.zones
    assert cmp.text().endswith("no differences")


def test_kernel_change_reports_regression_and_moved_allocations(tmp_path: Path) -> None:
    a = _run_dir(tmp_path, "a", "qemu-6.1-three-node-movable-node.log", [("action offline", "success", True)])
    b = _run_dir(tmp_path, "b", "qemu-6.12-three-node-movable-node.log", [("action offline", "failure", False)])
    cmp = compare_runs(a, b, "6.1", "6.12")
    assert [r["check"] for r in cmp.regressions] == ["action offline"]
    assert cmp.allocations_moved, "6.12 rounds NODE_DATA to 64 B, so later allocations move"
    assert "REGRESSION: action offline" in cmp.text()
    # the other direction is an improvement, not a regression
    assert not compare_runs(b, a).regressions
