"""Import the synthetic interleaved field log, boot the scenario, compare the guest's SRAT with the field's."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.field_import import import_to_file
from harness.logparse import load_boot_log
from harness.runner import RunOptions, run_scenario

pytestmark = pytest.mark.integration

FIELD_LOG = Path(__file__).resolve().parents[2] / "fixtures" / "field" / "synthetic-interleaved-2node.log"


def test_interleaved_field_log_boots_with_the_same_srat_shape(tmp_path: Path) -> None:
    imported = import_to_file(FIELD_LOG, None, tmp_path / "field.toml")
    out = tmp_path / "run"
    run_scenario(tmp_path / "field.toml", RunOptions(out_dir=out, accel="tcg"))
    guest = load_boot_log(out / "console.log")
    field = load_boot_log(FIELD_LOG)

    def shape(srat):  # node order, interleaving and hotplug marks, sizes aside
        return [(s.node, s.hotplug) for s in srat]

    assert shape(guest.srat_memory) == shape(field.srat_memory) == [(0, False), (1, True), (0, False), (1, True)]
    assert [(s.start, s.end) for s in guest.srat_memory] == [(r.start, r.end) for r in imported.ranges]
    # memblock's view agrees: each early node range sits on the node the field put there.
    guest_nodes = [r.node for r in guest.early_node_ranges if r.end - r.start >= 1 << 27]
    assert guest_nodes == [0, 1, 0, 1]
