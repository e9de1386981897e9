"""CXL checks: each window the override SRAT describes as the kernel read it, each region
where the layout put its device's window (the region's start in sysfs, the node its blocks
are on), and the zone each cxl_region's memory went to against the scenario's claim."""
from __future__ import annotations

from harness.guest.actions import ActionResult
from harness.logparse import BootLog
from harness.run.verdict import RunResult
from harness.scenario.layout import MemoryLayout
from harness.scenario.schema import CxlRegion, Scenario

# A QEMU 10.0.2 TCG guest whose ordinary process memory lands in CXL memory crashes QEMU
# (host: "segfault at 8 … in access_stw"), measured by hand; memhp binds its own data to
# the node, but a scenario may not.
KNOWN_CRASH = ("known cause: QEMU 10.0 under TCG segfaults (access_stw) when process "
               "memory lands in CXL memory; keep data bound to the node (mpol=bind)")


def _srat_checks(result: RunResult, layout: MemoryLayout, log: BootLog) -> None:
    """Each window the layout gave an SRAT entry (``srat_hotplug``) against the kernel's line."""
    for win in layout.cxl:
        entry = next((r for r in layout.node_ranges if (r.start, r.end) == (win.start, win.end)), None)
        if entry is None:  # the SRAT says nothing of this window: CEDT makes its node
            continue
        lines = [s for s in log.srat_memory if s.start < win.end and win.start < s.end]
        result.add(f"CXL {win.id} window in the SRAT as the kernel read it", entry.words(),
                   "; ".join(s.words() for s in lines) or "no SRAT line over the window",
                   f"log line {', '.join(str(s.line) for s in lines)}" if lines else "")


def evaluate(result: RunResult, scenario: Scenario, layout: MemoryLayout, log: BootLog,
             actions: list[ActionResult]) -> None:
    _srat_checks(result, layout, log)
    done = {a.id: a for a in actions}
    for action in scenario.actions:
        if not isinstance(action, CxlRegion):
            continue
        res = done.get(action.id)
        seen = res.cxl if res is not None else None
        if seen is not None and "start" in seen.region:
            win = layout.cxl_window(action.device)
            result.add(f"CXL {action.device} region where the layout put its window",
                       f"start {win.start:#x}, node {win.node}",
                       f"start {int(seen.region['start'], 16):#x}, node {seen.guest_node}",
                       f"{seen.region['region']} under decoder0.{win.window}, its blocks' node in sysfs")
        if action.zone is None:
            continue
        observed = "not run" if seen is None else seen.zone or "no blocks seen"
        why = "" if seen is None else f"node {seen.node}: " + ", ".join(seen.blocks)
        result.add(f"CXL {action.device} memory onlined to", action.zone, observed, why)
