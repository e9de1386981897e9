"""One matrix cell on this machine: a ``memhp run`` subprocess with a timeout and retries.

A subprocess (not a pool process) per run, because only a process can be stopped when a
run overruns its timeout or the matrix is interrupted; its SIGTERM handler unwinds and
kills its QEMU. Runs live in their own sessions, out of reach of the terminal's Ctrl-C:
:func:`stop_cells` is how an interrupted matrix stops them (here, or on a Dask worker).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

from harness.errors import BadInputError, ExitCode, Verdict
from harness.lab.results import SAVED_BOOT, CellStatus, RunFn, RunRecord
from harness.lab.sharing import BootGroup
from harness.lab.spec import RunSettings, RunSpec
from harness.paths import RunFile, private_dir, write_file
from harness.qemu.machine import die_with_parent
from harness.run.artifacts import ResultFile

# Time the run gets to kill its QEMU after SIGTERM before the whole group is killed.
GRACE_SECONDS = 20.0
# How often a waiting cell looks whether its matrix was stopped.
_POLL_SECONDS = 0.1
# Executions of a matrix (RunSettings.matrix_run) that were stopped, in this process.
_STOPPED: set[str] = set()
_STOPPED_LOCK = threading.Lock()


def stop_cells(matrix_run: str) -> None:
    """Stop the cells of one matrix execution: running ones end with an ``interrupted``
    record and their artifacts, the ones not started yet are ``not-run``."""
    with _STOPPED_LOCK:
        _STOPPED.add(matrix_run)


def stopping(settings: RunSettings) -> bool:
    with _STOPPED_LOCK:
        return bool(settings.matrix_run) and settings.matrix_run in _STOPPED


def record_from_result(run: RunSpec, result: ResultFile, seconds: float) -> RunRecord:
    """The record of one attempt from its ``result.json``."""
    failed = result.failed_checks
    reason = result.error or "; ".join(failed)
    if run.false_claims and result.verdict is Verdict.FAIL and set(failed) != set(run.false_claims):
        reason = (f"failed {sorted(failed)}, but its false claims are {sorted(run.false_claims)}")
    return RunRecord(run.run_id, run.kernel, run.scenario_name, run.variant.name, run.expect,
                     result.verdict, result.release, failed, reason,
                     1, seconds, boot_seconds=result.info.boot_seconds,
                     action_seconds=result.info.action_seconds, false_claims=run.false_claims,
                     repeat=_repeat_words(result), qemu=run.qemu,
                     qemu_version=None if result.info.qemu is None else result.info.qemu.label,
                     machine=None if result.info.qemu is None else result.info.qemu.machine,
                     accel=result.info.accel)


def _repeat_words(result: ResultFile) -> str | None:
    """A repeated cell's totals and refusals, for the reports."""
    repeat = result.info.repeat
    return None if repeat is None else "; ".join((repeat.totals(), *repeat.refusals))


def error_record(run: RunSpec, reason: str, seconds: float,
                 status: CellStatus = CellStatus.FINISHED) -> RunRecord:
    return RunRecord(run.run_id, run.kernel, run.scenario_name, run.variant.name, run.expect,
                     Verdict.ERROR, None, (), reason, 1, seconds, status, false_claims=run.false_claims,
                     qemu=run.qemu)


def not_run_record(run: RunSpec) -> RunRecord:
    return replace(error_record(run, "not run: the matrix was interrupted", 0.0, CellStatus.NOT_RUN),
                   attempts=0)


def scenario_for(run: RunSpec, out_dir: Path) -> Path:
    """The scenario file to run: the original, or one extending it with the variant's cmdline."""
    if not run.variant.cmdline:
        return run.scenario
    base = run.read_scenario().kernel.cmdline
    cmdline = f"{base} {run.variant.cmdline}".strip()
    path = out_dir / "scenario.toml"
    write_file(path, (f"extends = {json.dumps(str(run.scenario))}\n\n"
                      f"[kernel]\ncmdline = {json.dumps(cmdline)}\n").encode())
    return path


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _wait(proc: subprocess.Popen[bytes], settings: RunSettings) -> str | None:
    """None once the run exits by itself; else why it was stopped."""
    deadline = time.monotonic() + settings.timeout
    while True:
        try:
            proc.wait(max(0.0, min(_POLL_SECONDS, deadline - time.monotonic())))
            return None
        except subprocess.TimeoutExpired:
            if stopping(settings):
                _stop(proc)
                return "interrupted"
            if time.monotonic() >= deadline:
                _stop(proc)
                return f"timed out after {settings.timeout:g} s"


def run_argv(run: RunSpec, out_dir: Path, settings: RunSettings) -> list[str]:
    """The ``memhp run`` of one attempt (``--repeat`` when the matrix repeats its cells)."""
    argv = [sys.executable, "-m", "harness.cli", "run", str(scenario_for(run, out_dir)),
            "--kernel", run.kernel, "--out", str(out_dir), "--accel", settings.accel,
            "--boot-timeout", str(settings.boot_timeout), "--boot", settings.boot,
            "--qemu", run.qemu]
    return argv + (["--repeat", str(settings.repeat)] if settings.repeat > 1 else [])


def run_in_subprocess(run: RunSpec, out_dir: Path, settings: RunSettings,
                      argv: list[str] | None = None) -> RunRecord:
    """One attempt: ``memhp run`` (or ``argv``, which runs the cell into ``out_dir``) in its
    own session, stopped after ``settings.timeout`` or when its matrix is stopped."""
    if stopping(settings):
        return not_run_record(run)
    private_dir(out_dir)
    start = time.monotonic()
    argv = argv or run_argv(run, out_dir, settings)
    with RunFile(out_dir / "memhp-run.log") as log:
        # SIGTERM if this process dies (a killed Dask worker): the run unwinds and kills its QEMU.
        proc = subprocess.Popen(argv, stdout=log.fileno(), stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=die_with_parent(signal.SIGTERM))
        stopped = _wait(proc, settings)
    seconds = time.monotonic() - start
    if stopped == "interrupted":
        return error_record(run, f"interrupted after {seconds:.0f} s (memhp run exited "
                            f"{proc.returncode})", seconds, CellStatus.INTERRUPTED)
    if stopped:
        return error_record(run, stopped, seconds)
    return read_record(run, out_dir, proc.returncode, seconds)


def read_record(run: RunSpec, out_dir: Path, returncode: int, seconds: float) -> RunRecord:
    """The record of a finished ``memhp run``: from its result.json, else why there is none."""
    if not (out_dir / "result.json").exists():
        tail = (out_dir / "memhp-run.log").read_text(errors="replace").strip().splitlines()[-3:]
        return error_record(run, f"memhp run exited {returncode} without result.json: "
                            + " | ".join(tail), seconds)
    try:
        result = ResultFile.read(out_dir / "result.json")
    except BadInputError as err:  # a run that wrote nonsense could not be judged
        return error_record(run, str(err), seconds)
    if returncode == ExitCode.CANNOT_TEST and result.verdict.tested:
        # The verdict was reached but its evidence not all written (a full disk): retried.
        return error_record(run, result.error or "memhp run could not test", seconds)
    return record_from_result(run, result, seconds)


def shared_boot_argv(group: BootGroup, runs_dir: Path, settings: RunSettings) -> list[str]:
    """One process for the group's boot (harness.lab.shared_boot): its plan is written
    into the boot cell's folder."""
    def cell(run: RunSpec) -> dict[str, str]:
        folder = private_dir(runs_dir / run.run_id)
        return {"scenario": str(scenario_for(run, folder)), "folder": str(folder)}

    plan = {"kernel": group.boot.kernel, "accel": settings.accel, "boot_timeout": settings.boot_timeout,
            "boot": settings.boot, "qemu": group.boot.qemu,
            "runs": [dict(cell(r.cell), judged=[cell(j) for j in r.judged]) for r in group.runs]}
    path = runs_dir / group.boot.run_id / "shared-boot.json"
    write_file(path, (json.dumps(plan, indent=2) + "\n").encode())
    return [sys.executable, "-m", "harness.lab.shared_boot", str(path)]


def run_group(group: BootGroup, runs_dir: Path, settings: RunSettings) -> list[RunRecord]:
    """The cells of one boot: the boot cell with its retries, as a cell of its own; every
    other cell from its folder, its record saying whose boot it had."""
    others: list[RunRecord] = []

    def attempt(run: RunSpec, out_dir: Path, settings: RunSettings) -> RunRecord:
        record = run_in_subprocess(run, out_dir, settings, shared_boot_argv(group, runs_dir, settings))
        others[:] = [_shared_record(cell, runs_dir / cell.run_id, words, record)
                     for cell, words in _sharers(group)]
        return record

    boot = run_with_retries(group.boot, runs_dir / group.boot.run_id, settings, attempt)
    if boot.status is CellStatus.NOT_RUN:
        return [boot, *(not_run_record(cell) for cell, _ in _sharers(group))]
    words = (f"{SAVED_BOOT} before its actions, restored by {len(group.runs) - 1} more run(s)"
             if len(group.runs) > 1 else None)
    return [replace(boot, shared=words), *(replace(r, attempts=boot.attempts) for r in others)]


def _sharers(group: BootGroup) -> list[tuple[RunSpec, str]]:
    """Every cell of the group but the boot's, with what it shares."""
    boot = group.boot.run_id
    out = [(run.cell, f"restored from {boot}'s saved boot") for run in group.runs[1:]]
    return out + [(cell, f"judged on {run.cell.run_id}'s boot") for run in group.runs for cell in run.judged]


def _shared_record(run: RunSpec, folder: Path, words: str, booted: RunRecord) -> RunRecord:
    if booted.status is not CellStatus.FINISHED or not (folder / "result.json").exists():
        return replace(error_record(run, f"{words}, which ended: {booted.reason}", 0.0, booted.status),
                       shared=words)
    try:
        result = ResultFile.read(folder / "result.json")
    except BadInputError as err:
        return replace(error_record(run, str(err), 0.0), shared=words)
    return replace(record_from_result(run, result, 0.0), shared=words)


def run_with_retries(run: RunSpec, out_dir: Path, settings: RunSettings, run_fn: RunFn) -> RunRecord:
    """Run a cell, again only while it could not be tested (exit 125), never after a verdict.

    Earlier attempts stay next to the final folder as ``<folder>.attempt<N>``."""
    if stopping(settings):
        return not_run_record(run)
    attempt = 1
    while True:
        record = run_fn(run, out_dir, settings)
        if record.status is CellStatus.NOT_RUN:  # stopped before it began
            return record
        record = replace(record, attempts=attempt)
        # Never a new attempt once the matrix is stopped, nor after an interrupted one.
        if (record.status is not CellStatus.FINISHED or attempt > settings.retries
                or record.verdict.exit_code != ExitCode.CANNOT_TEST or stopping(settings)):
            return record
        keep = out_dir.with_name(f"{out_dir.name}.attempt{attempt}")
        shutil.rmtree(keep, ignore_errors=True)
        if out_dir.exists():
            out_dir.rename(keep)
        attempt += 1
