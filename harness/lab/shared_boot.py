"""One boot for several matrix cells: ``python -m harness.lab.shared_boot PLAN.json``.

The plan (written by harness.lab.cell from a :class:`harness.lab.sharing.BootGroup`)::

    {"kernel": …, "accel": …, "boot_timeout": …, "boot": …,
     "runs": [{"scenario": PATH, "folder": PATH, "judged": [{"scenario": …, "folder": …}]}]}

One run: it boots as ``memhp run`` does. Several: the first run's scenario boots in
``<its folder>/boot``, the guest is saved before any action, and each run's QEMU restores
it (:func:`harness.run.repeat.run_restored`); a run whose prepared command line or initrd
is not the boot's boots on its own instead. Each judged cell is then judged on its run
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
from harness.run.artifacts import ensure_out_dir
from harness.run.repeat import SavedGuest, restorable, run_restored, save_booted
from harness.run.runner import Observed, Prepared, RunOptions, error_result, judge_on, prepare, run_observed


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
                         boot_timeout=float(data["boot_timeout"]), boot=data["boot"])

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


def _one_run(run: PlannedRun, options: RunOptions, booted: tuple[Prepared, SavedGuest, Path] | None) -> ExitCode:
    """The run (restored when ``booted`` can be), then its judged cells."""
    here = replace(options, out_dir=ensure_out_dir(run.cell.folder))
    try:
        prep = prepare(run.cell.scenario, here) if booted else None
        if booted and prep and restorable(prep, booted[0]):
            observed = run_restored(prep, booted[1], booted[2], run.cell.folder, here)
        else:
            observed = run_observed(run.cell.scenario, here)
    except MemhpError as err:
        _fail_all(run, options.kernel, err)
        return exit_code_for(err)
    _judge_all(run, observed, options.kernel)
    return observed.result.verdict.exit_code


def share(options: RunOptions, runs: list[PlannedRun]) -> ExitCode:
    if len(runs) == 1:
        return _one_run(runs[0], options, None)
    first = runs[0].cell
    try:
        prep = prepare(first.scenario, replace(options, out_dir=ensure_out_dir(first.folder)))
        saved = save_booted(prep, first.folder, options.boot_timeout)
    except MemhpError as err:
        for run in runs:
            _fail_all(run, options.kernel, err)
        return exit_code_for(err)
    try:
        codes = [_one_run(run, options, (prep, saved, first.folder / "boot")) for run in runs]
    finally:
        saved.state.unlink(missing_ok=True)
    return codes[0]


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
