"""Import the synthetic interleaved field log, boot the scenario, compare the guest's SRAT with the field's.

The boots enter the kernel through PVH (half a bzImage boot): these tests are about the
tables the kernel reads, not how it is entered."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.logparse import load_boot_log
from harness.run.runner import RunOptions, run_scenario
from harness.run.verdict import Verdict
from harness.scenario.field_import import import_to_file

pytestmark = pytest.mark.integration

FIELD_LOG = Path(__file__).resolve().parents[2] / "fixtures" / "field" / "synthetic-interleaved-2node.log"


def test_interleaved_field_log_boots_with_the_same_srat_shape(tmp_path: Path) -> None:
    imported = import_to_file(FIELD_LOG, None, tmp_path / "field.toml")
    out = tmp_path / "run"
    result = run_scenario(tmp_path / "field.toml", RunOptions(out_dir=out, accel="tcg", boot="pvh"))
    # The scenario expects the field's ZONE_MOVABLE (node 1) and none on node 0.
    assert result.verdict is Verdict.PASS, result.summary()
    guest = load_boot_log(out / "console.log")
    field = load_boot_log(FIELD_LOG)

    def shape(srat):  # node order, interleaving and hotplug marks, sizes aside
        return [(s.node, s.hotplug) for s in srat]

    assert imported.initrd_zone is not None
    field_like = [s for s in guest.srat_memory if s.start != imported.initrd_zone.start]
    assert shape(field_like) == shape(field.srat_memory) == [(0, False), (1, True), (0, False), (1, True)]
    assert [(s.start, s.end) for s in guest.srat_memory] == [(r.start, r.end) for r in imported.ranges]
    assert guest.movable_zone_start == {1: 2 << 30} and set(field.movable_zone_start) == {1}
    # memblock's view agrees: each early node range sits on the node the SRAT put there.
    guest_nodes = [r.node for r in guest.early_node_ranges if r.end - r.start >= 1 << 26]
    assert guest_nodes == [0, 1, 0, 0, 1]


def test_real_server_srat_boots_with_its_eight_nodes_in_order(tmp_path: Path) -> None:
    # AMD EPYC SRAT from a public acpidump (fixtures/acpi/README.md), imported without a log.
    table = FIELD_LOG.parents[1] / "acpi" / "amd-epyc-diesel.srat.acpidump.txt"
    imported = import_to_file(None, table, tmp_path / "epyc.toml")
    result = run_scenario(tmp_path / "epyc.toml", RunOptions(out_dir=tmp_path / "run", accel="tcg", boot="pvh"))
    assert result.verdict is Verdict.PASS, result.summary()
    guest = load_boot_log(tmp_path / "run" / "console.log")
    assert [s.node for s in guest.srat_memory] == [r.field.node for r in imported.ranges]
    assert sorted({s.node for s in guest.srat_memory}) == list(range(8))
    assert guest.movable_zone_start == {}


LKP_LOG = FIELD_LOG.parent / "lkp-wsx02-4node-hotplug-windows.log"


def test_hotplug_only_field_ranges_boot_as_windows_a_dimm_hot_adds_into(tmp_path: Path) -> None:
    imported = import_to_file(LKP_LOG, None, tmp_path / "lkp.toml")
    # One window's optional DIMM, on field node 2: it must land in that node's window.
    window = next(w for w in imported.windows if w.field.node == 2)
    (tmp_path / "add.toml").write_text(
        f'extends = "lkp.toml"\n[[actions]]\nid = "add"\ndo = "dimm_add"\ndimm = "{window.dimm}"\n')
    out = tmp_path / "run"
    result = run_scenario(tmp_path / "add.toml", RunOptions(out_dir=out, accel="tcg", boot="pvh"))
    assert result.verdict is Verdict.PASS, result.summary()
    guest = load_boot_log(out / "console.log")
    hot = [(s.node, s.start, s.end) for s in guest.srat_memory if s.hotplug]
    # Every field window is a hotplug range on its node; QEMU's rest of the area follows.
    assert hot[:8] == [(w.field.node, w.start, w.end) for w in imported.windows]
    added = next(c for c in result.checks if c.name.startswith("action add"))
    assert added.ok and added.reason.endswith(f"appeared at {window.start:#x}")
