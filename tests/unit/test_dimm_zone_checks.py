"""The per-DIMM zone checks and the model's memmap-page checks, on what the real runs of
fixtures/scenarios/two-node-memmap-on-memory.toml saw (dimm_add records copied from their
model.json: 6.1.0-57 and 6.12.117, 2026-12-01), with the recorded console of each."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.guest.actions import ActionResult, DimmOnlined, DimmSeen
from harness.guest.state import HotplugParams, ZoneInfo
from harness.logparse import load_boot_log
from harness.run import checks
from harness.run.artifacts import ActionRecord
from harness.run.checks import BootFacts
from harness.run.model_agreement import model_agreement
from harness.run.verdict import RunResult
from harness.scenario.layout import compute_layout
from harness.scenario.schema import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "fixtures" / "scenarios" / "two-node-memmap-on-memory.toml"
PARAMS = {"auto_online_blocks": "online", "online_policy": "auto-movable", "auto_movable_ratio": "301",
          "auto_movable_numa_aware": "Y", "memmap_on_memory": "Y"}
# (zone of the DIMM; node 1's Normal and Movable (start_pfn, present, managed) after its add)
SEEN = {
    "6.12": [("Movable", None, (1048576, 262144, 258048)),
             ("Normal", (1310720, 262144, 258048), (1048576, 262144, 258048)),
             ("Movable", (1310720, 262144, 258048), (1048576, 294912, 290304))],
    "6.1": [("Movable", None, (1048576, 262144, 262144)),  # 6.1: a 1G DIMM keeps no memmap inside
            ("Normal", (1310720, 262144, 262144), (1048576, 262144, 262144)),
            ("Movable", (1310720, 262144, 262144), (1048576, 294912, 294400))],
}
STARTS = (0x100000000, 0x140000000, 0x180000000)
SIZES = (1 << 30, 1 << 30, 128 << 20)


def _zone(name: str, seen: tuple[int, int, int] | None) -> dict[str, Any]:
    start, present, managed = seen or (0, 0, 0)
    return {"node": 1, "zone": name, "start_pfn": start, "spanned": present, "present": present, "managed": managed}


def _actions(version: str, zones: tuple[str, ...] | None = None) -> list[ActionResult]:
    out = []
    for i, (zone, normal, movable) in enumerate(SEEN[version]):
        onlined = DimmOnlined(zones[i] if zones else zone, HotplugParams(**PARAMS),
                              (ZoneInfo(**_zone("Normal", normal)), ZoneInfo(**_zone("Movable", movable))))
        out.append(ActionResult(f"add-d{i}", "dimm_add", "success", True, "blocks appeared",
                                dimm=DimmSeen(f"d{i}", STARTS[i], STARTS[i] + SIZES[i], onlined)))
    return out


def _run(version: str, actions: list[ActionResult]) -> RunResult:
    scenario = load_scenario(SCENARIO)
    log = ROOT / "fixtures" / "logs" / "recorded" / f"memhp-{version}-two-node-memmap-on-memory.log"
    facts = BootFacts.of(load_boot_log(log))
    result = RunResult(scenario.name, f"debian:{version}")
    checks.evaluate(result, scenario, facts, None, actions, None)
    model_agreement(result, scenario, compute_layout(scenario), facts, actions)
    return result


@pytest.mark.parametrize("version", ["6.1", "6.12"])
def test_the_model_counts_the_memmap_pages_inside_the_dimm_zones(version: str) -> None:
    result = _run(version, _actions(version))
    zone_checks = [c for c in result.checks if c.name.startswith("DIMM ")]
    assert [(c.name, c.observed, c.ok) for c in zone_checks] == [
        ("DIMM d0 onlined to", "Movable", True), ("DIMM d1 onlined to", "Normal", True),
        ("DIMM d2 onlined to", "Movable", True)]
    pages = {c.name: (c.expected, c.observed) for c in result.model_checks if "memmap pages" in c.name}
    last = pages["model agrees: memmap pages inside node 1 Movable after add-d2"]
    assert last == (("4608", "4608") if version == "6.12" else ("512", "512"))
    assert all(c.ok for c in result.model_checks), [c for c in result.model_checks if not c.ok]


def test_a_wrong_zone_fails_the_check_and_the_model() -> None:
    result = _run("6.12", _actions("6.12", ("Movable", "Movable", "Movable")))
    failed = [c.name for c in result.checks if not c.ok]
    assert "DIMM d1 onlined to" in failed
    assert "model agrees: DIMM d1 onlined to" in [c.name for c in result.model_checks if not c.ok]


def test_6_1_s_memmap_placement_disagrees_with_the_6_12_model() -> None:
    """The 6.1 guest's pages judged as a 6.12 boot: the 1G DIMMs should carry 4096 each."""
    version_log = _run("6.12", _actions("6.1"))
    wrong = {c.name: (c.expected, c.observed) for c in version_log.model_checks if not c.ok}
    assert wrong["model agrees: memmap pages inside node 1 Movable after add-d0"] == ("4096", "0")
    assert wrong["model agrees: memmap pages inside node 1 Normal after add-d1"] == ("4096", "0")


def test_a_dimm_that_was_not_added_is_no_zone() -> None:
    result = _run("6.12", [])
    check = next(c for c in result.checks if c.name == "DIMM d0 onlined to")
    assert (check.observed, check.ok) == ("not added", False)


def test_the_dimm_record_round_trips_through_model_json() -> None:
    record = ActionRecord.of(_actions("6.12")[2].to_json())
    assert record.dimm is not None and record.dimm.onlined is not None
    assert record.dimm.onlined.zone == "Movable" and record.dimm.onlined.hotplug_params.memmap_on_memory == "Y"
    assert [z.managed for z in record.dimm.onlined.zoneinfo] == [258048, 290304]
