"""One real example line per line kind, checked against the object it must produce.

Lines come from fixtures/logs/*.log where a recording has them; failure lines (which
no clean boot prints) are built from the kernel's format strings, named per line.
"""
from __future__ import annotations

import dataclasses
import typing

import pytest
from pydantic import TypeAdapter

from harness.logparse import BootLog, parse_boot_log, reader, zones
from harness.logparse.acpi import (
    AcpiOverrideError,
    AcpiTableOverride,
    AcpiTableReservation,
    InitrdTable,
    PxmApic,
    SratMemoryLine,
    TableUpgrade,
)
from harness.logparse.common import AddressRange, Append, ByKey, First, LineKind, Special
from harness.logparse.e820 import E820Entry, E820Gap, E820Line, E820Type
from harness.logparse.failures import OfflineFailure, OfflineFailureKind, Oops, PageFlags, PageHeader, Panic
from harness.logparse.memblock_debug import CallerHint, MemblockAlloc, MemblockDoubled, MemblockEvent
from harness.logparse.memblock_dump import DumpCount, DumpHeader, DumpRegion, DumpSizes
from harness.logparse.meminit import DeferredInit
from harness.logparse.numa import NodeData, NodeDataElsewhere, NumaFailure, NumaMerge
from harness.logparse.oom import OomKill
from harness.logparse.setup_arch import (
    CommandLine,
    Crashkernel,
    InitrdFreed,
    KernelRelease,
    LogBuffer,
    MemoryBlockSize,
    MemorylessNode,
    PercpuEmbedded,
    Ramdisk,
)
from harness.logparse.virtio_mem import VirtioMemField, VirtioMemLine
from harness.logparse.zones import EarlyNodeRange, Initmem, MovableZoneStart, SectionStart, ZoneRange
from harness.memblock.model import MAX_NUMNODES, MemblockRegion

K = OfflineFailureKind
L = 7  # line number handed to every builder

EXAMPLES: dict[str, tuple[str, object]] = {
    "memblock_doubled": (  # mm/memblock.c:memblock_double_array format
        "memblock: reserved is doubled to 256 at [0x000000013fffd000-0x000000013fffe7ff]",
        MemblockDoubled(L, "reserved", 256, 0x13FFFD000, 0x13FFFE800),
    ),
    "memblock_add_node": (  # format of memblock_add_node (not called on x86 boot)
        "memblock_add_node: [0x0000000140000000-0x000000014fffffff] nid=2 flags=0 add_memory_resource+0x7c/0x2e0",
        MemblockEvent(
            L, "memblock_add_node", 0x140000000, 0x150000000,
            "add_memory_resource+0x7c/0x2e0", "add_memory_resource", 2, 0,
        ),
    ),
    "memblock_add": (
        "memblock_add: [0x0000000000001000-0x000000000009fbff] e820__memblock_setup+0x65/0x7d",
        MemblockEvent(
            L, "memblock_add", 0x1000, 0x9FC00, "e820__memblock_setup+0x65/0x7d", "e820__memblock_setup",
        ),
    ),
    "memblock_remove": (
        "memblock_remove: [0x00000000000a0000-0x00000000000fffff] memblock_x86_fill+0x9a/0xb3",
        MemblockEvent(L, "memblock_remove", 0xA0000, 0x100000, "memblock_x86_fill+0x9a/0xb3", "memblock_x86_fill"),
    ),
    "memblock_reserve": (
        "memblock_reserve: [0x0000000004400000-0x0000000004410fff] setup_arch+0x797/0xd4f",
        MemblockEvent(L, "memblock_reserve", 0x4400000, 0x4411000, "setup_arch+0x797/0xd4f", "setup_arch"),
    ),
    "memblock_phys_free": (
        "memblock_phys_free: [0x000000013fe00000-0x000000013fffffff] init_mem_mapping+0x22e/0x31f",
        MemblockEvent(
            L, "memblock_phys_free", 0x13FE00000, 0x140000000, "init_mem_mapping+0x22e/0x31f", "init_mem_mapping",
        ),
    ),
    "memblock_free_late": (
        "memblock_free_late: [0x00000000bfee4000-0x00000000bffdffff] free_initrd_mem+0x1c/0x30",
        MemblockEvent(
            L, "memblock_free_late", 0xBFEE4000, 0xBFFE0000, "free_initrd_mem+0x1c/0x30", "free_initrd_mem",
        ),
    ),
    "memblock_free": (  # pre-5.17 kernels logged memblock_free() under its own name
        "memblock_free: [0x000000013d9d1000-0x000000013d9d1fff] pcpu_embed_first_chunk+0x285/0x70f",
        MemblockEvent(
            L, "memblock_free", 0x13D9D1000, 0x13D9D2000,
            "pcpu_embed_first_chunk+0x285/0x70f", "pcpu_embed_first_chunk",
        ),
    ),
    "memblock_phys_alloc_range": (
        "memblock_phys_alloc_range: 28672 bytes align=0x1000 from=0x0000000000000000 "
        "max_addr=0x0000000000100000 reserve_real_mode+0x50/0x89",
        MemblockAlloc(L, "memblock_phys_alloc_range", 28672, 0x1000, None, 0, 0x100000,
                      "reserve_real_mode+0x50/0x89", "reserve_real_mode"),
    ),
    "memblock_alloc_try_nid": (
        "memblock_alloc_try_nid: 896 bytes align=0x40 nid=0 from=0x0000000078000000 "
        "max_addr=0x0000000080000000 sparse_init_nid+0x8d/0x34d",
        MemblockAlloc(L, "memblock_alloc_try_nid", 896, 0x40, 0, 0x78000000, 0x80000000,
                      "sparse_init_nid+0x8d/0x34d", "sparse_init_nid"),
    ),
    "memblock_alloc_try_nid_raw": (
        "memblock_alloc_try_nid_raw: 4096 bytes align=0x1000 nid=0 from=0x0000000001000000 "
        "max_addr=0x0000000000000000 vmemmap_alloc_block_zero.constprop.0+0xc/0x28",
        MemblockAlloc(L, "memblock_alloc_try_nid_raw", 4096, 0x1000, 0, 0x1000000, 0,
                      "vmemmap_alloc_block_zero.constprop.0+0xc/0x28", "vmemmap_alloc_block_zero"),
    ),
    "memblock_alloc_hugetlb": (  # 7.3 mm/memblock.c memblock_alloc_hugetlb: align = size
        "memblock_alloc_hugetlb: 1073741824 bytes, nid=1, exact_nid=0 alloc_bootmem+0x5b/0x120",
        MemblockAlloc(L, "memblock_alloc_hugetlb", 1 << 30, 1 << 30, 1, 0, 0, "alloc_bootmem+0x5b/0x120",
                      "alloc_bootmem"),
    ),
    "nosave_registered": (  # names the hidden-caller allocation before it (kernel/power/snapshot.c)
        "PM: hibernation: Registered nosave memory: [mem 0x00000000-0x00000fff]",
        CallerHint(L, "register_nosave_region"),
    ),
    "memblock_alloc_exact_nid_raw": (
        "memblock_alloc_exact_nid_raw: 16777216 bytes align=0x200000 nid=1 from=0x0000000001000000 "
        "max_addr=0x0000000000000000 sparse_init_nid+0x11f/0x34d",
        MemblockAlloc(L, "memblock_alloc_exact_nid_raw", 16777216, 0x200000, 1, 0x1000000, 0,
                      "sparse_init_nid+0x11f/0x34d", "sparse_init_nid"),
    ),
    "memblock_dump_header": ("MEMBLOCK configuration:", DumpHeader(L)),
    "memblock_dump_sizes": (
        " memory size = 0x00000000fff7ec00 reserved size = 0x000000000357e000",
        DumpSizes(L, 0xFFF7EC00, 0x357E000),
    ),
    "memblock_dump_count": (" reserved.cnt  = 0x7", DumpCount(L, "reserved", 7)),
    "memblock_dump_memory": (
        " memory[0x2]\t[0x0000000080000000-0x00000000bffdffff], 0x000000003ffe0000 bytes on node 1 flags: 0x0",
        DumpRegion(L, "memory", 2, MemblockRegion(0x80000000, 0x3FFE0000, 0, 1)),
    ),
    "memblock_dump_reserved": (
        " reserved[0x2]\t[0x000000007ffd5000-0x000000007fffffff], 0x000000000002b000 bytes flags: 0x0",
        DumpRegion(L, "reserved", 2, MemblockRegion(0x7FFD5000, 0x2B000, 0, MAX_NUMNODES)),
    ),
    "e820": (
        "BIOS-e820: [mem 0x0000000000100000-0x00000000bffdffff] usable",
        E820Line(L, "BIOS-e820", E820Entry(0x100000, 0xBFFE0000, E820Type.RAM, "usable")),
    ),
    "e820_modified": (
        "modified: [mem 0x00000000bfee3000-0x00000000bfee3fff] ACPI NVS",
        E820Line(L, "modified", E820Entry(0xBFEE3000, 0xBFEE4000, E820Type.NVS, "ACPI NVS")),
    ),
    "e820_gap": (  # 7.2 on: arch/x86/kernel/e820.c e820__print_table
        "BIOS-e820: [gap 0x00000000000a0000-0x00000000000effff]",
        E820Gap(L, "BIOS-e820", 0xA0000, 0xF0000),
    ),
    "e820_user": (
        "user: [mem 0x0000000100000000-0x000000013fffffff] usable",
        E820Line(L, "user", E820Entry(0x100000000, 0x140000000, E820Type.RAM, "usable")),
    ),
    "srat_memory": (
        "ACPI: SRAT: Node 2 PXM 2 [mem 0x140000000-0x33fffffff] hotplug",
        SratMemoryLine(line=L, node=2, pxm=2, start=0x140000000, end=0x340000000, hotplug=True,
                       non_volatile=False),
    ),
    "srat_pxm_apic": ("SRAT: PXM 0 -> APIC 0x00 -> Node 0", PxmApic(L, 0, 0, 0)),
    "acpi_table_upgrade": (
        "ACPI: Table Upgrade: override [SRAT-BOCHS -BXPC    ]",
        TableUpgrade(L, "override", "SRAT", "BOCHS ", "BXPC    "),
    ),
    "acpi_initrd_table": (
        "ACPI: SRAT ACPI table found in initrd [kernel/firmware/acpi/srat.aml][0x110]",
        InitrdTable(L, "SRAT", "kernel/firmware/acpi/srat.aml", 0x110),
    ),
    "acpi_override_error": (  # drivers/acpi/tables.c format
        "ACPI: ACPI OVERRIDE: Bad table checksum [kernel/firmware/acpi/srat.aml]",
        AcpiOverrideError(L, "Bad table checksum", "kernel/firmware/acpi/srat.aml"),
    ),
    "acpi_reserving": (
        "ACPI: Reserving SRAT table memory at [mem 0xbffe207a-0xbffe21a9]",
        AcpiTableReservation(L, "SRAT", 0xBFFE207A, 0xBFFE21AA),
    ),
    "acpi_phys_override": (
        "ACPI: SRAT 0x00000000BFFE207A Physical table override, new table: 0x00000000BFEE3000",
        AcpiTableOverride(L, "SRAT", 0xBFFE207A, 0xBFEE3000),
    ),
    "numa_merge": (
        "NUMA: Node 0 [mem 0x00000000-0x0009ffff] + [mem 0x00100000-0x7fffffff] -> [mem 0x00000000-0x7fffffff]",
        NumaMerge(L, 0, AddressRange(0, 0xA0000), AddressRange(0x100000, 0x80000000), AddressRange(0, 0x80000000)),
    ),
    "numa_not_used": (
        "NUMA: nodes only cover 2048MB of your 4095MB e820 RAM. Not used.",
        NumaFailure(L, "NUMA: nodes only cover 2048MB of your 4095MB e820 RAM. Not used."),
    ),
    "numa_no_coverage": (
        "NUMA: no nodes coverage for 2047MB of 4095MB RAM",
        NumaFailure(L, "NUMA: no nodes coverage for 2047MB of 4095MB RAM"),
    ),
    "numa_none_found": ("No NUMA configuration found", NumaFailure(L, "No NUMA configuration found")),
    "numa_fake_node": (
        "Faking a node at [mem 0x0000000000000000-0x000000013fffffff]",
        NumaFailure(L, "Faking a node at [mem 0x0000000000000000-0x000000013fffffff]"),
    ),
    "node_data": (
        "NODE_DATA(1) allocated [mem 0xbfeb9000-0xbfee3fff]",
        NodeData(L, 1, AddressRange(0xBFEB9000, 0xBFEE4000)),
    ),
    "node_data_elsewhere": ("    NODE_DATA(3) on node 0", NodeDataElsewhere(L, 3, 0)),
    "zone_ranges_header": ("Zone ranges:", SectionStart(L, zones.ZONE_RANGES)),
    "movable_zone_header": ("Movable zone start for each node", SectionStart(L, zones.MOVABLE_ZONE_START)),
    "zone_range": (
        "  DMA32    [mem 0x0000000001000000-0x00000000ffffffff]",
        ZoneRange("DMA32", 0x1000000, 0x100000000),
    ),
    "zone_empty": ("  Device   empty", ZoneRange("Device", None, None)),
    "movable_zone_node": ("  Node 2: 0x0000000100000000", MovableZoneStart(2, 0x100000000)),
    "early_node_range": (
        "  node   1: [mem 0x0000000080000000-0x00000000bffdffff]",
        EarlyNodeRange(1, 0x80000000, 0xBFFE0000),
    ),
    "deferred_init": (  # fixtures/logs/recorded/memhp-6.1-two-node-user-script.log line 364
        "node 1 deferred pages initialised in 108ms", DeferredInit(1, 108),
    ),
    "oom_kill": (  # fixtures/unmovable/page-tables-6.1-1to1.oom.txt (6.1 mm/oom_kill.c)
        "Out of memory: Killed process 92 (unmovable) total-vm:68719477840kB, anon-rss:52kB, "
        "file-rss:4kB, shmem-rss:772kB, UID:0 pgtables:291300kB oom_score_adj:1000",
        OomKill(L, 92, "unmovable", 291300),
    ),
    "initmem": (
        "Initmem setup node 2 [mem 0x0000000100000000-0x000000013fffffff]",
        Initmem(2, AddressRange(0x100000000, 0x140000000)),
    ),
    "linux_version": (
        "Linux version 6.1.0-47-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14+deb12u1) "
        "12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.170-3 (2026-05-08)",
        KernelRelease(L, "6.1.0-47-amd64"),
    ),
    "command_line": (
        "Command line: console=ttyS0 memblock=debug nokaslr",
        CommandLine(L, "console=ttyS0 memblock=debug nokaslr"),
    ),
    "ramdisk": ("RAMDISK: [mem 0xbfee4000-0xbffdffff]", Ramdisk(L, AddressRange(0xBFEE4000, 0xBFFE0000))),
    "memory_block_size": ("x86/mm: Memory block size: 128MB", MemoryBlockSize(L, 128 << 20)),
    "initrd_freed": ("Freeing initrd memory: 1008K", InitrdFreed(L, 1008)),
    "memoryless_node": ("Initializing node 3 as memoryless", MemorylessNode(L, 3)),
    "percpu_embedded": (  # qemu-6.1-three-node.log
        "percpu: Embedded 62 pages/cpu s217088 r8192 d28672 u2097152", PercpuEmbedded(L, 2097152),
    ),
    "log_buf_len": ("printk: log_buf_len: 8388608 bytes", LogBuffer(L, 8388608)),  # qemu-6.1-three-node.log
    # 6.18 on (kernel/printk/printk.c print_log_buf_usage_stats); memhp-7.3-three-node-boot-dimm-movable.log
    "log_buf_meta": ("printk: log buffer data + meta data: 16777216 + 71303168 = 88080384 bytes",
                     LogBuffer(L, 16777216, 71303168)),
    # No recording reserves a crash kernel: built from 6.1 arch/x86/kernel/setup.c:reserve_crashkernel
    # and 6.12 kernel/crash_reserve.c:reserve_crashkernel_generic (end printed exclusive).
    "crashkernel_61": (
        "Reserving 256MB of memory at 3824MB for crashkernel (System RAM: 4095MB)",
        Crashkernel(L, AddressRange(3824 << 20, (3824 + 256) << 20), low=False),
    ),
    "crashkernel_612": (
        "crashkernel reserved: 0x00000000af000000 - 0x00000000bf000000 (256 MB)",
        Crashkernel(L, AddressRange(0xAF000000, 0xBF000000), low=False),
    ),
    "crashkernel_612_low": (
        "crashkernel low memory reserved: 0x70000000 - 0x80000000 (256 MB)",
        Crashkernel(L, AddressRange(0x70000000, 0x80000000), low=True),
    ),
    "panic": (
        "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)",
        Panic(L, "VFS: Unable to mount root fs on unknown-block(0,0)",
              "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)"),
    ),
    "oops_bug": (
        "BUG: unable to handle page fault for address: ffff888140000000",
        Oops(L, "BUG", "BUG: unable to handle page fault for address: ffff888140000000"),
    ),
    "kernel_bug": (
        "kernel BUG at mm/memory_hotplug.c:2208!",
        Oops(L, "kernel BUG", "kernel BUG at mm/memory_hotplug.c:2208!"),
    ),
    "oops": (
        "Oops: invalid opcode: 0000 [#1] PREEMPT SMP NOPTI",
        Oops(L, "Oops", "Oops: invalid opcode: 0000 [#1] PREEMPT SMP NOPTI"),
    ),
    "warning": (
        "WARNING: CPU: 0 PID: 0 at mm/memblock.c:1430 memblock_alloc_range_nid+0x4c/0x13d",
        Oops(L, "WARNING", "WARNING: CPU: 0 PID: 0 at mm/memblock.c:1430 memblock_alloc_range_nid+0x4c/0x13d"),
    ),
    "gpf": (
        "general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] SMP",
        Oops(L, "general protection fault",
             "general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] SMP"),
    ),
    "offline_failed": (
        "memory memory34: Offline failed.",
        OfflineFailure(L, K.OFFLINE_FAILED, "memory memory34: Offline failed.", block=34),
    ),
    "page_header": (
        "page:00000000b6a1c6f1 refcount:1 mapcount:0 mapping:0000000000000000 index:0x0 pfn:0x13dbfe",
        PageHeader(L, 0x13DBFE),
    ),
    "page_flags": (  # 6.1 mm/debug.c:__dump_page, from recorded/memhp-6.1-three-node-no-movable-node
        "flags: 0x97ffffc0001000(reserved|node=2|zone=2|lastcpupid=0x1fffff)",
        PageFlags(L, 0x97FFFFC0001000, "reserved|node=2|zone=2|lastcpupid=0x1fffff"),
    ),
    "page_dumped": (
        "page dumped because: unmovable page",
        OfflineFailure(L, K.PAGE_DUMPED, "page dumped because: unmovable page", detail="unmovable page"),
    ),
    "migrate_failed": (
        "migrating pfn 13c800 failed ret:-16",
        OfflineFailure(L, K.MIGRATE_FAILED, "migrating pfn 13c800 failed ret:-16", pfn=0x13C800, detail="ret:-16"),
    ),
    "isolate_failed": (
        "failed to isolate pfn 13c800",
        OfflineFailure(L, K.ISOLATE_FAILED, "failed to isolate pfn 13c800", pfn=0x13C800),
    ),
    "eject_disabled": (
        "acpi PNP0C80:01: Eject disabled",
        OfflineFailure(L, K.EJECT_DISABLED, "acpi PNP0C80:01: Eject disabled", detail="acpi PNP0C80:01"),
    ),
    "eject_incomplete": (
        "ACPI: \\_SB_.MHPC.MP01: Eject incomplete - status 0xf",
        OfflineFailure(L, K.EJECT_INCOMPLETE, "ACPI: \\_SB_.MHPC.MP01: Eject incomplete - status 0xf",
                       detail="ACPI: \\_SB_.MHPC.MP01 status 0xf"),
    ),
    "remove_onlined": (
        "removing memory fails, because memory [0x0000000140000000-0x0000000147ffffff] is onlined",
        OfflineFailure(L, K.REMOVE_ONLINED,
                       "removing memory fails, because memory [0x0000000140000000-0x0000000147ffffff] is onlined",
                       pfn=0x140000),
    ),
    "virtio_mem": (  # recorded/memhp-6.1-virtio-mem-cycle.log
        "virtio_mem virtio0: start address: 0x100000000",
        VirtioMemLine(L, "virtio0", "start address: 0x100000000", VirtioMemField.ADDR, 0x100000000),
    ),
    "offlining_failed": (  # mm/memory_hotplug.c:offline_pages pr_debug format
        "memory offlining [mem 0x0000000138000000-0x000000013fffffff] failed due to unmovable page",
        OfflineFailure(L, K.OFFLINING_FAILED,
                       "memory offlining [mem 0x0000000138000000-0x000000013fffffff] failed due to unmovable page",
                       pfn=0x138000, detail="unmovable page"),
    ),
}


def _all_kinds() -> dict[str, LineKind[object]]:
    kinds = {k.name: k for k in reader.KINDS}
    for section in zones.SECTION_KINDS.values():
        kinds.update({k.name: k for k in section})
    return kinds


def test_every_kind_has_an_example() -> None:
    assert set(_all_kinds()) == set(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_line(name: str) -> None:
    line, expected = EXAMPLES[name]
    kind = _all_kinds()[name]
    assert kind.trigger in line
    parsed = kind.parse(line, L)
    assert parsed is not None
    assert parsed[0] == expected


def _has_inner_hex(line: str) -> bool:
    cut = line.rfind("0x")
    return cut >= 0 and cut + 3 < len(line)


def _before(name: str) -> list[str]:
    """Lines 1..L-1 of a log whose line L is the example: empty, or its section header."""
    before = [""] * (L - 1)
    for section, kinds in zones.SECTION_KINDS.items():
        if name in {k.name for k in kinds}:
            before[-1] = _HEADERS[section]
    return before


EMPTY = parse_boot_log("")
_HINTS = typing.get_type_hints(BootLog)
_HEADERS = {zones.ZONE_RANGES: EXAMPLES["zone_ranges_header"][0],
            zones.MOVABLE_ZONE_START: EXAMPLES["movable_zone_header"][0]}
# Fields computed from others: the PXM map from SRAT and PXM lines, the debug flag from ops and dumps.
_DERIVED = {"srat_memory": {"pxm_to_node"}, "pxm_apic": {"pxm_to_node"}}
_SPECIAL_FIELDS = {
    Special.MEMBLOCK_OP: {"memblock_ops", "memblock_debug"},
    Special.MEMBLOCK_DUMP: {"memblock_dumps", "memblock_debug"},
    Special.PAGE_DUMPED: {"offline_failures"},
    Special.PAGE_HEADER: set(),
    Special.NOT_KEPT: set(),
    Special.CALLER_HINT: set(),  # alone it names nothing: only an allocation just before it
}


def _log_with_example(name: str) -> BootLog:
    """A log whose line L is the example (after its section header where it needs one)."""
    return parse_boot_log("\n".join([*_before(name), EXAMPLES[name][0]]) + "\n")


def _changed(log: BootLog) -> set[str]:
    return {f.name for f in dataclasses.fields(BootLog) if getattr(log, f.name) != getattr(EMPTY, f.name)}


@pytest.mark.parametrize("name", sorted(n for n, (line, _) in EXAMPLES.items() if _has_inner_hex(line)))
def test_truncated_last_line_states_nothing_and_is_suspicious(name: str) -> None:
    """A log cut in the middle of its last line's last hex number (a serial cut, a field
    excerpt) must not state a fact from it: nothing after the cut proves the line complete,
    so the line adds nothing to the BootLog and is counted as suspicious."""
    line = EXAMPLES[name][0]
    cut = line.rfind("0x")
    log = parse_boot_log("\n".join([*_before(name), line[: cut + 3]]))
    assert _changed(log) == {"unparsed_suspicious", "suspicious_examples"}
    assert log.unparsed_suspicious == 1


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_complete_last_line_without_newline_is_unproven(name: str) -> None:
    """The whole example as the last line, without its newline: also unproven (the cut
    may have fallen right after a digit), so it too is suspicious instead of a fact."""
    log = parse_boot_log("\n".join([*_before(name), EXAMPLES[name][0]]))
    assert _changed(log) == {"unparsed_suspicious", "suspicious_examples"}
    assert log.unparsed_suspicious == 1


def test_movable_zone_start_cut_to_zero_is_not_a_fact() -> None:
    """The issue's example: a log whose last line was cut to ``  Node 2: 0x0``."""
    log = parse_boot_log(f"{_HEADERS[zones.MOVABLE_ZONE_START]}\n  Node 2: 0x0")
    assert log.movable_zone_start == {} and log.unparsed_suspicious == 1
    whole = parse_boot_log(f"{_HEADERS[zones.MOVABLE_ZONE_START]}\n  Node 2: 0x0000000100000000\n")
    assert whole.movable_zone_start == {2: 0x100000000} and whole.unparsed_suspicious == 0


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_lands_where_its_kind_says(name: str) -> None:
    into, expected = _all_kinds()[name].into, EXAMPLES[name][1]
    log = _log_with_example(name)
    match into:
        case Append():
            assert getattr(log, into.field) == (into.value(expected),)
        case First():
            assert getattr(log, into.field) == into.value(expected)
        case ByKey():
            assert getattr(log, into.field) == {getattr(expected, into.key): getattr(expected, into.attr)}
        case Special.MEMBLOCK_OP:
            assert log.memblock_ops == (expected,)
        case Special.MEMBLOCK_DUMP:
            assert [d.line for d in log.memblock_dumps] == [L]
        case Special.PAGE_DUMPED:
            assert log.offline_failures == (expected,)  # no page header before it: no pfn
    fields = _SPECIAL_FIELDS[into] if isinstance(into, Special) else {into.field} | _DERIVED.get(into.field, set())
    assert _changed(log) == fields, "nothing else in the BootLog, and nothing counted suspicious"
    for field in fields:  # and what landed has the field's type (no ZoneRange among early node ranges)
        TypeAdapter(_HINTS[field]).validate_python(getattr(log, field), strict=True)


@pytest.mark.parametrize(("line", "expected"), [
    # 7.2 on: " System RAM" / " device reserved" after "] " (two spaces), in every table.
    ("user: [mem 0x0000000140000000-0x000000017fffffff]  System RAM",
     E820Line(L, "user", E820Entry(0x140000000, 0x180000000, E820Type.RAM, "System RAM"))),
    ("BIOS-e820: [mem 0x000000fd00000000-0x000000ffffffffff]  device reserved",
     E820Line(L, "BIOS-e820", E820Entry(0xFD00000000, 0x10000000000, E820Type.RESERVED, "device reserved"))),
    ("modified: [mem 0x0000000000000000-0x0000000000000fff]  persistent RAM (type 12)",
     E820Line(L, "modified", E820Entry(0, 0x1000, E820Type.PERSISTENT, "persistent RAM (type 12)"))),
])
def test_e820_lines_of_7_x_read_as_the_same_types(line: str, expected: E820Line) -> None:
    kind = next(k for k in reader.KINDS if k.trigger in line)
    parsed = kind.parse(line, L)
    assert parsed is not None and parsed[0] == expected


def test_reserve_line_of_6_18_on_carries_nid_and_flags() -> None:
    """mm/memblock.c __memblock_reserve: "%s: [%pa-%pa] nid=%d flags=%x %pS" (flags without 0x)."""
    line = ("__memblock_reserve: [0x000000017abd2f40-0x000000017abfdfff] nid=2 flags=20 "
            "memblock_alloc_range_nid+0xe7/0x190")
    kind = next(k for k in reader.KINDS if k.trigger in line)
    parsed = kind.parse(line, L)
    assert parsed is not None and parsed[0] == MemblockEvent(
        L, "memblock_reserve", 0x17ABD2F40, 0x17ABFE000, "memblock_alloc_range_nid+0xe7/0x190",
        "memblock_alloc_range_nid", 2, 0x20)


def test_an_unknown_e820_type_name_is_suspicious_and_shown() -> None:
    from harness.logparse import parse_boot_log

    log = parse_boot_log("BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff]  Sytem RAM\n")
    assert log.unparsed_suspicious == 1 and log.e820 == ()
    assert log.suspicious_examples == ("line 1: BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff]  Sytem RAM",)


def test_a_hidden_caller_is_named_only_by_the_line_that_follows_it() -> None:
    """memblock_alloc_or_panic hides the caller; register_nosave_region's own line right after
    its allocation names it, and sparse_index_alloc's request right after the roots names those."""
    from harness.logparse import parse_boot_log

    hidden = ("memblock_alloc_try_nid: {size} bytes align=0x40 nid=-1 from=0x0000000000000000 "
              "max_addr=0x0000000000000000 __memblock_alloc_or_panic+0x24/0x50")
    reserve = "__memblock_reserve: [{a}-{b}] nid=-1 flags=20 memblock_alloc_range_nid+0xe7/0x190"
    text = "\n".join([
        hidden.format(size=32), reserve.format(a="0x000000017abd27c0", b="0x000000017abd27df"),
        "PM: hibernation: Registered nosave memory: [mem 0x00000000-0x00000fff]",
        hidden.format(size=73), reserve.format(a="0x000000017abd2ec0", b="0x000000017abd2f08"),
        "CPU topo: Max. logical packages:   1",
        hidden.format(size=2097152), reserve.format(a="0x000000017a9d2740", b="0x000000017abd273f"),
        "memblock_alloc_try_nid: 4096 bytes align=0x40 nid=0 from=0x0000000000000000 "
        "max_addr=0x0000000000000000 sparse_index_alloc+0x3a/0x80",
    ]) + "\n"
    nosave, unnamed, roots, _ = parse_boot_log(text).memblock_allocs
    assert nosave.requester.startswith("register_nosave_region (named by the next line")
    assert unnamed.requester == "__memblock_alloc_or_panic (the log does not name the caller)"
    assert roots.requester.startswith("memblocks_present (mem_section roots)")
