"""``memhp run --repeat N``: boot once, save the guest, restore a fresh QEMU per repetition.

The guest has no disk, so QEMU's migration stream is its whole state. The booted guest is
stopped and migrated into ``state.bin`` (harness.qemu.migration: a stream to ``fd:``, the
file handed over the monitor socket, or ``file:`` with ``mapped-ram`` where QEMU has it);
each repetition starts QEMU with the same command line plus its ``-incoming`` (the file
inherited read-only, or named to ``migrate-incoming``), reconnects QMP and the agent in its own
folder ``rep-NN/`` (fresh console.log, so the console watcher starts at offset 0 of what
the restored guest prints), proves it is the booted guest (boot_id, zones, QEMU's memory
devices and backends), runs the scenario's actions and is judged like a run of its own.
The boot's console log (``boot/console.log``) is every repetition's boot log: it is the
same boot. The state file is deleted at the end (it is the size of the guest's used RAM).
"""
from __future__ import annotations

import collections
import json
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.errors import GuestError, InfrastructureError, MemhpError, Verdict
from harness.guest.agent import GuestGone
from harness.guest.state import GuestSnapshot
from harness.guest.vm import GuestVM
from harness.logparse import BootLog, load_boot_log
from harness.qemu.cmdline import build_command
from harness.qemu.machine import Channels
from harness.run import checks
from harness.run.run_folder import artifact_writes, ensure_out_dir
from harness.run.artifacts import NO_INFO, ModelFile, RepeatInfo, Repetition
from harness.qemu.qmp import MemoryDevice, PcDimmDevice
from harness.qemu.migration import STREAM, SaveFormat, save_format
from harness.run.runner import (
    Observation,
    Observed,
    Prepared,
    RunOptions,
    boot_info,
    judge,
    model_file,
    observe_actions,
    parsed_console,
    prepare,
    run_observed,
    write_summaries,
)
from harness.run.verdict import RunResult
from harness.scenario.layout import MemoryLayout
from harness.scenario.schema import Scenario

log = logging.getLogger("memhp.repeat")

STATE = "state.bin"
SAVE_TIMEOUT = 120.0


@dataclass(frozen=True)
class SavedGuest:
    """The booted guest as it was saved: what every restored guest must show again."""

    state: Path
    release: str
    boot_id: str
    snapshot: GuestSnapshot  # blocks, zones, MemTotal at save
    memory_devices: tuple[MemoryDevice, ...]  # QMP query-memory-devices
    memdevs: tuple[dict[str, Any], ...]  # QMP query-memdev: the backends
    boot_seconds: float
    save_seconds: float
    state_bytes: int  # what the file holds (mapped-ram's is sparse: its blocks on disk)
    form: SaveFormat
    boot_log: BootLog | None = None  # the boot's console as parsed while QEMU wrote it; None: read it


def save_booted(prep: Prepared, out: Path, timeout: float, form: SaveFormat) -> SavedGuest:
    """Boot the scenario's guest in ``out/boot`` and migrate it, stopped, into ``out/state.bin``."""
    with GuestVM(prep.machine(ensure_out_dir(out / "boot"))) as vm:
        begin = time.monotonic()
        release = vm.boot(timeout)
        saved = save_guest(vm, out / STATE, release, time.monotonic() - begin, form)
    return replace(saved, boot_log=parsed_console(vm, out / "boot" / "console.log"))


def save_guest(vm: GuestVM, path: Path, release: str, boot_seconds: float, form: SaveFormat) -> SavedGuest:
    """Migrate the booted guest, stopped, into ``path``; the QEMU stays (paused, its
    guest intact: QMP ``cont`` runs it on)."""
    boot_id, snapshot = vm.boot_id(), vm.snapshot()
    devices, memdevs = vm.memory_devices(), vm.qmp.command("query-memdev")
    begin = time.monotonic()
    vm.qmp.command("stop")  # one pass: no page is dirtied while the stream is written
    status = form.save(vm.qmp, path, SAVE_TIMEOUT)
    if status.get("status") != "completed":
        raise InfrastructureError(f"saving the booted guest failed ({form.name}): "
                                  f"{status.get('error-desc', status.get('status'))}")
    return SavedGuest(path, release, boot_id, snapshot, devices, tuple(memdevs),
                      boot_seconds, time.monotonic() - begin, path.stat().st_blocks * 512, form)


def run_saving(path: Path, options: RunOptions, saved_dir: Path) -> tuple[Observed, SavedGuest | None]:
    """A run of the scenario at ``path`` (as ``memhp run``) whose guest is saved once booted,
    before any action, into ``saved_dir`` (the state and the console up to then, the boot
    log of every run restored from it: :func:`run_restored`); then it continues in the same
    QEMU with the scenario's own actions. No saved guest if the boot never answered."""
    ensure_out_dir(saved_dir)
    saved: list[SavedGuest] = []

    def save(vm: GuestVM, release: str) -> None:
        # The fd: stream: every QEMU has it, and the saving QEMU goes on running this guest.
        saved.append(save_guest(vm, saved_dir / STATE, release, 0.0, SaveFormat(STREAM)))
        # What the stopped kernel printed is the boot: the restored runs' boot log.
        shutil.copyfile(options.out_dir / "console.log", saved_dir / "console.log")
        vm.qmp.command("cont")

    observed = run_observed(path, options, save)
    boot_seconds = observed.result.info.boot_seconds or 0.0
    return observed, replace(saved[0], boot_seconds=boot_seconds) if saved else None


Identity = list[tuple[str, str, str]]  # (check, expected, observed) before the actions


def _restore_and_drive(prep: Prepared, saved: SavedGuest, rep_dir: Path,
                       timeout: float) -> tuple[Observation, Identity]:
    seen = Observation(release=saved.release, kernel_ran=True)
    identity: Identity = []
    form = saved.form
    with open(saved.state, "rb") as state, \
            GuestVM(prep.machine(rep_dir, form.incoming_args(state.fileno()), (state.fileno(),))) as vm:
        begin = time.monotonic()
        try:
            vm.resume(timeout, lambda qmp: form.start_incoming(qmp, saved.state))
        except GuestError as err:  # the saved guest answered once: QEMU or the state failed
            raise InfrastructureError(f"the restored guest did not answer: {err}") from err
        seen.boot_seconds = time.monotonic() - begin
        try:
            identity.append(("restored guest is the booted one (boot_id)", saved.boot_id, vm.boot_id()))
            identity.append(("QEMU restored the memory backends (query-memdev)",
                             _words(saved.memdevs), _words(vm.qmp.command("query-memdev"))))
            observe_actions(vm, prep.scenario, prep.layout, seen)
        except GuestGone as err:
            seen.guest_error = str(err)
        except GuestError as err:
            seen.guest_error = f"guest error: {err}"
    seen.qemu_crash = vm.qemu_crash()  # after the shutdown reaped QEMU (runner.boot_and_observe)
    return seen, identity


def _words(answer: Any) -> str:
    """A QMP answer as comparable text: the restored state must be the saved one exactly."""
    return json.dumps(sorted(answer, key=lambda item: json.dumps(item, sort_keys=True)),
                      sort_keys=True)


def _dimm_words(dimms: list[tuple[str, int, int]]) -> str:
    return ", ".join(f"{i} {size:#x} node {node}" for i, size, node in sorted(dimms)) or "no DIMMs"


def _qemu_dimms(devices: Sequence[MemoryDevice]) -> list[tuple[str, int, int]]:
    """(id, size, node) of each pc-dimm in a query-memory-devices answer (PCDIMMDeviceInfo)."""
    return [(str(d.id), d.size, d.node) for d in devices if isinstance(d, PcDimmDevice) and d.type == "dimm"]


def judge_repetition(scenario: Scenario, layout: MemoryLayout, kernel: str, facts: checks.BootFacts,
                     saved: SavedGuest, seen: Observation, identity: Identity,
                     override: Path) -> RunResult:
    """Every check of a run, plus that the restored guest and QEMU are the ones saved."""
    result = RunResult(scenario.name, kernel, saved.release)
    judge(result, scenario, layout, facts, seen, override)
    for name, expected, observed in identity:
        result.add(name, expected, observed)
    if seen.before is not None:
        result.add("restored guest has the booted zones", "the zones at save",
                   "the zones at save" if seen.before.zones == saved.snapshot.zones else repr(seen.before.zones))
    if seen.memory_devices_before is not None:
        result.add("QEMU restored the DIMMs (query-memory-devices)",
                   _words([dict(d.answer) for d in saved.memory_devices]),
                   _words([dict(d.answer) for d in seen.memory_devices_before]))
        wanted = [(d.id, int(d.size), d.node) for d in scenario.dimms if d.coldplugged]
        result.add("restored DIMMs are the scenario's coldplugged ones", _dimm_words(wanted),
                   _dimm_words(_qemu_dimms(seen.memory_devices_before)))
    return result


def _repetition(index: int, result: RunResult, seen: Observation) -> Repetition:
    refused = tuple(f"{a.id}: {a.reason}" for a in seen.actions or [] if not a.succeeded)
    return Repetition(index=index, verdict=result.verdict,
                      failed_checks=tuple(c.name for c in result.checks if not c.ok),
                      refused=refused, restore_seconds=seen.boot_seconds,
                      action_seconds=seen.action_seconds, error=result.error)


def refusal_totals(scenario: Scenario, reps: list[tuple[Repetition, Observation]]) -> tuple[str, ...]:
    """Per action that did not succeed somewhere: in how many repetitions, and why."""
    lines = []
    for action in scenario.actions:
        reasons: collections.Counter[str] = collections.Counter()
        for _, seen in reps:
            done = {a.id: a for a in seen.actions or []}
            res = done.get(action.id)
            if res is None:
                reasons["not run: " + (seen.guest_error or "the guest was gone")] += 1
            elif not res.succeeded:
                reasons[res.reason] += 1
        if reasons:
            why = "; ".join(f"{reason} ×{n}" for reason, n in reasons.most_common())
            lines.append(f"{action.id} did not succeed in {sum(reasons.values())} of {len(reps)}: {why}")
    return tuple(lines)


def overall(scenario: Scenario, kernel: str, saved: SavedGuest, info: RepeatInfo) -> RunResult:
    """One check per repetition; any FAIL fails the run, else any could-not-test is an error."""
    result = RunResult(scenario.name, kernel, saved.release)
    for rep in info.repetitions:
        why = rep.error or "; ".join(rep.failed_checks)
        result.add(f"repetition {rep.index}", Verdict.PASS.value, rep.verdict.value, why,
                   ok=rep.verdict is Verdict.PASS)
    if not any(r.verdict is Verdict.FAIL for r in info.repetitions) and result.verdict is not Verdict.PASS:
        result.error, result.error_verdict = f"could not test: {info.totals()}", Verdict.ERROR
    return result


def run_repeated(path: Path, options: RunOptions, count: int, migration: str | None = None) -> RunResult:
    """Boot once, then ``count`` restored repetitions, each judged; result.json has them all.
    ``migration``: stream or mapped-ram (scripts/bench-repeat), else the preferred one this
    QEMU has."""
    out = options.out_dir
    with artifact_writes(out, "boot/console.log"):
        prep = prepare(path, options)
        saved = save_booted(prep, out, options.boot_timeout, save_format(prep.facts, migration))
        try:
            facts = checks.BootFacts.of(saved.boot_log or load_boot_log(out / "boot" / "console.log"))
            reps = [_one(prep, facts, saved, out, index, options) for index in range(1, count + 1)]
        finally:
            saved.state.unlink(missing_ok=True)
    info = RepeatInfo(count=count, boot_seconds=saved.boot_seconds, save_seconds=saved.save_seconds,
                      state_bytes=saved.state_bytes, repetitions=tuple(r for r, _ in reps),
                      refusals=refusal_totals(prep.scenario, reps), migration=saved.form.name)
    result = overall(prep.scenario, options.kernel, saved, info)
    result.info = replace(NO_INFO, accel=prep.accel.name, out_dir=str(out), repeat=info,
                          boot_seconds=saved.boot_seconds, boot=options.boot, qemu=prep.qemu_info())
    # The top model.json is the boot as saved (its log, layout, the guest at save), for the
    # reports' memory map; each repetition's has its own actions.
    at_save = Observation(release=saved.release, before=saved.snapshot, kernel_ran=True,
                          memory_devices_before=saved.memory_devices)
    write_summaries(result, out, Observation(), _model(result, prep, facts, at_save))
    return result


def _model(result: RunResult, prep: Prepared, facts: checks.BootFacts, seen: Observation) -> ModelFile | None:
    """model.json of what ``seen`` saw; a harness bug here is noted in result.json and costs
    no verdict (the model is a record, not a check)."""
    if not seen.kernel_ran:
        return None
    try:
        return model_file(prep.scenario, prep.layout, facts, seen)
    except Exception as err:  # noqa: BLE001 - any bug: the repetitions' verdicts stay written
        note = f"model.json not written: {err!r}"
        result.error = f"{result.error}; {note}" if result.error else note
        return None


def restorable(prep: Prepared, booted: Prepared) -> bool:
    """Whether ``prep``'s QEMU can restore the guest ``booted`` saved: the same kernel,
    accelerator, initrd content and command line (its folder's paths aside), as migration
    needs; the scenarios may differ in their actions and expectations only."""
    def machine(p: Prepared) -> list[str]:
        return build_command(p.scenario, p.boot_image, p.initrd.resolve(), _ANY_CHANNELS, p.accel,
                             layout=p.layout)
    return machine(prep) == machine(booted)


_ANY_CHANNELS = Channels(Path("console.log"), Path("agent"), Path("qmp"))


def run_restored(prep: Prepared, saved: SavedGuest, boot_dir: Path, out: Path,
                 options: RunOptions) -> Observed:
    """``prep``'s actions in a QEMU restored from the guest another scenario of the same
    machine booted and saved (:func:`save_booted` into ``boot_dir``'s parent; check
    :func:`restorable` first): judged as a run of its own, plus that the restored guest
    and QEMU are the ones saved; artifacts in ``out``, the boot's console is its boot log."""
    ensure_out_dir(out)
    facts = checks.BootFacts.of(load_boot_log(boot_dir / "console.log"))
    try:
        seen, identity = _restore_and_drive(prep, saved, out, options.boot_timeout)
        result = judge_repetition(prep.scenario, prep.layout, options.kernel, facts, saved, seen,
                                  identity, out / "srat.aml")
    except MemhpError as err:  # this QEMU could not restore: the run could not test
        seen, result = Observation(), RunResult(prep.scenario.name, options.kernel, saved.release,
                                                error=str(err), error_verdict=Verdict.for_error(err))
    result.info = replace(NO_INFO, accel=prep.accel.name, out_dir=str(out), boot=options.boot,
                          boot_seconds=seen.boot_seconds, action_seconds=seen.action_seconds,
                          restored_from=str(boot_dir), qemu=prep.qemu_info())
    if seen.kernel_ran:
        result.info = boot_info(result, prep, facts, seen)
    write_summaries(result, out, seen, _model(result, prep, facts, seen))
    return Observed(result, prep, seen, out, boot_dir / "console.log")


def _one(prep: Prepared, facts: checks.BootFacts, saved: SavedGuest, out: Path, index: int,
         options: RunOptions) -> tuple[Repetition, Observation]:
    rep_dir = ensure_out_dir(out / f"rep-{index:02d}")
    log.info("repetition %d in %s", index, rep_dir)
    try:
        seen, identity = _restore_and_drive(prep, saved, rep_dir, options.boot_timeout)
        result = judge_repetition(prep.scenario, prep.layout, options.kernel, facts, saved, seen, identity, out / "srat.aml")
    except MemhpError as err:  # this QEMU could not restore: that repetition could not test
        seen, result = Observation(), RunResult(prep.scenario.name, options.kernel, saved.release,
                                                error=str(err), error_verdict=Verdict.for_error(err))
    result.info = replace(NO_INFO, accel=prep.accel.name, out_dir=str(rep_dir), boot=options.boot,
                          boot_seconds=seen.boot_seconds, action_seconds=seen.action_seconds,
                          qemu=prep.qemu_info())
    write_summaries(result, rep_dir, seen, _model(result, prep, facts, seen))
    return _repetition(index, result, seen), seen
