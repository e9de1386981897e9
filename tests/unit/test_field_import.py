"""memhp import: field logs → scaled scenarios that keep order, interleaving, holes and hotplug marks."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from acpi_tables.srat import MemoryAffinity
from harness.analysis.field_compare import Kind, compare_logs
from harness.cli import main
from harness.errors import BadInputError
from harness.logparse import load_boot_log, parse_boot_log
from harness.memblock.numa import SratMemory
from harness.qemu.cmdline import build_command
from harness.qemu.devices import dimm_args
from harness.qemu.machine import Channels
from harness.scenario.field_import import import_field, import_to_file
from harness.scenario.field_report import format_table
from harness.scenario.field_scale import UNIT, apportion, even_units, scale
from harness.scenario.layout import compute_layout
from harness.scenario.schema import load_scenario, parse_scenario
from harness.scenario.tables import build_srat

FIELD = Path(__file__).resolve().parents[2] / "fixtures" / "field"
G = 1 << 30
M = 1 << 20


def _shape(imported):  # (node, hotplug) in guest address order
    return [(r.field.node, r.field.hotplug) for r in imported.ranges]


def _check_guest_budget(imported) -> None:
    for r in imported.ranges:
        assert r.start % UNIT == 0 and r.size % UNIT == 0 and r.size >= UNIT
    assert sum(n.memory for n in imported.scenario.machine.nodes) <= 8 * G


def test_synthetic_interleaved_keeps_order_and_hotplug() -> None:
    imported = import_field(FIELD / "synthetic-interleaved-2node.log")
    assert imported.ram_source == "e820"
    # QEMU's initrd goes to the top of low RAM: that block is node 0's so node 1 stays movable.
    assert [(r.start, r.end) for r in imported.ranges] == [
        (0, 2 * G), (2 * G, 3 * G - 128 * M), (3 * G - 128 * M, 3 * G),
        (4 * G, 4 * G + 768 * M), (4 * G + 768 * M, 4 * G + 1536 * M)]
    assert imported.initrd_zone is imported.ranges[2]
    assert _shape(imported) == [(0, False), (1, True), (0, False), (0, False), (1, True)]
    expect = imported.scenario.expect
    assert [(m.node, m.start) for m in expect.movable] == [(1, 2 * G)] and expect.not_movable == (0,)
    assert imported.holes == () and imported.dropped == ()
    assert imported.field_kernel_node == imported.guest_kernel_node == 0
    assert imported.scenario.kernel.cmdline == "movable_node"
    _check_guest_budget(imported)


def test_azure_four_nodes_interleave_around_node0_with_holes() -> None:
    imported = import_field(FIELD / "azure-4node-triton-4154.log")
    assert imported.ram_source.startswith("SRAT ranges")
    assert _shape(imported)[:7] == [(0, True), (0, True), (0, True), (1, True), (2, True), (3, True), (0, True)]
    assert all(hot for _, hot in _shape(imported))
    assert len(imported.scenario.machine.nodes) == 4
    # 1 TiB gap between the first two node-0 ranges above 4 GiB: one reserved block.
    first_hole = imported.holes[0]
    assert (first_hole.field_start, first_hole.field_end) == (0xFE0000000, 0x10FE0000000)
    assert imported.ranges[1].end == first_hole.start and first_hole.end == imported.ranges[2].start
    assert f"memmap=128M${first_hole.start:#x}" in imported.scenario.kernel.cmdline
    _check_guest_budget(imported)


def test_vmware_hotplug_window_above_boot_ram() -> None:
    imported = import_field(FIELD / "vmware-1node-ponyai-12.log")
    assert _shape(imported) == [(0, False), (0, False), (0, True)]
    assert [d.start for d in imported.dropped] == [0]  # the 640K base memory range
    assert imported.ranges[0].start == 0 and imported.ranges[0].size == 3 * G
    assert imported.ranges[2].size > imported.ranges[1].size  # 60G window stays the larger one
    _check_guest_budget(imported)


def test_written_scenario_loads_back(tmp_path: Path) -> None:
    out = tmp_path / "s.toml"
    imported = import_to_file(FIELD / "synthetic-interleaved-2node.log", None, out)
    assert load_scenario(out) == imported.scenario
    assert tomllib.loads(out.read_text())["srat"]["ranges"][1] == {
        "start": "0x80000000", "size": "896M", "node": 1, "hotplug": True}


def test_log_whose_srat_holds_no_ram_is_refused() -> None:
    path = FIELD / "wsl2-hyperv-nixos-wsl-966.log"
    with pytest.raises(BadInputError, match=r"wsl2-hyperv-nixos-wsl-966\.log: no SRAT memory range holds RAM"):
        import_field(path)


def test_log_without_srat_lines_is_refused(tmp_path: Path) -> None:
    log = tmp_path / "plain.log"
    log.write_text("[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009ffff] usable\n")
    with pytest.raises(BadInputError, match=r"plain\.log: no 'ACPI: SRAT") as err:
        import_field(log)
    assert "\n" not in str(err.value)


def test_binary_file_is_refused_naming_it(tmp_path: Path) -> None:
    blob = tmp_path / "blob.log"
    blob.write_bytes(bytes(range(32)) * 64)
    with pytest.raises(BadInputError, match=r"blob\.log"):
        import_field(blob)


def test_srat_binary_gives_ranges_and_hotplug_marks(tmp_path: Path) -> None:
    imported = import_field(FIELD / "synthetic-interleaved-2node.log", FIELD.parent / "acpi" / "qemu-7.2-pc-3node.srat.aml")
    # QEMU's 3-node table, clipped to the synthetic log's e820 RAM: three nodes in address order.
    assert [n for n, _ in _shape(imported)] == sorted(n for n, _ in _shape(imported))
    assert {n for n, _ in _shape(imported)} == {0, 1, 2}


def test_apportion_gives_every_range_a_block() -> None:
    assert apportion([1, 1000, 1], 10) == [1, 8, 1]
    assert sum(apportion([3, 5, 7], 24)) == 24
    with pytest.raises(ValueError):
        apportion([1, 1, 1], 2)


def test_scale_without_ram_below_4g_is_refused() -> None:
    with pytest.raises(BadInputError, match="x.log: no SRAT range holds RAM below 4 GiB"):
        scale([SratMemory(node=0, start=8 * G, end=9 * G, hotplug=False)], "x.log")


def test_import_keeps_a_cpu_on_every_field_node_with_cpus() -> None:
    # R820: "SRAT: PXM 1 -> APIC 0x00 -> Node 0" ... 16 APIC ids on each of nodes 0-3.
    imported = import_field(FIELD / "linuxhw-dell-r820-4node-pxm1.log")
    assert imported.field_cpus == {0: 16, 1: 16, 2: 16, 3: 16}
    machine = imported.scenario.machine
    assert machine.cpus == 4 and [n.cpus for n in machine.nodes] == [(0,), (1,), (2,), (3,)]
    assert "CPUs per node, field->guest: node 0 16->1, node 1 16->1" in format_table(imported)


def test_import_without_cpu_affinity_lines_puts_the_one_cpu_on_node_0() -> None:
    # The Azure excerpt has SRAT memory lines only.
    imported = import_field(FIELD / "azure-4node-triton-4154.log")
    assert imported.field_cpus == {}
    assert imported.scenario.machine.cpus == 1
    assert [n.cpus for n in imported.scenario.machine.nodes][0] == (0,)


def test_memoryless_nodes_are_kept_with_their_cpu() -> None:
    # HPE DL325 Gen10 (EPYC 7351P): SRAT memory only on PXM 0 and 2; PXM 1 and 3 CPUs only,
    # "Initmem setup node 1 [mem 0x0000000000000000-0x0000000000000000]" in the field log.
    imported = import_field(FIELD / "hpe-dl325-epyc-4node-memoryless.log")
    assert imported.nodes == (0, 1, 2, 3)
    assert imported.field_cpus == {0: 8, 1: 8, 2: 8, 3: 8}
    machine = imported.scenario.machine
    assert [n.memory == 0 for n in machine.nodes] == [False, True, False, True]
    assert [n.cpus for n in machine.nodes] == [(0,), (1,), (2,), (3,)]
    # The override SRAT's memory ranges stay on guest nodes 0 and 2 (field nodes 0 and 2).
    assert sorted({r.node for r in imported.scenario.srat.ranges}) == [0, 2]
    table = format_table(imported)
    assert table.count("(memoryless: CPUs only)") == 2
    assert "node 1 8->1, node 2 8->1, node 3 8->1" in table


def test_memoryless_import_round_trips_through_toml(tmp_path: Path) -> None:
    imported = import_to_file(FIELD / "hpe-dl325-epyc-4node-memoryless.log", None, tmp_path / "x.toml")
    loaded = load_scenario(tmp_path / "x.toml")
    assert loaded == imported.scenario


def test_hotplug_only_ranges_become_per_node_windows_with_a_dimm_each() -> None:
    # lkp-wsx02: eight "[mem 0x2100000000-0x40ffffffff] hotplug"-like ranges, no RAM, two per node.
    imported = import_field(FIELD / "lkp-wsx02-4node-hotplug-windows.log")
    assert imported.dropped == ()
    windows = imported.windows
    assert [w.field.node for w in windows] == [0, 0, 1, 1, 2, 2, 3, 3]
    assert (windows[0].field.start, windows[0].field.end) == (0x2100000000, 0x4100000000)
    assert len({w.size for w in windows}) == 1  # equal in the field: equal in the guest
    layout = compute_layout(imported.scenario)
    ram_top = max(r.end for r in imported.ranges)
    assert layout.device_base == windows[0].start and windows[0].start >= ram_top
    assert all(a.end == b.start for a, b in zip(windows, windows[1:]))
    assert windows[-1].end <= layout.device_base + layout.device_size
    scenario = imported.scenario
    assert scenario.machine.slots == 8 and not any(d.coldplugged for d in scenario.dimms)
    assert [(d.id, d.node) for d in scenario.dimms] == [(w.dimm, w.field.node) for w in windows]
    hot = [(r.start, r.end, r.node) for r in layout.node_ranges if r.hotplug]
    assert hot == [(w.start, w.end, w.field.node) for w in windows]
    # Each optional DIMM hot-adds at its own window's base, on its window's node.
    placed = {d.id: d for d in layout.window_dimms}
    for w in windows:
        assert (placed[w.dimm].start, placed[w.dimm].node) == (w.start, w.field.node)
        _, device = dimm_args(scenario.dimm(w.dimm), layout)
        assert device["addr"] == w.start and device["node"] == w.field.node


def test_override_srat_writes_qemus_window_around_the_per_node_windows() -> None:
    imported = import_field(FIELD / "lkp-wsx02-4node-hotplug-windows.log")
    layout = compute_layout(imported.scenario)
    entries = [m for m in build_srat(imported.scenario, layout).subtables
               if isinstance(m, MemoryAffinity) and m.length]
    spans = sorted((m.base_address, m.base_address + m.length) for m in entries)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # no two entries overlap
    rest = [m for m in entries if m.base_address >= imported.windows[-1].end]
    assert [(m.proximity_domain, m.base_address) for m in rest] == [(3, imported.windows[-1].end)]


def test_window_without_room_for_its_dimm_is_refused(tmp_path: Path) -> None:
    imported = import_to_file(FIELD / "lkp-wsx02-4node-hotplug-windows.log", None, tmp_path / "x.toml")
    data = tomllib.loads(imported.toml)
    data["machine"]["slots"] = 9
    data["machine"]["maxmem"] = "8G"
    data["dimms"].append({"id": "big", "size": "1G", "node": 0})
    with pytest.raises(BadInputError, match="dimm big: no room left in node 0's hotplug windows"):
        compute_layout(parse_scenario(data, "x.toml"))


def test_import_table_lists_windows_and_what_was_not_kept() -> None:
    table = format_table(import_field(FIELD / "lkp-wsx02-4node-hotplug-windows.log"))
    assert "[mem 0x2100000000-0x40ffffffff] window" in table and "hotplug7" in table
    assert "not kept: CPUs: 80 in the field, 4 in the guest" in table


def test_even_units_keeps_equal_sizes_equal_and_order() -> None:
    assert even_units([16, 16, 16, 16, 16, 16, 16], 12) == [1] * 7
    assert even_units([12928, 16384, 16384, 16384], 16) == [3, 4, 4, 4]
    assert even_units([1, 1000, 1], 10) == [1, 8, 1]
    with pytest.raises(ValueError):
        even_units([1, 1, 1], 2)


def test_equal_field_nodes_stay_equal_and_node0_straddles_the_hole() -> None:
    # H8QG6: node 0 = low RAM + 12928M above 4 GiB, nodes 1-7 16 GiB each.
    imported = import_field(FIELD / "linuxhw-supermicro-h8qg6-8node.log")
    high = [r for r in imported.ranges if r.start >= 4 * G]
    assert [r.field.node for r in high] == list(range(8))
    assert len({r.size for r in high[1:]}) == 1  # nodes 1-7: equal
    assert high[0].size <= high[1].size  # node 0's smaller high part never gets more
    node0 = [r for r in imported.ranges if r.field.node == 0]
    assert min(r.start for r in node0) < 4 * G < max(r.end for r in node0)
    memory = [n.memory for n in imported.scenario.machine.nodes]
    assert len(set(memory[1:])) == 1


def test_field_pxm_numbering_goes_into_the_override() -> None:
    # R820: "ACPI: SRAT: Node 0 PXM 1 [mem 0x00000000-0x63fffffff]" ... PXM 4 -> node 3.
    imported = import_field(FIELD / "linuxhw-dell-r820-4node-pxm1.log")
    scenario = imported.scenario
    assert scenario.srat.pxm == (1, 2, 3, 4)
    srat = build_srat(scenario, compute_layout(scenario))
    cpus = [(t.proximity_domain, t.apic_id) for t in srat.subtables if not isinstance(t, MemoryAffinity)]
    assert cpus == [(1, 0), (2, 1), (3, 2), (4, 3)]
    memory = {m.proximity_domain for m in srat.subtables if isinstance(m, MemoryAffinity) and m.length}
    assert memory == {1, 2, 3, 4}
    assert "node 0 PXM 1, node 1 PXM 2, node 2 PXM 3, node 3 PXM 4" in format_table(imported)
    # PXM n -> node n needs no map.
    assert import_field(FIELD / "linuxhw-supermicro-h8qg6-8node.log").scenario.srat.pxm == ()


@pytest.mark.parametrize("pxm, slit, message", [
    ([1, 2], None, "srat.pxm has 2 entries, the machine has 3 nodes"),
    ([1, 1, 2], None, "srat: pxm: two nodes share a proximity domain"),
    ([1, 2, 3], [[10, 20, 20], [20, 10, 20], [20, 20, 10]], "cannot be combined with a slit"),
])
def test_bad_pxm_maps_are_refused(pxm, slit, message) -> None:
    data = {"name": "x", "machine": {"nodes": [{"memory": "1G"}] * 3}, "srat": {"pxm": pxm}}
    if slit:
        data["slit"] = {"distances": slit}
    with pytest.raises(BadInputError, match=message):
        parse_scenario(data, "x.toml")


R820 = FIELD / "linuxhw-dell-r820-4node-pxm1.log"
REPLICA = FIELD / "replica"


def test_full_size_replica_keeps_the_field_addresses_and_srat() -> None:
    imported = import_field(R820, budget=128 * G)
    assert imported.full_size and imported.scaled_because is None
    scenario = imported.scenario
    field = load_boot_log(R820)
    assert [(r.start, r.start + r.size, r.node) for r in scenario.srat.ranges] == [
        (s.start, s.end, s.node) for s in field.srat_memory]
    assert scenario.srat.pxm == (1, 2, 3, 4) and not scenario.machine.reserve
    layout = compute_layout(scenario)
    assert (layout.below_4g, layout.above_4g) == (3 * G, 93 * G)  # RAM up to 0x1840000000
    # Every field gap inside QEMU's RAM is reserved: e820 0xb672f000-0xb6b2efff (ACPI NVS) ...
    assert "memmap=0x400000$0xb672f000" in scenario.kernel.cmdline
    assert "memmap=0x3530000$0xbcad0000" in scenario.kernel.cmdline  # field RAM ends 0xbcad0000
    assert "memmap=0x10000$0x0" in scenario.kernel.cmdline  # field base memory from 0x10000
    argv = " ".join(build_command(scenario, Path("k"), Path("i"), Channels(Path("c"), Path("a"), Path("q"))))
    assert argv.count(",reserve=off") == 4
    assert "full size: the field's own addresses" in format_table(imported)


@pytest.mark.parametrize("log, budget, reason", [
    ("linuxhw-supermicro-h8qg6-8node.log", 512 * G, "field RAM below 4 GiB reaches 0xd7e60000"),
    ("lkp-wsx02-4node-hotplug-windows.log", 512 * G, "hotplug-only SRAT ranges"),
    ("linuxhw-dell-r820-4node-pxm1.log", 64 * G, "full size needs 96G of guest RAM, above the budget of 64G"),
    ("azure-4node-triton-4154.log", 512 * G, "the log shows no e820 map"),
])
def test_full_size_falls_back_to_scaled_and_says_why(log: str, budget: int, reason: str) -> None:
    imported = import_field(FIELD / log, budget=budget)
    assert not imported.full_size and reason in (imported.scaled_because or "")
    assert imported.scenario.machine.reserve
    assert f"scaled down: {imported.scaled_because}" in format_table(imported)


def test_replica_boot_log_is_identical_to_the_field_range_by_range() -> None:
    replica = REPLICA / "r820-full-size.debian-6.1.log"
    # The recorded boot is of the scenario this import writes today.
    assert all(w in load_boot_log(replica).command_line.split()
               for w in import_field(R820, budget=128 * G).scenario.kernel.cmdline.split())
    result = compare_logs(load_boot_log(R820), load_boot_log(replica))
    assert result.identical and result.differing == ()
    kinds = {r.kind for r in result.rows}
    assert {Kind.SRAT, Kind.PXM, Kind.SPAN, Kind.RANGE} <= kinds
    assert sum(r.kind is Kind.SRAT and r.same for r in result.rows) == 4
    base = [r for r in result.rows if r.kind is Kind.BASE]
    assert [(r.field, r.replica, r.same) for r in base] == [
        ("node 0 [mem 0x10000-0x9ffff]", "node 0 [mem 0x10000-0x9efff]", False)]


def test_near_miss_replica_is_told_apart() -> None:
    near = REPLICA / "r820-full-size-qemu-base-memory.debian-6.1.log"
    result = compare_logs(load_boot_log(R820), load_boot_log(near))
    assert not result.identical
    assert [(r.kind, r.field, r.replica) for r in result.differing] == [
        (Kind.SPAN, "node 0 [mem 0x10000-0x63fffffff]", "node 0 [mem 0x1000-0x63fffffff]")]


def test_scaled_boot_is_not_a_replica_and_cli_exit_codes(capsys) -> None:
    near = REPLICA / "r820-full-size-qemu-base-memory.debian-6.1.log"
    assert main(["field-compare", str(R820), str(REPLICA / "r820-full-size.debian-6.1.log")]) == 0
    assert main(["field-compare", str(R820), str(near)]) == 1
    assert "DIFFERENT: 1 rows differ" in capsys.readouterr().out
    assert main(["field-compare", str(R820), str(FIELD / "missing.log")]) == 2
    # A field machine against another one: nothing lines up.
    other = compare_logs(load_boot_log(R820), load_boot_log(FIELD / "hpe-dl325-epyc-4node-memoryless.log"))
    assert not other.identical and any(r.kind is Kind.MEMORYLESS and not r.same for r in other.rows)


def test_memoryless_field_log_full_size_keeps_memoryless_nodes() -> None:
    imported = import_field(FIELD / "hpe-dl325-epyc-4node-memoryless.log", budget=128 * G)
    assert imported.full_size
    assert [n.memory == 0 for n in imported.scenario.machine.nodes] == [False, True, False, True]
    assert sum(n.memory for n in imported.scenario.machine.nodes) == compute_layout(imported.scenario).below_4g \
        + compute_layout(imported.scenario).above_4g


def test_memoryless_replica_on_6_12_is_identical_without_cpu_affinity_lines() -> None:
    replica = load_boot_log(REPLICA / "dl325-full-size.debian-6.12.log")
    # 6.12: "Initmem setup node 1 as memoryless" (mm/mm_init.c), no "SRAT: PXM -> APIC" lines.
    assert replica.memoryless_nodes == (1, 3) and replica.pxm_apic == ()
    result = compare_logs(load_boot_log(FIELD / "hpe-dl325-epyc-4node-memoryless.log"), replica)
    assert result.identical
    assert [(r.field, r.replica) for r in result.rows if r.kind is Kind.MEMORYLESS] == [("1,3", "1,3")]
    pxm = [r for r in result.rows if r.kind is Kind.PXM]
    assert pxm and not any(r.required for r in pxm) and not all(r.same for r in pxm)


def test_both_memoryless_lines_of_6_1_name_each_node_once() -> None:
    # 6.1 mm/page_alloc.c prints "Initializing node 1 as memoryless" and, in free_area_init,
    # "Initmem setup node 1 as memoryless"; 6.12 only the second.
    text = ("[    0.000000] Initmem setup node 0 [mem 0x0000000000001000-0x000000012fffffff]\n"
            "[    0.000000] Initializing node 1 as memoryless\n"
            "[    0.000000] Initmem setup node 1 as memoryless\n"
            "[    0.000000] Initmem setup node 3 as memoryless\n")
    log = parse_boot_log(text)
    assert log.memoryless_nodes == (1, 3) and log.unparsed_suspicious == 0
    assert set(log.initmem) == {0}
