"""Must-fail siblings without a boot: the recorded boots of their pass scenarios and the
simulator contradict exactly each sibling's false claims (tests/must_fail_claims.py, the
same checks the boot in tests/integration/test_scenarios.py must fail), and the same
judgement finds nothing false in the pass scenario itself.

A sibling shares its pass scenario's machine, tables and command line, so the pass
scenario's recorded console (fixtures/logs/recorded/memhp-<kernel>-<scenario>.log) is the
sibling's boot too. Boot-log claims (ZONE_MOVABLE, hotplug marks) go through the run's own
checks on that log; an action's outcome needs both the simulator's prediction and the
recorded log's evidence (refusal lines, or none) to agree, else it counts as undecided and
the test fails, except where the simulator itself says it cannot tell (a DIMM onlined to
ZONE_NORMAL): the log's refusal lines decide alone. A DIMM's refusal lines are those naming
one of its blocks (or none). Node distances are read from the SLIT the guest gets (the
override's bytes, or QEMU's ``-numa dist`` arguments); a hot-added DIMM's zone, which no
console line shows, from the simulator alone. So are CXL claims (the zone of a region, its
offline and teardown): no recorded CXL boot is kept here (they need QEMU >= 8.0), the
simulator's CXL model is held to real boots by tests/integration/test_cxl_boots.py.
"""
from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from must_fail_claims import MUST_FAIL

from acpi_tables.slit import decode_slit
from harness.analysis.simulate import Prediction, simulate
from harness.logparse import BootLog, load_boot_log
from harness.logparse.failures import OfflineFailure, OfflineFailureKind
from harness.qemu.cmdline import build_command
from harness.qemu.machine import Channels
from harness.run import checks
from harness.run.verdict import RunResult
from harness.scenario.layout import compute_layout
from harness.scenario.schema import (
    Action,
    CxlAction,
    CxlRegion,
    DimmRemove,
    NodeRemove,
    OfflineNode,
    RunCommand,
    Scenario,
    Selftest,
    SratSource,
    Unmovable,
    VirtioMemResize,
    load_scenario,
)
from harness.scenario.tables import slit_bytes

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "fixtures" / "scenarios"
RECORDED = ROOT / "fixtures" / "logs" / "recorded"
PASS = sorted(SCENARIOS.glob("*.toml"))
SIBLINGS = sorted((SCENARIOS / "must-fail").glob("*.toml"))
KERNELS = ("6.1", "6.12")

K = OfflineFailureKind
# drivers/acpi/scan.c's eject refusals: acpi_scan_try_to_offline's "Offline failed." of a
# memory block, acpi_scan_hot_remove's "Eject incomplete", acpi_eject_store's "Eject disabled".
EJECT_REFUSALS = {K.EJECT_DISABLED, K.EJECT_INCOMPLETE, K.OFFLINE_FAILED, K.REMOVE_ONLINED}
# The lines that say the guest refused: mm/memory_hotplug.c:offline_pages's page dump and
# "Offline failed." for offlining; the eject refusals for a DIMM, and for a node, whose
# DIMMs and CPUs must all go before mm/memory_hotplug.c:try_offline_node drops it (a CPU
# whose eject the guest disabled shows as "acpi LNXCPU:NN: Eject disabled").
REFUSALS = {
    OfflineNode: {K.PAGE_DUMPED, K.OFFLINE_FAILED, K.MIGRATE_FAILED, K.ISOLATE_FAILED},
    DimmRemove: EJECT_REFUSALS,
    NodeRemove: EJECT_REFUSALS,
}
# Boot-log checks that need the guest (its answers) or judge every run alike.
NOT_FROM_THE_LOG = ("guest answered", "no kernel panic", "DIMM ")
BLOCK_SIZE = 128 << 20


def _extends(sibling: Path) -> Path:
    return (sibling.parent / tomllib.loads(sibling.read_text())["extends"]).resolve()


def _same_boot(a: Scenario, b: Scenario) -> bool:
    return ((a.machine, a.dimms, a.virtio_mem, a.cxl, a.srat, a.slit, a.kernel)
            == (b.machine, b.dimms, b.virtio_mem, b.cxl, b.srat, b.slit, b.kernel))


def _log_checks(scenario: Scenario, log: BootLog) -> set[str]:
    """What the run's own checks find false in the recorded console, actions aside."""
    result = RunResult(scenario.name, "offline")
    checks.evaluate(result, scenario, checks.BootFacts.of(log), None, [], None)
    return {c.name for c in result.checks
            if not c.ok and not c.name.startswith(("action ",) + NOT_FROM_THE_LOG)}


def _blocks(action: Action, prediction: Prediction) -> range | None:
    """The memory blocks of a hot-added DIMM the action removes; None: any block."""
    if not isinstance(action, DimmRemove):
        return None
    dimm = next((d for d in prediction.dimms if d.dimm == action.dimm), None)
    return None if dimm is None else range(dimm.start // BLOCK_SIZE, (dimm.start + dimm.size) // BLOCK_SIZE)


def _refused(action: Action, scenario: Scenario, log: BootLog, blocks: range | None) -> bool:
    kinds = REFUSALS.get(type(action), set())
    failures = [f for f in log.offline_failures
                if f.kind in kinds and (blocks is None or f.block is None or f.block in blocks)]
    if isinstance(action, NodeRemove):  # only a refusal inside this node's DIMMs, or unplaced
        failures = [f for f in failures if _on_node_dimms(f, action.node, scenario, log)]
    return bool(failures)


def _on_node_dimms(failure: OfflineFailure, node: int, scenario: Scenario, log: BootLog) -> bool:
    """Whether the block or page the refusal names lies in one of the node's boot-RAM
    DIMMs; a refusal naming neither (drivers/acpi/scan.c's "Eject disabled") counts."""
    if failure.block is not None and log.memory_block_size is not None:
        address = failure.block * log.memory_block_size
    elif failure.pfn is not None:
        address = failure.pfn << 12
    else:
        return True
    return any(d.start <= address < d.end for d in compute_layout(scenario).boot_dimms if d.node == node)


def _command_checks(scenario: Scenario, kernel: str, pass_name: str) -> set[str]:
    """``run`` and ``selftest`` actions: a program's status is not in the console; the
    recorded boot keeps each command's record beside its log (…commands.json, from its
    model.json). A selftest passes on exit 0, as kselftest counts; an unmovable workload
    when the kernel refused it (OOM killer or a failing call)."""
    path = RECORDED / f"memhp-{kernel}-{pass_name}.commands.json"
    commands = json.loads(path.read_text()) if path.exists() else {}
    false = set()
    for action in (a for a in scenario.actions if isinstance(a, (RunCommand, Selftest, Unmovable))):
        seen = commands[action.id]
        if isinstance(action, Unmovable):
            ok = seen["measurement"]["ended"].startswith(("OOM killer", "end refused"))
        else:
            wanted = action.status if isinstance(action, RunCommand) else 0
            ok = not seen["timed_out"] and seen["status"] == wanted
        if ok != (action.expect.value == "success"):
            false.add(f"action {action.id} ({action.do})")
    return false


def _action_checks(scenario: Scenario, kernel: str, log: BootLog) -> set[str]:
    """Actions whose expectation both the prediction and the recorded log contradict."""
    whole = simulate(scenario, f"debian:{kernel}")
    prediction = {a.id: a for a in whole.actions}
    false = set()
    for action in scenario.actions:
        if type(action) not in REFUSALS:
            continue
        predicted, refused = prediction[action.id].outcome, _refused(action, scenario, log, _blocks(action, whole))
        if predicted == "uncertain":
            predicted = "failure" if refused else "success"
        assert predicted == ("failure" if refused else "success"), (
            f"{action.id}: the simulator says {predicted}, the recorded log "
            f"{'refuses' if refused else 'has no refusal'}: undecided offline")
        if predicted != action.expect.value:
            false.add(f"action {action.id} ({action.do})")
    return false


def _virtio_mem_checks(scenario: Scenario, kernel: str, log: BootLog) -> set[str]:
    """virtio-mem resizes: the simulator's outcome and zones against the claims. QEMU, not
    the console, says how far a resize got and sysfs which zone a block is in, so the
    recorded log's evidence is only that its driver saw each request (virtio_mem_refresh_config's
    ``plugged size: …, requested size: …``)."""
    predicted = {p.id: p for p in simulate(scenario, f"debian:{kernel}").virtio_mem}
    asked = [r.requested_size for d in log.virtio_mem_devices for r in d.requests]
    false = set()
    for action in (a for a in scenario.actions if isinstance(a, VirtioMemResize)):
        assert action.requested_size in asked, f"{action.id}: the recorded driver never saw the request"
        prediction = predicted[action.id]
        assert prediction.outcome != "uncertain", f"{action.id}: the simulator cannot tell: undecided offline"
        if prediction.outcome != action.expect.value:
            false.add(f"action {action.id} ({action.do})")
        claimed = {str(zone): size for zone, size in (action.zones or {}).items() if size}
        if action.zones is not None and prediction.zones != claimed:
            false.add(f"virtio-mem {action.device} zones after {action.id}")
    return false


def _guest_distances(scenario: Scenario) -> tuple[tuple[int, ...], ...] | None:
    """The distances the guest's SLIT carries: the override's bytes decoded, or the
    ``-numa dist,src=,dst=,val=`` arguments QEMU builds its own SLIT from."""
    if scenario.slit is None:
        return None
    if scenario.slit.source is SratSource.OVERRIDE:
        return decode_slit(slit_bytes(scenario)).distances
    argv = build_command(scenario, Path("bzImage"), Path("initrd"), Channels(Path("c"), Path("a"), Path("q")))
    dist = [tuple(map(int, m.groups())) for a in argv if (m := re.fullmatch(r"dist,src=(\d+),dst=(\d+),val=(\d+)", a))]
    nodes = len(scenario.machine.nodes)
    table = {(s, d): v for s, d, v in dist}
    return tuple(tuple(10 if s == d else table[(s, d)] for d in range(nodes)) for s in range(nodes))


def _distance_checks(scenario: Scenario) -> set[str]:
    expected = scenario.expect.distances
    if expected is None:
        return set()
    seen = _guest_distances(scenario)
    return set() if seen is not None and [list(r) for r in seen] == [list(r) for r in expected] else {"node distances"}


def _dimm_zone_checks(scenario: Scenario, kernel: str) -> set[str]:
    zones = {d.dimm: d.zone for d in simulate(scenario, f"debian:{kernel}").dimms}
    return {f"DIMM {e.dimm} onlined to" for e in scenario.expect.dimm_zones if zones.get(e.dimm) != e.zone}


def _cxl_checks(scenario: Scenario, kernel: str) -> set[str]:
    """CXL region zones and cxl_* outcomes the simulator decides (never "uncertain" ones)."""
    prediction = simulate(scenario, f"debian:{kernel}")
    zones = {z.id: z.zone for z in prediction.cxl}
    outcomes = {a.id: a.outcome for a in prediction.actions}
    false = {f"CXL {a.device} memory onlined to" for a in scenario.actions
             if isinstance(a, CxlRegion) and a.zone is not None and zones[a.id] != a.zone}
    for action in (a for a in scenario.actions if isinstance(a, CxlAction)):
        assert outcomes[action.id] != "uncertain", f"{action.id}: the CXL model cannot tell"
        if outcomes[action.id] != action.expect.value:
            false.add(f"action {action.id} ({action.do})")
    return false


def _offline_false_claims(scenario: Scenario, kernel: str, log: BootLog | None,
                          pass_name: str) -> set[str]:
    false = _distance_checks(scenario) | _dimm_zone_checks(scenario, kernel) | _cxl_checks(scenario, kernel)
    if log is not None:
        false |= (_log_checks(scenario, log) | _action_checks(scenario, kernel, log)
                  | _command_checks(scenario, kernel, pass_name) | _virtio_mem_checks(scenario, kernel, log))
    return false


def _recorded(pass_scenario: Path, kernel: str) -> BootLog | None:
    path = RECORDED / f"memhp-{kernel}-{pass_scenario.stem}.log"
    return load_boot_log(path) if path.exists() else None


def test_every_pass_scenario_has_a_must_fail_sibling() -> None:
    covered = {_extends(s) for s in SIBLINGS}
    assert [p.name for p in PASS if p.resolve() not in covered] == []


def test_siblings_and_only_siblings_declare_false_claims() -> None:
    """A sibling without them could fail for any reason; a pass scenario with them would
    be a must-fail scenario in disguise."""
    assert [p.stem for p in SIBLINGS if not load_scenario(p).false_claims] == []
    assert [p.stem for p in PASS if load_scenario(p).false_claims] == []


@pytest.mark.parametrize("sibling", SIBLINGS, ids=[p.stem for p in SIBLINGS])
def test_sibling_boots_the_machine_of_its_pass_scenario(sibling: Path) -> None:
    """Only the claims differ, so the pass scenario's recorded boot is the sibling's too."""
    assert _same_boot(load_scenario(sibling), load_scenario(_extends(sibling)))


# Newer series recorded for the boot-memory scenarios only (fixtures/logs/recorded/memhp-6.18-*, -7.3-*).
NEWER_KERNELS = ("6.18", "7.3")
NEWER_RECORDED = ("three-node-boot-dimm-movable", "three-node-boot-dimm-refused", "three-node-boot-dimm-crashkernel",
                  "two-node-remove-movable", "two-node-remove-refused", "two-node-remove-cpu-refused")


def _cases() -> list[tuple[Path, str]]:
    return [(s, k) for s in SIBLINGS for k in KERNELS] + [
        (s, k) for s in SIBLINGS for k in NEWER_KERNELS if _extends(s).stem in NEWER_RECORDED]


@pytest.mark.parametrize(("sibling", "kernel"), _cases(), ids=[f"{s.stem}-{k}" for s, k in _cases()])
def test_sibling_fails_offline_for_exactly_its_false_claims(sibling: Path, kernel: str) -> None:
    pass_path = _extends(sibling)
    log = _recorded(pass_path, kernel)
    claims = MUST_FAIL[sibling.stem]
    if log is None and not load_scenario(sibling).cxl:  # only what the tables alone decide
        assert claims == {"node distances"}, f"no recorded boot of {pass_path.name} on {kernel}"
    assert _offline_false_claims(load_scenario(sibling), kernel, log, pass_path.stem) == claims


@pytest.mark.parametrize(("sibling", "kernel"), _cases(), ids=[f"{s.stem}-{k}" for s, k in _cases()])
def test_pass_scenario_has_no_false_claim_offline(sibling: Path, kernel: str) -> None:
    """The control: the same judgement of the pass scenario finds nothing false."""
    pass_path = _extends(sibling)
    assert _offline_false_claims(load_scenario(pass_path), kernel, _recorded(pass_path, kernel),
                                 pass_path.stem) == set()
