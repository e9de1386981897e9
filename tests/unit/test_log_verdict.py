"""The hotplug verdict of ``memhp parse`` on real logs: public field logs (fixtures/field/)
and memhp's own recordings.  Every expected fact below was read off the log by hand (the
lines are quoted beside it), not taken from the parser's output."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.analysis.log_placements import Evidence
from harness.analysis.log_verdict import LogVerdict, Outcome, hotplug_verdict
from harness.analysis.pinning import HotplugStatus
from harness.cli import main
from harness.errors import ExitCode
from harness.logparse import load_boot_log, parse_boot_log
from harness.units import GiB

ROOT = Path(__file__).parents[2]
FIELD = ROOT / "fixtures" / "field"
RECORDED = ROOT / "fixtures" / "logs" / "recorded"
NO_MOVABLE = RECORDED / "memhp-6.1-three-node-no-movable-node.log"
MOVABLE = RECORDED / "memhp-6.1-three-node-movable.log"
# What memblock=debug adds (the option itself is renamed first, or the command line would go).
_DEBUG_ONLY = re.compile(r"memblock|MEMBLOCK|\] +(memory|reserved)[.\[]|memory size =")


def _verdict(path: Path) -> LogVerdict:
    return hotplug_verdict(load_boot_log(path))


def _without_memblock_debug(path: Path, edit: tuple[str, str] | None = None) -> LogVerdict:
    text = path.read_text().replace("memblock=debug", "quiet")
    if edit is not None:
        assert edit[0] in text
        text = text.replace(*edit)
    kept = [line for line in text.split("\n") if not _DEBUG_ONLY.search(line)]
    return hotplug_verdict(parse_boot_log("\n".join(kept), path.name))


def test_r820_renumbers_pxm_1_to_4_as_nodes_0_to_3() -> None:
    # "SRAT: PXM 1 -> APIC 0x00 -> Node 0" ... "SRAT: PXM 4 -> APIC 0x6f -> Node 3": 16 APICs each.
    verdict = _verdict(FIELD / "linuxhw-dell-r820-4node-pxm1.log")
    assert verdict.renumbered == {1: 0, 2: 1, 3: 2, 4: 3}
    assert [(n.node, n.pxms, n.cpus) for n in verdict.nodes] == [(0, (1,), 16), (1, (2,), 16), (2, (3,), 16),
                                                                   (3, (4,), 16)]
    # "node   1: [mem 0x0000000640000000-0x0000000c3fffffff]": 24 GiB, and likewise nodes 2 and 3.
    assert [n.memory for n in verdict.nodes[1:]] == [24 * GiB] * 3
    assert verdict.ranges == () and verdict.outcome is Outcome.CLEAN


def test_h8qg6_has_eight_equal_nodes_and_no_hotplug_range() -> None:
    verdict = _verdict(FIELD / "linuxhw-supermicro-h8qg6-8node.log")
    assert verdict.renumbered == {}
    assert [n.cpus for n in verdict.nodes] == [8] * 8  # "SRAT: PXM 7 -> APIC 0x88..0x8f -> Node 7"
    assert [n.memory for n in verdict.nodes[1:]] == [16 * GiB] * 7  # 0x428000000-0x827ffffff, ...
    # node 0: [0x1000-0x9cfff] + [0x100000-0xd7e5ffff] + [0x100000000-0x427ffffff]
    assert verdict.nodes[0].memory == (0x9D000 - 0x1000) + (0xD7E60000 - 0x100000) + (0x428000000 - 0x100000000)
    assert not any(n.memoryless for n in verdict.nodes)
    assert verdict.outcome is Outcome.CLEAN and verdict.exit_code is ExitCode.PASS


def test_lkp_hotplug_only_ranges_are_hot_add_windows() -> None:
    # "SRAT: Node 0 PXM 0 [mem 0x2100000000-0x40ffffffff] hotplug" and seven more, all above the
    # last e820 RAM "[mem 0x0000000100000000-0x000000207fffffff] usable".
    verdict = _verdict(FIELD / "lkp-wsx02-4node-hotplug-windows.log")
    assert len(verdict.ranges) == 8
    assert (verdict.ranges[0].node, verdict.ranges[0].start, verdict.ranges[0].end) == (0, 0x2100000000,
                                                                                      0x4100000000)
    assert [r.node for r in verdict.ranges] == [0, 0, 1, 1, 2, 2, 3, 3]
    assert {r.status for r in verdict.ranges} == {HotplugStatus.NO_BOOT_MEMORY}
    assert all(r.boot_memory == 0 for r in verdict.ranges)
    assert [n.cpus for n in verdict.nodes] == [20] * 4
    assert verdict.outcome is Outcome.CLEAN


def test_no_movable_node_boot_names_the_cleared_node_and_its_early_allocations() -> None:
    verdict = _verdict(NO_MOVABLE)
    # "ACPI: SRAT: Node 2 PXM 2 [mem 0x100000000-0x13fffffff] hotplug"
    node2 = next(r for r in verdict.ranges if r.start == 0x100000000)
    assert (node2.node, node2.status, node2.ok) == (2, HotplugStatus.CLEARED, False)
    callers = {(p.what, p.line) for p in node2.pinned_by}
    # line 48: "memblock_phys_alloc_range: 4096 bytes ... alloc_low_pages+0x137/0x160"
    # line 52: "memblock_alloc_try_nid: 16777216 bytes ... setup_log_buf+0x112/0x337"
    assert {("alloc_low_pages", 48), ("setup_log_buf", 52)} <= callers
    assert verdict.outcome is Outcome.VIOLATED and verdict.exit_code is ExitCode.FAIL
    assert verdict.movable_node is False


def test_without_memblock_debug_the_cleared_node_is_inferred_from_the_log_buffer() -> None:
    # Line 58 "printk: log_buf_len: 16777216 bytes" comes before the SRAT lines: the early
    # setup_log_buf, top-down from the end of RAM (0x140000000, node 2) without movable_node.
    verdict = _without_memblock_debug(NO_MOVABLE)
    node2 = next(r for r in verdict.ranges if r.start == 0x100000000)
    assert (node2.status, node2.evidence) == (HotplugStatus.CLEARED, Evidence.INFERRED)
    log_buf = next(p for p in node2.pinned_by if p.what.startswith("log buffer"))
    assert (log_buf.size, log_buf.below, log_buf.node) == (16 << 20, 0x140000000, 2)
    assert verdict.outcome is Outcome.VIOLATED


def test_movable_node_boot_is_clean_with_and_without_memblock_debug() -> None:
    for verdict in (_verdict(MOVABLE), _without_memblock_debug(MOVABLE)):
        node2 = next(r for r in verdict.ranges if r.start == 0x100000000)
        assert (node2.status, node2.ok) == (HotplugStatus.HONOURED, True)
        # "  Node 2: 0x0000000100000000" under "Movable zone start for each node"
        assert next(n for n in verdict.nodes if n.node == 2).movable_start == 0x100000000
        assert verdict.outcome is Outcome.CLEAN


def test_an_initrd_moved_into_the_hotplug_node_is_caught_from_the_ramdisk_line() -> None:
    # The must-fail twin of the clean movable_node boot: the same log, its RAMDISK line
    # moved into node 2; reserve_initrd runs before initmem_init, so the node is pinned.
    verdict = _without_memblock_debug(MOVABLE, ("RAMDISK: [mem 0xbfee4000-0xbffdffff]",
                                                "RAMDISK: [mem 0x13f000000-0x13fffffff]"))
    node2 = next(r for r in verdict.ranges if r.start == 0x100000000)
    assert (node2.status, node2.evidence, node2.ok) == (HotplugStatus.CLEARED, Evidence.LOGGED, False)
    assert [p.what for p in node2.inside] == ["initrd (RAMDISK)"]
    assert verdict.outcome is Outcome.VIOLATED


def test_a_crash_kernel_in_a_honoured_range_is_a_violation_but_does_not_clear_the_mark() -> None:
    crash = "crashkernel reserved: 0x0000000130000000 - 0x0000000138000000 (128 MB)"
    verdict = _without_memblock_debug(MOVABLE, ("Zone ranges:", f"{crash}\n[    0.2] Zone ranges:"))
    node2 = next(r for r in verdict.ranges if r.start == 0x100000000)
    assert (node2.status, node2.ok) == (HotplugStatus.HONOURED, False)
    assert [(p.what, p.start, p.end) for p in node2.inside] == [("crashkernel", 0x130000000, 0x138000000)]


def test_initrd_pinned_node_names_the_initrd() -> None:
    log = ROOT / "fixtures" / "logs" / "qemu-6.1-srat-override-hotplug-n1n2-movable-node.log"
    verdict = _verdict(log)
    node1 = next(r for r in verdict.ranges if r.node == 1)  # "Node 1 PXM 1 [mem 0x80000000-0xbfffffff] hotplug"
    assert node1.status is HotplugStatus.CLEARED
    # line 53 "RAMDISK: [mem 0xbfee4000-0xbffdffff]"
    assert ("initrd", 0xBFEE4000, 0xBFFE0000) in {(p.what, p.start, p.end) for p in node1.pinned_by}
    node2 = next(r for r in verdict.ranges if r.start == 0x100000000)
    assert node2.status is HotplugStatus.HONOURED
    assert verdict.outcome is Outcome.VIOLATED


def test_a_log_without_command_line_or_ram_map_cannot_tell() -> None:
    # The VMware excerpt: one hotplug SRAT range, no command line, no e820 or zone lines.
    verdict = _verdict(FIELD / "vmware-1node-ponyai-12.log")
    assert verdict.movable_node is None
    assert [(r.status, r.ok) for r in verdict.ranges] == [(HotplugStatus.UNKNOWN, None)]
    assert verdict.outcome is Outcome.UNDETERMINED and verdict.exit_code is ExitCode.CANNOT_TEST


@pytest.mark.parametrize(("log", "code"), [(NO_MOVABLE, 1), (MOVABLE, 0),
                                           (FIELD / "linuxhw-dell-r820-4node-pxm1.log", 0)])
def test_parse_exit_status_and_json(log: Path, code: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", str(log), "--json"]) == code
    data = json.loads(capsys.readouterr().out)
    assert data["source"] == str(log) and "srat_memory" in data  # the BootLog keys are still there
    assert data["hotplug_verdict"]["outcome"] == ("violated" if code else "clean")


def test_parse_text_names_the_cleared_node(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", str(NO_MOVABLE)]) == 1
    out = capsys.readouterr().out
    assert "hotplug verdict: VIOLATED (exit 1)" in out
    assert "node 2 (PXM 2) 0x100000000-0x13fffffff hotplug: cleared" in out
    assert "alloc_low_pages" in out and "setup_log_buf" in out


def test_replay_prints_the_verdict_and_keeps_its_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(NO_MOVABLE)]) == 0  # every allocation predicted
    assert "hotplug verdict: VIOLATED" in capsys.readouterr().out


@pytest.mark.parametrize("into_dump", [0, 6], ids=["before", "inside"])
def test_a_log_cut_before_or_inside_the_outcome_dump_cannot_tell(into_dump: int) -> None:
    """The first MEMBLOCK dump (e820__memblock_setup) predates every mark, and a cut one lists
    too few regions: neither says what became of node 2's honoured mark (pinning.outcome_dump)."""
    lines = MOVABLE.read_text().split("\n")
    second = [i for i, line in enumerate(lines) if line.endswith("MEMBLOCK configuration:")][1]
    cut = lines[:second + into_dump]
    # "    NODE_DATA(2) on node 1" alone tells (log_verdict.node_data_skipped): without it, nothing does.
    moved = [line for line in cut if "NODE_DATA(2) on node 1" in line]
    assert len(moved) == 1
    verdict = hotplug_verdict(parse_boot_log("\n".join(x for x in cut if x not in moved) + "\n"))
    assert verdict.outcome is Outcome.UNDETERMINED
    assert [r.status for r in verdict.ranges if r.node == 2 and r.boot_memory] == [HotplugStatus.UNKNOWN]
    with_it = hotplug_verdict(parse_boot_log("\n".join(cut) + "\n"))
    assert [(r.status, r.evidence) for r in with_it.ranges if r.node == 2 and r.boot_memory] == [
        (HotplugStatus.HONOURED, Evidence.INFERRED)]  # as the full log's outcome dump says
