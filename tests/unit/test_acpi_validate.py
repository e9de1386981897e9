from pathlib import Path

from acpi_tables.header import AcpiTableHeader
from acpi_tables.srat import MemoryAffinity, ProcessorLocalApicAffinity, Srat, decode_srat
from acpi_tables.validate import Finding, Level, validate_srat

SRAT = (Path(__file__).parents[2] / "fixtures/acpi/qemu-7.2-pc-3node.srat.aml").read_bytes()
HEADER = AcpiTableHeader("SRAT", 0, 3, 0, "BOCHS ", "BXPC    ", 2, "BXPC", 1)
GiB = 1 << 30
HP = MemoryAffinity.ENABLED | MemoryAffinity.HOT_PLUGGABLE
RAM = [(0, 3 * GiB), (4 * GiB, 5 * GiB)]
WINDOW = (5 * GiB, 13 * GiB)


def _srat(*memory: MemoryAffinity) -> Srat:
    return Srat(HEADER, subtables=(ProcessorLocalApicAffinity(0, 0), *memory))


def test_qemu_srat_is_clean_against_its_own_ram_map() -> None:
    ram = [(0, 0xA0000), (0x100000, 3 * GiB), (4 * GiB, 5 * GiB)]
    assert validate_srat(decode_srat(SRAT), ram, WINDOW) == []


def test_overlap_is_an_error() -> None:
    findings = validate_srat(_srat(MemoryAffinity(0, 0, 2 * GiB), MemoryAffinity(0, GiB, 2 * GiB)), RAM, None)
    assert findings == [Finding(
        Level.ERROR,
        "memory ranges overlap: PXM 0 [mem 0x0-0x7fffffff] and PXM 0 [mem 0x40000000-0xbfffffff]",
    )]


def test_alignment() -> None:
    unaligned = validate_srat(_srat(MemoryAffinity(0, 0x1800, 3 * GiB - 0x1800)), RAM, None)
    assert [f.level for f in unaligned] == [Level.ERROR] and "4K page size" in unaligned[0].message
    hotplug = validate_srat(_srat(MemoryAffinity(0, 0, GiB), MemoryAffinity(0, GiB, 2 * GiB, HP),
                                  MemoryAffinity(0, 4 * GiB + (64 << 20), GiB - (64 << 20), HP)), RAM, None)
    assert hotplug == [Finding(
        Level.WARNING,
        "memory PXM 0 [mem 0x104000000-0x13fffffff] is hotpluggable but not aligned to the 128M memory block "
        "size, so its edge blocks cannot be offlined on their own",
    )]


def test_ranges_beyond_ram_and_hotplug_without_ram() -> None:
    findings = validate_srat(_srat(MemoryAffinity(0, 0, 3 * GiB), MemoryAffinity(0, 3 * GiB, GiB, HP),
                                   MemoryAffinity(0, 4 * GiB, GiB), MemoryAffinity(0, 5 * GiB, 8 * GiB, HP)),
                             RAM, WINDOW)
    assert [f.message for f in findings] == [
        "memory PXM 0 [mem 0xc0000000-0xffffffff] reaches beyond RAM and the device window: 0xc0000000-0xffffffff",
        "memory PXM 0 [mem 0xc0000000-0xffffffff] is marked hotpluggable but holds no RAM and lies outside "
        "the device window",
    ]


def test_domains_with_neither_cpus_nor_memory() -> None:
    srat = _srat(MemoryAffinity(0, 0, 3 * GiB), MemoryAffinity(3, 4 * GiB, GiB, 0), MemoryAffinity(4, 0, 0))
    assert [f.message for f in validate_srat(srat, RAM, None)] == [
        "proximity domain 3 has neither enabled CPUs nor memory",
        "proximity domain 4 has neither enabled CPUs nor memory",
    ]
