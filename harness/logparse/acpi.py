"""ACPI lines: SRAT affinity (drivers/acpi/numa/srat.c, arch/x86/mm/srat.c) and the
initrd table upgrade (drivers/acpi/tables.c, ACPICA tbinstal.c)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from harness.logparse.common import HEX, AddressRange, Append, JsonMixin, LineKind, hex_int
from harness.memblock.numa import SratMemory


@dataclass(frozen=True, kw_only=True)
class SratMemoryLine(SratMemory, JsonMixin):
    """``ACPI: SRAT: Node 2 PXM 2 [mem 0x140000000-0x33fffffff] hotplug``: the range it
    prints (end exclusive) and the log line it is on."""

    pxm: int  # always printed
    line: int

    @property
    def range(self) -> AddressRange:
        return AddressRange(self.start, self.end)


SRAT_MEMORY_RE = re.compile(
    rf"(?:ACPI: )?SRAT: Node (?P<node>\d+) PXM (?P<pxm>\d+) "
    rf"\[mem (?P<start>{HEX})-(?P<last>{HEX})\](?P<hotplug> hotplug)?(?P<nv> non-volatile)?\s*$"
)


def _srat_memory(m: re.Match[str], line: int) -> SratMemoryLine:
    return SratMemoryLine(
        line=line, node=int(m["node"]), pxm=int(m["pxm"]), start=hex_int(m["start"]),
        end=hex_int(m["last"]) + 1, hotplug=m["hotplug"] is not None, non_volatile=m["nv"] is not None,
    )


@dataclass(frozen=True)
class PxmApic(JsonMixin):
    """``SRAT: PXM 0 -> APIC 0x00 -> Node 0`` (6.12 prints it only with dynamic debug)."""

    line: int
    pxm: int
    apic_id: int
    node: int


PXM_APIC_RE = re.compile(rf"SRAT: PXM (?P<pxm>\d+) -> APIC (?P<apic>{HEX}) -> Node (?P<node>\d+)\s*$")


def _pxm_apic(m: re.Match[str], line: int) -> PxmApic:
    return PxmApic(line, int(m["pxm"]), hex_int(m["apic"]), int(m["node"]))


@dataclass(frozen=True)
class TableUpgrade(JsonMixin):
    """``ACPI: Table Upgrade: override [SRAT-BOCHS -BXPC    ]``; IDs kept with their padding."""

    line: int
    action: Literal["override", "install"]
    signature: str
    oem_id: str
    oem_table_id: str


# %4.4s-%6.6s-%8.8s are precisions, not widths: shorter IDs print shorter.
TABLE_UPGRADE_RE = re.compile(
    r"ACPI: Table Upgrade: (?P<action>override|install) "
    r"\[(?P<sig>[^\]]{4})-(?P<oem_id>[^\]]{0,6})-(?P<oem_table_id>[^\]]{0,8})\]\s*$"
)


def _table_upgrade(m: re.Match[str], line: int) -> TableUpgrade:
    action: Literal["override", "install"] = "override" if m["action"] == "override" else "install"
    return TableUpgrade(line, action, m["sig"], m["oem_id"], m["oem_table_id"])


@dataclass(frozen=True)
class InitrdTable(JsonMixin):
    """``ACPI: SRAT ACPI table found in initrd [kernel/firmware/acpi/srat.aml][0x110]``."""

    line: int
    signature: str
    path: str
    length: int


INITRD_TABLE_RE = re.compile(
    rf"ACPI: (?P<sig>.{{4}}) ACPI table found in initrd \[(?P<path>[^\]]*)\]\[(?P<len>{HEX})\]\s*$"
)


def _initrd_table(m: re.Match[str], line: int) -> InitrdTable:
    return InitrdTable(line, m["sig"], m["path"], hex_int(m["len"]))


@dataclass(frozen=True)
class AcpiOverrideError(JsonMixin):
    """``ACPI: ACPI OVERRIDE: Bad table checksum [kernel/firmware/acpi/srat.aml]``."""

    line: int
    message: str
    path: str | None


ACPI_OVERRIDE_RE = re.compile(r"ACPI OVERRIDE: (?P<msg>[^\[]*?)\s*(?:\[(?P<path>[^\]]*)\])?\s*$")


def _override_error(m: re.Match[str], line: int) -> AcpiOverrideError:
    return AcpiOverrideError(line, m["msg"], m["path"])


@dataclass(frozen=True)
class AcpiTableReservation(JsonMixin):
    """``ACPI: Reserving SRAT table memory at [mem 0xbffe207a-0xbffe21a9]``; end exclusive."""

    line: int
    signature: str
    start: int
    end: int


ACPI_RESERVING_RE = re.compile(
    rf"ACPI: Reserving (?P<sig>.{{1,4}}) table memory at \[mem (?P<start>{HEX})-(?P<last>{HEX})\]\s*$"
)


def _reservation(m: re.Match[str], line: int) -> AcpiTableReservation:
    return AcpiTableReservation(line, m["sig"].strip(), hex_int(m["start"]), hex_int(m["last"]) + 1)


@dataclass(frozen=True)
class AcpiTableOverride(JsonMixin):
    """``ACPI: SRAT 0x000000007FFE2270 Physical table override, new table: 0x000000007F7FF000``."""

    line: int
    signature: str
    old_address: int
    new_address: int


ACPI_PHYS_OVERRIDE_RE = re.compile(
    rf"ACPI: (?P<sig>.{{4}}) (?P<old>{HEX}) Physical table override, new table: (?P<new>{HEX})\s*$"
)


def _phys_override(m: re.Match[str], line: int) -> AcpiTableOverride:
    return AcpiTableOverride(line, m["sig"], hex_int(m["old"]), hex_int(m["new"]))


KINDS: tuple[LineKind[object], ...] = (
    LineKind("srat_memory", "SRAT: Node ", SRAT_MEMORY_RE, _srat_memory, Append("srat_memory")),
    LineKind("srat_pxm_apic", "SRAT: PXM ", PXM_APIC_RE, _pxm_apic, Append("pxm_apic")),
    LineKind("acpi_table_upgrade", "Table Upgrade: ", TABLE_UPGRADE_RE, _table_upgrade, Append("table_upgrades")),
    LineKind(
        "acpi_initrd_table", "ACPI table found in initrd", INITRD_TABLE_RE, _initrd_table,
        Append("initrd_tables"),
    ),
    LineKind(
        "acpi_override_error", "ACPI OVERRIDE: ", ACPI_OVERRIDE_RE, _override_error,
        Append("acpi_override_errors"),
    ),
    LineKind(
        "acpi_reserving", "table memory at [mem", ACPI_RESERVING_RE, _reservation,
        Append("acpi_table_reservations"),
    ),
    LineKind(
        "acpi_phys_override", "Physical table override", ACPI_PHYS_OVERRIDE_RE, _phys_override,
        Append("acpi_table_overrides"),
    ),
)
