"""A booted guest as one object: the QEMU machine, its console, QMP and the agent.

This is what the runner drives and what the pytest plugin hands to tests.
"""
from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from harness.errors import GuestError
from harness.guest.agent import Agent, AgentReply, GuestGone
from harness.guest.command import CommandResult, run_in_guest
from harness.guest.state import (
    GuestSnapshot,
    HotplugParams,
    MemoryBlock,
    NodeStates,
    PageFlagSummary,
    ZoneInfo,
    parse_blocks,
    parse_cpus,
    parse_hotplug_params,
    parse_nodes,
    parse_pageflags,
    parse_zoneinfo,
)
from harness.qemu.console import ConsoleWatcher
from harness.qemu.devices import dimm_args
from harness.qemu.machine import Machine
from harness.qemu.qmp import MemoryDevice, QmpSession, UnplugOutcome, memory_device
from harness.scenario.layout import MemoryLayout
from harness.scenario.schema import Dimm

log = logging.getLogger("memhp.vm")

CRASH_SIGNALS = frozenset({signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGILL,
                           signal.SIGFPE})


class GuestVM:
    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.agent: Agent | None = None
        self._block_size: int | None = None  # the guest's, read once (by the first snapshot)

    @property
    def out_dir(self) -> Path:
        return self.machine.out_dir

    @property
    def qmp(self) -> QmpSession:
        assert self.machine.qmp is not None, "not started"
        return self.machine.qmp

    @property
    def console(self) -> ConsoleWatcher:
        assert self.machine.console is not None, "not started"
        return self.machine.console

    def why_gone(self) -> str | None:
        console = self.machine.console
        if console is not None:
            console.catch_up()
            if console.panic.is_set():
                return f"guest panicked: {console.panic_line}"
        if not self.machine.is_running():
            if crash := self.qemu_crash():
                return f"QEMU crashed: killed by {crash}"
            return f"QEMU exited with status {self.machine.exitcode}"
        return None

    def qemu_crash(self) -> str | None:
        """The signal QEMU died of when it crashed by itself (not our SIGKILL): a bug in
        QEMU, not a verdict on the guest kernel."""
        code = self.machine.exitcode
        if code is not None and -code in CRASH_SIGNALS:  # Popen's -N: killed by signal N
            return signal.Signals(-code).name
        return None

    def boot(self, timeout: float) -> str:
        """Start QEMU and wait for the agent; returns the guest's kernel release."""
        self.machine.start()
        assert self.machine.agent_socket is not None
        self.agent = Agent(self.machine.agent_socket, self.out_dir / "agent.log", self.why_gone)
        try:
            return self.agent.wait_ready(timeout)
        except OSError as err:
            raise self._channel_lost("boot", err) from err

    def resume(self, timeout: float, incoming: Callable[[QmpSession], None] | None = None) -> None:
        """Start a QEMU that restores a saved guest (``-incoming``) and reach its agent;
        ``incoming``: what starts the restore once QMP is up (``-incoming defer``).

        The guest said hello long ago, in the booted QEMU: its agent sits waiting for the
        next request, so a ping on the new channel is the proof it runs again.
        """
        self.machine.start()
        if incoming is not None:
            incoming(self.qmp)
        # A guest saved stopped stays paused after the restore whatever ``cont`` said during
        # it (QEMU migration/migration.c process_incoming_migration_bh): resume it now.
        status = self.qmp.wait_migration(timeout)
        if status.get("status") != "completed":
            raise GuestError(f"restoring the saved guest failed: "
                             f"{status.get('error-desc', status.get('status'))}")
        self.qmp.command("cont")
        assert self.machine.agent_socket is not None
        self.agent = Agent(self.machine.agent_socket, self.out_dir / "agent.log", self.why_gone)
        reply = self.call("ping", timeout=timeout)
        if reply.lines != ("pong",):
            raise GuestError(f"restored guest answered ping with {reply.lines!r}")

    def boot_id(self) -> str:
        """/proc/sys/kernel/random/boot_id: the same in a restored guest as in the booted one."""
        return self._checked("boot_id").lines[0].strip()

    def _channel_lost(self, what: str, err: OSError) -> GuestGone:
        # A killed QEMU resets the agent socket instead of closing it (ECONNRESET, EPIPE).
        return GuestGone(f"{what}: agent channel closed ({self.why_gone() or err})")

    def call(self, verb: str, *args: object, timeout: float = 30.0) -> AgentReply:
        if self.agent is None:
            raise GuestError("guest not booted")
        try:
            return self.agent.call(verb, *args, timeout=timeout)
        except OSError as err:
            raise self._channel_lost(f"agent {verb}", err) from err

    def _checked(self, verb: str, *args: object, timeout: float = 30.0) -> AgentReply:
        reply = self.call(verb, *args, timeout=timeout)
        if not reply.ok:
            raise GuestError(f"agent {verb} failed ({reply.status}): {reply.text}")
        return reply

    @property
    def block_size(self) -> int:
        if self._block_size is None:
            self._block_size = int(self._checked("block_size").lines[0], 16)
        return self._block_size

    def memory_blocks(self) -> tuple[MemoryBlock, ...]:
        return parse_blocks(self._checked("blocks").lines)

    def blocks_in(self, start: int, end: int) -> tuple[MemoryBlock, ...]:
        size = self.block_size
        return tuple(b for b in self.memory_blocks() if start <= b.start(size) < end)

    def snapshot(self) -> GuestSnapshot:
        """Blocks, zones and MemTotal in one request: ``block_size X``, the blocks' runs,
        ``zones``, then the zoneinfo and meminfo lines."""
        lines = self._checked("snapshot").lines
        if len(lines) < 2 or not lines[0].startswith("block_size ") or "zones" not in lines:
            raise GuestError(f"agent snapshot: not block_size, blocks, zones: {lines[:2]!r}")
        try:
            block_size = int(lines[0].split()[1], 16)
        except (IndexError, ValueError):
            raise GuestError(f"agent snapshot: block size {lines[0]!r}") from None
        self._block_size = block_size
        cut = lines.index("zones")
        rest = lines[cut + 1:]
        mem_total = 0
        for line in rest:
            if line.startswith("MemTotal:"):
                mem_total = int(line.split()[1])
        zones = parse_zoneinfo(tuple(line for line in rest if not line.startswith("Mem")))
        return GuestSnapshot(block_size, parse_blocks(lines[1:cut]), zones, mem_total)

    def zones(self) -> tuple[ZoneInfo, ...]:
        return parse_zoneinfo(self._checked("zoneinfo").lines)

    def hotplug_params(self) -> HotplugParams:
        # Read each time: a guest_setting action may change auto_online_blocks.
        return parse_hotplug_params(self._checked("hotplug_params").lines)

    def set_block_state(self, block: int, state: str, timeout: float) -> AgentReply:
        # The guest bounds the write itself; the host waits a little longer than that.
        return self.call("online" if state != "offline" else "offline", block,
                         *((state,) if state != "offline" else ()), max(1, int(timeout)),
                         timeout=timeout + 15)

    def pageflags(self, block: int, block_size: int) -> PageFlagSummary:
        pages = block_size // 4096
        # The state helper reads a block's 32768 kpageflags entries in one pass; the bound is
        # for a guest that stalls (od and awk took ~11 s a block under TCG, over 30 s loaded).
        return parse_pageflags(block, self._checked("pageflags", block * pages, pages, timeout=120.0).lines)

    def node_distances(self) -> tuple[tuple[int, ...], ...]:
        """``/sys/devices/system/node/nodeN/distance`` rows, in node order."""
        rows = sorted((int(line.split()[0]), tuple(int(v) for v in line.split()[1:]))
                      for line in self._checked("distances").lines)
        return tuple(row for _, row in rows)

    def srat_bytes(self) -> bytes:
        return bytes.fromhex("".join(self._checked("srat").lines))

    def dimm_add(self, dimm: Dimm, layout: MemoryLayout | None = None) -> None:
        """``layout``: the scenario's, which may fix the DIMM's address."""
        backend, device = dimm_args(dimm, layout)
        self.qmp.command("object-add", **backend)
        self.qmp.command("device_add", **device)

    def dimm_remove(self, dimm: Dimm, timeout: float) -> UnplugOutcome:
        outcome = self.qmp.device_del(dimm.id, timeout)
        if outcome.deleted:
            # Free the backend too, so its RAM goes and the same DIMM can be added again.
            backend, _ = dimm_args(dimm)
            self.qmp.command("object-del", id=backend["id"])
        return outcome

    def nodes(self) -> NodeStates:
        return parse_nodes(self._checked("nodes").lines)

    def cpus(self) -> dict[int, bool]:
        return parse_cpus(self._checked("cpus").lines)

    def alloc(self, mib: int, timeout: float) -> AgentReply:
        return self.call("alloc", mib, timeout=timeout)

    def run(self, argv: Sequence[str], timeout: float = 60.0) -> CommandResult:
        """Run a program in the guest (argv exec'ed, no shell); killed at ``timeout`` s."""
        return run_in_guest(self.call, argv, timeout)

    def hotpluggable_cpus(self) -> list[dict[str, object]]:
        return list(self.qmp.command("query-hotpluggable-cpus"))

    def cpu_remove(self, qom_path: str, timeout: float) -> UnplugOutcome:
        return self.qmp.device_del(qom_path, timeout, cpu=True)

    def memory_devices(self) -> tuple[MemoryDevice, ...]:
        return tuple(memory_device(d) for d in self.qmp.command("query-memory-devices"))

    def inject_fault(self, fault: str, timeout: float) -> AgentReply:
        """Break the guest or its channels, then ask the agent whether it still answers.

        The probe is what ends the run: it raises ``GuestGone`` (panic, hang, stopped vCPUs,
        dead QEMU) or, with the monitor gone, QMP's ``InfrastructureError``.
        """
        if fault in ("panic", "hang"):
            return self.call(fault, timeout=timeout)
        if fault == "kill_qemu" and self.machine.proc is not None:
            self.machine.proc.kill()
        elif fault == "stop_vcpus":
            self.qmp.command("stop")
        elif fault == "close_qmp":
            self.qmp.drop_connection()
            self.qmp.command("query-status")
        return self.call("ping", timeout=timeout)

    def poweroff(self, timeout: float = 15.0) -> None:
        """Clean power-off; a guest that cannot is killed by shutdown() anyway."""
        if self.agent is not None and self.why_gone() is None:
            try:
                self.call("poweroff", timeout=timeout)
            except GuestGone:
                pass
        self.machine.wait_exit(timeout)

    def shutdown(self) -> None:
        try:
            self.machine.shutdown()
        finally:
            if self.agent is not None:
                self.agent.close()

    def __enter__(self) -> GuestVM:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.shutdown()
