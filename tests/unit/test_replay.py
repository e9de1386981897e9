"""Golden replays of the recorded boot logs: every allocation predicted exactly."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.analysis.replay import replay
from harness.errors import BadInputError
from harness.logparse import load_boot_log, parse_boot_log
from harness.logparse.common import caller_function

LOGS = sorted((Path(__file__).parents[2] / "fixtures/logs").rglob("*.log"))
# Nodes whose HOTPLUG marks numa_clear_kernel_node_hotplug clears (the log's zones agree).
PINNED = {
    "qemu-6.1-srat-override-hotplug-n1n2-movable-node.log": (0, 1),
    "qemu-6.1-srat-override-hotplug-n1n2.log": (0, 1, 2),
    "qemu-6.1-three-node-movable-node.log": (0, 1),
    "qemu-6.1-three-node.log": (0, 1, 2),
    "qemu-6.12-three-node-movable-node.log": (0, 1),
    "qemu-6.12-three-node.log": (0, 1, 2),
    # memhp's own scenario runs: only without movable_node does node 2 lose its mark.
    **{f"memhp-{k}-{s}.log": (0, 1) for k in ("6.1", "6.12") for s in (
        "three-node-movable", "two-node-initrd-pinned", "two-node-dimms", "two-node-dimm-refused")},
    **{f"memhp-{k}-three-node-no-movable-node.log": (0, 1, 2) for k in ("6.1", "6.12")},
    # guest workloads (two nodes, node 1 hotpluggable with movable_node): node 1 keeps it.
    **{f"memhp-{k}-{s}.log": (0,) for k in ("6.1", "6.12") for s in ("two-node-user-script", "two-node-selftest",
                                                                  "one-node-unmovable-cost")},
    # scripts/zone-boots (QEMU's SRAT, top-down): the kernel image's node, the node with the
    # top of low RAM (initrd, ACPI tables) and the highest node (page tables, log buffer).
    **{f"memhp-{k}-{s}.log": nodes for k in ("6.1", "6.12") for s, nodes in (
        ("four-node-kernelcore", (0, 1, 3)), ("four-node-kernelcore-mirror", (0, 1, 3)),
        ("four-node-movablecore-percent", (0, 2, 3)), ("three-node-kernelcore-percent", (0, 2)),
        ("three-node-movablecore", (0, 1, 2)), ("three-node-movable-node-movablecore", (0, 1)))},
    # A boot-RAM DIMM (memmap=) on the last node without movable_node: page tables and the
    # log buffer land in it top-down, so that node is pinned too (its second dump tags them
    # "on node 2" / "on node 1"). With movable_node the allocations stay bottom-up, out of
    # the DIMM: node 1 of the two-node machine has no other RAM, so only node 0 is pinned.
    **{f"memhp-{k}-{s}.log": nodes for k in ("6.1", "6.12") for s, nodes in (
        ("three-node-boot-dimm-refused", (0, 1, 2)), ("three-node-boot-dimm-movable", (0, 1)),
        ("three-node-boot-dimm-crashkernel", (0, 1, 2)),
        ("two-node-remove-refused", (0, 1)), ("two-node-remove-movable", (0,)),
        ("two-node-remove-cpu-refused", (0,)))},
    # QEMU's SRAT marks only the device-memory window (virtio-mem's, no boot RAM) hotpluggable.
    **{f"memhp-{k}-virtio-mem-cycle.log": (0, 1) for k in ("6.1", "6.12")},
    # Two nodes below 4G, no movable_node, the DIMMs hot-added later: both nodes hold boot
    # allocations (issue 13's online-policy and memmap_on_memory runs).
    **{f"memhp-{k}-{s}.log": (0, 1) for k in ("6.1", "6.12")
       for s in ("two-node-auto-movable", "two-node-memmap-on-memory")},
    **{f"memhp-{k}-two-node-virtio-mem-{s}.log": (0, 1) for k in ("6.1", "6.12")
       for s in ("movable", "pinned", "auto-movable")},
}


def test_every_recorded_log_has_a_pinning_expectation() -> None:
    assert sorted(PINNED) == sorted(p.name for p in LOGS)


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.stem)
def test_python_replay_matches_every_allocation(path: Path) -> None:
    log = load_boot_log(path)
    result = replay(log)
    assert result.allocations > 50
    assert result.matched == result.allocations, [m.to_json() for m in result.mismatches]
    assert result.dumps_checked >= 1 and result.dump_check == ()
    assert result.pinned_nodes == PINNED[path.name]
    assert len(result.inferred["node_data_requests"]) == len({s.node for s in log.srat_memory})


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.stem)
def test_kernel_engine_replay_gives_the_python_result(path: Path) -> None:
    log = load_boot_log(path)
    ours, theirs = replay(log, "python").to_json(), replay(log, "kernel").to_json()
    del ours["engine"], theirs["engine"]
    assert ours == theirs


def test_wrong_direction_is_reported_as_mismatches() -> None:
    """Replaying a movable_node boot top-down must miss the early page tables and log buffer."""
    log = load_boot_log(LOGS[0].with_name("qemu-6.1-srat-override-hotplug-n1n2-movable-node.log"))
    assert log.command_line and "movable_node" in log.command_line
    top_down = dataclasses.replace(log, command_line=log.command_line.replace("movable_node", ""))
    result = replay(top_down)
    assert result.matched < result.allocations
    first = result.mismatches[0].to_json()
    assert first["predicted"] != first["actual"] and first["reason"]
    # The kernel searched bottom-up until the SRAT was parsed (arch/x86/kernel/setup.c:setup_arch
    # sets it for movable_node; arch/x86/mm/numa.c:numa_init clears it): every request the
    # top-down model gets wrong before that, it places higher than the kernel did.
    srat_line = log.srat_memory[0].line
    early = [m for m in result.mismatches if m.line < srat_line]
    assert early and all(m.predicted is not None and m.actual is not None and m.predicted > m.actual
                         for m in early)
    assert {caller_function(m.request.split()[-1]) for m in early} >= {
        "reserve_real_mode", "setup_log_buf", "acpi_table_upgrade"}


def test_a_wrong_dump_is_reported() -> None:
    log = load_boot_log(LOGS[0].with_name("qemu-6.12-three-node.log"))
    second = log.memblock_dumps[1]
    shrunk = dataclasses.replace(second, reserved=second.reserved[1:])
    result = replay(dataclasses.replace(log, memblock_dumps=(log.memblock_dumps[0], shrunk)))
    assert [(d.type_name, d.model) for d in result.dump_check] == [("reserved", second.reserved[0])]


def test_log_without_memblock_debug_is_bad_input() -> None:
    log = parse_boot_log("[    0.000000] Linux version 6.1.0-47-amd64 (x)\n", "plain.log")
    with pytest.raises(BadInputError, match="plain.log: no memblock=debug"):
        replay(log)
