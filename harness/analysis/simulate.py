"""Predict a scenario's node/zone layout and hotplug outcomes without booting it.

:func:`simulate` runs the early boot on the scenario's memory map
(:mod:`harness.analysis.simulate_boot`), decides which SRAT hotplug marks survive, where
ZONE_MOVABLE starts (:mod:`harness.memblock.movable_zone`), which boot-memory blocks hold reservations,
and the outcome of each offline/removal action.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.analysis.crashkernel import CRASH_CALLERS
from harness.analysis.cxl_model import CxlZonePrediction, cxl_outcomes, predict_cxl
from harness.analysis.dimm_timeline import DimmOnline, DimmTimeline
from harness.analysis.online_policy import boot_zone_pages, hotplug_config
from harness.analysis.simulate_boot import (
    EarlyBoot,
    e820_ram,
    find_template,
    simulate_early_boot,
)
from harness.analysis.virtio_mem_model import ResizePrediction, boot_zones, predict_virtio_mem, zone_words
from harness.errors import BadInputError
from harness.analysis.kernel_profile import profile_of_spec
from harness.memblock.movable_zone import MIRROR_NEEDS, core_request, movable_zone, node_ranges
from harness.scenario.cmdline import kernel_cmdline
from harness.scenario.layout import MemoryLayout, compute_layout
from harness.scenario.schema import (
    MEMORY_BLOCK_SIZE,
    BlockRangeAction,
    DimmAdd,
    DimmRemove,
    GuestWrite,
    NodeRemove,
    OfflineNode,
    Scenario,
)
from harness.units import has_flag, hex_range, optional_hex
from kernels.profile import KernelProfile, ProfileChoice

BLOCK_SIZE = MEMORY_BLOCK_SIZE
FREED_AFTER_BOOT = ("initrd",)


@dataclass(frozen=True)
class Reservation:
    start: int
    end: int
    caller: str
    node: int | None


@dataclass(frozen=True)
class NodePrediction:
    node: int
    hotplug_marked: bool
    hotplug_honoured: bool | None  # None: the SRAT does not mark the node
    movable_start: int | None
    pinned_by: tuple[Reservation, ...]


@dataclass(frozen=True)
class BlockPrediction:
    index: int
    start: int
    node: int
    zone: str  # "Movable" or "kernel"
    reservations: tuple[str, ...]
    offline: str  # success | failure | uncertain


@dataclass(frozen=True)
class ActionPrediction:
    id: str
    do: str
    outcome: str  # success | failure | uncertain
    reason: str


@dataclass(frozen=True)
class Prediction:
    scenario: str
    kernel_version: str
    cmdline: str
    template: str
    nodes: tuple[NodePrediction, ...]
    reservations_in_hotplug_ranges: tuple[Reservation, ...]
    blocks: tuple[BlockPrediction, ...]
    actions: tuple[ActionPrediction, ...]
    inferred: dict[str, Any]
    dimms: tuple[DimmOnline, ...] = ()  # hot-added DIMMs in the order they were added
    virtio_mem: tuple[ResizePrediction, ...] = ()  # each virtio_mem_resize: outcome and zones
    crashkernel: tuple[Reservation, ...] = ()  # what crashkernel= reserved, low part included
    cxl: tuple[CxlZonePrediction, ...] = ()  # each cxl_region: the zone of its memory
    profile_note: str = ""  # kernels.profile: the release has no profile row of its own

    def node(self, nid: int) -> NodePrediction:
        return next(n for n in self.nodes if n.node == nid)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def kernel_choice(kernel: str | ProfileChoice) -> ProfileChoice:
    """``debian:6.1``, ``6.12``, a release, or a profile already chosen (a run's, from its log)."""
    return kernel if isinstance(kernel, ProfileChoice) else profile_of_spec(kernel)


def _node_of(boot: EarlyBoot, start: int, end: int) -> int | None:
    return next((b.nid for b in boot.blocks if b.start < end and start < b.end), None)


def _reservations(boot: EarlyBoot, callers: list[tuple[int, int, str]]) -> list[Reservation]:
    return [Reservation(s, e, c, _node_of(boot, s, e)) for s, e, c in callers]


def _blocks(boot: EarlyBoot, movable: dict[int, int]) -> list[BlockPrediction]:
    kept = [r for r in _reservations(boot, boot.callers) if r.caller not in FREED_AFTER_BOOT]
    out = []
    for nid, ranges in sorted(node_ranges(boot.state).items()):
        indexes = sorted({i for s, e in ranges for i in range(s // BLOCK_SIZE, (e - 1) // BLOCK_SIZE + 1)})
        for index in indexes:
            start = index * BLOCK_SIZE
            inside = tuple(sorted({r.caller for r in kept if r.start < start + BLOCK_SIZE and start < r.end}))
            zone = "Movable" if nid in movable and start >= movable[nid] else "kernel"
            # A kernel-zone block without boot reservations may still hold runtime
            # unmovable pages (slab): its outcome is not decided by memblock.
            offline = "failure" if inside else "success" if zone == "Movable" else "uncertain"
            out.append(BlockPrediction(index, start, nid, zone, inside, offline))
    return out


def _offline(action_id: str, do: str, chosen: list[BlockPrediction]) -> ActionPrediction:
    """Offlining ``chosen`` blocks: fails if one holds boot reservations."""
    failing = [b for b in chosen if b.offline == "failure"]
    outcome = ("failure" if failing else "success" if all(b.offline == "success" for b in chosen)
               else "uncertain")
    why = "; ".join(f"memory{b.index}: {', '.join(b.reservations)}" for b in failing)
    return ActionPrediction(action_id, do, outcome,
                            why or f"{len(chosen)} blocks, zones {sorted({b.zone for b in chosen})}")


def _boot_dimm_eject(blocks: list[BlockPrediction]) -> tuple[str, str]:
    """A boot-RAM DIMM is boot memory: drivers/acpi/scan.c:acpi_scan_try_to_offline must
    offline every one of its blocks, so its eject is the outcome of its blocks."""
    failing = [b for b in blocks if b.offline == "failure"]
    if failing:
        return "failure", "; ".join(f"memory{b.index}: {', '.join(b.reservations)}" for b in failing)
    if blocks and all(b.offline == "success" for b in blocks):
        return "success", f"{len(blocks)} boot blocks, ZONE_MOVABLE, no boot reservation inside"
    return "uncertain", f"{len(blocks)} boot blocks in a kernel zone"


def _dimm_eject(dimm: str, layout: MemoryLayout, blocks: list[BlockPrediction], hot: DimmTimeline,
                eject_disabled: bool) -> tuple[str, str]:
    placed = next((d for d in layout.boot_dimms if d.id == dimm), None)
    if eject_disabled:
        return "failure", "ACPI eject disabled in the guest"
    if placed is not None:
        return _boot_dimm_eject([b for b in blocks if placed.start <= b.start < placed.end])
    return hot.remove(dimm)


def _node_remove(scenario: Scenario, action: NodeRemove, layout: MemoryLayout,
                 blocks: list[BlockPrediction], hot: DimmTimeline, disabled: set[str]) -> ActionPrediction:
    """The node goes if every DIMM on it ejects and every CPU does: the first DIMM predicted
    to stay decides, else a CPU whose eject the guest disabled, else the least certain DIMM."""
    ejects = [(d.id, *_dimm_eject(d.id, layout, blocks, hot, "memory" in disabled))
              for d in scenario.node_dimms(action.node)]
    if found := next((e for e in ejects if e[1] == "failure"), None):
        return ActionPrediction(action.id, action.do, "failure", f"DIMM {found[0]}: {found[2]}")
    if "processor" in disabled and scenario.machine.nodes[action.node].cpus:
        # drivers/acpi/scan.c:acpi_generic_hotplug_event: "Eject disabled", -EPERM (_OST 0x80)
        return ActionPrediction(action.id, action.do, "failure",
                                f"CPUs {list(scenario.machine.nodes[action.node].cpus)}: "
                                "ACPI processor eject disabled in the guest")
    if found := next((e for e in ejects if e[1] == "uncertain"), None):
        return ActionPrediction(action.id, action.do, "uncertain", f"DIMM {found[0]}: {found[2]}")
    return ActionPrediction(action.id, action.do, "success",
                            "; ".join(f"DIMM {i}: {why}" for i, _, why in ejects) or "no DIMMs")


# The guest settings that switch an ACPI hotplug profile (/sys/firmware/acpi/hotplug/NAME/enabled,
# drivers/acpi/sysfs.c:acpi_sysfs_add_hotplug_profile) on or off.
EJECT_PROFILES = {"acpi_memory_hotplug_enabled": "memory", "acpi_processor_hotplug_enabled": "processor"}


@dataclass
class _Walk:
    """What predicting the scenario's actions in order carries from one to the next."""

    scenario: Scenario
    layout: MemoryLayout
    blocks: list[BlockPrediction]
    hot: DimmTimeline
    disabled: set[str] = field(default_factory=set)  # ACPI eject profiles the guest switched off


def _offline_node(walk: _Walk, action: OfflineNode) -> ActionPrediction:
    return _offline(action.id, action.do, [b for b in walk.blocks if b.node == action.node])


def _block_range(walk: _Walk, action: BlockRangeAction) -> ActionPrediction:
    if action.do != "offline_range":
        return _guest_action(walk, action)
    end = action.start + action.size
    return _offline(action.id, action.do, [b for b in walk.blocks if action.start <= b.start < end])


def _dimm_add(walk: _Walk, action: DimmAdd) -> ActionPrediction:
    placed = walk.hot.add(walk.scenario.dimm(action.dimm))
    return ActionPrediction(action.id, action.do, "success",
                            ("left offline" if placed.zone == "offline" else f"onlined {placed.zone}")
                            + f", memmap in {placed.memmap_in}")


def _dimm_remove(walk: _Walk, action: DimmRemove) -> ActionPrediction:
    outcome, reason = _dimm_eject(action.dimm, walk.layout, walk.blocks, walk.hot, "memory" in walk.disabled)
    return ActionPrediction(action.id, action.do, outcome, reason)


def _guest_action(walk: _Walk, action: Any) -> ActionPrediction:
    if isinstance(action, GuestWrite) and action.setting in EJECT_PROFILES:
        profile = EJECT_PROFILES[action.setting]
        walk.disabled = walk.disabled - {profile} if action.value != "0" else walk.disabled | {profile}
    if isinstance(action, GuestWrite) and action.setting == "auto_online_blocks":
        walk.hot.set_online_type(action.value)
    # A fault's, a user program's or a selftest's outcome is not the model's to predict.
    outcome = "uncertain" if action.do in ("inject_fault", "run", "selftest", "unmovable") else "success"
    return ActionPrediction(action.id, action.do, outcome, "not a memory outcome")


# The predictor of each action type the walk models itself; the device kinds' own models
# (virtio-mem resizes, CXL regions) predict their actions beforehand, by id; any other
# action is the guest's (_guest_action).
_PREDICT: dict[type, Callable[[_Walk, Any], ActionPrediction]] = {
    OfflineNode: _offline_node, BlockRangeAction: _block_range,
    DimmAdd: _dimm_add, DimmRemove: _dimm_remove,
    NodeRemove: lambda walk, a: _node_remove(walk.scenario, a, walk.layout, walk.blocks, walk.hot, walk.disabled),
}


def _actions(scenario: Scenario, layout: MemoryLayout, blocks: list[BlockPrediction],
             hot: DimmTimeline, by_device: dict[str, tuple[str, str]]) -> list[ActionPrediction]:
    """``by_device``: the outcome and reason the device kinds' models gave their actions."""
    walk = _Walk(scenario, layout, blocks, hot)
    for dimm in (d for d in scenario.dimms if d.at_boot and not d.boot_ram):
        hot.add(dimm)  # drivers/acpi/acpi_memhotplug.c adds a coldplugged DIMM at boot
    out: list[ActionPrediction] = []
    for action in scenario.actions:
        if action.id in by_device:
            out.append(ActionPrediction(action.id, action.do, *by_device[action.id]))
        else:
            out.append(_PREDICT.get(type(action), _guest_action)(walk, action))
    return out


def _nodes(scenario: Scenario, layout: MemoryLayout, boot: EarlyBoot,
           movable: dict[int, int]) -> list[NodePrediction]:
    early = _reservations(boot, boot.callers[:boot.registered_at])
    ram = e820_ram(layout)
    out = []
    for nid in range(len(scenario.machine.nodes)):
        hot = [r for r in layout.node_ranges if r.node == nid and r.hotplug]
        marked = bool(hot)
        # Marks on device memory alone (a hotplug window) hold no memblock memory: the
        # kernel decides nothing there (drivers/acpi/numa/srat.c:acpi_numa_memory_affinity_init
        # marks with memblock_mark_hotplug, which flags memblock.memory regions only).
        decided = any(r.start < end and start < r.end for r in hot for start, end in ram)
        pinned = tuple(r for r in early if r.node == nid) if nid in boot.pinned_nodes else ()
        honoured = (nid not in boot.pinned_nodes) if decided else None
        out.append(NodePrediction(nid, marked, honoured, movable.get(nid), pinned if decided else ()))
    return out


def _timeline(cmdline: str, profile: KernelProfile, boot: EarlyBoot, movable: dict[int, int],
              layout: MemoryLayout) -> DimmTimeline:
    """The hot-added DIMMs' onlining, from the boot's zones and the hotplug options."""
    ranges = node_ranges(boot.state)
    return DimmTimeline.of(hotplug_config(cmdline, profile.hotplug), boot_zone_pages(ranges, movable),
                           ranges, movable, (layout.device_base, layout.device_base + layout.device_size),
                           tuple((d.start, d.end) for d in layout.boot_dimms))


def simulate(scenario: Scenario, kernel: str | ProfileChoice = "debian:6.1",
             cmdline_extra: str = "", layout: MemoryLayout | None = None) -> Prediction:
    """The predicted boot of ``scenario``; ``cmdline_extra`` is appended (what-if variants).
    ``layout``: the scenario's, when the caller (a run) has already computed it."""
    choice = kernel_choice(kernel)
    profile = choice.profile
    version = profile.memblock
    layout = compute_layout(scenario) if layout is None else layout
    cmdline = f"{kernel_cmdline(scenario, layout)} {cmdline_extra}".strip()
    movable_node = has_flag(cmdline, "movable_node")
    template = find_template(profile, movable_node)
    boot = simulate_early_boot(layout, profile, movable_node, template, cmdline)
    zones = movable_zone(boot.state, cmdline, version)
    movable = zones.starts
    hot = [(r.start, r.end) for r in layout.node_ranges if r.hotplug]
    in_hot = tuple(r for r in _reservations(boot, boot.callers)
                   if any(r.start < e and s < r.end for s, e in hot))
    blocks = _blocks(boot, movable)
    timeline = _timeline(cmdline, profile, boot, movable, layout)
    cxl = predict_cxl(scenario, layout, hotplug_config(cmdline, profile.hotplug),
                      boot_zone_pages(node_ranges(boot.state), movable)) if scenario.cxl else ()
    resizes = predict_virtio_mem(scenario, cmdline, profile.hotplug, boot_zones(boot.state, movable))
    by_device = {i: (r.outcome, r.reason) for i, r in resizes.items()} | cxl_outcomes(scenario, cxl)
    actions = tuple(_actions(scenario, layout, blocks, timeline, by_device))
    inferred = {"template": template.source, "kernel_end": hex(template.kernel_end),
                "initrd_size": template.initrd_size, "bottom_up_before_srat": movable_node,
                "numa_meminfo": [asdict(b) for b in boot.blocks],
                "movable_zone": zones.movable_zone, "zone_warnings": list(zones.warnings)}
    if core_request(cmdline).mirrored_kernelcore:
        inferred["kernelcore_mirror"] = MIRROR_NEEDS
    crash = tuple(r for r in _reservations(boot, boot.callers) if r.caller in CRASH_CALLERS)
    return Prediction(scenario.name, profile.series, cmdline, template.source,
                      tuple(_nodes(scenario, layout, boot, movable)), in_hot, tuple(blocks),
                      actions, inferred, tuple(timeline.added), tuple(resizes.values()), crash,
                      cxl, choice.note)


def describe_prediction(p: Prediction) -> str:
    """Per node: hotplug mark, ZONE_MOVABLE start and pinning callers; then each action."""
    lines = [f"{p.scenario} on {p.kernel_version} ({p.cmdline}); sizes from {p.template}"]
    if p.profile_note:
        lines.append(f"  profile: {p.profile_note}")
    for n in p.nodes:
        start = optional_hex(n.movable_start, "none")
        mark = ("not marked" if n.hotplug_honoured is None else
                "hotplug honoured" if n.hotplug_honoured else "hotplug cleared")
        pins = ", ".join(f"{r.caller} [{hex_range(r.start, r.end)}]" for r in n.pinned_by)
        lines.append(f"  node {n.node}: {mark}, ZONE_MOVABLE {start}" + (f"; pinned by {pins}" if pins else ""))
    lines += [f"  kernel warns: {w}" for w in p.inferred.get("zone_warnings", [])]
    if "kernelcore_mirror" in p.inferred:
        lines.append(f"  {p.inferred['kernelcore_mirror']}")
    lines += [f"  DIMM {d.dimm} at {d.start:#x} (node {d.node}): {d.zone}, memmap in {d.memmap_in}"
              + (f" ({d.nr_vmemmap_pages} pages at the start of each block)" if d.nr_vmemmap_pages else "")
              for d in p.dimms]
    lines += [f"  {r.caller} [{hex_range(r.start, r.end)}] on node {r.node}" for r in p.crashkernel]
    lines += [f"  action {a.id} ({a.do}): {a.outcome} - {a.reason}" for a in p.actions]
    lines += [f"  virtio-mem zones after {r.id}: {zone_words(r.zones)}" for r in p.virtio_mem]
    return "\n".join(lines)


def simulate_file(path: str, kernel: str = "debian:6.1", cmdline_extra: str = "") -> Prediction:
    """``memhp simulate``: load the scenario and predict it."""
    from pathlib import Path

    from harness.scenario.schema import load_scenario

    return simulate(load_scenario(Path(path)), kernel, cmdline_extra)
