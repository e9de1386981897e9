"""Early boot memblock on a scenario's own memory map, sized from a recorded boot (a template).

The early reservations and requests that decide which nodes keep their SRAT hotplug
marks (everything arch/x86/kernel/setup.c:setup_arch reserves before initmem_init,
which numa_clear_kernel_node_hotplug then counts) are replayed on the scenario's
e820 RAM: fixed low reservations, the kernel image at 16 MiB (nokaslr), QEMU's initrd
at the top of RAM below 4 GiB minus 128 KiB of ACPI tables, the firmware ACPI tables
there, the real-mode trampoline, early page tables (top-down only), the log buffer,
then numa_init, the NODE_DATA, ``crashkernel=`` (harness.analysis.crashkernel) and the
memmap (per node, or per 2 MiB block: the profile's ``boot.sparse_buffer``).  Sizes come from
the template log of the same profile series; the template's own addresses are never reused.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from harness.analysis.crashkernel import reserve_crashkernel
from harness.errors import BadInputError
from harness.logparse import BootLog, MemblockAlloc
from harness.memblock.model import Memblock
from harness.memblock.numa import NumaMemblk, cleanup_meminfo, numa_register, numa_reset
from harness.memblock.sim import MemblockSim
from harness.scenario.layout import MemoryLayout
from harness.units import memparse, option_values
from kernels.profile import KernelProfile, PrintkRules

MiB = 1 << 20
FOUR_GIB = 1 << 32
KERNEL_START = 16 * MiB
QEMU_ACPI_BYTES = 128 * 1024  # QEMU's e820-reserved ACPI area at the top of low RAM
SECTION = 128 * MiB
MEMMAP_PER_SECTION = 2 * MiB
LOG_BUF_LEN = 1 << 17  # __LOG_BUF_LEN: Debian's CONFIG_LOG_BUF_SHIFT=17 (6.1 to 7.3)
LOG_BUF_LEN_MAX = 1 << 31
PRB_AVGBITS = 5  # kernel/printk/printk.c: one descriptor per 32 bytes of text
SIZEOF_PRB_DESC = 24  # struct prb_desc (kernel/printk/printk_ringbuffer.h), the same 6.1 to 7.3
# Template facts of the recorded boots in fixtures/logs, shipped as package data (a wheel has
# no fixtures/); regenerate with `python -m tools.templates` (a checkout's tools/).
TEMPLATES = Path(__file__).with_name("templates.json")


@dataclass(frozen=True)
class Template:
    """What a recorded boot of the same kernel says about sizes; ``source`` names it."""

    source: str
    kernel_end: int
    initrd_size: int
    real_mode_size: int
    page_table_allocs: int
    log_buf_len: int
    acpi_below_top: tuple[tuple[int, int], ...]  # (offset below low-RAM top, size)
    node_data_size: int


@dataclass
class EarlyBoot:
    """The simulated memblock after NODE_DATA and memmap, and who reserved what."""

    state: Memblock
    blocks: list[NumaMemblk]
    pinned_nodes: set[int]
    callers: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, caller)
    registered_at: int = 0  # callers[:registered_at] existed when the nodes were pinned


def _log_buf_len(cmdline: str) -> int:
    """The buffer ``log_buf_len=`` makes setup_log_buf allocate, 0 for none: each
    occurrence goes through kernel/printk/printk.c:log_buf_len_update, which caps it at
    2 GiB, rounds it up to a power of two and keeps it only above the static buffer."""
    length = 0
    for value in option_values(cmdline, "log_buf_len"):
        size = min(memparse(value)[0], LOG_BUF_LEN_MAX)
        size = 1 << (size - 1).bit_length() if size else 0
        if size > LOG_BUF_LEN:
            length = size
    return length


def _allocs(log: BootLog, caller: str) -> list[MemblockAlloc]:
    return [a for a in log.memblock_allocs if a.caller_function == caller]


def template_from_log(log: BootLog) -> Template:
    first = log.memblock_dumps[0]
    kernel = next(r for r in first.reserved if r.base <= KERNEL_START < r.end)
    low_top = max(r.end for r in first.memory if r.end <= FOUR_GIB)
    acpi = tuple((low_top + QEMU_ACPI_BYTES - e.base, e.size) for e in log.memblock_events
                 if e.caller_function == "acpi_reserve_initial_tables")
    real_mode = _allocs(log, "reserve_real_mode")
    node_data = min(r.size for r in log.node_data.values())
    return Template(log.source, kernel.end, log.ramdisk.size if log.ramdisk else 0,
                    real_mode[0].size if real_mode else 0, len(_allocs(log, "alloc_low_pages")),
                    _log_buf_len(log.command_line or ""), acpi, node_data)


def find_template(profile: KernelProfile, movable_node: bool) -> Template:
    """The recorded QEMU boot of this profile's series (from templates.json), same direction
    preferred."""
    entries = [e for e in json.loads(TEMPLATES.read_text())["templates"]
               if e["version"] == profile.series]
    if not entries:
        raise BadInputError(f"{TEMPLATES}: no template for kernel {profile.series} (record "
                            f"fixtures/logs/qemu-{profile.series}-three-node.log, then run "
                            "python -m tools.templates)")
    entry = next((e for e in entries if e["movable_node"] == movable_node), entries[0])["template"]
    return Template(**entry | {"acpi_below_top": tuple(tuple(p) for p in entry["acpi_below_top"])})


def e820_ram(layout: MemoryLayout) -> list[tuple[int, int]]:
    """QEMU pc's usable RAM as memblock holds it after trim_bios_range and page rounding,
    with the boot-RAM DIMMs that ``memmap=`` adds (arch/x86/kernel/e820.c:parse_memmap_one)."""
    ram = [(0x1000, 0x9F000), (MiB, layout.below_4g - QEMU_ACPI_BYTES)]
    if layout.above_4g:
        ram.append((FOUR_GIB, FOUR_GIB + layout.above_4g))
    return ram + sorted((d.start, d.end) for d in layout.boot_dimms)


class _Boot:
    def __init__(self, sim: MemblockSim) -> None:
        self.sim = sim
        self.callers: list[tuple[int, int, str]] = []

    def reserve(self, start: int, size: int, caller: str) -> None:
        self.sim.reserve(start, size)
        self.callers.append((start, start + size, caller))

    def note(self, found: int | None, size: int, caller: str) -> int | None:
        if found is not None:
            self.callers.append((found, found + size, caller))
        return found


def log_buffers(log_buf_len: int, printk: PrintkRules) -> tuple[int, int, int]:
    """kernel/printk/printk.c setup_log_buf's three memblock_alloc sizes: the text, then one
    struct prb_desc and one struct printk_info per 2^PRB_AVGBITS bytes of it."""
    descs = log_buf_len >> PRB_AVGBITS
    return log_buf_len, descs * SIZEOF_PRB_DESC, descs * printk.printk_info_bytes


def _early(boot: _Boot, t: Template, layout: MemoryLayout, log_buf_len: int, printk: PrintkRules) -> None:
    sim, end_of_ram = boot.sim, e820_ram(layout)[-1][1]
    low_top = layout.below_4g - QEMU_ACPI_BYTES
    boot.reserve(0, 0x10000, "early_reserve_memory (first 64K)")
    boot.reserve(0x9F000, MiB - 0x9F000, "early_reserve_memory (EBDA/BIOS)")
    boot.reserve(KERNEL_START, t.kernel_end - KERNEL_START, "kernel image")
    if t.initrd_size:
        boot.reserve(low_top - t.initrd_size, t.initrd_size, "initrd")
    boot.note(sim.phys_alloc_range(t.real_mode_size, 4096, 0, MiB), t.real_mode_size,
              "reserve_real_mode")
    boot.reserve(0, MiB, "setup_arch (first 1M)")
    if not sim.memblock.bottom_up:
        probe = sim.phys_alloc_range(2 * MiB, 2 * MiB, MiB, end_of_ram)
        if probe is not None:
            sim.phys_free(probe, 2 * MiB)
        for _ in range(t.page_table_allocs):
            boot.note(sim.phys_alloc_range(4096, 4096, MiB, end_of_ram), 4096, "alloc_low_pages")
    sim.set_current_limit(end_of_ram)
    for size in log_buffers(log_buf_len, printk) if log_buf_len else ():
        boot.note(sim.alloc_try_nid(size, 8, 0, 0, -1), size, "setup_log_buf")
    for below, size in t.acpi_below_top:
        boot.reserve(low_top + QEMU_ACPI_BYTES - below, size, "acpi_reserve_initial_tables")


def _late(boot: _Boot, t: Template, blocks: list[NumaMemblk], cmdline: str, profile: KernelProfile) -> None:
    """alloc_node_data, crashkernel=, then sparse_init's memmap: mm/sparse.c
    sparse_buffer_init's exact-node buffer (16M up), or from 7.2 one
    memblock_alloc_try_nid_raw per 2 MiB block (mm/sparse-vmemmap.c vmemmap_populate_hugepages
    via memmap_alloc: any node as fallback, max_addr NOLEAKTRACE)."""
    sim = boot.sim
    nodes = sorted({b.nid for b in blocks})
    for nid in nodes:
        boot.note(sim.alloc_range_nid(t.node_data_size, 64, 0, 0, nid, False),
                  t.node_data_size, f"NODE_DATA({nid})")
    boot.callers += reserve_crashkernel(sim, cmdline, profile.crashkernel)
    for nid in nodes:
        sections = {s for r in sim.memblock.memory.regions if r.nid == nid and r.size
                    for s in range(r.base // SECTION, (r.end - 1) // SECTION + 1)}
        if profile.boot.sparse_buffer:
            size = len(sections) * MEMMAP_PER_SECTION
            boot.note(sim.alloc_exact_nid_raw(size, 2 * MiB, KERNEL_START, 0, nid), size,
                      "sparse_init_nid (memmap)")
            continue
        for _ in sorted(sections):
            boot.note(sim.alloc_try_nid(MEMMAP_PER_SECTION, 2 * MiB, KERNEL_START, 1, nid),
                      MEMMAP_PER_SECTION, "vmemmap_populate_hugepages (memmap)")


def simulate_early_boot(layout: MemoryLayout, profile: KernelProfile, movable_node: bool,
                        template: Template, cmdline: str) -> EarlyBoot:
    """``cmdline``: for the log buffer it asks for (``log_buf_len=``, else the template's)
    and what it reserves after NUMA init (``crashkernel=``)."""
    version = profile.memblock
    log_buf_len = _log_buf_len(cmdline) or template.log_buf_len
    sim = MemblockSim(version, movable_node=movable_node)
    for start, end in e820_ram(layout):
        sim.add(start, end - start)
    sim.set_bottom_up(movable_node)
    sim.set_current_limit(MiB)
    boot = _Boot(sim)
    _early(boot, template, layout, log_buf_len, profile.printk)
    numa_reset(sim, version)
    for srat in layout.node_ranges:
        if srat.hotplug:
            sim.mark_hotplug(srat.start, srat.size)
    blocks = cleanup_meminfo(layout.node_ranges, sim.state(), version)
    pinned = numa_register(sim, blocks, version)
    registered_at = len(boot.callers)
    _late(boot, template, blocks, cmdline, profile)
    return EarlyBoot(sim.state(), blocks, pinned, boot.callers, registered_at)
