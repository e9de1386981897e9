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

from harness.analysis.online_policy import HotplugConfig, ZonePages, zone_for_dimm
from harness.scenario.cxl_schema import guest_node
from harness.scenario.layout import MemoryLayout
from harness.scenario.schema import CxlAction, CxlOffline, CxlRegion, CxlRemove, CxlTeardown, GuestWrite, Scenario, SlabPin
from kernels.profile import OnlineType


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
            why = (f"auto-online {config.default_online_type.value}, policy {config.online_policy.value}"
                   + (", movable_node" if config.movable_node else "") + f", node {win.node} has no boot memory")
        out.append(CxlZonePrediction(action.id, action.device, win.node, zone, why))
    return tuple(out)


def cxl_outcomes(scenario: Scenario, zones: tuple[CxlZonePrediction, ...]) -> dict[str, tuple[str, str]]:
    """Each cxl_* action's outcome (success, failure or uncertain) and why, device by device
    in scenario order: ZONE_MOVABLE memory offlines (its pages migrate); ZONE_NORMAL memory
    holding slab a node-bound slab_pin made there does not (mm/memory_hotplug.c
    offline_pages: the isolation finds unmovable pages, -EBUSY); other ZONE_NORMAL memory
    may or may not. memhp tears a region down only once every block is offline."""
    out: dict[str, tuple[str, str]] = {}
    zone: dict[str, str] = {}
    offline: dict[str, str] = {}  # device → "success"/"failure"/"uncertain": are its blocks offline
    pinned: set[int] = set()
    by_id = {z.id: z for z in zones}
    node = {d.id: guest_node(len(scenario.machine.nodes), i) for i, d in enumerate(scenario.cxl)}
    for action in scenario.actions:
        if isinstance(action, SlabPin) and action.node is not None:
            pinned.add(action.node)
        if not isinstance(action, CxlAction):
            continue
        dev = action.device
        if isinstance(action, CxlRegion):
            zone[dev] = by_id[action.id].zone
            offline[dev] = "success" if zone[dev] == "offline" else "failure"
            out[action.id] = ("success", f"onlined {zone[dev]}" if zone[dev] != "offline" else "left offline")
        elif isinstance(action, CxlOffline):
            if zone.get(dev) == "Movable":
                verdict = ("success", "ZONE_MOVABLE: its pages migrate")
            elif zone.get(dev) == "Normal" and node[dev] in pinned:
                verdict = ("failure", f"ZONE_NORMAL holding the slab pinned to node {node[dev]}")
            elif zone.get(dev) == "Normal":
                verdict = ("uncertain", "ZONE_NORMAL: whatever the kernel put there decides")
            else:
                verdict = ("failure", "no online block to offline")
            out[action.id] = verdict
            offline[dev] = "success" if verdict[0] == "success" or zone.get(dev) in (None, "offline") else verdict[0]
        elif isinstance(action, CxlTeardown):
            state = offline.get(dev, "failure")
            out[action.id] = (state, {"success": "every block offline", "failure": "blocks still online: memhp refuses",
                                      "uncertain": "depends on the offline before"}[state])
            if state == "success":
                offline[dev] = "gone"
        elif isinstance(action, CxlRemove):
            out[action.id] = ("success", "region torn down before") if offline.get(dev) == "gone" \
                else ("uncertain", "device_del with a region up: not modelled")
    return out
