"""Early setup lines: banner, command line, RAMDISK, memory block size, initrd freeing, and
the early allocations every kernel logs with their size or place (crashkernel, percpu, the
log buffer)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from harness.logparse.common import HEX, AddressRange, Append, First, JsonMixin, LineKind, hex_int


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
    """``Initializing node 3 as memoryless`` (6.1 only) or ``Initmem setup node 3 as
    memoryless`` (6.1 mm/page_alloc.c, 6.12 mm/mm_init.c free_area_init): one node, once."""

    line: int
    node: int


MEMORYLESS_RE = re.compile(r"(?:Initializing|Initmem setup) node (?P<node>\d+) as memoryless\s*$")


@dataclass(frozen=True)
class Crashkernel(JsonMixin):
    """The crash kernel's reservation, made after NUMA init (setup_arch: initmem_init, then
    reserve_crashkernel).  6.1 arch/x86/kernel/setup.c:reserve_crashkernel[_low] print
    ``Reserving 256MB of memory at 3824MB for crashkernel (System RAM: 4095MB)``; 6.12
    kernel/crash_reserve.c:reserve_crashkernel_generic prints ``crashkernel reserved:
    0x… - 0x… (256 MB)`` with an exclusive end."""

    line: int
    range: AddressRange
    low: bool


CRASH_61_RE = re.compile(
    r"Reserving (?P<mb>\d+)MB of (?P<low>low )?memory at (?P<at>\d+)MB for crashkernel \(")
CRASH_612_RE = re.compile(
    rf"crashkernel (?P<low>low memory )?reserved: (?P<start>{HEX}) - (?P<end>{HEX}) \(\d+ MB\)\s*$")


def _crash_61(m: re.Match[str], line: int) -> Crashkernel:
    start = int(m["at"]) << 20
    return Crashkernel(line, AddressRange(start, start + (int(m["mb"]) << 20)), m["low"] is not None)


def _crash_612(m: re.Match[str], line: int) -> Crashkernel:
    return Crashkernel(line, AddressRange(hex_int(m["start"]), hex_int(m["end"])), m["low"] is not None)


@dataclass(frozen=True)
class PercpuEmbedded(JsonMixin):
    """``percpu: Embedded 55 pages/cpu s188416 r8192 d28672 u262144`` (mm/percpu.c:
    pcpu_embed_first_chunk): each CPU's unit is ``unit_size`` bytes, allocated on its node
    by pcpu_fc_alloc (memblock_alloc_try_nid) after NUMA init."""

    line: int
    unit_size: int


PERCPU_RE = re.compile(r"percpu: Embedded \d+ pages/cpu s\d+ r\d+ d\d+ u(?P<unit>\d+)\s*$")


@dataclass(frozen=True)
class LogBuffer(JsonMixin):
    """``printk: log_buf_len: 1048576 bytes`` or, from 6.18 (print_log_buf_usage_stats),
    ``printk: log buffer data + meta data: A + B = C bytes`` (kernel/printk/printk.c:setup_log_buf).
    Printed by the early call in setup_arch (before SRAT is parsed) when ``log_buf_len=`` asks
    for more, or by the late one in start_kernel; the line's place in the log says which.
    ``size`` is the text buffer; ``meta`` the descriptors and infos beside it (None: not printed)."""

    line: int
    size: int
    meta: int | None = None


LOG_BUF_RE = re.compile(r"log_buf_len: (?P<size>\d+) bytes\s*$")
LOG_BUF_META_RE = re.compile(
    r"log buffer data \+ meta data: (?P<size>\d+) \+ (?P<meta>\d+) = (?P<total>\d+) bytes\s*$")


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
    LineKind("crashkernel_61", "for crashkernel (", CRASH_61_RE, _crash_61, Append("crashkernel")),
    LineKind("crashkernel_612", "crashkernel reserved: ", CRASH_612_RE, _crash_612, Append("crashkernel")),
    LineKind("crashkernel_612_low", "crashkernel low memory reserved: ", CRASH_612_RE, _crash_612,
             Append("crashkernel")),
    LineKind(
        "percpu_embedded", "percpu: Embedded ", PERCPU_RE, lambda m, n: PercpuEmbedded(n, int(m["unit"])),
        First("percpu"),
    ),
    LineKind("log_buf_len", "log_buf_len: ", LOG_BUF_RE, lambda m, n: LogBuffer(n, int(m["size"])), First("log_buf")),
    LineKind("log_buf_meta", "log buffer data + meta data: ", LOG_BUF_META_RE,
             lambda m, n: LogBuffer(n, int(m["size"]), int(m["meta"])), First("log_buf")),
)
