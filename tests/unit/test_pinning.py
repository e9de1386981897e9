"""hotplug_findings / reservations_in_hotplug_ranges on recorded boots and small logs."""
from __future__ import annotations

import json
from pathlib import Path

from harness.analysis.pinning import (
    UNLOGGED,
    CauseKind,
    HotplugStatus,
    NodeHotplugFinding,
    hotplug_findings,
    reservations_in_hotplug_ranges,
)
from harness.logparse import AddressRange, load_boot_log, parse_boot_log

LOGS = Path(__file__).parents[2] / "fixtures" / "logs"
OVERRIDE = LOGS / "qemu-6.1-srat-override-hotplug-n1n2.log"
OVERRIDE_MOVABLE = LOGS / "qemu-6.1-srat-override-hotplug-n1n2-movable-node.log"


def _by_node(path: Path) -> dict[int, NodeHotplugFinding]:
    return {f.node: f for f in hotplug_findings(load_boot_log(path))}


def test_qemu_srat_hotplug_window_has_no_boot_memory() -> None:
    (finding,) = hotplug_findings(load_boot_log(LOGS / "qemu-6.1-three-node.log"))
    assert (finding.node, finding.status, finding.honoured) == (2, HotplugStatus.NO_BOOT_MEMORY, None)
    assert finding.hotplug_ranges == (AddressRange(0x140000000, 0x340000000),)


def test_override_without_movable_node_pins_both_nodes() -> None:
    findings = _by_node(OVERRIDE)
    assert findings[1].status is HotplugStatus.CLEARED and findings[1].honoured is False
    node1_callers = {c for r in findings[1].pinned_by for c in r.callers}
    assert {"initrd", "acpi_table_upgrade", "ACPI SRAT table"} <= node1_callers
    # Top-down: the log buffer, allocated before NUMA init, lands at the top of node 2.
    node2_callers = {c for r in findings[2].pinned_by for c in r.callers}
    assert "setup_log_buf" in node2_callers
    # The 2M probe init_mem_mapping allocated and freed must not be blamed.
    assert "init_mem_mapping" not in node2_callers


def test_movable_node_keeps_node_2_hotpluggable() -> None:
    findings = _by_node(OVERRIDE_MOVABLE)
    assert findings[2].status is HotplugStatus.HONOURED and findings[2].pinned_by == ()
    assert all(r.flags == 1 for r in findings[2].memory)
    assert findings[1].status is HotplugStatus.CLEARED  # the initrd still sits in node 1
    assert load_boot_log(OVERRIDE_MOVABLE).movable_zone_start == {2: 0x100000000}


def test_reservations_in_hotplug_ranges_include_node_data() -> None:
    found = reservations_in_hotplug_ranges(load_boot_log(OVERRIDE))
    callers = {(r.hotplug_node, c) for r in found for c in r.reservation.callers}
    assert (1, "NODE_DATA(1)") in callers and (2, "NODE_DATA(2)") in callers
    assert all(r.hotplug_range.overlaps(r.reservation.region.base, r.reservation.region.end) for r in found)


def test_unlogged_part_of_a_region_is_named() -> None:
    log = parse_boot_log(
        "ACPI: SRAT: Node 0 PXM 0 [mem 0x00000000-0x3fffffff] hotplug\n"
        "memblock_reserve: [0x0000000004400000-0x0000000004410fff] setup_arch+0x797/0xd4f\n"
        "MEMBLOCK configuration:\n memory.cnt  = 0x1\n"
        " memory[0x0]\t[0x0000000000001000-0x000000003fffffff], 0x000000003ffff000 bytes on node 0 flags: 0x0\n"
        " reserved.cnt  = 0x1\n"
        " reserved[0x0]\t[0x0000000001000000-0x0000000004410fff], 0x0000000003411000 bytes on node 0 flags: 0x0\n"
    )
    (finding,) = hotplug_findings(log)
    (pin,) = finding.pinned_by
    assert [(c.kind, c.start, c.end) for c in pin.causes] == [
        (CauseKind.MEMBLOCK_RESERVE, 0x4400000, 0x4411000),
        (CauseKind.UNLOGGED, 0x1000000, 0x4400000),
    ]
    assert pin.callers == ("setup_arch", UNLOGGED)


def test_no_dump_means_unknown_and_json() -> None:
    log = parse_boot_log("ACPI: SRAT: Node 1 PXM 1 [mem 0x80000000-0xbfffffff] hotplug\n")
    (finding,) = hotplug_findings(log)
    assert finding.status is HotplugStatus.UNKNOWN
    data = json.loads(json.dumps(finding.to_json()))
    assert NodeHotplugFinding.from_json(data) == finding
    assert reservations_in_hotplug_ranges(log) == ()
