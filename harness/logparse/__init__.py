"""Boot-log parsers: console captures and dmesg → :class:`BootLog`.

One module per family of lines, each keeping its patterns next to the dataclasses they
produce and the BootLog field they go to; :func:`parse_boot_log` is the entry point, and
:class:`harness.logparse.reader.LineStream` reads a console as it is written the same way.
"""
from __future__ import annotations

from pathlib import Path

from harness.logparse.acpi import AcpiOverrideError, InitrdTable, PxmApic, SratMemoryLine, TableUpgrade
from harness.logparse.bootlog import BootLog
from harness.logparse.common import AddressRange
from harness.logparse.e820 import E820Entry, E820Gap, E820Type
from harness.logparse.failures import OfflineFailure, OfflineFailureKind, Oops
from harness.logparse.lines import decode_log
from harness.logparse.memblock_debug import MemblockAlloc, MemblockDoubled, MemblockEvent, MemblockOp
from harness.logparse.memblock_dump import MemblockDump
from harness.logparse.numa import NumaMerge
from harness.logparse.parser import parse_boot_log
from harness.logparse.virtio_mem import VirtioMemDevice, VirtioMemField, VirtioMemLine, VirtioMemRequest
from harness.logparse.zones import EarlyNodeRange, ZoneRange
from harness.userinput import BOOT_LOG, read_bytes


def load_boot_log(path: Path) -> BootLog:
    """Read and parse a log file (``-``: stdin); BadInputError names the file if it is not
    a regular file within a boot log's size, ParseError if it is not text."""
    return parse_boot_log(decode_log(read_bytes(path, BOOT_LOG), str(path)), str(path))


__all__ = [
    "AcpiOverrideError", "AddressRange", "BootLog", "E820Entry", "E820Gap", "E820Type", "EarlyNodeRange",
    "InitrdTable",
    "MemblockAlloc", "MemblockDoubled", "MemblockDump", "MemblockEvent", "MemblockOp", "NumaMerge",
    "OfflineFailure", "OfflineFailureKind", "Oops", "PxmApic", "SratMemoryLine", "TableUpgrade",
    "VirtioMemDevice", "VirtioMemField", "VirtioMemLine", "VirtioMemRequest", "ZoneRange", "load_boot_log",
    "parse_boot_log",
]
