"""Shipped scenarios on q35 as on pc: the same scenario with ``machine.type = "q35"`` (a
file that extends it), on the session's QEMU and kernel. q35 splits RAM at 2 GiB once it
reaches 0xb0000000 (hw/i386/pc_q35.c), pc at 3 GiB: where a scenario states an address
that depends on the split, the q35 file states q35's.

Two boots: the SRAT override with an offline node and a DIMM added and ejected through
q35's ACPI memory hotplug, and a whole node (CPU, boot-RAM DIMM) removed.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from harness.run.verdict import Verdict

pytestmark = pytest.mark.integration

SCENARIOS = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios"
# Per scenario: what q35 changes beside the machine type.
ON_Q35 = {
    # 2G+1G+1G: q35 keeps 2G below 4G, so node 1 moves to 4G and node 2 to 5G.
    "three-node-movable": {"expect": {"movable": [{"node": 2, "start": "0x140000000"}]}},
    "two-node-remove-movable": {},
}


@pytest.mark.parametrize("name", sorted(ON_Q35))
def test_shipped_scenario_passes_on_q35(shared_run, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    variant = tmp_path / f"{name}-q35.toml"
    data = {"extends": str(SCENARIOS / f"{name}.toml"), "name": f"{name}-q35",
            "machine": {"type": "q35"}, **ON_Q35[name]}
    variant.write_text(tomli_w.dumps(data))
    result = shared_run(variant)
    assert result.verdict is Verdict.PASS, result.summary()
    assert result.info.qemu is not None and "q35" in result.info.qemu.machine, result.info.qemu
    assert not [c for c in result.model_checks if not c.ok], result.summary()
