"""After a run: does :func:`harness.analysis.simulate.simulate` agree with what the guest showed?

Zones, ZONE_MOVABLE starts, SRAT hotplug marks and each action's outcome are compared
(checks named ``model agrees: …``); every predicted reservation inside a hotpluggable
range is listed with its caller and confirmed against the page-flag counts the runner
recorded for blocks that refused to offline.
"""
from __future__ import annotations


from harness.analysis.crashkernel import logged_caller
from harness.analysis.pinning import HotplugStatus
from harness.analysis.kernel_profile import profile_of_log
from harness.analysis.simulate import BLOCK_SIZE, Prediction, simulate
from harness.analysis.virtio_mem_model import zone_words
from harness.errors import BadInputError
from harness.logparse import BootLog
from harness.guest.actions import ActionResult
from harness.guest.state import PageFlagSummary
from harness.run.artifacts import ModelAgreement, PredictedReservation
from harness.run.checks import HOTPLUG_WORDS, BootFacts, honoured_words, movable_words
from harness.run.verdict import MODEL_PREFIX, RunResult
from harness.scenario.layout import MemoryLayout
from harness.scenario.schema import Scenario
from harness.units import hex_range, option_values
from kernels.config import KernelConfig


def _reserved_pages(actions: list[ActionResult]) -> dict[int, int]:
    """PG_reserved pages of each block whose page flags were read after a refusal."""
    return {b.block: b.pageflags.reserved for a in actions for b in a.blocks
            if isinstance(b.pageflags, PageFlagSummary)}


def _reservations(prediction: Prediction, reserved: dict[int, int]) -> tuple[PredictedReservation, ...]:
    """Each predicted reservation in a hotpluggable range, with its block's PG_reserved count."""
    out = []
    for r in prediction.reservations_in_hotplug_ranges:
        block = r.start // BLOCK_SIZE
        out.append(PredictedReservation(
            start=r.start, end=r.end, caller=r.caller, node=r.node, block=block,
            pageflags_reserved=reserved.get(block)))
    return tuple(out)


def _block_disagreements(prediction: Prediction, actions: list[ActionResult]) -> list[str]:
    """Where model, page flags and the offline outcome do not tell the same story."""
    predicted = {b.index: b for b in prediction.blocks}
    out = []
    for outcome in (b for a in actions for b in a.blocks):
        model = predicted.get(outcome.block)
        if model is None or model.offline == "uncertain":
            continue
        reserved = outcome.pageflags.reserved if isinstance(outcome.pageflags, PageFlagSummary) else 0
        if (model.offline == "success") != outcome.ok or (reserved > 0) != bool(model.reservations):
            out.append(f"memory{outcome.block}: model {model.offline} "
                       f"({', '.join(model.reservations) or 'no reservation'}), offline "
                       f"{'ok' if outcome.ok else 'refused'}, {reserved} PG_reserved pages")
    return out


def _present_after_each_add(actions: list[ActionResult]) -> dict[str, set[str]]:
    """dimm_add id → the DIMMs plugged in just after it, as the run observed them."""
    present: set[str] = set()
    out = {}
    for action in actions:
        dimm = str(action.dimm.id if action.dimm else None)
        if action.do == "dimm_add" and action.succeeded:
            present.add(dimm)
            out[action.id] = set(present)
        elif action.do == "dimm_remove" and action.succeeded:
            present.discard(dimm)
    return out


def _dimm_checks(result: RunResult, prediction: Prediction, layout: MemoryLayout,
                 actions: list[ActionResult]) -> None:
    """Each DIMM's zone, and the memmap pages the kernel keeps inside the hot-added zones:
    a zone made only of DIMMs (it starts in the device window) has present - managed =
    the vmemmap pages of the DIMMs in it (memory_block_online counts them present,
    online_pages gives only the rest to the buddy allocator)."""
    predicted = {d.dimm: d for d in prediction.dimms}
    present = _present_after_each_add(actions)
    for action in actions:
        onlined = action.dimm.onlined if action.dimm else None
        dimm = predicted.get(action.dimm.id) if action.dimm else None
        if dimm is None or not onlined or action.id not in present:
            continue
        result.add_model(f"model agrees: DIMM {dimm.dimm} onlined to", dimm.zone, onlined.zone,
                         f"memmap in {dimm.memmap_in}")
        for zone in onlined.zoneinfo:
            if zone.node != dimm.node or zone.start_pfn * 4096 < layout.device_base or not zone.present:
                continue
            inside = sum(d.vmemmap_pages for d in prediction.dimms if d.dimm in present[action.id]
                         and d.node == zone.node and d.zone == zone.zone)
            result.add_model(f"model agrees: memmap pages inside node {dimm.node} {zone.zone} "
                             f"after {action.id}", str(inside), str(zone.present - zone.managed),
                             "present - managed in /proc/zoneinfo")


def _crash_words(reservations: list[tuple[str, int, int]]) -> str:
    return ", ".join(f"{what} [{hex_range(start, end)}]" for what, start, end in sorted(
        reservations, key=lambda r: r[1])) or "nothing reserved"


def _crashkernel_check(result: RunResult, prediction: Prediction, log: BootLog) -> None:
    """Where crashkernel= put the crash kernel (and its low part), predicted and logged."""
    if not option_values(prediction.cmdline, "crashkernel"):
        return
    predicted = [(r.caller, r.start, r.end) for r in prediction.crashkernel]
    seen = [(logged_caller(c), c.range.start, c.range.end) for c in log.crashkernel]
    result.add_model(f"{MODEL_PREFIX}crashkernel placement", _crash_words(predicted), _crash_words(seen),
                     "; ".join(f"{r.caller} on node {r.node}" for r in prediction.crashkernel))


def model_agreement(result: RunResult, scenario: Scenario, layout: MemoryLayout, facts: BootFacts,
                    actions: list[ActionResult], config: KernelConfig | None = None) -> ModelAgreement:
    """Add ``model agrees: …`` model checks (informational) to ``result``; return the details.
    ``config``: the booted kernel's .config, which decides some of its profile."""
    log = facts.log
    try:
        choice = profile_of_log(log, config)
        prediction = simulate(scenario, choice, layout=layout)
    except BadInputError as err:  # a kernel the simulator has no profile or template of
        return ModelAgreement.not_run(skipped=str(err))
    for node in prediction.nodes:
        seen = log.movable_zone_start.get(node.node)
        result.add_model(f"{MODEL_PREFIX}ZONE_MOVABLE of node {node.node}",
                         movable_words(node.movable_start), movable_words(seen))
    findings = {f.node: f for f in facts.findings}
    for node in (n for n in prediction.nodes if n.hotplug_marked):
        finding = findings.get(node.node)
        predicted = (HOTPLUG_WORDS[HotplugStatus.NO_BOOT_MEMORY] if node.hotplug_honoured is None
                     else honoured_words(node.hotplug_honoured))
        result.add_model(f"{MODEL_PREFIX}SRAT hotplug mark of node {node.node} honoured", predicted,
                         HOTPLUG_WORDS[finding.status] if finding else "no hotplug range in the SRAT lines",
                         "; ".join(f"{r.caller} {r.start:#x}" for r in node.pinned_by),
                         ok=node.hotplug_honoured == (finding.honoured if finding else None))
    _dimm_checks(result, prediction, layout, actions)
    _crashkernel_check(result, prediction, log)
    done = {a.id: a for a in actions}
    for action in prediction.actions:
        res = done.get(action.id)
        if res is None or action.outcome == "uncertain":
            continue
        result.add_model(f"{MODEL_PREFIX}action {action.id}", action.outcome,
                         "success" if res.succeeded else "failure", action.reason)
    for cxl in prediction.cxl:
        res = done.get(cxl.id)
        if res is not None and res.cxl is not None and res.cxl.zone:
            result.add_model(f"{MODEL_PREFIX}CXL {cxl.device} memory onlined to", cxl.zone, res.cxl.zone, cxl.reason)
    for resize in prediction.virtio_mem:
        res = done.get(resize.id)
        if res is not None and res.virtio_mem is not None and resize.zones is not None:
            result.add_model(f"model agrees: virtio-mem zones after {resize.id}", zone_words(resize.zones),
                             zone_words(res.virtio_mem.zones), resize.reason)
    return ModelAgreement(template=prediction.template,
                          reservations_in_hotplug_ranges=_reservations(prediction, _reserved_pages(actions)),
                          block_disagreements=tuple(_block_disagreements(prediction, actions)),
                          skipped=None, error=None, profile_note=choice.note)
