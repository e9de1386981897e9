"""The parsed boot log: every fact the harness reads from a console capture or dmesg."""
from __future__ import annotations

from dataclasses import dataclass, field

from harness.logparse.acpi import (
    AcpiOverrideError,
    AcpiTableOverride,
    AcpiTableReservation,
    InitrdTable,
    PxmApic,
    SratMemoryLine,
    TableUpgrade,
)
from harness.logparse.common import AddressRange, JsonMixin
from harness.logparse.e820 import E820Entry, E820Gap
from harness.logparse.failures import OfflineFailure, Oops
from harness.logparse.memblock_debug import MemblockAlloc, MemblockEvent, MemblockOp
from harness.logparse.memblock_dump import MemblockDump
from harness.logparse.numa import NumaMerge
from harness.logparse.oom import OomKill
from harness.logparse.setup_arch import Crashkernel, LogBuffer, PercpuEmbedded
from harness.logparse.virtio_mem import VirtioMemDevice, VirtioMemLine, virtio_mem_devices
from harness.logparse.zones import EarlyNodeRange, ZoneRange


@dataclass(frozen=True)
class BootLog(JsonMixin):
    """Facts from one boot log; line numbers are 1-based physical lines of ``source``.

    Ranges are half-open (the kernel prints them inclusive).  Fields whose lines were
    absent are empty or None: a log without ``memblock=debug`` has no ops or dumps.
    """

    source: str
    kernel_release: str | None = None
    command_line: str | None = None
    e820: tuple[E820Entry, ...] = ()
    e820_modified: tuple[E820Entry, ...] = ()
    e820_user: tuple[E820Entry, ...] = ()  # "user-defined physical RAM map" (memmap=)
    e820_gaps: tuple[E820Gap, ...] = ()  # 7.2 on: the holes each table prints between entries
    srat_memory: tuple[SratMemoryLine, ...] = ()
    pxm_apic: tuple[PxmApic, ...] = ()
    pxm_to_node: dict[int, int] = field(default_factory=dict)
    table_upgrades: tuple[TableUpgrade, ...] = ()
    initrd_tables: tuple[InitrdTable, ...] = ()
    acpi_override_errors: tuple[AcpiOverrideError, ...] = ()
    acpi_table_reservations: tuple[AcpiTableReservation, ...] = ()
    acpi_table_overrides: tuple[AcpiTableOverride, ...] = ()
    ramdisk: AddressRange | None = None
    initrd_freed_line: int | None = None
    crashkernel: tuple[Crashkernel, ...] = ()
    percpu: PercpuEmbedded | None = None
    log_buf: LogBuffer | None = None
    numa_nodes: tuple[NumaMerge, ...] = ()
    numa_failure: str | None = None
    node_data: dict[int, AddressRange] = field(default_factory=dict)
    node_data_elsewhere: dict[int, int] = field(default_factory=dict)
    memblock_debug: bool = False
    memblock_ops: tuple[MemblockOp, ...] = ()
    memblock_dumps: tuple[MemblockDump, ...] = ()
    zone_ranges: tuple[ZoneRange, ...] = ()
    movable_zone_start: dict[int, int] = field(default_factory=dict)
    early_node_ranges: tuple[EarlyNodeRange, ...] = ()
    initmem: dict[int, AddressRange] = field(default_factory=dict)
    deferred_init_ms: dict[int, int] = field(default_factory=dict)  # pgdatinit's time per node
    memoryless_nodes: tuple[int, ...] = ()
    memory_block_size: int | None = None
    panic: str | None = None
    oopses: tuple[Oops, ...] = ()
    offline_failures: tuple[OfflineFailure, ...] = ()
    virtio_mem: tuple[VirtioMemLine, ...] = ()
    oom_kills: tuple[OomKill, ...] = ()
    unparsed_suspicious: int = 0
    # The first few such lines ("line N: text"), to show where a format changed.
    suspicious_examples: tuple[str, ...] = ()

    @property
    def cut_dump(self) -> MemblockDump | None:
        """The first MEMBLOCK dump with fewer regions than its own ``cnt``: the log was cut
        (or lost lines) inside it, so it shows less than the boot did."""
        return next((d for d in self.memblock_dumps if not d.complete), None)

    @property
    def truncated(self) -> str | None:
        """Why this log is shorter than what it claims, in one line, or None."""
        dump = self.cut_dump
        if dump is None:
            return None
        short = [f"{name}.cnt = {cnt} but {len(regions)} regions" if cnt is not None else f"no {name}.cnt"
                 for name, cnt, regions in (("memory", dump.memory_cnt, dump.memory),
                                            ("reserved", dump.reserved_cnt, dump.reserved))
                 if cnt != len(regions)]
        return f"the MEMBLOCK dump at line {dump.line} is cut ({', '.join(short)})"

    @property
    def last_dump(self) -> MemblockDump | None:
        return self.memblock_dumps[-1] if self.memblock_dumps else None

    @property
    def memblock_events(self) -> tuple[MemblockEvent, ...]:
        return tuple(op for op in self.memblock_ops if isinstance(op, MemblockEvent))

    @property
    def memblock_allocs(self) -> tuple[MemblockAlloc, ...]:
        return tuple(op for op in self.memblock_ops if isinstance(op, MemblockAlloc))

    @property
    def virtio_mem_devices(self) -> tuple[VirtioMemDevice, ...]:
        """Each virtio-mem device as its driver described it (``virtio_mem`` folded)."""
        return virtio_mem_devices(self.virtio_mem)

    @property
    def hotplug_srat(self) -> tuple[SratMemoryLine, ...]:
        return tuple(s for s in self.srat_memory if s.hotplug)
