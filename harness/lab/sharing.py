"""Which cells of a matrix share a boot, decided from their scenario files.

Two ways, both on the same kernel and variant:

- Cells whose scenarios differ only in what they expect
  (:func:`harness.run.runner.boot_identity`: ``[expect]``, ``false_claims``, an action's
  ``expect``) make the same run: one of them runs (a pass scenario if there is one, the
  parent of its must-fail siblings), the others are judged on that run and say so.
- Runs whose scenarios differ only in their actions (the same machine, tables, command
  line and guest files) share one boot: the first run's guest is saved before its
  actions, and each other run's QEMU restores it (``memhp run --repeat``'s migration path,
  :func:`harness.run.repeat.run_restored`), unless the run's command line or initrd turns
  out different when prepared; then it boots on its own.

The second is on where the matrix says ``restore_boots = true`` (the nightly does). It was
off while the guest's state listing read ``valid_zones`` of a hot-added block in the window
where ``add_memory_resource`` has created it with ``NUMA_NO_NODE`` and not yet put it under
its node, which oopses 6.12 (2 of 90 restored runs of two-node-dimms-claims-refused); the
listing now skips such a block (harness/guest/helpers/state.c), 0 oopses in 300.

A repeating matrix (``repeat`` > 1) and one with ``share_boots = false`` share nothing.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from harness.errors import BadInputError, Verdict
from harness.lab.spec import RunSettings, RunSpec
from harness.run.runner import boot_identity
from harness.scenario.schema import Selftest, Unmovable


_SCENARIO_FIELDS = {"scenario", "scenario_name", "expect", "false_claims", "loaded"}


@dataclass(frozen=True)
class SharedRun:
    """One run of a cell's scenario and the cells judged on it."""

    cell: RunSpec
    judged: tuple[RunSpec, ...] = ()


@dataclass(frozen=True)
class BootGroup:
    """Runs of one machine: the first boots; with more than one, its guest is saved before
    any action and every other run restores it."""

    runs: tuple[SharedRun, ...]

    @property
    def boot(self) -> RunSpec:
        return self.runs[0].cell

    @property
    def cells(self) -> tuple[RunSpec, ...]:
        return tuple(c for run in self.runs for c in (run.cell, *run.judged))

    @property
    def shares(self) -> bool:
        return len(self.cells) > 1


def boot_groups(runs: Sequence[RunSpec], settings: RunSettings) -> list[BootGroup]:
    """The cells by the boot they share: groups of several runs first, else in the
    matrix's order of each group's first cell (the reports keep the matrix's order)."""
    if settings.repeat > 1 or not settings.share:
        return [BootGroup((SharedRun(run),)) for run in runs]
    machines: dict[str, dict[str, list[RunSpec]]] = {}
    for run in runs:
        machine, actions = _keys(run)
        if not settings.restore:  # each list of actions boots a machine of its own
            machine += actions
        machines.setdefault(machine, {}).setdefault(actions, []).append(run)
    groups = []
    for by_actions in machines.values():
        shared = []
        for cells in by_actions.values():
            first = next((c for c in cells if c.expect is Verdict.PASS), cells[0])
            shared.append(SharedRun(first, tuple(c for c in cells if c is not first)))
        # A pass scenario's run first: the boot is saved in its folder.
        shared.sort(key=lambda s: s.cell.expect is not Verdict.PASS)
        groups.append(BootGroup(tuple(shared)))
    # Groups of several runs take longest: started first, they do not end the matrix alone.
    return sorted(groups, key=lambda g: -len(g.runs))


def _keys(run: RunSpec) -> tuple[str, str]:
    """(the machine the cell boots, what it does there); a scenario that cannot be read
    keeps a cell of its own (its run says what is wrong with it)."""
    try:
        scenario = run.read_scenario()
    except BadInputError:
        return f"unreadable {run.run_id}", ""
    identity = boot_identity(scenario)
    actions = identity.pop("actions")
    # Actions that bring their own programs into the initramfs make another initrd.
    guest: dict[str, Any] = {
        "unmovable": any(isinstance(a, Unmovable) for a in scenario.actions),
        "selftest": sorted({a.source or "" for a in scenario.actions if isinstance(a, Selftest)})}
    # Every dimension of the cell but its scenario and what it expects (kernel, the
    # variant's command line, and any dimension a matrix gains later).
    cell = {f.name: getattr(run, f.name) for f in fields(run) if f.name not in _SCENARIO_FIELDS}
    cell["variant"] = run.variant.cmdline
    machine = json.dumps([cell, identity, guest], sort_keys=True, default=str)
    return machine, json.dumps(actions, sort_keys=True, default=str)
