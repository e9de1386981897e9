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
    # Each move is two different answers the kernels printed themselves, read from the logs'
    # text: memblock_alloc_range_nid's reserve line for that range in each log.
    texts = {side: (LOGS / log).read_text() for side, log in (
        ("a", "qemu-6.1-three-node-movable-node.log"), ("b", "qemu-6.12-three-node-movable-node.log"))}
    for moved in cmp.allocations_moved:
        assert moved["a"] != moved["b"], moved
        for side, text in texts.items():
            first, last = (int(x, 16) for x in moved[side].split("-"))
            assert f"memblock_reserve: [{first:#018x}-{last:#018x}] memblock_alloc_range_nid" in text, moved
        for side in ("a", "b"):
            first, last = (int(x, 16) for x in moved[side].split("-"))
            assert moved[f"{side}_size"] == last + 1 - first, "each side names its own request"
    # mm/numa.c:alloc_node_data (6.12) rounds NODE_DATA to 64 B, not a page: the sparse
    # buffer below it loses its page alignment.
    sparse = next(m for m in cmp.allocations_moved if m["caller"] == "sparse_init")
    assert int(sparse["a"].split("-")[0], 16) % 4096 == 0 and int(sparse["b"].split("-")[0], 16) % 4096 != 0
    assert "REGRESSION: action offline" in cmp.text()
    resized = [m for m in cmp.allocations_moved if m["a_size"] != m["b_size"]]
    assert resized and all(f"({m['a_size']} → {m['b_size']} bytes)" in cmp.text() for m in resized)
    # the other direction is an improvement, not a regression
    assert not compare_runs(b, a).regressions


def test_memory_init_time_per_node_shown_a_b_with_ratio_but_never_a_difference(tmp_path: Path) -> None:
    a = _run_dir(tmp_path, "a", "recorded/memhp-6.1-two-node-user-script.log", [("c", "success", True)])
    b = _run_dir(tmp_path, "b", "recorded/memhp-6.12-two-node-user-script.log", [("c", "success", True)])
    cmp = compare_runs(a, b, "6.1", "6.12")
    # the raw lines: 6.1 "node 1 … in 108ms", "node 0 … in 188ms"; 6.12 100ms and 284ms
    assert cmp.init_times == [{"node": 0, "a_ms": 188, "b_ms": 284, "b_over_a": 1.51},
                              {"node": 1, "a_ms": 108, "b_ms": 100, "b_over_a": 0.93}]
    text = cmp.text()
    assert "    node 0: A 188 → B 284 (B/A x1.51)" in text and not cmp.regressions
    assert cmp.to_json()["init_times"] == cmp.init_times


def test_one_kernel_release_on_two_qemus_is_a_qemu_difference(tmp_path: Path) -> None:
    """The reproducer's shape: QEMU 7.2 crashed during the action, 10.0 passed, same kernel."""
    import dataclasses
    import json

    from harness.run.artifacts import QemuInfo

    log = "qemu-6.1-three-node-movable-node.log"
    a = _run_dir(tmp_path, "a", log, [("action rm (node_remove)", "interrupted", False)])
    b = _run_dir(tmp_path, "b", log, [("action rm (node_remove)", "success", True)])
    for side, version in ((a, "7.2.22"), (b, "10.0.2")):
        data = json.loads((side / "result.json").read_text())
        data["info"]["qemu"] = dataclasses.asdict(QemuInfo(
            spec="system", path=f"/q{version}", version=version, package="", machine="pc-i440fx"))
        (side / "result.json").write_text(json.dumps(data))
    cmp = compare_runs(a, b, "6.1", "6.1")
    assert cmp.cause == "qemu" and "QEMU 7.2.22" in cmp.a and "QEMU 10.0.2" in cmp.b
    assert "not a kernel regression" in cmp.text()
    backwards = compare_runs(b, a, "6.1", "6.1")
    assert [r["check"] for r in backwards.regressions] == ["action rm (node_remove)"]
    assert "QEMU REGRESSION: action rm (node_remove)" in backwards.text()
