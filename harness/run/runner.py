"""``memhp run``: scenario → SRAT override → QEMU → actions → parsed model → verdict.

Artifacts are written as they come (console, QMP transcript, agent transcript) and the
summaries (``model.json``, ``result.json``) atomically at the end, also after a failure.
An artifact that cannot be written (a full disk) is :class:`ArtifactWriteError`, could
not test; after the verdict, :class:`UnrecordedRun`, which carries it.

The initrd is cached by content and only linked from the run's folder (``initrd.img``): a
matrix of hundreds of runs copies no image.  The console is parsed once, as QEMU writes it
(harness.qemu.console); ``console.log`` stays the artifact.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from filelock import FileLock

import kernels
from acpi_tables.override_cpio import build_override_archive, check_upgrade
from acpi_tables.srat import MemoryAffinity, decode_srat
from harness.errors import BadInputError, GuestError, InfrastructureError, MemhpError, ParseError
from harness.guest.actions import ActionResult, run_action
from harness.guest.agent import GuestGone
from harness.guest.initramfs import base_initramfs, compose_initrd, module_entries
from harness.guest.initramfs_files import FileEntry
from harness.guest.selftest import selftest_files
from harness.guest.unmovable import helper_files
from harness.guest.state import GuestSnapshot
from harness.guest.vm import GuestVM
from harness.logparse import BootLog, load_boot_log
from harness.logparse.describe import suspicious_lines
from harness.paths import ArtifactWriteError, cache_dir, write_file
from harness.qemu.accel import Accel, check_address_space, choose_accel
from harness.qemu.binary import SYSTEM, QemuBinary
from harness.qemu.choice import ChosenQemu, choose_qemu
from harness.qemu.facts import QemuFacts
from harness.qemu.cmdline import build_command
from harness.qemu.devices import CXL_MODULES, VIRTIO_MEM_MODULES, qemu_needs
from harness.qemu.machine import Machine, tail_lines
from harness.qemu.qmp import MemoryDevice
from harness.run import checks, checks_cxl, checks_virtio_mem
from harness.run.run_folder import artifact_writes, ensure_out_dir
from harness.run.artifacts import (
    NO_INFO,
    ActionRecord,
    GuestRecord,
    MemoryDeviceInfo,
    MemoryDevices,
    ModelAgreement,
    ModelFile,
    QemuInfo,
    RunInfo,
    warm_adapters,
)
from harness.run.boot_ram import boot_dimm_witnesses, disagreement
from harness.run.model_agreement import model_agreement
from harness.run.verdict import RunResult, Verdict
from harness.scenario.cmdline import kernel_cmdline
from harness.scenario.layout import MemoryLayout, compute_layout
from harness.scenario.guest_files import GuestFile
from harness.scenario.schema import Scenario, Selftest, SratSource, Unmovable, load_scenario
from harness.qemu.facts import QEMU_SRAT_HEADER
from harness.scenario.tables import slit_bytes, srat_bytes
from kernels.profile import PROFILES, profile_for
from kernels.config import REQUIRED_FOR_HOTPLUG, check_kernel, kernel_config

log = logging.getLogger("memhp.run")


class UnrecordedRun(ArtifactWriteError):
    """The run reached ``result`` but some of its summaries could not be written."""

    def __init__(self, failed: list[ArtifactWriteError], result: RunResult) -> None:
        super().__init__(tuple(p for e in failed for p in e.paths), failed[0].reason)
        self.result = result


@dataclass(frozen=True)
class RunOptions:
    kernel: str = "debian:6.1"
    out_dir: Path = Path("out")
    accel: str = "auto"
    boot_timeout: float = 180.0
    boot: str = "bzimage"  # or "pvh": the vmlinux at its PVH entry (kernels.pvh)
    files: tuple[GuestFile, ...] = ()  # added to the scenario's [[files]] (the pytest plugin)
    qemu: str = SYSTEM  # --qemu PATH|SPEC (harness.qemu.binary)


@dataclass
class Observation:
    """Everything a run saw, whatever happened to the guest."""

    release: str | None = None
    before: GuestSnapshot | None = None
    after: GuestSnapshot | None = None
    actions: list[ActionResult] | None = None
    guest_error: str | None = None
    kernel_ran: bool = False
    memory_devices_before: tuple[MemoryDevice, ...] | None = None
    memory_devices_after: tuple[MemoryDevice, ...] | None = None
    guest_srat: bytes | None = None
    distances: tuple[tuple[int, ...], ...] | None = None
    in_action: str | None = None  # the action running when the guest stopped answering
    qemu_crash: str | None = None  # the signal QEMU crashed with, if it did
    boot_seconds: float | None = None
    action_seconds: float | None = None
    # The console as parsed while QEMU wrote it (harness.qemu.console); None: read console.log.
    boot_log: BootLog | None = None


def prepare_initrd(scenario: Scenario, layout: MemoryLayout, out_dir: Path,
                   files: tuple[GuestFile, ...] = (), more: tuple[FileEntry, ...] = ()) -> Path:
    tables: dict[str, bytes] = {}
    if scenario.srat.source is SratSource.OVERRIDE:
        tables["srat"] = srat_bytes(scenario, layout)
        problems = check_upgrade(tables["srat"], QEMU_SRAT_HEADER)
        if problems:
            raise BadInputError(f"srat: the override would not replace QEMU's: {'; '.join(problems)}")
    if scenario.slit is not None and scenario.slit.source is SratSource.OVERRIDE:
        tables["slit"] = slit_bytes(scenario)
        problems = check_upgrade(tables["slit"], None)
        if problems:
            raise BadInputError(f"slit: the kernel would refuse the override: {'; '.join(problems)}")
    for name, table in tables.items():
        write_file(out_dir / f"{name}.aml", table)
    return _link(cached_initrd(build_override_archive(tables) if tables else None, scenario.files + files, more),
                 out_dir / "initrd.img")


def cached_initrd(early_archive: bytes | None, files: tuple[GuestFile, ...] = (),
                  more: tuple[FileEntry, ...] = ()) -> Path:
    """The override archive in front of the base image (with the run's files), composed
    once per content."""
    base = base_initramfs(files, more)
    if early_archive is None:
        return base
    key = hashlib.sha256(base.name.encode() + early_archive).hexdigest()[:20]
    folder = cache_dir("initrd")
    target = folder / f"memhp-{key}.img"
    with FileLock(str(folder / f"{key}.lock")):
        if not target.exists():
            partial = compose_initrd(target.with_suffix(".partial"), early_archive, files, more)
            partial.replace(target)
    return target


def _link(target: Path, link: Path) -> Path:
    """``link`` → ``target``, replacing what a reused folder had there; QEMU is given the
    link, so the command line names the run's folder."""
    partial = link.with_name(link.name + ".partial")
    partial.unlink(missing_ok=True)
    os.symlink(target, partial)
    os.replace(partial, link)
    return link


# Called with the booted guest and its kernel release before the scenario's actions
# (harness.run.repeat saves the guest there).
BeforeActions = Callable[[GuestVM, str], None]


def _drive(vm: GuestVM, scenario: Scenario, layout: MemoryLayout, timeout: float,
           seen: Observation, before_actions: BeforeActions | None = None) -> None:
    begin = time.monotonic()
    seen.release = vm.boot(timeout)
    seen.boot_seconds = time.monotonic() - begin
    seen.kernel_ran = True
    if before_actions is not None:
        before_actions(vm, seen.release)
    observe_actions(vm, scenario, layout, seen)


def observe_actions(vm: GuestVM, scenario: Scenario, layout: MemoryLayout,
                    seen: Observation) -> None:
    """The guest before, the scenario's actions, the guest after, power-off (a booted or
    a restored guest alike)."""
    seen.before = vm.snapshot()
    seen.guest_srat = vm.srat_bytes()
    seen.distances = vm.node_distances()
    seen.memory_devices_before = vm.memory_devices()
    seen.actions = []
    begin = time.monotonic()
    for action in scenario.actions:
        log.info("action %s (%s)", action.id, action.do)
        seen.in_action = action.id
        seen.actions.append(run_action(vm, scenario, layout, action))
        seen.in_action = None
    seen.action_seconds = time.monotonic() - begin
    seen.after = vm.snapshot()
    seen.memory_devices_after = vm.memory_devices()
    vm.poweroff()


def boot_and_observe(prep: "Prepared", out_dir: Path, timeout: float,
                     before_actions: BeforeActions | None = None) -> Observation:
    seen = Observation()
    with GuestVM(prep.machine(out_dir)) as vm:
        try:
            _drive(vm, prep.scenario, prep.layout, timeout, seen, before_actions)
        except GuestGone as err:
            seen.guest_error = str(err)
        except GuestError as err:
            seen.guest_error = f"guest error: {err}"
    # After the shutdown, which reaps QEMU: a QEMU dying when the agent channel closed may
    # not have been reaped yet then (seen: 7.2's heap corruption, agent EOF first).
    seen.qemu_crash = vm.qemu_crash()
    # The watcher read the console to its end on shutdown: did the kernel print its banner?
    watcher = vm.machine.console
    seen.kernel_ran = seen.kernel_ran or (watcher is not None and watcher.kernel_release is not None)
    seen.boot_log = parsed_console(vm, out_dir / "console.log")
    if not seen.kernel_ran:
        raise InfrastructureError(
            f"QEMU died before the kernel ran ({seen.guest_error}); QEMU said: "
            + " | ".join(tail_lines(out_dir / "qemu.log", 5)))
    return seen


def parsed_console(vm: GuestVM, console: Path) -> BootLog | None:
    """The console as the watcher parsed it while QEMU wrote it, named ``console`` as
    load_boot_log names the file; None: read the file (it says what is wrong with it)."""
    watcher = vm.machine.console
    try:
        return None if watcher is None else watcher.boot_log(str(console))
    except ParseError:
        return None


@dataclass(frozen=True)
class Plan:
    """A scenario validated, its memory layout computed (once per run), its kernel obtained."""

    scenario: Scenario
    layout: MemoryLayout
    kernel: kernels.Kernel


def plan(path: Path, kernel: str) -> Plan:
    """What ``memhp run`` would boot, before anything goes into the run's folder
    (``--show-command`` stops here)."""
    scenario = load_scenario(path)
    try:
        layout = compute_layout(scenario)
    except BadInputError as err:
        raise BadInputError(f"{path}: {err}") from None
    resolved = kernels.resolve(kernel)
    check_cmdline_length(kernel_cmdline(scenario, layout), resolved.release, str(path))
    if scenario.cxl:
        check_cxl_kernel(resolved.release, str(path))
    return Plan(scenario, layout, resolved)


def check_cxl_kernel(release: str, where: str) -> None:
    """A kernel that cannot make a CXL RAM region would fail every CXL action after a boot
    of minutes: refused before it."""
    try:
        ok = profile_for(release).profile.hotplug.cxl_ram_region
    except ValueError:  # older than every profile row: older than 6.1, so no RAM regions
        ok = False
    if not ok:
        raise BadInputError(f"{where}: cxl: kernel {release} cannot create a CXL RAM region "
                            "(drivers/cxl/core/region.c create_ram_region came in 6.3)")


def check_cmdline_length(cmdline: str, release: str, where: str) -> None:
    """A command line the kernel cannot take is refused before the boot: x86 silently
    boots nothing with it (the guest prints nothing until the boot timeout)."""
    try:
        size = profile_for(release).profile.command_line_size
    except ValueError:  # older than every profile row: their common x86 size
        size = PROFILES[0].command_line_size
    length, limit = len(cmdline.encode()), size - 1  # the NUL takes the last byte
    if length > limit:
        raise BadInputError(f"{where}: kernel.cmdline: the kernel command line is {length} bytes, "
                            f"{release} takes at most {limit} (x86 COMMAND_LINE_SIZE {size})")


@dataclass(frozen=True)
class Prepared:
    """A scenario ready to boot: validated, kernel obtained and checked, initrd built."""

    scenario: Scenario
    layout: MemoryLayout
    kernel: kernels.Kernel
    initrd: Path
    accel: Accel
    boot_image: Path  # what -kernel gets: the bzImage, or the vmlinux for a PVH boot
    qemu: QemuBinary
    facts: QemuFacts  # what that QEMU answered when probed
    qemu_why: str | None = None  # why this QEMU and not --qemu's (harness.qemu.choice)

    def qemu_info(self) -> QemuInfo:
        return QemuInfo(spec=self.qemu.spec, path=str(self.qemu.resolved()), version=self.facts.version,
                        package=self.facts.package, machine=self.facts.machine_type(self.scenario.machine.type),
                        archive=self.qemu.package, chosen=self.qemu_why)

    def machine(self, out_dir: Path, incoming: list[str] | None = None,
                pass_fds: tuple[int, ...] = ()) -> Machine:
        """``incoming``: the ``-incoming`` of a QEMU that restores a saved guest instead of
        booting (harness.run.repeat, ``pass_fds`` its open state file); the command line is
        otherwise the same, as migration needs."""
        return Machine(lambda socks: build_command(self.scenario, self.boot_image, self.initrd,
                                                   socks, self.accel, self.qemu, self.layout)
                       + (incoming or []),
                       out_dir, pass_fds=pass_fds, env=self.qemu.env())


def prepare(path: Path, options: RunOptions) -> Prepared:
    planned = plan(path, options.kernel)
    scenario, layout, kernel = planned.scenario, planned.layout, planned.kernel
    check_kernel(kernel, REQUIRED_FOR_HOTPLUG)
    image = kernels.boot_image(kernel, options.boot)
    chosen = check_qemu(path, scenario, layout, options.qemu)
    qemu, facts = chosen.qemu, chosen.facts
    accel = choose_accel(options.accel, kernel.bzimage, qemu)
    try:
        check_address_space(layout, accel)
    except BadInputError as err:
        raise BadInputError(f"{path}: {err}") from None
    helpers = helper_files() if any(isinstance(a, Unmovable) for a in scenario.actions) else ()
    # virtio-mem's driver is a module on Debian's kernels: from the same kernel, or refused.
    # So are CXL's (cxl_acpi … kmem).
    wanted = (VIRTIO_MEM_MODULES if scenario.virtio_mem else ()) + (CXL_MODULES if scenario.cxl else ())
    modules = kernels.needed_modules(kernel, wanted)
    initrd = prepare_initrd(scenario, layout, ensure_out_dir(options.out_dir), options.files,
                            _selftest_files(scenario, kernel) + helpers + module_entries(modules))
    return Prepared(scenario, layout, kernel, initrd, accel, image, qemu, facts, chosen.why)


def check_qemu(path: Path, scenario: Scenario, layout: MemoryLayout, given: str) -> ChosenQemu:
    """The QEMU that runs (``--qemu``, else the scenario's, else one that can: see
    :mod:`harness.qemu.choice`) and its facts; a scenario it cannot run (a machine, device
    or property it lacks) is bad input, before anything boots."""
    return choose_qemu(path, given, scenario.machine.qemu, qemu_needs(scenario, layout))


def _selftest_files(scenario: Scenario, kernel: kernels.Kernel) -> tuple[FileEntry, ...]:
    """A selftest action's script (from the source tree it names, else the booted kernel's
    version) and bash; one set, so scenarios run one selftest source."""
    sources = {a.source or ".".join(map(str, kernel.version)) for a in scenario.actions
               if isinstance(a, Selftest)}
    if len(sources) > 1:
        raise BadInputError(f"{scenario.name}: selftest actions name two sources: {sorted(sources)}")
    return selftest_files(sources.pop()) if sources else ()


@contextlib.contextmanager
def booted(path: Path, options: RunOptions) -> Iterator[tuple[Prepared, GuestVM]]:
    """A booted guest of the scenario for hand-written tests; always shut down after."""
    prep = prepare(path, options)
    with GuestVM(prep.machine(options.out_dir)) as vm:
        vm.boot(options.boot_timeout)
        yield prep, vm


@dataclass(frozen=True)
class Observed:
    """A finished run as a value: its result, what it prepared, what it saw, and its folder
    (console.log, srat.aml); every scenario of the same boot can be judged on it
    (:func:`judge_on`) instead of booting again."""

    result: RunResult
    prepared: Prepared
    seen: Observation
    out_dir: Path
    boot_log: Path | None = None  # the console of its boot, if not out_dir's (a restored run)

    @property
    def console(self) -> Path:
        return self.boot_log or self.out_dir / "console.log"


def run_scenario(path: Path, options: RunOptions) -> RunResult:
    """Run one scenario; never loses artifacts already written. Raises only for exit 2/125
    (:class:`ArtifactWriteError` carries the verdict reached)."""
    return run_observed(path, options).result


def run_observed(path: Path, options: RunOptions, before_actions: BeforeActions | None = None) -> Observed:
    """:func:`run_scenario`, keeping what the run saw for other scenarios of its boot;
    ``before_actions`` gets the booted guest first (a failure there is the run's)."""
    out = options.out_dir
    with artifact_writes(out, "console.log"):
        prep = prepare(path, options)
        scenario, layout = prep.scenario, prep.layout
        result = RunResult(scenario.name, options.kernel, prep.kernel.release)
        result.info = replace(NO_INFO, accel=prep.accel.name, out_dir=str(out), boot=options.boot,
                              qemu=prep.qemu_info())
        threading.Thread(target=warm_adapters, name="memhp-warm", daemon=True).start()
        seen = boot_and_observe(prep, out, options.boot_timeout, before_actions)
        result.info = replace(result.info, boot_seconds=seen.boot_seconds,
                              action_seconds=seen.action_seconds)
    try:
        bootlog = seen.boot_log or load_boot_log(out / "console.log")
        override = out / "srat.aml"
        facts = checks.BootFacts.of(bootlog)
        judge(result, scenario, layout, facts, seen, override)
        model = model_file(scenario, layout, facts, seen)
    except Exception as err:
        # A harness bug must not cost the run's evidence: the raw artifacts are on disk and
        # result.json says what broke.
        wrapped = InfrastructureError(f"evaluating the run failed: {err!r} (artifacts in {out})")
        result.error, result.error_verdict = f"internal error: {err!r}", Verdict.for_error(wrapped)
        write_summaries(result, out, seen, None)
        raise wrapped from err
    result.info = boot_info(result, prep, facts, seen)
    write_summaries(result, out, seen, model)
    return Observed(result, prep, seen, out)


def boot_info(result: RunResult, prep: Prepared, facts: checks.BootFacts, seen: Observation) -> RunInfo:
    """``result.info`` with what the boot log and the simulator add beside the verdict."""
    return replace(result.info, reserved_in_hotplug_ranges=checks.reserved_in_hotplug_ranges(facts),
                   virtio_mem=tuple(q for d in facts.log.virtio_mem_devices for q in d.quotes()),
                   model_agreement=_agreement(result, prep, facts, seen),
                   unread_lines=tuple(suspicious_lines(facts.log)))


# What a scenario claims rather than does: two scenarios that differ only here (and in
# their actions' CLAIMS) run the same boot, the same actions, on the same machine.
_CLAIMS = {"name", "description", "expect", "false_claims"}


def boot_identity(scenario: Scenario) -> dict[str, Any]:
    """Everything of ``scenario`` that makes its run: machine, tables, command line, guest
    files and actions, without its expectations (equal identities, one boot judges both)."""
    data = scenario.model_dump(mode="json", exclude=_CLAIMS)
    for action, dumped in zip(scenario.actions, data["actions"]):
        for claim in action.CLAIMS:
            del dumped[claim]
    return data


def judge_on(path: Path, booted: Observed, out_dir: Path) -> RunResult:
    """Judge the scenario at ``path`` on another run's boot, without booting: ``booted`` must
    have run the same boot (:func:`boot_identity`), so only the expectations differ (a
    must-fail sibling of a pass scenario). result.json and model.json go to ``out_dir``;
    the boot's own artifacts stay in its folder, which ``info.judged_on`` names."""
    scenario = load_scenario(path)
    parent = booted.prepared.scenario
    if boot_identity(scenario) != boot_identity(parent):
        raise BadInputError(f"{path}: differs from {parent.name} in more than its expectations: "
                            "it needs its own boot")
    claims = {a.id: a.expect.value for a in scenario.actions}
    # The outcomes are the boot's; what each action was expected to do is this scenario's.
    seen = replace(booted.seen, actions=None if booted.seen.actions is None else
                   [replace(a, expected=claims[a.id]) for a in booted.seen.actions])
    prep = replace(booted.prepared, scenario=scenario)
    result = RunResult(scenario.name, booted.result.kernel, booted.result.release)
    result.info = replace(booted.result.info, out_dir=str(out_dir), judged_on=str(booted.out_dir),
                          model_agreement=None)
    ensure_out_dir(out_dir)
    # The boot's console beside this result, as every run folder has one (reports link it);
    # relative, so that the two folders can travel together (a cluster's tarballs).
    console = out_dir / "console.log"
    console.unlink(missing_ok=True)
    console.symlink_to(os.path.relpath(booted.console, out_dir))
    facts = checks.BootFacts.of(load_boot_log(booted.console))
    judge(result, scenario, prep.layout, facts, seen, booted.out_dir / "srat.aml")
    model = model_file(scenario, prep.layout, facts, seen)
    result.info = replace(result.info, model_agreement=_agreement(result, prep, facts, seen))
    write_summaries(result, out_dir, seen, model)
    return result


def write_summaries(result: RunResult, out: Path, seen: Observation, model: ModelFile | None) -> None:
    """guest-srat.aml, model.json and result.json; each one that fails is named in
    ``result.error`` (so result.json says so, if it can be written) and in the raised
    :class:`UnrecordedRun`."""
    failed: list[ArtifactWriteError] = []
    writes: list[tuple[Path, Callable[[Path], None]]] = []
    if seen.guest_srat is not None:
        table = seen.guest_srat
        writes.append((out / "guest-srat.aml", lambda target: write_file(target, table)))
    if model is not None:
        writes.append((out / "model.json", model.write))
    for target, write in writes:
        try:
            write(target)
        except ArtifactWriteError as err:
            failed.append(err)
    if failed:
        result.unwritten = tuple(p.name for e in failed for p in e.paths)
        note = f"not written (could not test): {', '.join(result.unwritten)}"
        result.error = f"{result.error}; {note}" if result.error else note
    try:
        result.artifact().write(out / "result.json")
    except ArtifactWriteError as err:
        failed.append(err)
    if failed:
        raise UnrecordedRun(failed, result)


def judge(result: RunResult, scenario: Scenario, layout: MemoryLayout, facts: checks.BootFacts,
           seen: Observation, override: Path) -> None:
    """Every check of the run, into ``result``; boot-RAM DIMMs whose three witnesses
    disagree make it "could not test" whatever the checks say."""
    checks.evaluate(result, scenario, facts, seen.before, seen.actions or [], seen.guest_error,
                    seen.in_action, layout=layout)
    checks_virtio_mem.evaluate(result, scenario, layout, facts.log, seen.actions or [])
    checks_cxl.evaluate(result, scenario, layout, facts.log, seen.actions or [])
    witnesses = boot_dimm_witnesses(scenario, layout, facts.log, seen.memory_devices_before)
    for seen_dimm in witnesses:
        result.add(f"boot-RAM DIMM {seen_dimm.dimm.id} where the kernel booted with it",
                   "QEMU, e820 and SRAT agree", "agree" if seen_dimm.agree else "disagree",
                   seen_dimm.words, ok=seen_dimm.agree)
    if (why := disagreement(witnesses)) is not None:
        result.error, result.error_verdict = why, Verdict.ERROR
    if seen.qemu_crash is not None:
        during = f" during action {seen.in_action}" if seen.in_action else ""
        result.error = f"QEMU crashed ({seen.qemu_crash}){during}: the kernel was not judged"
        if scenario.cxl:
            result.error += f"; {checks_cxl.KNOWN_CRASH}"
        result.error_verdict = Verdict.ERROR
    if scenario.expect.distances is not None:
        checks.distances(result, scenario.expect.distances, seen.distances)
    if override.exists() and seen.guest_srat is not None:
        checks.guest_table(result, override.read_bytes(), seen.guest_srat)


def _agreement(result: RunResult, prep: Prepared, facts: checks.BootFacts,
               seen: Observation) -> ModelAgreement | None:
    """The simulator against the boot, when the log has the MEMBLOCK dumps it needs."""
    if not facts.log.memblock_dumps:
        return ModelAgreement.not_run(skipped="the console has no MEMBLOCK configuration dump "
                                              "(memblock=debug) to model the boot from")
    try:
        return model_agreement(result, prep.scenario, prep.layout, facts, seen.actions or [],
                               kernel_config(prep.kernel))
    except Exception as err:  # the model is informational: its failure is reported, the verdict stands
        return ModelAgreement.not_run(error=f"simulator failed: {err!r}")


def model_file(scenario: Scenario, layout: MemoryLayout, facts: checks.BootFacts,
               seen: Observation) -> ModelFile:
    return ModelFile(
        scenario=scenario.name, layout=layout, boot_log=facts.log,
        hotplug_findings=facts.findings, reservations_in_hotplug_ranges=facts.reservations,
        guest=GuestRecord(release=seen.release, before=seen.before, after=seen.after,
                          error=seen.guest_error),
        guest_srat_memory=_srat_memory(seen.guest_srat),
        node_distances=seen.distances,
        memory_devices=MemoryDevices(before=_devices(seen.memory_devices_before),
                                     after=_devices(seen.memory_devices_after)),
        actions=tuple(ActionRecord.of(a.to_json()) for a in seen.actions or []))


def _devices(answer: tuple[MemoryDevice, ...] | None) -> tuple[MemoryDeviceInfo, ...] | None:
    return None if answer is None else tuple(MemoryDeviceInfo.of(dict(d.answer)) for d in answer)


def _srat_memory(table: bytes | None) -> tuple[MemoryAffinity, ...] | None:
    """The memory affinity entries of the SRAT the guest read, or None if none was read."""
    if table is None:
        return None
    return decode_srat(table, "guest SRAT").memory_affinities


def error_result(scenario: str, kernel: str, err: MemhpError) -> RunResult:
    return RunResult(scenario, kernel, error=str(err), error_verdict=Verdict.for_error(err))
