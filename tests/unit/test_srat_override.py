"""The override SRAT for a scenario equals QEMU's own table, but for the marks we ask for."""
from __future__ import annotations

from pathlib import Path

from acpi_tables.srat import MemoryAffinity, decode_srat
from harness.scenario.layout import compute_layout
from harness.scenario.schema import parse_scenario
from harness.scenario.tables import build_srat, srat_bytes

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _three_node(hotplug_nodes: list[int]) -> dict:
    # The machine of fixtures/acpi/qemu-7.2-pc-3node.source.txt.
    return {
        "name": "t", "machine": {"cpus": 2, "slots": 4, "maxmem": "8G", "nodes": [
            {"memory": "2G", "cpus": [0]}, {"memory": "1G", "cpus": [1]}, {"memory": "1G"}]},
        "srat": {"hotplug_nodes": hotplug_nodes},
    }


def test_qemu_equivalent_table_is_byte_identical_to_qemu_7_2() -> None:
    scenario = parse_scenario(_three_node([]))
    real = (FIXTURES / "acpi" / "qemu-7.2-pc-3node.srat.aml").read_bytes()
    assert srat_bytes(scenario, compute_layout(scenario), oem_revision=1) == real


def test_override_marks_only_the_chosen_node_and_raises_revision() -> None:
    scenario = parse_scenario(_three_node([2]))
    srat = decode_srat(srat_bytes(scenario, compute_layout(scenario)))
    assert srat.header.oem_revision == 2
    assert (srat.header.oem_id, srat.header.oem_table_id) == ("BOCHS ", "BXPC    ")
    hot = {(m.proximity_domain, m.base_address) for m in srat.memory_affinities if m.hot_pluggable}
    # node 2's boot RAM, and QEMU's device-memory window (also on the last node)
    assert hot == {(2, 0x100000000), (2, 0x140000000)}


def test_explicit_interleaved_ranges_are_emitted_as_given() -> None:
    data = _three_node([])
    data["srat"] = {"ranges": [
        {"start": 0, "size": "1G", "node": 0}, {"start": "1G", "size": "1G", "node": 1},
        {"start": "2G", "size": "1G", "node": 0}, {"start": "4G", "size": "1G", "node": 1, "hotplug": True}]}
    scenario = parse_scenario(data)
    mems = [m for m in build_srat(scenario, compute_layout(scenario)).subtables
            if isinstance(m, MemoryAffinity) and m.length]
    assert [(m.proximity_domain, m.base_address, m.hot_pluggable) for m in mems][:4] == [
        (0, 0, False), (1, 1 << 30, False), (0, 2 << 30, False), (1, 4 << 30, True)]


def test_slit_override_carries_the_distances_and_passes_the_kernels_rules() -> None:
    from acpi_tables.override_cpio import check_upgrade
    from acpi_tables.slit import decode_slit
    from harness.scenario.tables import slit_bytes

    data = _three_node([])
    data["slit"] = {"source": "override", "distances": [[10, 21, 31], [21, 10, 17], [31, 17, 10]]}
    table = slit_bytes(parse_scenario(data))
    slit = decode_slit(table)
    assert slit.distances == ((10, 21, 31), (21, 10, 17), (31, 17, 10))
    assert (slit.header.oem_id, slit.header.oem_table_id, slit.header.oem_revision) == ("BOCHS ", "BXPC    ", 2)
    assert check_upgrade(table, None) == []
    # QEMU's own SLIT (fixtures/acpi) has revision 1 and the same IDs: ours replaces it.
    qemu = decode_slit((FIXTURES / "acpi" / "qemu-7.2-pc-3node.slit.aml").read_bytes())
    assert check_upgrade(table, qemu.header) == []
