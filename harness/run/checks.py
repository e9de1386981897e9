"""Turn a run's observations into checks: each expectation of the scenario against what was seen."""
from __future__ import annotations

from harness.analysis.pinning import AttributedReservation, hotplug_findings, reservations_in_hotplug_ranges
from harness.guest.actions import ActionResult
from harness.guest.state import GuestSnapshot
from harness.logparse import BootLog
from harness.run.verdict import RunResult
from harness.scenario.schema import Scenario, SratSource


def _hex(value: int | None) -> str:
    return "none" if value is None else f"{value:#x}"


def _override_applied(log: BootLog) -> bool:
    return any(u.signature == "SRAT" and u.action == "override" for u in log.table_upgrades)


def _zone_checks(result: RunResult, scenario: Scenario, log: BootLog,
                 guest: GuestSnapshot | None) -> None:
    guest_movable = guest.movable_nodes() if guest else {}
    for exp in scenario.expect.movable:
        seen = log.movable_zone_start.get(exp.node)
        reason = f"guest zoneinfo: Movable on node {exp.node} from {_hex(guest_movable.get(exp.node))}"
        result.add(f"ZONE_MOVABLE of node {exp.node} starts at", _hex(exp.start), _hex(seen), reason)
    for node in scenario.expect.not_movable:
        seen = log.movable_zone_start.get(node)
        result.add(f"node {node} has no ZONE_MOVABLE", "none", _hex(seen))


def _pin(reservation: AttributedReservation) -> str:
    region = reservation.region
    return f"[{region.base:#x}-{region.end - 1:#x}] {', '.join(reservation.callers)}"


def _hotplug_checks(result: RunResult, scenario: Scenario, log: BootLog) -> None:
    findings = {f.node: f for f in hotplug_findings(log)}
    for exp in scenario.expect.hotplug:
        finding = findings.get(exp.node)
        if finding is None:
            result.add(f"SRAT hotplug mark of node {exp.node} honoured", exp.honoured,
                       "no hotplug range in the SRAT lines", ok=False)
            continue
        reason = f"status {finding.status.value}"
        if finding.honoured is False:
            reason = "SRAT hotplug range not honoured; the kernel cleared the mark, pinned by: " + (
                "; ".join(_pin(p) for p in finding.pinned_by) or "no reservation identified")
        result.add(f"SRAT hotplug mark of node {exp.node} honoured", exp.honoured,
                   finding.honoured, reason)


def evaluate(result: RunResult, scenario: Scenario, log: BootLog, guest: GuestSnapshot | None,
             actions: list[ActionResult], guest_error: str | None) -> None:
    result.add("no kernel panic", None, log.panic)
    result.add("guest answered to the end", None, guest_error)
    if scenario.srat.source is SratSource.OVERRIDE:
        applied = _override_applied(log)
        result.add("SRAT override took effect", True, applied,
                   "" if applied else "no 'ACPI: Table Upgrade: override [SRAT-…]' line in the log")
    if scenario.expect.table_upgrade is not None and scenario.srat.source is not SratSource.OVERRIDE:
        result.add("SRAT table upgrade", scenario.expect.table_upgrade, _override_applied(log))
    _zone_checks(result, scenario, log, guest)
    _hotplug_checks(result, scenario, log)
    done = {a.id: a for a in actions}
    for action in scenario.actions:
        res = done.get(action.id)
        if res is None:
            result.add(f"action {action.id}", action.expect.value, "not run",
                       "the guest was gone before this action", ok=False)
            continue
        result.add(f"action {action.id} ({action.do})", res.expected,
                   "success" if res.succeeded else "failure", res.reason, ok=res.matched)


def guest_table(result: RunResult, built: bytes, seen: bytes) -> None:
    """The SRAT the guest reads in /sys/firmware/acpi/tables is byte for byte the one we built."""
    same = built == seen
    reason = "" if same else (f"guest SRAT is {len(seen)} bytes, the override {len(built)}; "
                              "the kernel kept another table")
    result.add("guest's SRAT is the override", True, same, reason)


def distances(result: RunResult, expected: tuple[tuple[int, ...], ...],
              seen: tuple[tuple[int, ...], ...] | None) -> None:
    """Node distances as the guest reports them in sysfs, against the scenario's."""
    as_lists = [list(row) for row in expected]
    observed = None if seen is None else [list(row) for row in seen]
    result.add("node distances", as_lists, observed,
               "" if observed == as_lists else "the guest's /sys/devices/system/node/*/distance")


def reserved_in_hotplug_ranges(log: BootLog) -> list[str]:
    """Every reservation left inside an SRAT hotplug range, with its callers: the check the
    kernel itself lacks (memory that can never be hot-removed while it holds these)."""
    return [f"node {r.hotplug_node}: {_pin(r.reservation)}" for r in reservations_in_hotplug_ranges(log)]
