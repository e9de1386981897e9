"""One boot for several matrix cells: ``python -m harness.lab.shared_boot PLAN.json``.

The plan (written by harness.lab.cell from a :class:`harness.lab.sharing.BootGroup`)::

    {"kernel": …, "accel": …, "boot_timeout": …, "boot": …,
     "runs": [{"scenario": PATH, "folder": PATH, "judged": [{"scenario": …, "folder": …}]}]}

One run: it boots as ``memhp run`` does. Several: the first run boots as ``memhp run``
does, but its guest is saved before any action (into ``<its folder>/saved``, with the
console up to then), then goes on with its own actions; each other run's QEMU restores
the saved guest (:func:`harness.run.repeat.run_restored`); a run whose prepared command
line or initrd is not the boot's, or whose boot was not saved, boots on its own instead. Each judged cell is then judged on its run
(:func:`harness.run.runner.judge_on`). Every cell's folder gets a result.json, one that
says why when its run could not be made. The exit status is the first run's, as
``memhp run``'s; SIGTERM unwinds like Ctrl-C, so no QEMU outlives the process.
"""
from __future__ import annotations

import json
import signal
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.errors import ExitCode, MemhpError, exit_code_for
from harness.run.run_folder import ensure_out_dir
from harness.run.repeat import STATE, SavedGuest, restorable, run_restored, run_saving
from harness.run.runner import Observed, RunOptions, error_result, judge_on, prepare, run_observed


@dataclass(frozen=True)
class Cell:
    scenario: Path
    folder: Path


@dataclass(frozen=True)
class PlannedRun:
    cell: Cell
    judged: tuple[Cell, ...]


def read_plan(path: Path) -> tuple[RunOptions, list[PlannedRun]]:
    data = json.loads(path.read_text())
    options = RunOptions(kernel=data["kernel"], accel=data["accel"],
                         boot_timeout=float(data["boot_timeout"]), boot=data["boot"], qemu=data["qemu"])

    def cell(item: dict[str, Any]) -> Cell:
        return Cell(Path(item["scenario"]), Path(item["folder"]))

    return options, [PlannedRun(cell(r), tuple(cell(j) for j in r["judged"])) for r in data["runs"]]


def _error(cell: Cell, kernel: str, err: MemhpError, why: str | None = None) -> None:
    result = error_result(cell.scenario.stem, kernel, err)
    result.error = why or result.error
    result.artifact().write(ensure_out_dir(cell.folder) / "result.json")


def _judge_all(run: PlannedRun, observed: Observed, kernel: str) -> None:
    for cell in run.judged:
        try:
            judge_on(cell.scenario, observed, cell.folder)
        except MemhpError as err:
            _error(cell, kernel, err)


def _fail_all(run: PlannedRun, kernel: str, err: MemhpError) -> None:
    _error(run.cell, kernel, err)
    for cell in run.judged:
        _error(cell, kernel, err, f"could not test: the run it is judged on "
                                  f"({run.cell.scenario.stem}) ended so: {err}")


# Where the first run of several keeps the guest it saved, and the console up to then.
SAVED = "saved"


def _one_run(run: PlannedRun, options: RunOptions, booted: Observed | None = None,
             saved: SavedGuest | None = None) -> ExitCode:
    """The run (restored from ``saved`` when its machine is ``booted``'s, else booted),
    then its judged cells."""
    here = replace(options, out_dir=ensure_out_dir(run.cell.folder))
    try:
        prep = prepare(run.cell.scenario, here) if booted and saved else None
        if booted and saved and prep and restorable(prep, booted.prepared):
            observed = run_restored(prep, saved, booted.out_dir / SAVED, run.cell.folder, here)
        else:
            observed = run_observed(run.cell.scenario, here)
    except MemhpError as err:
        _fail_all(run, options.kernel, err)
        return exit_code_for(err)
    _judge_all(run, observed, options.kernel)
    return observed.result.verdict.exit_code


def share(options: RunOptions, runs: list[PlannedRun]) -> ExitCode:
    """Every run of the plan; the exit status of the first."""
    first = runs[0]
    if len(runs) == 1:
        return _one_run(first, options)
    booted: Observed | None = None
    saved: SavedGuest | None = None
    try:
        try:
            here = replace(options, out_dir=ensure_out_dir(first.cell.folder))
            booted, saved = run_saving(first.cell.scenario, here, first.cell.folder / SAVED)
            code = booted.result.verdict.exit_code
            _judge_all(first, booted, options.kernel)
        except MemhpError as err:
            _fail_all(first, options.kernel, err)
            code = exit_code_for(err)
        for run in runs[1:]:  # without a saved guest, each boots on its own
            _one_run(run, options, booted, saved)
    finally:
        # The saved guest is the size of its used RAM: never left behind, interrupted or not.
        (first.cell.folder / SAVED / STATE).unlink(missing_ok=True)
    return code


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwinds every context manager, which kills the QEMU


def main(argv: list[str] | None = None) -> int:
    (plan,) = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(share(*read_plan(Path(plan))))
    except KeyboardInterrupt:
        print("memhp: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)


if __name__ == "__main__":
    sys.exit(main())
