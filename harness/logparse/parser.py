"""``parse_boot_log``: dispatch each message to the first line kind whose trigger it
contains, and fold the parsed lines into a :class:`BootLog`."""
from __future__ import annotations

import dataclasses
from typing import Any

from harness.logparse import acpi, e820, failures, memblock_dump, numa, setup, zones
from harness.logparse import memblock_debug as memblock_ops
from harness.logparse.acpi import (
    AcpiOverrideError,
    AcpiTableOverride,
    AcpiTableReservation,
    InitrdTable,
    PxmApic,
    SratMemoryLine,
    TableUpgrade,
)
from harness.logparse.bootlog import BootLog
from harness.logparse.common import AddressRange, LineKind
from harness.logparse.dumps import DumpCollector
from harness.logparse.failures import OfflineFailure, OfflineFailureKind, Oops, PageHeader, Panic
from harness.logparse.lines import check_text, messages
from harness.logparse.memblock_debug import MemblockAlloc, MemblockDoubled, MemblockEvent, MemblockOp
from harness.logparse.memblock_dump import DumpCount, DumpHeader, DumpRegion, DumpSizes
from harness.logparse.numa import NodeData, NodeDataElsewhere, NumaFailure, NumaMerge
from harness.logparse.setup import (
    CommandLine,
    InitrdFreed,
    KernelRelease,
    MemoryBlockSize,
    MemorylessNode,
    Ramdisk,
)
from harness.logparse.zones import EarlyNodeRange, Initmem, MovableZoneStart, SectionStart, ZoneRange

# Order matters only where triggers overlap: the first kind whose trigger is in the
# message owns it (memblock lines before everything that might appear in a caller name).
KINDS: tuple[LineKind[object], ...] = (
    *memblock_ops.KINDS,
    *memblock_dump.KINDS,
    *e820.KINDS,
    *acpi.KINDS,
    *numa.KINDS,
    *zones.KINDS,
    *setup.KINDS,
    *failures.KINDS,
)


def parse_boot_log(text: str, source: str = "<log>") -> BootLog:
    """Parse a console capture or dmesg text; whatever is present, never an exception
    for odd lines.  Raises ParseError (naming ``source``) only if the text is binary."""
    check_text(text, source)
    builder = _Builder()
    for number, message in messages(text):
        builder.feed(number, message)
    return builder.finish(source)


class _Builder:
    """Mutable accumulator; ``finish`` freezes it into a BootLog."""

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.lists: dict[str, list[Any]] = {}
        self.maps: dict[str, dict[int, Any]] = {}
        self.ops: list[MemblockOp] = []
        self.pending_alloc: int | None = None  # index into ops of an unanswered request
        self.dumps = DumpCollector()
        self.section: str | None = None
        self.last_page: PageHeader | None = None
        self.suspicious = 0

    def feed(self, number: int, message: str) -> None:
        while message.strip():
            parsed = self._dispatch(number, message)
            if parsed is None:
                return
            item, message = parsed
            self._add(item)

    def _dispatch(self, number: int, message: str) -> tuple[object, str] | None:
        if self.section is not None:
            for kind in zones.SECTION_KINDS[self.section]:
                if kind.trigger in message and (parsed := kind.parse(message, number)):
                    return parsed
            self.section = None
        for kind in KINDS:
            if kind.trigger in message:
                parsed = kind.parse(message, number)
                if parsed is None:
                    self.suspicious += 1
                return parsed
        return None

    def _append(self, name: str, item: object) -> None:
        self.lists.setdefault(name, []).append(item)

    def _first(self, name: str, value: object) -> None:
        self.fields.setdefault(name, value)

    def _add(self, item: object) -> None:  # noqa: C901 - one flat dispatch on the line type
        match item:
            case MemblockEvent() | MemblockAlloc() | MemblockDoubled():
                self._add_op(item)
            case DumpHeader() | DumpSizes() | DumpCount() | DumpRegion():
                self.dumps.add(item)
            case e820.E820Line(table="BIOS-e820"):
                self._append("e820", item.entry)
            case e820.E820Line(table="modified"):
                self._append("e820_modified", item.entry)
            case SratMemoryLine():
                self._append("srat_memory", item)
            case PxmApic():
                self._append("pxm_apic", item)
            case TableUpgrade():
                self._append("table_upgrades", item)
            case InitrdTable():
                self._append("initrd_tables", item)
            case AcpiOverrideError():
                self._append("acpi_override_errors", item)
            case AcpiTableReservation():
                self._append("acpi_table_reservations", item)
            case AcpiTableOverride():
                self._append("acpi_table_overrides", item)
            case NumaMerge():
                self._append("numa_nodes", item)
            case NumaFailure():
                self._first("numa_failure", item.message)
            case NodeData():
                self.maps.setdefault("node_data", {})[item.node] = item.range
            case NodeDataElsewhere():
                self.maps.setdefault("node_data_elsewhere", {})[item.node] = item.on_node
            case SectionStart():
                self.section = item.name
            case ZoneRange():
                self._append("zone_ranges", item)
            case MovableZoneStart():
                self.maps.setdefault("movable_zone_start", {})[item.node] = item.start
            case EarlyNodeRange():
                self._append("early_node_ranges", item)
            case Initmem():
                self.maps.setdefault("initmem", {})[item.node] = item.range
            case _:
                self._add_misc(item)

    def _add_misc(self, item: object) -> None:
        match item:
            case KernelRelease():
                self._first("kernel_release", item.release)
            case CommandLine():
                self._first("command_line", item.text)
            case Ramdisk():
                self._first("ramdisk", item.range)
            case InitrdFreed():
                self._first("initrd_freed_line", item.line)
            case MemorylessNode():
                self._append("memoryless_nodes", item.node)
            case MemoryBlockSize():
                self._first("memory_block_size", item.size)
            case Panic():
                self._first("panic", item.message)
            case Oops():
                self._append("oopses", item)
            case PageHeader():
                self.last_page = item
            case OfflineFailure():
                self._append("offline_failures", self._with_page_pfn(item))

    def _with_page_pfn(self, item: OfflineFailure) -> OfflineFailure:
        """``page dumped because:`` ends a dump_page whose first line named the pfn."""
        if item.kind is OfflineFailureKind.PAGE_DUMPED and self.last_page is not None:
            item = dataclasses.replace(item, pfn=self.last_page.pfn)
            self.last_page = None
        return item

    def _add_op(self, op: MemblockOp) -> None:
        if isinstance(op, MemblockAlloc):
            self.pending_alloc = len(self.ops)
        elif isinstance(op, MemblockEvent) and self._answers_pending(op):
            assert self.pending_alloc is not None
            request = self.ops[self.pending_alloc]
            assert isinstance(request, MemblockAlloc)
            self.ops[self.pending_alloc] = dataclasses.replace(
                request, result=AddressRange(op.base, op.end), result_line=op.line
            )
            self.pending_alloc = None
            return
        self.ops.append(op)

    def _answers_pending(self, event: MemblockEvent) -> bool:
        """memblock_alloc_range_nid reserves exactly the requested size; a NODE_DATA
        reserve (memblock_phys_alloc_try_nid prints no request) or a failed request
        leaves a size that does not match."""
        if self.pending_alloc is None or event.func != "memblock_reserve":
            return False
        if event.caller_function != memblock_ops.ALLOC_RESULT_CALLER:
            return False
        request = self.ops[self.pending_alloc]
        return isinstance(request, MemblockAlloc) and request.size == event.size

    def finish(self, source: str) -> BootLog:
        dumps = self.dumps.finish()
        pxm_to_node = {p.pxm: p.node for p in self.lists.get("pxm_apic", [])}
        for srat in self.lists.get("srat_memory", []):
            pxm_to_node.setdefault(srat.pxm, srat.node)
        values: dict[str, Any] = {
            **self.fields,
            **{name: tuple(items) for name, items in self.lists.items()},
            **self.maps,
        }
        return BootLog(
            source=source,
            pxm_to_node=pxm_to_node,
            memblock_debug=bool(self.ops or dumps),
            memblock_ops=tuple(self.ops),
            memblock_dumps=dumps,
            unparsed_suspicious=self.suspicious,
            **values,
        )
