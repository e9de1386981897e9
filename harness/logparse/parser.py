"""``parse_boot_log``: read each line through the line kinds (:mod:`harness.logparse.reader`)
and put each parsed item where its kind says (``LineKind.into``) in a :class:`BootLog`."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from harness.logparse.bootlog import BootLog
from harness.logparse.common import AddressRange, Append, ByKey, First, Into, Special
from harness.logparse.dumps import DumpCollector
from harness.logparse.failures import OfflineFailure, PageHeader
from harness.logparse.lines import check_text
from harness.logparse.memblock_debug import (
    ALLOC_RESULT_CALLER,
    MEM_SECTION_ROOTS,
    MEM_SECTION_ROOTS_NEXT,
    CallerHint,
    MemblockAlloc,
    MemblockEvent,
    MemblockOp,
)
from harness.logparse.reader import LineReader, Parsed


def parse_boot_log(text: str, source: str = "<log>") -> BootLog:
    """Parse a console capture or dmesg text; whatever is present, never an exception
    for odd lines.  Raises ParseError (naming ``source``) only if the text is binary."""
    check_text(text, source)
    reader = BootLogReader()
    raws = text.split("\n")
    for number, raw in enumerate(raws, start=1):
        reader.read(number, raw, terminated=number < len(raws))
    return reader.finish(source)


class BootLogReader(LineReader):
    """A LineReader that builds the BootLog of the lines it reads: parse_boot_log reads a
    whole text through it, the console watcher (harness.qemu.console) each line as QEMU
    writes it, so a run's console is parsed once."""

    def __init__(self) -> None:
        super().__init__()
        self._builder = _Builder()

    def read(self, number: int, raw: str, *, terminated: bool = True) -> list[Parsed]:
        parsed = super().read(number, raw, terminated=terminated)
        for kind, item in parsed:
            self._builder.add(kind.into, item)
        return parsed

    def finish(self, source: str) -> BootLog:
        """The BootLog of every line read; call once, after the last line."""
        return self._builder.finish(source, self.suspicious, tuple(self.examples))


class _Builder:
    """Mutable accumulator; ``finish`` freezes it into a BootLog."""

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.lists: dict[str, list[Any]] = {}
        self.maps: dict[str, dict[Any, Any]] = {}
        self.ops: list[MemblockOp] = []
        self.pending_alloc: int | None = None  # index into ops of an unanswered request
        self.dumps = DumpCollector()
        self.last_page: PageHeader | None = None
        self.special: dict[Special, Callable[[Any], None]] = {
            Special.MEMBLOCK_OP: self._add_op,
            Special.MEMBLOCK_DUMP: self.dumps.add,
            Special.PAGE_HEADER: self._page_header,
            Special.PAGE_DUMPED: self._page_dumped,
            Special.NOT_KEPT: lambda item: None,
            Special.CALLER_HINT: self._caller_hint,
        }

    def add(self, into: Into, item: object) -> None:
        match into:
            case Append():
                values = self.lists.setdefault(into.field, [])
                if not (into.unique and into.value(item) in values):
                    values.append(into.value(item))
            case First():
                self.fields.setdefault(into.field, into.value(item))
            case ByKey():
                self.maps.setdefault(into.field, {})[getattr(item, into.key)] = getattr(item, into.attr)
            case Special():
                self.special[into](item)

    def _page_header(self, item: PageHeader) -> None:
        self.last_page = item

    def _page_dumped(self, item: OfflineFailure) -> None:
        """``page dumped because:`` ends a dump_page whose first line named the pfn."""
        if self.last_page is not None:
            item = dataclasses.replace(item, pfn=self.last_page.pfn)
            self.last_page = None
        self.lists.setdefault("offline_failures", []).append(item)

    def _name_last(self, caller: str) -> None:
        """Name the hidden caller of the allocation just before (answered, still unnamed)."""
        last = self.ops[-1] if self.ops else None
        if isinstance(last, MemblockAlloc) and last.caller_hidden and last.result and not last.named_by_next:
            self.ops[-1] = dataclasses.replace(last, named_by_next=caller)

    def _caller_hint(self, hint: CallerHint) -> None:
        self._name_last(hint.caller)

    def _add_op(self, op: MemblockOp) -> None:
        if isinstance(op, MemblockAlloc):
            if op.caller_function == MEM_SECTION_ROOTS_NEXT:
                self._name_last(MEM_SECTION_ROOTS)
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
        request = self.ops[self.pending_alloc]
        # memblock_alloc_hugetlb reserves itself, not through memblock_alloc_range_nid.
        if event.caller_function not in (ALLOC_RESULT_CALLER, "memblock_alloc_hugetlb"):
            return False
        return isinstance(request, MemblockAlloc) and request.size == event.size

    def finish(self, source: str, suspicious: int, examples: tuple[str, ...]) -> BootLog:
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
            unparsed_suspicious=suspicious,
            suspicious_examples=examples,
            **values,
        )
