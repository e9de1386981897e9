"""virtio-mem checks: each device where the layout put it (the driver's own lines), and the
zones of its online memory blocks after each resize that states them."""
from __future__ import annotations

from harness.analysis.virtio_mem_model import zone_words
from harness.guest.actions import ActionResult
from harness.logparse import BootLog
from harness.run.verdict import RunResult
from harness.scenario.layout import MemoryLayout
from harness.scenario.schema import Scenario, VirtioMemResize


def _placement(result: RunResult, scenario: Scenario, layout: MemoryLayout, log: BootLog) -> None:
    by_addr = {d.addr: d for d in log.virtio_mem_devices}
    for device in scenario.virtio_mem:
        placed = layout.virtio_mem_region(device.id)
        expected = f"start {placed.start:#x}, size {device.size:#x}, nid {device.node}"
        seen = by_addr.get(placed.start)
        observed = ("no 'virtio_mem virtio*: start address' line at that address" if seen is None else
                    f"start {seen.addr:#x}, size {seen.region_size or 0:#x}, nid {seen.nid}")
        result.add(f"virtio-mem {device.id} where the layout put it", expected, observed,
                   "" if seen is None else f"the driver's {seen.device} lines")


def evaluate(result: RunResult, scenario: Scenario, layout: MemoryLayout, log: BootLog,
             actions: list[ActionResult]) -> None:
    _placement(result, scenario, layout, log)
    done = {a.id: a for a in actions}
    for action in scenario.actions:
        if not isinstance(action, VirtioMemResize) or action.zones is None:
            continue
        res = done.get(action.id)
        observed = "not run" if res is None or res.virtio_mem is None else zone_words(res.virtio_mem.zones)
        result.add(f"virtio-mem {action.device} zones after {action.id}", zone_words({str(k): v for k, v in action.zones.items()}), observed,
            "the guest's valid_zones of each online memory block in the device's range")
