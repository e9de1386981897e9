"""The QEMU process: private sockets, its own process group, a console watcher, clean shutdown.

Lifecycle (like QEMU's own ``QEMUMachine``): ``start()`` launches QEMU paused (``-S``),
accepts the agent and QMP connections QEMU makes to our listening sockets (both the same
way: a QEMU that exits while we wait fails at once), then resumes
the guest; QEMU itself writes the console to ``console.log`` from the first byte. ``shutdown()``
asks QMP to quit, then kills the whole process group; it is safe to call twice and runs
from ``__exit__`` whatever happened (Ctrl-C included).
"""
from __future__ import annotations

import ctypes
import logging
import os
import shutil
import shlex
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from harness.errors import InfrastructureError
from harness.paths import RunFile, write_file
from harness.qemu.console import ConsoleWatcher
from harness.qemu.qmp import QmpSession

log = logging.getLogger("memhp.machine")

ACCEPT_TIMEOUT = 20.0
_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: signal.Signals = signal.SIGKILL) -> Callable[[], None]:
    """A ``preexec_fn``: the child gets ``sig`` when the thread that started it dies
    (prctl PR_SET_PDEATHSIG), so a SIGKILLed harness or Dask worker leaves no QEMU behind."""
    def arm() -> None:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)
    return arm


@dataclass(frozen=True)
class Channels:
    """Where the guest talks: the agent and QMP are unix sockets in the run's private (0700)
    directory that QEMU connects to; the console goes straight to a file, because QEMU
    drops serial output when a socket reader falls behind (seen under load)."""

    console_log: Path
    agent: Path
    qmp: Path


class QemuLaunchError(InfrastructureError):
    """QEMU exited or never connected before the kernel ran; carries QEMU's own words."""

    def __init__(self, message: str, argv: list[str], exitcode: int | None, output: str) -> None:
        tail = "\n".join(output.strip().splitlines()[-10:])
        super().__init__(f"{message} (exit code {exitcode}): {tail or 'no output'}")
        self.argv = argv
        self.exitcode = exitcode
        self.output = output


class Machine:
    """One QEMU guest. Use as a context manager."""

    def __init__(self, argv_for: Callable[[Channels], list[str]], out_dir: Path, name: str = "vm",
                 pass_fds: tuple[int, ...] = (), env: dict[str, str] | None = None) -> None:
        self.out_dir = out_dir
        self.env = env  # a private QEMU's module folder (harness.qemu.binary), else inherited
        self.pass_fds = pass_fds  # e.g. the saved guest state for ``-incoming fd:N``
        self.log = log.getChild(name)
        self._sock_dir = Path(tempfile.mkdtemp(prefix="memhp-"))  # mkdtemp makes it 0700
        self.channels = Channels(out_dir / "console.log", self._sock_dir / "agent.sock",
                                 self._sock_dir / "qmp.sock")
        self.argv = argv_for(self.channels)
        self.proc: subprocess.Popen[bytes] | None = None
        self.console: ConsoleWatcher | None = None
        self.agent_socket: socket.socket | None = None
        self.qmp: QmpSession | None = None
        self._listeners: list[socket.socket] = []
        self._closed = False
        self._lock = threading.Lock()

    # -- start -----------------------------------------------------------------
    def _listen(self, path: Path) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
        sock.listen(1)
        sock.settimeout(0.5)
        self._listeners.append(sock)
        return sock

    def _accept(self, listener: socket.socket, what: str) -> socket.socket:
        deadline = time.monotonic() + ACCEPT_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise self._launch_error(f"QEMU exited before connecting its {what}")
            try:
                conn, _ = listener.accept()
                conn.settimeout(None)
                return conn
            except socket.timeout:
                continue
        raise self._launch_error(f"QEMU did not connect its {what} within {ACCEPT_TIMEOUT:.0f} s")

    def _launch_error(self, message: str) -> QemuLaunchError:
        output = self.qemu_output()
        code = self.proc.poll() if self.proc else None
        return QemuLaunchError(message, self.argv, code, output)

    def qemu_output(self) -> str:
        path = self.out_dir / "qemu.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if shutil.which(self.argv[0]) is None:
            raise InfrastructureError(f"{self.argv[0]} not found: run scripts/setup "
                                      "(apt-get install qemu-system-x86)")
        agent_l = self._listen(self.channels.agent)
        qmp_l = self._listen(self.channels.qmp)
        self.qmp = QmpSession(self.out_dir / "qmp.jsonl")
        # Shell-quoted: a path with a space or a newline pastes back as one word.
        write_file(self.out_dir / "command.txt", (shlex.join(self.argv) + "\n").encode())
        # Empty before QEMU starts: the watcher may open the file before QEMU truncates it,
        # and would then skip as many bytes of this boot as an earlier run left there.
        write_file(self.channels.console_log, b"")
        self.log.info("starting %s", " ".join(self.argv))
        with RunFile(self.out_dir / "qemu.log") as qemu_log:
            self.proc = subprocess.Popen(  # noqa: S603 - argv list, no shell
                self.argv, stdin=subprocess.DEVNULL, stdout=qemu_log.fileno(), stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=die_with_parent(), pass_fds=self.pass_fds,
                env=self.env,
            )
        self.console = ConsoleWatcher(self.channels.console_log)
        # QEMU connects its socket chardevs in command-line order: the agent, then the monitor.
        self.agent_socket = self._accept(agent_l, "agent serial port")
        qmp_socket = self._accept(qmp_l, "QMP monitor")
        try:
            self.qmp.connect(qmp_socket, timeout=ACCEPT_TIMEOUT)
        except Exception as err:  # qemu.qmp raises several types; all mean "no monitor"
            raise self._launch_error(f"QMP connection failed: {err}") from err
        self.qmp.command("cont")

    # -- state -------------------------------------------------------------------
    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def exitcode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def wait_exit(self, timeout: float) -> bool:
        if self.proc is None:
            return True
        try:
            self.proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    # -- shutdown --------------------------------------------------------------
    def shutdown(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            if self.is_running() and self.qmp is not None:
                self.qmp.try_quit()
            if not self.wait_exit(3.0):
                self._kill_group(signal.SIGTERM)
                if not self.wait_exit(3.0):
                    self._kill_group(signal.SIGKILL)
                    self.wait_exit(5.0)
        finally:
            if self.qmp is not None:
                self.qmp.close()
            if self.console is not None:
                self.console.close()
            if self.agent_socket is not None:
                self.agent_socket.close()
            for sock in self._listeners:
                sock.close()
            shutil.rmtree(self._sock_dir, ignore_errors=True)

    def _kill_group(self, sig: signal.Signals) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def __enter__(self) -> Machine:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.shutdown()


def tail_lines(path: Path, count: int = 30) -> list[str]:
    """The last lines of a text artifact, for evidence in verdicts."""
    if not path.exists():
        return []
    with open(path, "rb") as fh:
        lines: deque[bytes] = deque(fh, maxlen=count)
    return [line.decode(errors="replace").rstrip("\r\n") for line in lines]
