"""kernelcore= on a real boot (issue 13's machine): the kernel's ZONE_MOVABLE starts are the
model's, and ZONE_MOVABLE sized from the command line still holds boot memory."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.run.verdict import Verdict

pytestmark = pytest.mark.integration

SCENARIOS = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios"


def test_kernelcore_zone_starts_are_the_model_s(memhp_run) -> None:
    result = memhp_run(SCENARIOS / "four-node-kernelcore.toml")
    assert result.verdict is Verdict.PASS, result.summary()
    zones = {c.name: c for c in result.model_checks if "ZONE_MOVABLE" in c.name}
    assert len(zones) == 4 and all(c.ok for c in zones.values()), zones
    assert zones["model agrees: ZONE_MOVABLE of node 3"].observed == "0x160400000"
    # The refused top block of node 3 is predicted from its boot reservations, not assumed.
    top = next(c for c in result.model_checks if c.name == "model agrees: action offline-node3-top")
    assert top.ok and "NODE_DATA(3)" in top.reason
