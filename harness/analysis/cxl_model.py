"""The zone a CXL region's memory goes to, by the same zone choice as a hot-added DIMM.

drivers/dax/kmem.c dev_dax_kmem_probe registers one *static* memory group per dax device
(memory_group_register_static) and adds its ranges with add_memory_driver_managed, so
the kernel's online policy decides the zone once for the whole region, exactly as for a
pc-dimm's ACPI memory device (:func:`harness.analysis.online_policy.zone_for_dimm`). The
region's node is the one the kernel made for its CXL window, which has no boot memory:
``auto-movable`` with ``auto_movable_numa_aware`` (the default) finds no kernel memory on
that node and onlines it ZONE_NORMAL.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from harness.analysis.online_policy import HotplugConfig, OnlineType, ZonePages, zone_for_dimm
from harness.scenario.layout import MemoryLayout
from harness.scenario.schema import CxlRegion, GuestWrite, Scenario


@dataclass(frozen=True)
class CxlZonePrediction:
    id: str  # the cxl_region action
    device: str
    node: int
    zone: str  # Movable, Normal or offline
    reason: str


def predict_cxl(scenario: Scenario, layout: MemoryLayout, config: HotplugConfig,
                stats: dict[int, ZonePages]) -> tuple[CxlZonePrediction, ...]:
    """Each cxl_region's zone: an explicit online type names it; ``auto`` leaves it to the
    policy a guest_setting of auto_online_blocks may have changed before."""
    out = []
    for action in scenario.actions:
        if isinstance(action, GuestWrite) and action.setting == "auto_online_blocks" \
                and action.value in OnlineType._value2member_map_:
            config = replace(config, default_online_type=OnlineType(action.value))
        if not isinstance(action, CxlRegion):
            continue
        win, device = layout.cxl_window(action.device), scenario.cxl_device(action.device)
        if action.online_type == "online_movable":
            zone, why = "Movable", "onlined online_movable by memhp"
        elif action.online_type == "online_kernel":
            zone, why = "Normal", "onlined online_kernel by memhp (above 4G: ZONE_NORMAL)"
        else:
            zone = zone_for_dimm(config, stats, [], win.node, win.start, device.size)
            why = (f"auto-online {config.default_online_type.value}, policy {config.online_policy.value}, "
                   f"node {win.node} has no boot memory")
        out.append(CxlZonePrediction(action.id, action.device, win.node, zone, why))
    return tuple(out)
