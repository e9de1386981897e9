"""The scenario's SRAT: the table QEMU would emit, with the scenario's nodes and hotplug marks.

It keeps QEMU's OEM ID and table ID and raises the OEM revision, the kernel's condition for
*replacing* the firmware table (drivers/acpi/tables.c) rather than adding a second one.
"""
from __future__ import annotations

import dataclasses

from acpi_tables.slit import Slit, encode_slit
from acpi_tables.srat import MemoryAffinity, ProcessorLocalApicAffinity, Srat, Subtable, encode_srat
from harness.qemu.facts import QEMU_SRAT_HEADER
from harness.scenario.layout import MemoryLayout
from harness.scenario.schema import Scenario


def _cpu_node(scenario: Scenario, cpu: int) -> int:
    for index, node in enumerate(scenario.machine.nodes):
        if cpu in node.cpus:
            return index
    return 0  # QEMU puts CPUs no node claims on node 0


def build_srat(scenario: Scenario, layout: MemoryLayout, oem_revision: int | None = None) -> Srat:
    """``oem_revision`` None: one above QEMU's (or the scenario's own), so the table replaces."""
    subtables: list[Subtable] = [
        ProcessorLocalApicAffinity(proximity_domain=scenario.srat.pxm_of(_cpu_node(scenario, cpu)), apic_id=cpu)
        for cpu in range(scenario.machine.cpus)
    ]
    for rng in layout.node_ranges:
        flags = MemoryAffinity.ENABLED | (MemoryAffinity.HOT_PLUGGABLE if rng.hotplug else 0)
        subtables.append(MemoryAffinity(scenario.srat.pxm_of(rng.node), rng.start, rng.size, flags))
    memory_entries = len(layout.node_ranges)
    # QEMU pads with empty entries up to nodes + 2 (build_srat: "ancient guest OS" comment).
    for _ in range(memory_entries, len(scenario.machine.nodes) + 2):
        subtables.append(MemoryAffinity(0, 0, 0, 0))
    # QEMU assigns the whole device-memory window to the last node, hotpluggable; boot-RAM
    # DIMMs and per-node hotplug windows have their own entries above, so the window is
    # written around them (the kernel's numa_cleanup_meminfo refuses ranges of two nodes
    # that overlap).
    for start, end in _window_gaps(layout):
        subtables.append(MemoryAffinity(scenario.srat.pxm_of(len(scenario.machine.nodes) - 1), start, end - start,
                                        MemoryAffinity.ENABLED | MemoryAffinity.HOT_PLUGGABLE))
    if oem_revision is None:
        oem_revision = scenario.srat.oem_revision or QEMU_SRAT_HEADER.oem_revision + 1
    header = dataclasses.replace(QEMU_SRAT_HEADER, oem_revision=oem_revision)
    return Srat(header=header, subtables=tuple(subtables))


def _window_gaps(layout: MemoryLayout) -> list[tuple[int, int]]:
    gaps, cursor, end = [], layout.device_base, layout.device_base + layout.device_size
    for rng in sorted(layout.node_ranges, key=lambda r: r.start):
        if rng.end <= cursor or rng.start >= end:
            continue
        if rng.start > cursor:
            gaps.append((cursor, rng.start))
        cursor = max(cursor, rng.end)
    if end > cursor:
        gaps.append((cursor, end))
    return gaps


def srat_bytes(scenario: Scenario, layout: MemoryLayout, oem_revision: int | None = None) -> bytes:
    return encode_srat(build_srat(scenario, layout, oem_revision))


def slit_bytes(scenario: Scenario) -> bytes:
    """The scenario's SLIT with QEMU's IDs and a raised revision: it replaces a firmware SLIT
    (QEMU emits one only with ``-numa dist``) or, with none, is installed as a new table."""
    assert scenario.slit is not None
    header = dataclasses.replace(QEMU_SRAT_HEADER, signature="SLIT",
                                 oem_revision=QEMU_SRAT_HEADER.oem_revision + 1)
    return encode_slit(Slit(header=header, distances=scenario.slit.distances))
