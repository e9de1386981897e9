"""Boot-RAM DIMMs: placement, memmap=, SRAT entries, the three witnesses, refusal words.

The recorded boot is a real `memhp run` of three-node-boot-dimm-refused on Debian 6.1.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from acpi_tables.srat import MemoryAffinity, decode_srat
from harness.errors import BadInputError
from harness.guest.actions import ActionResult, BlockOutcome, DimmSeen, NodeDimmSeen, NodeRemovalSeen, unmovable_pfns
from harness.guest.state import PageFlagSummary
from harness.logparse import load_boot_log
from harness.logparse.reader import LineStream
from harness.qemu.cmdline import build_command
from harness.qemu.machine import Channels
from harness.qemu.qmp import OstEvent, UnplugOutcome
from harness.qemu.qmp import memory_device
from harness.run.boot_ram import boot_dimm_witnesses, disagreement, eject_refusal_words, headline
from harness.run.verdict import RunResult
from harness.scenario.cmdline import kernel_cmdline
from harness.scenario.layout import compute_layout
from harness.scenario.schema import load_scenario, parse_scenario
from harness.scenario.tables import srat_bytes

ROOT = Path(__file__).parents[2]
REFUSED = ROOT / "fixtures/scenarios/three-node-boot-dimm-refused.toml"
RECORDED = ROOT / "fixtures/logs/recorded/memhp-6.1-three-node-boot-dimm-refused.log"
GiB = 1 << 30
# query-memory-devices of that run, as QEMU answered.
QEMU_SAYS = [memory_device({"type": "dimm", "data": {"id": "boot0", "addr": 0x140000000, "size": GiB, "node": 2}})]


def _scenario(**dimm: Any) -> dict[str, Any]:
    return {"name": "t", "machine": {"slots": 2, "maxmem": "8G", "nodes": [
        {"memory": "2G", "cpus": [0]}, {"memory": "1G"}, {"memory": "1G"}]},
        "dimms": [{"id": "b0", "size": "1G", "node": 2, "boot_ram": True} | dimm],
        "srat": {"source": "override"}}


def test_boot_dimm_is_placed_at_the_window_base_and_announced_with_memmap() -> None:
    scenario = load_scenario(REFUSED)
    layout = compute_layout(scenario)
    (dimm,) = layout.boot_dimms
    assert (dimm.start, dimm.end) == (0x140000000, 0x180000000) == (layout.device_base, layout.device_base + GiB)
    assert "memmap=0x40000000@0x140000000" in kernel_cmdline(scenario, layout).split()
    argv = build_command(scenario, Path("bzImage"), Path("initrd"),
                         Channels(Path("c.log"), Path("a.sock"), Path("q.sock")))
    assert f"pc-dimm,id=boot0,memdev=mem-boot0,node=2,addr={0x140000000}" in argv


def test_override_srat_gives_the_dimm_its_node_and_mark_and_the_window_goes_around_it() -> None:
    scenario = parse_scenario(_scenario(node=1, hotplug=False))
    layout = compute_layout(scenario)
    memory = [m for m in decode_srat(srat_bytes(scenario, layout), "t").memory_affinities if m.length]
    dimm = [m for m in memory if m.base_address == layout.boot_dimms[0].start]
    assert [(m.proximity_domain, m.flags & MemoryAffinity.HOT_PLUGGABLE) for m in dimm] == [(1, 0)]
    spans = sorted((m.base_address, m.base_address + m.length) for m in memory)
    assert all(end <= start for (_, end), (start, _) in zip(spans, spans[1:])), "no two ranges overlap"
    window = [m for m in memory if m.flags & MemoryAffinity.HOT_PLUGGABLE]
    assert window and all(m.proximity_domain == 2 for m in window)
    assert layout.device_base + layout.device_size == max(m.base_address + m.length for m in window)


@pytest.mark.parametrize(("dimm", "words"), [
    ({"node": 1, "boot_ram": True}, r"on the last node \(2\)"),
    ({"hotplug": False}, "QEMU's SRAT marks it hotpluggable"),
    ({"boot_ram": False, "hotplug": False}, "applies to boot_ram DIMMs only"),
])
def test_boot_dimm_that_qemus_srat_cannot_describe_is_bad_input(dimm: dict[str, Any], words: str) -> None:
    data = _scenario(**dimm) | {"srat": {"source": "qemu"}}
    with pytest.raises(BadInputError, match=words):
        parse_scenario(data, "x.toml")


def test_three_witnesses_of_the_recorded_boot_agree() -> None:
    scenario, log = load_scenario(REFUSED), load_boot_log(RECORDED)
    (seen,) = boot_dimm_witnesses(scenario, compute_layout(scenario), log, QEMU_SAYS)
    assert seen.agree, seen.words
    assert disagreement((seen,)) is None
    assert "user [0x100000000-0x17fffffff] usable" in seen.e820 and "PXM 2" in seen.srat


def test_qemu_elsewhere_makes_it_could_not_test_naming_all_three() -> None:
    scenario, log = load_scenario(REFUSED), load_boot_log(RECORDED)
    moved = [memory_device({"type": "dimm", "data": {"id": "boot0", "addr": 0x180000000, "size": GiB, "node": 2}})]
    witnesses = boot_dimm_witnesses(scenario, compute_layout(scenario), log, moved)
    why = disagreement(witnesses)
    assert why is not None
    assert "QEMU: [0x180000000-0x1bfffffff]" in why and "e820: user" in why and "SRAT: PXM 2" in why
    gone = boot_dimm_witnesses(scenario, compute_layout(scenario), log, None)
    assert "not read" in (disagreement(gone) or "")


def test_refused_eject_names_the_blocks_reservations_and_the_allocation_of_the_dumped_page() -> None:
    lines = tuple(line for line in LineStream().feed(RECORDED.read_bytes()) if line.items)
    after_boot = tuple(line for line in lines if line.number > 570)
    pfns = unmovable_pfns(after_boot)
    assert pfns == [0x17FE00]
    flags = PageFlagSummary(block=47, pages=32768, nopage=0, reserved=27379, slab=0, pgtable=0, buddy=0,
                            lru=0, first_reserved_pfns=())
    action = ActionResult("remove-boot0", "dimm_remove", "failure", False, "guest refused",
                          blocks=[BlockOutcome(47, 0x178000000, False, "Offline failed", flags)],
                          unplug=UnplugOutcome("boot0", False, 0.2, (
                              OstEvent("boot0", "0", 3, 0x84), OstEvent("boot0", "0", 3, 0x82)), "busy"),
                          unmovable_pfns=pfns)
    words = eject_refusal_words(action, load_boot_log(RECORDED))
    assert "ejection in progress (0x84), eject request: device busy (0x82)" in words
    assert "memory47 [0x178000000-0x17fffffff] (kpageflags: 27379 reserved" in words
    assert "NODE_DATA(2)" in words and "alloc_low_pages, setup_log_buf" in words
    assert "unmovable pfn 0x17fe00 inside setup_log_buf [0x17effe000-0x17fffdfff]" in words


def test_a_block_refused_only_in_the_first_pass_is_found_by_its_page_dump() -> None:
    """Recorded 6.1 node removal without movable_node: acpi_scan_try_to_offline's second
    pass stops at memory32 (a slab page: boot memory in ZONE_NORMAL), so "Offline failed."
    names only it; memory39 refused in the first pass and shows only in its page dump, a
    page of setup_log_buf's buffer."""
    recorded = ROOT / "fixtures/logs/recorded/memhp-6.1-two-node-remove-refused.log"
    lines = tuple(line for line in LineStream().feed(recorded.read_bytes()) if line.items)
    pfns = unmovable_pfns(tuple(line for line in lines if line.number > 567))
    assert pfns == [0x100000, 0x13FE00]
    action = ActionResult("remove-node1", "node_remove", "failure", False, "guest refused",
                          blocks=[BlockOutcome(32, 0x100000000, False, "Offline failed", None)],
                          unplug=UnplugOutcome("boot1", False, 0.2, (
                              OstEvent("boot1", "0", 3, 0x84), OstEvent("boot1", "0", 3, 0x82)), "busy"),
                          unmovable_pfns=pfns)
    words = eject_refusal_words(action, load_boot_log(recorded))
    assert "did not go offline: memory32 [0x100000000-0x107ffffff]" in words
    assert "unmovable pfn 0x100000 in no boot reservation (a runtime page), in memory32" in words
    assert "unmovable pfn 0x13fe00 inside setup_log_buf [0x13effe000-0x13fffdfff]" in words
    assert words.endswith(", in memory39")
    assert "[0x13b7fe000-0x13fffffff] alloc_low_pages, setup_log_buf" in words


def _removal(action: Any, dimm: str, ejected: bool) -> ActionResult:
    """What run_action records: the DIMM's unplug, inside the node's record for node_remove."""
    unplug = UnplugOutcome(dimm, ejected, 0.1, (), "DEVICE_DELETED" if ejected else "busy")
    node = None if action.do == "dimm_remove" else NodeRemovalSeen(
        action.node, "dimms first", dimms=[NodeDimmSeen(DimmSeen(dimm, None, None), unplug)])
    return ActionResult(action.id, action.do, action.expect.value, ejected, "", unplug=unplug, node=node)


@pytest.mark.parametrize(("scenario", "kernel", "ejected", "words"), [
    ("three-node-boot-dimm-movable", "6.1", True, "boot memory removed: boot-RAM DIMM boot0 "
     "[0x140000000-0x17fffffff] on node 2 ejected by dimm_remove, memblock kept out of it"),
    ("three-node-boot-dimm-refused", "6.12", False, "boot memory kept: boot-RAM DIMM boot0 "
     "[0x140000000-0x17fffffff] on node 2 refused by the guest; reserved inside at boot: "
     "NODE_DATA(2), alloc_low_pages, setup_log_buf, sparse_init and 12 more"),
    ("two-node-remove-movable", "6.12", True, "boot memory removed: boot-RAM DIMM boot1 "
     "[0x100000000-0x13fffffff] on node 1 ejected by node_remove, memblock kept out of it"),
    ("two-node-remove-refused", "6.1", False, "boot memory kept: boot-RAM DIMM boot1 "
     "[0x100000000-0x13fffffff] on node 1 refused by the guest; reserved inside at boot: "
     "NODE_DATA(1), alloc_low_pages, setup_log_buf, sparse_init and 13 more"),
])
def test_headline_says_in_one_line_whether_boot_memory_went_and_why(
        scenario: str, kernel: str, ejected: bool, words: str) -> None:
    """From the recorded boots: what memblock reserved inside the DIMM, in its last dump and
    after it (top-down without movable_node: memmap, percpu, swiotlb...), decides the words."""
    loaded = load_scenario(ROOT / f"fixtures/scenarios/{scenario}.toml")
    log = load_boot_log(ROOT / f"fixtures/logs/recorded/memhp-{kernel}-{scenario}.log")
    (action,) = loaded.actions
    dimm = loaded.dimms[0].id
    assert headline(loaded, compute_layout(loaded), log, [_removal(action, dimm, ejected)]) == words
    assert headline(loaded, compute_layout(loaded), log, []) is None  # not run: no answer


def test_a_node_kept_by_its_cpu_still_says_its_boot_memory_went() -> None:
    """node_remove failed at the CPU after the DIMM went: the headline judges the DIMM."""
    loaded = load_scenario(ROOT / "fixtures/scenarios/two-node-remove-movable.toml")
    log = load_boot_log(ROOT / "fixtures/logs/recorded/memhp-6.1-two-node-remove-movable.log")
    (action,) = loaded.actions
    kept = dataclasses.replace(_removal(action, "boot1", True), succeeded=False)
    assert (headline(loaded, compute_layout(loaded), log, [kept]) or "").startswith("boot memory removed:")
    untried = dataclasses.replace(kept, node=NodeRemovalSeen(1, "dimms first"))
    assert headline(loaded, compute_layout(loaded), log, [untried]) is None


def test_the_headline_is_the_summary_s_second_line() -> None:
    result = RunResult("s", "debian:6.1", headline="boot memory removed: x")
    result.add("no kernel panic", "none", "none")
    assert result.summary().splitlines()[1:] == ["  boot memory removed: x", "  ok   no kernel panic: none"]


@pytest.mark.parametrize(("kernel", "line"), [("6.1", 128), ("6.12", 128)])
def test_a_crash_kernel_in_the_dimm_is_named_as_the_holder_of_the_refused_block(kernel: str, line: int) -> None:
    """crashkernel=128M@0x148000000 without movable_node: memory41 is the block the kernel
    names, all of it reserved after the NUMA dump (6.1 reserve_crashkernel is inlined into
    setup_arch, 6.12 reserve_crashkernel_generic): its own log line names it."""
    recorded = ROOT / f"fixtures/logs/recorded/memhp-{kernel}-three-node-boot-dimm-crashkernel.log"
    log = load_boot_log(recorded)
    lines = tuple(x for x in LineStream().feed(recorded.read_bytes()) if x.items)
    init = next(i for i, text in enumerate(recorded.read_text().splitlines(), 1) if "Run /init as init" in text)
    pfns = unmovable_pfns(tuple(x for x in lines if x.number > init))  # the eject's page dumps
    action = ActionResult("remove-boot0", "dimm_remove", "failure", False, "guest refused",
                          blocks=[BlockOutcome(41, 0x148000000, False, "Offline failed", None)],
                          unplug=UnplugOutcome("boot0", False, 0.2, (), "busy"), unmovable_pfns=pfns)
    words = eject_refusal_words(action, log)
    assert pfns[0] == 0x148000
    assert f"unmovable pfn 0x148000 inside crashkernel [0x148000000-0x14fffffff] (boot log line {line}), in memory41" in words
    assert "allocated after the NUMA dump inside: crashkernel" in words
