"""Which cells of a matrix share a boot, decided from their scenario files.

Cells on the same kernel and variant whose scenarios differ only in what they expect
(:func:`harness.run.runner.boot_identity`: ``[expect]``, ``false_claims``, an action's
``expect``) make the same run: one of them boots (a pass scenario if there is one, the
parent of its must-fail siblings), the others are judged on its boot and say so. A
sibling that changes the machine, the command line or the actions boots on its own.

A repeating matrix (``repeat`` > 1) and one with ``share_boots = false`` share nothing.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from harness.errors import BadInputError, Verdict
from harness.lab.spec import RunSettings, RunSpec
from harness.run.runner import boot_identity
from harness.scenario.schema import load_scenario


@dataclass(frozen=True)
class BootGroup:
    """One boot and the cells judged on it."""

    boot: RunSpec
    judged: tuple[RunSpec, ...] = ()

    @property
    def cells(self) -> tuple[RunSpec, ...]:
        return (self.boot, *self.judged)


def boot_groups(runs: Sequence[RunSpec], settings: RunSettings) -> list[BootGroup]:
    """The cells by the boot they share, in the matrix's order of each group's first cell."""
    if settings.repeat > 1 or not settings.share:
        return [BootGroup(run) for run in runs]
    by_key: dict[str, list[RunSpec]] = {}
    for run in runs:
        by_key.setdefault(_boot_key(run), []).append(run)
    groups = []
    for cells in by_key.values():
        boot = next((c for c in cells if c.expect is Verdict.PASS), cells[0])
        groups.append(BootGroup(boot, tuple(c for c in cells if c is not boot)))
    return groups


def _boot_key(run: RunSpec) -> str:
    """What makes the cell's run; a scenario that cannot be read keeps a cell of its own
    (its run says what is wrong with it)."""
    try:
        identity = boot_identity(load_scenario(run.scenario))
    except BadInputError:
        return f"unreadable {run.run_id}"
    return json.dumps([run.kernel, run.variant.cmdline, identity], sort_keys=True, default=str)
