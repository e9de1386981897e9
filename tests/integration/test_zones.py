"""kernelcore= on a real boot (issue 13's machine): the kernel's ZONE_MOVABLE starts are the
model's, and ZONE_MOVABLE sized from the command line still holds boot memory."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.run.verdict import Verdict

pytestmark = pytest.mark.integration

SCENARIOS = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios"


def test_kernelcore_zone_starts_are_the_model_s(shared_run) -> None:
    result = shared_run(SCENARIOS / "four-node-kernelcore.toml")
    assert result.verdict is Verdict.PASS, result.summary()
    zones = {c.name: c for c in result.model_checks if "ZONE_MOVABLE" in c.name}
    assert len(zones) == 4 and all(c.ok for c in zones.values()), zones
    assert zones["model agrees: ZONE_MOVABLE of node 3"].observed == "0x160400000"
    # The refused top block of node 3 is predicted from its boot reservations, not assumed.
    top = next(c for c in result.model_checks if c.name == "model agrees: action offline-node3-top")
    assert top.ok and "NODE_DATA(3)" in top.reason


def test_memmap_on_memory_frees_the_normal_dimm_and_the_model_counts_its_pages(shared_run) -> None:
    """auto-movable puts d1 in ZONE_NORMAL; with memmap_on_memory d2's memmap is inside d2,
    so d1 is ejected first; the memmap pages the guest keeps inside the DIMM-only zones
    (present - managed) are the model's: 6.12 puts them in every DIMM, 6.1 in the
    one-block DIMM only."""
    result = shared_run(SCENARIOS / "two-node-memmap-on-memory.toml")
    assert result.verdict is Verdict.PASS, result.summary()
    zones = {c.name: c.observed for c in result.checks if c.name.startswith("DIMM ")}
    assert zones == {"DIMM d0 onlined to": "Movable", "DIMM d1 onlined to": "Normal",
                     "DIMM d2 onlined to": "Movable"}
    pages = {c.name: c for c in result.model_checks if "memmap pages inside" in c.name}
    assert pages and all(c.ok for c in pages.values()), pages
    last = pages["model agrees: memmap pages inside node 1 Movable after add-d2"].observed
    assert last == ("4608" if result.release and result.release.startswith("6.12") else "512")
    assert all(c.ok for c in result.model_checks if "DIMM" in c.name)
