"""The false claims of each must-fail sibling: the checks a run of it must fail, no more.

Each sibling declares them itself (``false_claims`` in its file, which a matrix holds its
run to as well); the boot (tests/integration/test_scenarios.py) and the offline check
from recorded boots and the simulator (tests/unit/test_must_fail_offline.py) demand the
same reasons.
"""
from __future__ import annotations

from pathlib import Path

from harness.scenario.schema import load_scenario

SIBLINGS = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "scenarios" / "must-fail").glob("*.toml"))
MUST_FAIL: dict[str, set[str]] = {p.stem: set(load_scenario(p).false_claims) for p in SIBLINGS}
