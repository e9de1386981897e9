"""Early setup lines: banner, command line, RAMDISK, memory block size, initrd freeing."""
from __future__ import annotations

import re
from dataclasses import dataclass

from harness.logparse.common import HEX, AddressRange, Append, First, JsonMixin, LineKind


@dataclass(frozen=True)
class KernelRelease:
    """``Linux version 6.1.0-47-amd64 (debian-kernel@…) …``: the utsname release."""

    line: int
    release: str


LINUX_VERSION_RE = re.compile(r"^Linux version (?P<release>\S+)")


@dataclass(frozen=True)
class CommandLine:
    """``Command line: console=ttyS0 memblock=debug …`` (arch/x86/kernel/setup.c)."""

    line: int
    text: str


COMMAND_LINE_RE = re.compile(r"^Command line: ?(?P<text>.*?)\s*$")


@dataclass(frozen=True)
class Ramdisk(JsonMixin):
    """``RAMDISK: [mem 0xbfee4000-0xbffdffff]`` (setup.c:reserve_initrd, page-aligned end)."""

    line: int
    range: AddressRange


RAMDISK_RE = re.compile(rf"RAMDISK: \[mem (?P<start>{HEX})-(?P<last>{HEX})\]\s*$")


@dataclass(frozen=True)
class MemoryBlockSize:
    """``x86/mm: Memory block size: 128MB`` (init_64.c:probe_memory_block_size)."""

    line: int
    size: int


MEMORY_BLOCK_SIZE_RE = re.compile(r"x86/mm: Memory block size: (?P<mb>\d+)MB\s*$")


@dataclass(frozen=True)
class InitrdFreed:
    """``Freeing initrd memory: 1008K``: from here the initrd no longer pins pages."""

    line: int
    kib: int


INITRD_FREED_RE = re.compile(r"Freeing initrd memory: (?P<kib>\d+)K\s*$")


@dataclass(frozen=True)
class MemorylessNode:
    """``Initializing node 3 as memoryless``."""

    line: int
    node: int


MEMORYLESS_RE = re.compile(r"Initializing node (?P<node>\d+) as memoryless\s*$")


KINDS: tuple[LineKind[object], ...] = (
    LineKind(
        "linux_version", "Linux version ", LINUX_VERSION_RE, lambda m, n: KernelRelease(n, m["release"]),
        First("kernel_release", "release"),
    ),
    LineKind(
        "command_line", "Command line:", COMMAND_LINE_RE, lambda m, n: CommandLine(n, m["text"]),
        First("command_line", "text"),
    ),
    LineKind(
        "ramdisk", "RAMDISK: [mem", RAMDISK_RE,
        lambda m, n: Ramdisk(n, AddressRange.from_inclusive(m["start"], m["last"])), First("ramdisk", "range"),
    ),
    LineKind(
        "memory_block_size", "Memory block size:", MEMORY_BLOCK_SIZE_RE,
        lambda m, n: MemoryBlockSize(n, int(m["mb"]) << 20), First("memory_block_size", "size"),
    ),
    LineKind(
        "initrd_freed", "Freeing initrd memory:", INITRD_FREED_RE, lambda m, n: InitrdFreed(n, int(m["kib"])),
        First("initrd_freed_line", "line"),
    ),
    LineKind(
        "memoryless_node", "as memoryless", MEMORYLESS_RE, lambda m, n: MemorylessNode(n, int(m["node"])),
        Append("memoryless_nodes", "node"),
    ),
)
