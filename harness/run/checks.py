"""Turn a run's observations into checks: each expectation of the scenario against what was
seen, both said in words (``no kernel panic: none in the console log``)."""
from __future__ import annotations

from dataclasses import dataclass

from harness.analysis.pinning import (
    AttributedReservation,
    HotplugRangeReservation,
    HotplugStatus,
    NodeHotplugFinding,
    hotplug_findings,
    reservations_in_hotplug_ranges,
)
from harness.guest.actions import ActionResult
from harness.guest.state import GuestSnapshot
from harness.logparse import BootLog
from harness.run.boot_ram import eject_refusal_words, headline
from harness.run.verdict import RunResult
from harness.scenario.layout import MemoryLayout, compute_layout
from harness.scenario.schema import Scenario, SratSource
from harness.units import hex_range


@dataclass(frozen=True)
class BootFacts:
    """The parsed console log and what pinning derives from it: computed once per run, read
    by the checks, the model agreement and model.json."""

    log: BootLog
    findings: tuple[NodeHotplugFinding, ...]
    reservations: tuple[HotplugRangeReservation, ...]

    @classmethod
    def of(cls, log: BootLog) -> BootFacts:
        return cls(log, hotplug_findings(log), reservations_in_hotplug_ranges(log))


NO_MOVABLE = "no ZONE_MOVABLE"
ANSWERED = "answered every request"
NO_PANIC = "none in the console log"
SAME_SRAT = "the override, byte for byte"
# The words for each pinning status (harness.analysis.pinning.HotplugStatus).
HOTPLUG_WORDS = {
    HotplugStatus.HONOURED: "honoured",
    HotplugStatus.CLEARED: "cleared",
    HotplugStatus.PARTIAL: "partly cleared",
    HotplugStatus.NO_BOOT_MEMORY: "not decided: no boot memory in its ranges",
    HotplugStatus.UNKNOWN: "not decided: no MEMBLOCK dump in the log",
}


def movable_words(start: int | None) -> str:
    return NO_MOVABLE if start is None else f"{start:#x}"


def honoured_words(honoured: bool | None) -> str:
    """An expected or predicted hotplug mark: ``honoured``/``cleared``."""
    return "not marked" if honoured is None else "honoured" if honoured else "cleared"


def _override_line(log: BootLog) -> str | None:
    """``ACPI: Table Upgrade: override [SRAT-…]`` (drivers/acpi/tables.c:acpi_table_initrd_override)."""
    for u in log.table_upgrades:
        if u.signature == "SRAT" and u.action == "override":
            return f"'override [SRAT-{u.oem_id}-{u.oem_table_id}]' at line {u.line}"
    return None


def _srat_checks(result: RunResult, scenario: Scenario, log: BootLog) -> None:
    line = _override_line(log)
    seen = line or "no 'ACPI: Table Upgrade: override [SRAT-…]' line in the log"
    if scenario.srat.source is SratSource.OVERRIDE:
        result.add("SRAT override took effect", "an override line", seen, ok=line is not None)
    elif scenario.expect.table_upgrade is not None:
        wanted = "an override line" if scenario.expect.table_upgrade else "no override line"
        result.add("SRAT table upgrade", wanted, seen,
                   ok=scenario.expect.table_upgrade == (line is not None))


def _zone_checks(result: RunResult, scenario: Scenario, log: BootLog,
                 guest: GuestSnapshot | None) -> None:
    guest_movable = guest.movable_nodes() if guest else {}
    for exp in scenario.expect.movable:
        seen = log.movable_zone_start.get(exp.node)
        reason = f"guest zoneinfo: Movable on node {exp.node} from {movable_words(guest_movable.get(exp.node))}"
        result.add(f"ZONE_MOVABLE of node {exp.node} starts at", movable_words(exp.start),
                   movable_words(seen), reason)
    for node in scenario.expect.not_movable:
        seen = log.movable_zone_start.get(node)
        result.add(f"node {node} has no ZONE_MOVABLE", NO_MOVABLE, movable_words(seen))


def _pin(reservation: AttributedReservation) -> str:
    region = reservation.region
    return f"[{hex_range(region.base, region.end)}] {', '.join(reservation.callers)}"


def _hotplug_checks(result: RunResult, scenario: Scenario, facts: BootFacts) -> None:
    findings = {f.node: f for f in facts.findings}
    for exp in scenario.expect.hotplug:
        name = f"SRAT hotplug mark of node {exp.node} honoured"
        finding = findings.get(exp.node)
        if finding is None:
            result.add(name, honoured_words(exp.honoured), "no hotplug range in the SRAT lines", ok=False)
            continue
        reason = ""
        if finding.honoured is False:
            reason = "SRAT hotplug range not honoured; the kernel cleared the mark, pinned by: " + (
                "; ".join(_pin(p) for p in finding.pinned_by) or "no reservation identified")
        # PARTIAL counts as not honoured, as the kernel's flags say for part of the node.
        result.add(name, honoured_words(exp.honoured), HOTPLUG_WORDS[finding.status], reason,
                   ok=exp.honoured == finding.honoured)


def _dimm_zone_checks(result: RunResult, scenario: Scenario, actions: list[ActionResult]) -> None:
    """Each expected DIMM zone against the zone its dimm_add saw (the first add of it)."""
    for exp in scenario.expect.dimm_zones:
        added = next((a for a in actions if a.do == "dimm_add" and a.dimm and a.dimm.id == exp.dimm), None)
        onlined = added.dimm.onlined if added and added.dimm else None
        seen = onlined.zone if onlined else "not added" if added is None else "no blocks seen"
        why = "" if onlined is None else f"auto_online_blocks {onlined.hotplug_params.auto_online_blocks}"
        result.add(f"DIMM {exp.dimm} onlined to", exp.zone, seen, why)


def _action_checks(result: RunResult, scenario: Scenario, log: BootLog,
                   actions: list[ActionResult], guest_error: str | None,
                   interrupted: str | None) -> None:
    done = {a.id: a for a in actions}
    for action in scenario.actions:
        res = done.get(action.id)
        # One name whatever happened, so that memhp compare sets a crash beside a pass.
        name = f"action {action.id} ({action.do})"
        if res is None:
            if action.id == interrupted:  # the guest or QEMU died while this action ran
                result.add(name, action.expect.value, "interrupted",
                           f"during this action: {guest_error}", ok=False)
            else:
                result.add(name, action.expect.value, "not run",
                           "the guest was gone before this action", ok=False)
            continue
        reason = res.reason
        if not res.succeeded and res.unplug is not None and not res.unplug.deleted:
            reason = f"{res.reason}; {eject_refusal_words(res, log)}"
        result.add(name, res.expected,
                   "success" if res.succeeded else "failure", reason, ok=res.matched)


def evaluate(result: RunResult, scenario: Scenario, facts: BootFacts, guest: GuestSnapshot | None,
             actions: list[ActionResult], guest_error: str | None,
             interrupted: str | None = None, *, layout: MemoryLayout | None = None) -> None:
    """``interrupted``: the id of the action during which the guest stopped answering;
    ``layout``: the run's (computed here only for a caller that has none)."""
    panic = facts.log.panic
    result.add("no kernel panic", NO_PANIC, NO_PANIC if panic is None else f'"{panic}"')
    result.add("guest answered to the end", ANSWERED, guest_error or ANSWERED)
    _srat_checks(result, scenario, facts.log)
    _zone_checks(result, scenario, facts.log, guest)
    _hotplug_checks(result, scenario, facts)
    _action_checks(result, scenario, facts.log, actions, guest_error, interrupted)
    _dimm_zone_checks(result, scenario, actions)
    result.headline = headline(scenario, layout or compute_layout(scenario), facts.log, actions)


def guest_table(result: RunResult, built: bytes, seen: bytes) -> None:
    """The SRAT the guest reads in /sys/firmware/acpi/tables is byte for byte the one we built."""
    observed = SAME_SRAT if built == seen else (
        f"another table: {len(seen)} bytes, the override {len(built)}")
    result.add("guest's SRAT is the override", SAME_SRAT, observed,
               "" if built == seen else "the kernel kept another table")


def distance_words(rows: tuple[tuple[int, ...], ...] | None) -> str:
    """``10 20; 20 10``: one row per node, as sysfs prints them."""
    if rows is None:
        return "none read from the guest"
    return "; ".join(" ".join(str(d) for d in row) for row in rows)


def distances(result: RunResult, expected: tuple[tuple[int, ...], ...],
              seen: tuple[tuple[int, ...], ...] | None) -> None:
    """Node distances as the guest reports them in sysfs, against the scenario's."""
    same = seen is not None and [list(r) for r in seen] == [list(r) for r in expected]
    result.add("node distances", distance_words(expected), distance_words(seen),
               "" if same else "the guest's /sys/devices/system/node/*/distance", ok=same)


def reserved_in_hotplug_ranges(facts: BootFacts) -> tuple[str, ...]:
    """Every reservation left inside an SRAT hotplug range, with its callers: the check the
    kernel itself lacks (memory that can never be hot-removed while it holds these)."""
    return tuple(f"node {r.hotplug_node}: {_pin(r.reservation)}" for r in facts.reservations)
