"""Assemble ``MEMBLOCK configuration:`` dump lines into MemblockDump values."""
from __future__ import annotations

import dataclasses

from harness.logparse.memblock_dump import DumpCount, DumpHeader, DumpRegion, DumpSizes, MemblockDump


class DumpCollector:
    """Region lines belong to the latest header; lines seen before any header (a log
    that starts mid-dump) open a dump of their own."""

    def __init__(self) -> None:
        self._dumps: list[MemblockDump] = []
        self._memory: list[DumpRegion] = []
        self._reserved: list[DumpRegion] = []

    def add(self, item: DumpHeader | DumpSizes | DumpCount | DumpRegion) -> None:
        if isinstance(item, DumpHeader) or not self._dumps:
            self._close()
            self._dumps.append(MemblockDump(item.line))
        current = self._dumps[-1]
        match item:
            case DumpSizes():
                self._dumps[-1] = dataclasses.replace(
                    current, memory_size=item.memory_size, reserved_size=item.reserved_size
                )
            case DumpCount(type_name="memory"):
                self._dumps[-1] = dataclasses.replace(current, memory_cnt=item.cnt)
            case DumpCount(type_name="reserved"):
                self._dumps[-1] = dataclasses.replace(current, reserved_cnt=item.cnt)
            case DumpRegion(type_name="memory"):
                self._memory.append(item)
            case DumpRegion(type_name="reserved"):
                self._reserved.append(item)

    def _close(self) -> None:
        if self._dumps:
            self._dumps[-1] = dataclasses.replace(
                self._dumps[-1],
                memory=tuple(r.region for r in self._memory),
                reserved=tuple(r.region for r in self._reserved),
            )
        self._memory, self._reserved = [], []

    def finish(self) -> tuple[MemblockDump, ...]:
        self._close()
        return tuple(self._dumps)
