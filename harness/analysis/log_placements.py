"""The early allocations and reservations a boot log places, each with how we know.

With ``memblock=debug`` the trace and the last MEMBLOCK dump name every reservation and its
caller (:mod:`harness.analysis.pinning`).  Without it, every kernel still logs some of them
with their address (RAMDISK, the firmware ACPI tables, NODE_DATA, the crash kernel) and
others with their size only (percpu units, the log buffer): for those the kernel's own
placement rule says on which node they land, and they are marked ``INFERRED``.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from harness.analysis.crashkernel import logged_caller
from harness.analysis.pinning import AttributedReservation
from harness.logparse import BootLog
from harness.logparse.common import JsonMixin
from harness.units import has_flag


class Evidence(enum.Enum):
    MEMBLOCK_DEBUG = "memblock=debug"  # the memblock trace and dump
    LOGGED = "logged"  # a line every kernel prints, with the address
    INFERRED = "inferred"  # a logged size placed by the kernel's allocation rule


@dataclass(frozen=True)
class Placement(JsonMixin):
    """Something unmovable the kernel put in memory early.

    ``start``/``end`` when the log gives the address; otherwise ``below``: the address
    under which a top-down memblock allocation takes the first fit.  ``before_srat``: it
    was reserved when numa_clear_kernel_node_hotplug ran, so it clears its node's marks.
    """

    what: str
    node: int | None
    line: int | None
    evidence: Evidence
    before_srat: bool
    start: int | None = None
    end: int | None = None
    below: int | None = None
    size: int | None = None

    def inside(self, start: int, end: int) -> bool:
        if self.start is not None and self.end is not None:
            return self.start < end and start < self.end
        return self.below is not None and start < self.below <= end


def movable_node_of(log: BootLog) -> bool | None:
    """``movable_node`` on the logged command line; None when the log has no command line."""
    return None if log.command_line is None else has_flag(log.command_line, "movable_node")


def boot_ram(log: BootLog) -> list[tuple[int, int]]:
    """What the kernel saw as RAM: the last complete dump (a cut one lists fewer regions
    than its ``cnt``), else the early node ranges, else e820."""
    dump = next((d for d in reversed(log.memblock_dumps) if d.complete), None)
    if dump is not None:
        return [(r.base, r.end) for r in dump.memory]
    if log.early_node_ranges:
        return [(r.start, r.end) for r in log.early_node_ranges]
    return [(e.start, e.end) for e in log.e820 if e.is_ram]


def node_at(log: BootLog, address: int) -> int | None:
    """The node whose SRAT range (else early node range) holds ``address``."""
    for srat in log.srat_memory:
        if srat.start <= address < srat.end:
            return srat.node
    for rng in log.early_node_ranges:
        if rng.start <= address < rng.end:
            return rng.node
    return None


def cpus_per_node(log: BootLog) -> dict[int, int]:
    """Distinct APIC ids per node from ``SRAT: PXM p -> APIC a -> Node n`` (6.1; 6.12 has none)."""
    apics: dict[int, set[int]] = {}
    for entry in log.pxm_apic:
        apics.setdefault(entry.node, set()).add(entry.apic_id)
    return {node: len(ids) for node, ids in sorted(apics.items())}


def from_reservation(reservation: AttributedReservation) -> tuple[Placement, ...]:
    """One placement per logged cause of a reserved region of the last dump."""
    region = reservation.region
    node = region.nid if 0 <= region.nid < 1024 else None
    return tuple(
        Placement(c.caller, node, c.line, Evidence.MEMBLOCK_DEBUG, True,
                  max(c.start, region.base), min(c.end, region.end))
        for c in reservation.causes
    )


def logged_placements(log: BootLog) -> tuple[Placement, ...]:
    """What every kernel logs: arch/x86/kernel/setup.c:setup_arch reserves the initrd
    (reserve_initrd) and the firmware tables (acpi_boot_table_init) before initmem_init
    parses SRAT; NODE_DATA (arch/x86/mm/numa.c:alloc_node_data) and the crash kernel
    (reserve_crashkernel) come after the hotplug marks were judged."""
    out: list[Placement] = []
    if log.ramdisk is not None:
        r = log.ramdisk
        out.append(Placement("initrd (RAMDISK)", node_at(log, r.start), None, Evidence.LOGGED, True, r.start, r.end))
    for t in log.acpi_table_reservations:
        out.append(Placement(f"ACPI {t.signature} table", node_at(log, t.start), t.line, Evidence.LOGGED, True,
                             t.start, t.end))
    for node, rng in sorted(log.node_data.items()):
        out.append(Placement(f"NODE_DATA({node})", node_at(log, rng.start), None, Evidence.LOGGED, False,
                             rng.start, rng.end))
    for crash in log.crashkernel:
        r = crash.range
        out.append(Placement(logged_caller(crash), node_at(log, r.start), crash.line, Evidence.LOGGED, False, r.start, r.end))
    return tuple(out)


def inferred_placements(log: BootLog) -> tuple[Placement, ...]:
    """Allocations logged by size whose place follows from the kernel's rules.  Only
    when the command line shows no movable_node: then memblock goes top-down and does not skip hotplug regions
    (mm/memblock.c:memblock_find_in_range_node, should_skip_region)."""
    ram = boot_ram(log)
    if movable_node_of(log) is not False or not ram:
        return ()
    top = max(end for _, end in ram)
    first_srat = min((s.line for s in log.srat_memory), default=None)
    out = [Placement(
        "page tables (arch/x86/mm/init.c:alloc_low_pages, memory_map_top_down)", node_at(log, top - 1),
        None, Evidence.INFERRED, True, below=top)]
    if log.log_buf is not None:
        early = first_srat is not None and log.log_buf.line < first_srat
        out.append(Placement("log buffer (kernel/printk/printk.c:setup_log_buf)", node_at(log, top - 1),
                             log.log_buf.line, Evidence.INFERRED, early, below=top, size=log.log_buf.size))
    if log.percpu is not None:
        for node, cpus in cpus_per_node(log).items():
            node_top = max((e for s, e in ram if node_at(log, s) == node), default=None)
            out.append(Placement("percpu (mm/percpu.c:pcpu_fc_alloc)", node, log.percpu.line, Evidence.INFERRED,
                                 False, below=node_top, size=log.percpu.unit_size * cpus))
    return tuple(out)
