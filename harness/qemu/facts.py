"""What memhp knows about QEMU: per-machine data, and what one binary answered when probed.

The one place the layout, the tables and the scenario checks ask about QEMU. It sits below
``harness.scenario`` (tests/unit/test_architecture.py) because they ask it; it knows no
scenario, only QEMU. Static knowledge (a machine's RAM split, the SRAT header QEMU writes,
virtio-mem's block sizes) is data with the QEMU source it comes from; what differs between
QEMU releases is asked of the binary itself (:mod:`harness.qemu.probe`), never decided by
comparing version numbers.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from acpi_tables.header import AcpiTableHeader
from harness.errors import BadInputError
from harness.units import GiB


@dataclass(frozen=True)
class MachineProfile:
    """Per-machine-type RAM split rules (QEMU keeps them in code; we keep them as data).

    The same from QEMU 7.2 to 11 for ``pc`` (hw/i386/pc_piix.c pc_init1's lowmem, and
    the i440fx pci-hole64-size default): measured by the demo and the node-removal
    scenarios placing their DIMMs identically on 7.2.22 and 10.0.2."""

    name: str
    lowmem_default: int
    lowmem_when_split: int
    # enforce_aligned_dimm: the device window reserves 1 GiB of alignment per slot.
    align_per_slot: int
    # The 64-bit PCI hole above RAM and device memory (hw/pci-host/i440fx.c:
    # I440FX_HOST_PROP_PCI_HOLE64_SIZE's default).
    pci_hole64_size: int


# Unversioned names only: QEMU deprecates a versioned machine type after 3 years
# (docs/about/deprecated.rst, "Versioned machine types"), and ``pc`` is the alias of the
# newest i440fx type of whatever QEMU runs. Which one it was goes in result.json.
PROFILES: dict[str, MachineProfile] = {
    "pc": MachineProfile("pc", 0xE0000000, 0xC0000000, GiB, 2 * GiB),
    # hw/i386/pc_q35.c pc_q35_init: 0xb0000000 below 4G, 2 GiB once RAM reaches that;
    # hw/pci-host/q35.c Q35_PCI_HOST_HOLE64_SIZE_DEFAULT (1 << 35).
    "q35": MachineProfile("q35", 0xB0000000, 0x80000000, GiB, 32 * GiB),
}
# hw/i386/pc.c pc_memory_init (QEMU 10.0): with cxl=on the CXL host bridges' registers
# take 256 MiB after device memory (or RAM above 4G), the fixed windows follow at 256 MiB
# alignment, and the 64-bit PCI hole after them (pc_pci_hole64_start).
CXL_HOST_REG_SIZE = 256 << 20
CXL_WINDOW_ALIGN = 256 << 20


def profile(name: str) -> MachineProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise BadInputError(
            f"machine.type: unknown machine {name!r}; known: {', '.join(sorted(PROFILES))}"
        ) from None


# QEMU's SRAT header (hw/i386/acpi-build.c build_srat, include/hw/acpi/aml-build.h
# ACPI_BUILD_APPNAME6/8), unchanged from 7.2 to 11.
QEMU_SRAT_HEADER = AcpiTableHeader(
    signature="SRAT", length=0, revision=1, checksum=0, oem_id="BOCHS ",
    oem_table_id="BXPC    ", oem_revision=1, asl_compiler_id="BXPC", asl_compiler_revision=1,
)

# hw/virtio/virtio-mem.c: VIRTIO_MEM_MIN_BLOCK_SIZE and the default on x86-64
# (virtio_mem_default_block_size: the transparent huge page size).
VIRTIO_MEM_MIN_BLOCK_SIZE = 1 << 20
VIRTIO_MEM_DEFAULT_BLOCK_SIZE = 2 << 20

# hw/i386/pc.c:pc_memory_init (since QEMU 7.1): an AMD vCPU, as TCG's "max" is, whose
# highest address would reach the HyperTransport hole below 1 TiB gets its RAM above
# 4 GiB moved to 1 TiB, past that CPU's 40 physical address bits: QEMU then refuses to start.
AMD_HT_START = 0xFD00000000

# The events QEMU sends when the guest refuses an unplug: MEM_UNPLUG_ERROR (memory only,
# deprecated in 6.2, removed in 9.1) and DEVICE_UNPLUG_GUEST_ERROR (qapi/qdev.json, since
# 6.2; hw/acpi/memory_hotplug.c acpi_memory_hotplug_write sends both while both exist).
UNPLUG_ERROR_EVENTS = ("MEM_UNPLUG_ERROR", "DEVICE_UNPLUG_GUEST_ERROR")

# The devices (and QOM objects) memhp asks QEMU about: their properties are probed.
PROBED_DEVICES = ("pc-dimm", "virtio-mem-pci", "cxl-type3")
PROBED_OBJECTS = ("memory-backend-ram",)


@dataclass(frozen=True)
class Need:
    """Something a scenario needs of QEMU: a device (``prop`` None) or one of its properties."""

    what: str   # a device or object type, or "machine"
    prop: str | None = None

    def words(self) -> str:
        if self.what == "machine":
            return f"machine type {self.prop!r}"
        return f"{self.what}" if self.prop is None else f"property {self.prop!r} of {self.what}"


@dataclass(frozen=True)
class QemuFacts:
    """One binary's answers (QMP ``query-version``, ``query-machines``,
    ``device-list-properties``, ``qom-list-properties``, ``query-qmp-schema`` events,
    ``query-migrate-capabilities``)."""

    version: str                            # "10.0.2"
    package: str                            # QEMU's own "package" string, "" if none
    machines: Mapping[str, str]             # every name and alias → the machine type it is
    properties: Mapping[str, frozenset[str]]  # device/object type → its properties (absent: no such type)
    events: frozenset[str]
    migrate_capabilities: frozenset[str]

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return tuple(int(p) for p in self.version.split(".") if p.isdigit())

    @property
    def label(self) -> str:
        """``QEMU 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)``."""
        return f"QEMU {self.version}" + (f" ({self.package})" if self.package else "")

    def machine_type(self, name: str) -> str:
        """The machine type ``-M name`` runs (``pc`` → ``pc-i440fx-10.0``)."""
        return self.machines.get(name, name)

    def missing(self, needs: Iterable[Need]) -> list[str]:
        """The needs this QEMU cannot meet, in words, in the order given."""
        out: list[str] = []
        for need in needs:
            if need.what == "machine":
                ok = need.prop in self.machines
            elif need.prop is None:
                ok = need.what in self.properties
            else:
                ok = need.prop in self.properties.get(need.what, frozenset())
            if not ok and need.words() not in out:
                out.append(need.words())
        return out

    @property
    def unplug_error_events(self) -> frozenset[str]:
        """The guest-refused-unplug events this QEMU sends (one or both of
        :data:`UNPLUG_ERROR_EVENTS`)."""
        return frozenset(UNPLUG_ERROR_EVENTS) & self.events

    @property
    def mapped_ram(self) -> bool:
        """``-incoming file:`` with the ``mapped-ram`` capability (migration/options.c, 9.0+)."""
        return "mapped-ram" in self.migrate_capabilities

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "package": self.package, "machines": dict(self.machines),
                "properties": {k: sorted(v) for k, v in self.properties.items()},
                "events": sorted(self.events), "migrate_capabilities": sorted(self.migrate_capabilities)}

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> QemuFacts:
        return cls(str(data["version"]), str(data["package"]), dict(data["machines"]),
                   {k: frozenset(v) for k, v in data["properties"].items()},
                   frozenset(data["events"]), frozenset(data["migrate_capabilities"]))
