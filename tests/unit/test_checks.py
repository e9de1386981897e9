"""Every check says in words what was expected and what was seen (no ``expected None,
observed None``), in result.json and in the summary; the words never move a verdict."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.analysis.pinning import HotplugStatus
from harness.logparse import load_boot_log
from harness.run import checks
from harness.run.artifacts import Check
from harness.run.checks import BootFacts
from harness.run.verdict import RunResult
from harness.scenario.schema import load_scenario

ROOT = Path(__file__).resolve().parents[2]
NAMES = ("three-node-movable", "three-node-no-movable-node", "two-node-initrd-pinned",
         "two-node-dimms", "two-node-dimm-refused")


def _judged(name: str, version: str = "6.1", facts: BootFacts | None = None,
            guest_error: str | None = None) -> RunResult:
    scenario = load_scenario(ROOT / "fixtures" / "scenarios" / f"{name}.toml")
    log = ROOT / "fixtures" / "logs" / "recorded" / f"memhp-{version}-{name}.log"
    result = RunResult(name, f"debian:{version}")
    checks.evaluate(result, scenario, facts or BootFacts.of(load_boot_log(log)), None, [], guest_error)
    return result


def _check(result: RunResult, name: str) -> Check:
    return next(c for c in result.checks if c.name.startswith(name))


@pytest.mark.parametrize("version", ["6.1", "6.12"])
@pytest.mark.parametrize("name", NAMES)
def test_no_check_says_none_true_or_false(name: str, version: str) -> None:
    result = _judged(name, version)
    checks.distances(result, ((10, 20), (20, 10)), None)
    checks.guest_table(result, b"SRAT", b"SRAT")
    for check in result.checks:
        words = (check.expected, check.observed)
        assert all(words) and not {"None", "True", "False"} & set(" ".join(words).split()), check
    assert " None" not in result.summary()


def test_a_clean_boot_reads_as_what_was_seen() -> None:
    lines = _judged("three-node-movable").summary().splitlines()
    assert "  ok   no kernel panic: none in the console log" in lines
    assert "  ok   guest answered to the end: answered every request" in lines
    assert "  ok   node 0 has no ZONE_MOVABLE: no ZONE_MOVABLE" in lines
    assert "  ok   SRAT hotplug mark of node 2 honoured: honoured" in lines
    assert any(line.startswith("  ok   SRAT override took effect: 'override [SRAT-BOCHS -BXPC    ]' at line ")
               for line in lines), lines
    assert "  FAIL action offline-node2 (offline_node): not run (expected: success) — the guest was gone before this action" in lines


def test_a_panic_and_a_lost_guest_say_what_happened() -> None:
    facts = BootFacts.of(load_boot_log(ROOT / "fixtures/logs/recorded/memhp-6.1-three-node-movable.log"))
    panicked = dataclasses.replace(facts, log=dataclasses.replace(
        facts.log, panic="Kernel panic - not syncing: sysrq triggered crash"))
    result = _judged("three-node-movable", facts=panicked, guest_error="boot: no answer within 15 s")
    panic, gone = _check(result, "no kernel panic"), _check(result, "guest answered")
    assert (panic.ok, panic.observed) == (False, '"Kernel panic - not syncing: sysrq triggered crash"')
    assert (gone.ok, gone.observed) == (False, "boot: no answer within 15 s")
    lines = result.summary().splitlines()
    assert ('  FAIL no kernel panic: "Kernel panic - not syncing: sysrq triggered crash" '
            "(expected: none in the console log)") in lines
    assert "  FAIL guest answered to the end: boot: no answer within 15 s (expected: answered every request)" in lines
    assert result.artifact().checks[0].to_json()["observed"] == panic.observed


def test_a_missing_override_line_is_said_as_such() -> None:
    facts = BootFacts.of(load_boot_log(ROOT / "fixtures/logs/recorded/memhp-6.1-three-node-movable.log"))
    result = _judged("three-node-movable", facts=dataclasses.replace(
        facts, log=dataclasses.replace(facts.log, table_upgrades=())))
    override = _check(result, "SRAT override took effect")
    assert (override.ok, override.observed) == (False, "no 'ACPI: Table Upgrade: override [SRAT-…]' line in the log")


@pytest.mark.parametrize("status, words, ok", [
    (HotplugStatus.CLEARED, "cleared", True),
    (HotplugStatus.PARTIAL, "partly cleared", True),  # part cleared is not honoured, as before
    (HotplugStatus.HONOURED, "honoured", False),
    (HotplugStatus.UNKNOWN, "not decided: no MEMBLOCK dump in the log", False),
])
def test_a_hotplug_mark_is_said_by_its_status_and_judged_as_before(status: HotplugStatus, words: str,
                                                                  ok: bool) -> None:
    facts = BootFacts.of(load_boot_log(ROOT / "fixtures/logs/recorded/memhp-6.1-two-node-initrd-pinned.log"))
    finding = dataclasses.replace(facts.findings[0], status=status)
    check = _check(_judged("two-node-initrd-pinned", facts=dataclasses.replace(facts, findings=(finding,))),
                   "SRAT hotplug mark of node 1")
    assert (check.expected, check.observed, check.ok) == ("cleared", words, ok)


def test_the_real_pinned_node_names_its_pinning_reservation() -> None:
    check = _check(_judged("two-node-initrd-pinned"), "SRAT hotplug mark of node 1")
    assert (check.observed, check.ok) == ("cleared", True) and "initrd" in check.reason


def test_distances_and_the_guest_table_in_words() -> None:
    result = RunResult("s", "k")
    checks.distances(result, ((10, 20), (20, 10)), ((10, 20), (20, 10)))
    checks.distances(result, ((10, 20), (20, 10)), ((10, 21), (21, 10)))
    checks.distances(result, ((10, 20), (20, 10)), None)
    checks.guest_table(result, b"SRAT", b"SRAT")
    checks.guest_table(result, b"SRAT", b"SRAT-other")
    assert [(c.observed, c.ok) for c in result.checks] == [
        ("10 20; 20 10", True), ("10 21; 21 10", False), ("none read from the guest", False),
        ("the override, byte for byte", True), ("another table: 10 bytes, the override 4", False)]
    assert all(c.expected == "10 20; 20 10" for c in result.checks[:3])
