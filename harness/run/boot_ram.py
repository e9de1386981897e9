"""Boot-RAM DIMMs: is the DIMM really where the kernel booted with it, and why its eject failed.

A boot-RAM DIMM is trusted only when three witnesses agree: the address QEMU reports for
it (``query-memory-devices``), the kernel's ``user-defined physical RAM map`` that
``memmap=`` produced (arch/x86/kernel/e820.c:e820__finish_early_params), and the SRAT
range the kernel logged (drivers/acpi/numa/srat.c:acpi_numa_memory_affinity_init).  RAM
announced where QEMU mapped none corrupts the guest, so a disagreement makes the run
"could not test", never a kernel verdict.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.analysis.pinning import (
    AttributedReservation,
    ReservationCause,
    attribute,
    causes_after_last_dump,
)
from harness.guest.actions import ActionResult, BlockOutcome
from harness.guest.state import PageFlagsUnread
from harness.logparse import BootLog
from harness.logparse.acpi import SratMemoryLine
from harness.qemu.qmp import MemoryDevice
from harness.scenario.layout import BootDimm, MemoryLayout
from harness.scenario.schema import MEMORY_BLOCK_SIZE, Action, DimmRemove, NodeRemove, Scenario, SratSource
from harness.units import hex_range

PAGE_SHIFT = 12  # x86-64 4 KiB pages: a dumped pfn's address


@dataclass(frozen=True)
class BootDimmWitnesses:
    """What QEMU and the kernel each say about one boot-RAM DIMM, in words."""

    dimm: BootDimm
    qemu: str
    e820: str
    srat: str
    agree: bool

    @property
    def words(self) -> str:
        return (f"boot-RAM DIMM {self.dimm.id} [{hex_range(self.dimm.start, self.dimm.end)}]: "
                f"QEMU: {self.qemu}; e820: {self.e820}; SRAT: {self.srat}")


def _qemu_words(dimm: BootDimm, devices: Sequence[MemoryDevice] | None) -> tuple[str, bool]:
    if devices is None:
        return "not read (the guest was gone before query-memory-devices)", False
    for dev in devices:
        if dev.id == dimm.id and (found := dev.range) is not None:
            return f"[{hex_range(*found)}]", found == (dimm.start, dimm.end)
    return "lists no such DIMM", False


def _e820_words(dimm: BootDimm, log: BootLog) -> tuple[str, bool]:
    covering = [e for e in log.e820_user if e.start <= dimm.start and dimm.end <= e.end]
    if not covering:
        return "no 'user:' entry covers it (memmap= not applied)", False
    entry = covering[0]
    return f"user [{hex_range(entry.start, entry.end)}] {entry.name}", entry.is_ram


def _srat_words(dimm: BootDimm, log: BootLog, pxm: int, hotplug: bool) -> tuple[str, bool]:
    lines: list[SratMemoryLine] = [s for s in log.srat_memory
                                   if s.start <= dimm.start and dimm.end <= s.end]
    if not lines:
        return "no logged range covers it", False
    s = lines[0]
    mark = " hotplug" if s.hotplug else ""
    ok = s.pxm == pxm and s.hotplug == hotplug
    want = "" if ok else f" (PXM {pxm}{' hotplug' if hotplug else ''} wanted)"
    return f"PXM {s.pxm} [{hex_range(s.start, s.end)}]{mark} at line {s.line}{want}", ok


def boot_dimm_witnesses(scenario: Scenario, layout: MemoryLayout, log: BootLog,
                        devices: Sequence[MemoryDevice] | None) -> tuple[BootDimmWitnesses, ...]:
    """One entry per boot-RAM DIMM. The SRAT wanted is the override's own range, or QEMU's
    window entry (last node, hotpluggable: hw/i386/acpi-build.c:build_srat)."""
    out = []
    last_node = len(scenario.machine.nodes) - 1
    for dimm in layout.boot_dimms:
        spec = scenario.dimm(dimm.id)
        override = scenario.srat.source is SratSource.OVERRIDE
        node, hotplug = (spec.node, spec.hotplug) if override else (last_node, True)
        qemu, e820, srat = (_qemu_words(dimm, devices), _e820_words(dimm, log),
                            _srat_words(dimm, log, scenario.srat.pxm_of(node), hotplug))
        out.append(BootDimmWitnesses(dimm, qemu[0], e820[0], srat[0], qemu[1] and e820[1] and srat[1]))
    return tuple(out)


def disagreement(witnesses: tuple[BootDimmWitnesses, ...]) -> str | None:
    """The could-not-test reason, naming all three witnesses of each DIMM that disagrees."""
    bad = [w.words for w in witnesses if not w.agree]
    return None if not bad else "boot-RAM DIMM not where the kernel booted with it: " + " | ".join(bad)


def _block_words(block: BlockOutcome) -> str:
    flags = block.pageflags
    if isinstance(flags, PageFlagsUnread):
        seen = f"kpageflags unread: {flags.error}"
    elif flags is not None:
        seen = (f"kpageflags: {flags.reserved} reserved, {flags.slab} slab, "
                f"{flags.pgtable} pgtable of {flags.pages} pages")
    else:
        seen = "kpageflags not read"
    return f"memory{block.block} [{hex_range(block.start, block.start + MEMORY_BLOCK_SIZE)}] ({seen})"


def _inside(log: BootLog, spans: list[tuple[int, int]]) -> list[AttributedReservation]:
    """memblock.reserved of the last dump inside ``spans``: PageReserved for good
    (mm/memblock.c:memblock_free_all → reserve_bootmem_region)."""
    dump = log.last_dump
    if dump is None:
        return []
    return [attribute(log, r) for r in dump.reserved if any(r.base < e and s < r.end for s, e in spans)]


def _later_inside(log: BootLog, spans: list[tuple[int, int]]) -> list[ReservationCause]:
    """Allocated after the last dump inside ``spans`` (e.g. crashkernel=SIZE@ADDR there)."""
    return [c for c in causes_after_last_dump(log) if any(c.start < e and s < c.end for s, e in spans)]


def _callers(inside: list[AttributedReservation], later: list[ReservationCause], shown: int = 4) -> str:
    """Who reserved inside, the last dump's first: the first ``shown``, then how many more."""
    names = list(dict.fromkeys([c for r in inside for c in r.callers] + [c.caller for c in later]))
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _block_of(pfn: int) -> int:
    return (pfn << PAGE_SHIFT) // MEMORY_BLOCK_SIZE


def culprit(reservations: list[AttributedReservation], pfn: int,
            later: Sequence[ReservationCause] = ()) -> ReservationCause | None:
    """The early allocation holding the page the kernel dumped as unmovable."""
    addr = pfn << PAGE_SHIFT
    causes = [c for r in reservations for c in r.causes] + list(later)
    return next((c for c in causes if c.start <= addr < c.end), None)


def eject_refusal_words(action: ActionResult, log: BootLog) -> str:
    """A refused eject of boot memory in words: the _OST codes, the blocks that did not go
    offline with their page flags, the boot reservations inside them and their callers,
    and the early allocation holding each page the kernel dumped as unmovable."""
    ost = ", ".join(o.words for o in action.unplug.ost) if action.unplug else ""
    parts = [f"_OST: {ost or 'none'}"]
    failed = [b for b in action.blocks if not b.ok]
    parts.append("did not go offline: " + ("; ".join(_block_words(b) for b in failed) or
                                           "no 'Offline failed' line on the console"))
    # drivers/acpi/scan.c:acpi_scan_try_to_offline names only the block its second pass
    # stopped at; a block that failed in the first pass shows only in its page dump, so the
    # blocks of the dumped pages count too.
    blocks = sorted({b.block for b in failed} | {_block_of(pfn) for pfn in action.unmovable_pfns})
    spans = [(b * MEMORY_BLOCK_SIZE, (b + 1) * MEMORY_BLOCK_SIZE) for b in blocks]
    inside, later = _inside(log, spans), _later_inside(log, spans)
    if inside:
        parts.append("reserved at boot inside: " + "; ".join(
            f"[{hex_range(r.region.base, r.region.end)}] {', '.join(r.callers)}" for r in inside))
    if later:
        parts.append("allocated after the NUMA dump inside: " + _callers([], later, shown=6))
    for pfn in action.unmovable_pfns:
        cause = culprit(inside, pfn, later)
        where = "in no boot reservation (a runtime page)" if cause is None else (
            f"inside {cause.caller} [{hex_range(cause.start, cause.end)}]"
            + (f" (boot log line {cause.line})" if cause.line else ""))
        parts.append(f"unmovable pfn {pfn:#x} {where}, in memory{_block_of(pfn)}")
    return "; ".join(parts)


def _removed_dimms(action: Action, scenario: Scenario, layout: MemoryLayout) -> list[BootDimm]:
    ids = ([action.dimm] if isinstance(action, DimmRemove) else
           [d.id for d in scenario.node_dimms(action.node)] if isinstance(action, NodeRemove) else [])
    return [d for d in layout.boot_dimms if d.id in ids]


def _ejected(res: ActionResult, dimms: list[BootDimm]) -> bool | None:
    """Whether the DIMMs went (DEVICE_DELETED), None if not all were tried: a node removal
    can stop at a CPU, so its own outcome is not the DIMMs'."""
    if res.node is None:
        return res.unplug.deleted if res.unplug is not None else None
    tried = {d.dimm.id if d.dimm else None: d.deleted for d in res.node.dimms}
    if any(d.id not in tried for d in dimms) and all(tried.values()):
        return None
    return all(tried.get(d.id, False) for d in dimms)


def headline(scenario: Scenario, layout: MemoryLayout, log: BootLog,
             actions: Sequence[ActionResult]) -> str | None:
    """The first removal of boot memory in one line: ejected while memblock kept out of it
    (nothing of the last dump's memblock.reserved inside), or kept, and what was reserved
    inside it at boot."""
    done = {a.id: a for a in actions}
    for action in scenario.actions:
        dimms, res = _removed_dimms(action, scenario, layout), done.get(action.id)
        ejected = None if not dimms or res is None else _ejected(res, dimms)
        if ejected is None:
            continue
        what = ", ".join(f"{d.id} [{hex_range(d.start, d.end)}] on node {d.node}" for d in dimms)
        spans = [(d.start, d.end) for d in dimms]
        callers = _callers(_inside(log, spans), _later_inside(log, spans)) or "nothing"
        if ejected:
            why = "memblock kept out of it" if callers == "nothing" else f"despite {callers} reserved inside at boot"
            return f"boot memory removed: boot-RAM DIMM {what} ejected by {action.do}, {why}"
        return f"boot memory kept: boot-RAM DIMM {what} refused by the guest; reserved inside at boot: {callers}"
    return None
