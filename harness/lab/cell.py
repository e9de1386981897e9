"""One matrix cell on this machine: a ``memhp run`` subprocess with a timeout and retries.

A subprocess (not a pool process) per run, because only a process can be stopped when a
run overruns its timeout; its SIGTERM handler unwinds and kills its QEMU.
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
from harness.lab.results import RunFn, RunRecord
from harness.lab.spec import RunSettings, RunSpec
from harness.run.artifacts import ResultFile
from harness.scenario.schema import load_scenario

# Time the run gets to kill its QEMU after SIGTERM before the whole group is killed.
_GRACE_SECONDS = 20.0
# Runs live in their own sessions, out of reach of the terminal's Ctrl-C: stop_all() is how
# an interrupted matrix stops them.
_LIVE: set[subprocess.Popen[bytes]] = set()
_LIVE_LOCK = threading.Lock()


def record_from_result(run: RunSpec, result: ResultFile, seconds: float) -> RunRecord:
    """The record of one attempt from its ``result.json``."""
    failed = result.failed_checks
    return RunRecord(run.run_id, run.kernel, run.scenario_name, run.variant.name, run.expect,
                     result.verdict, result.release, failed, result.error or "; ".join(failed),
                     1, seconds)


def error_record(run: RunSpec, reason: str, seconds: float) -> RunRecord:
    return RunRecord(run.run_id, run.kernel, run.scenario_name, run.variant.name, run.expect,
                     Verdict.ERROR, None, (), reason, 1, seconds)


def scenario_for(run: RunSpec, out_dir: Path) -> Path:
    """The scenario file to run: the original, or one extending it with the variant's cmdline."""
    if not run.variant.cmdline:
        return run.scenario
    base = load_scenario(run.scenario).kernel.cmdline
    cmdline = f"{base} {run.variant.cmdline}".strip()
    path = out_dir / "scenario.toml"
    path.write_text(f"extends = {json.dumps(str(run.scenario))}\n\n"
                    f"[kernel]\ncmdline = {json.dumps(cmdline)}\n")
    return path


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def stop_all() -> None:
    """Ask every running ``memhp run`` of this process to stop (it kills its QEMU)."""
    with _LIVE_LOCK:
        for proc in _LIVE:
            proc.send_signal(signal.SIGTERM)


def run_in_subprocess(run: RunSpec, out_dir: Path, settings: RunSettings) -> RunRecord:
    """One attempt: ``memhp run`` in its own session, stopped after ``settings.timeout``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    argv = [sys.executable, "-m", "harness.cli", "run", str(scenario_for(run, out_dir)),
            "--kernel", run.kernel, "--out", str(out_dir), "--accel", settings.accel,
            "--boot-timeout", str(settings.boot_timeout)]
    with open(out_dir / "memhp-run.log", "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        with _LIVE_LOCK:
            _LIVE.add(proc)
        try:
            proc.wait(settings.timeout)
        except subprocess.TimeoutExpired:
            _stop(proc)
            return error_record(run, f"timed out after {settings.timeout:g} s",
                                time.monotonic() - start)
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(proc)
    return read_record(run, out_dir, proc.returncode, time.monotonic() - start)


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
    return record_from_result(run, result, seconds)


def run_with_retries(run: RunSpec, out_dir: Path, settings: RunSettings, run_fn: RunFn) -> RunRecord:
    """Run a cell, again only while it could not be tested (exit 125), never after a verdict.

    Earlier attempts stay next to the final folder as ``<folder>.attempt<N>``."""
    attempt = 1
    while True:
        record = run_fn(run, out_dir, settings)
        if record.verdict.exit_code != ExitCode.CANNOT_TEST or attempt > settings.retries:
            return replace(record, attempts=attempt)
        keep = out_dir.with_name(f"{out_dir.name}.attempt{attempt}")
        shutil.rmtree(keep, ignore_errors=True)
        if out_dir.exists():
            out_dir.rename(keep)
        attempt += 1
