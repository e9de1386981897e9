"""Test-suite wide settings."""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from hypothesis import settings

# Property tests check behaviour, not speed (speed is for the benchmarks in scripts/): no
# per-example deadline, so a loaded CI machine cannot turn them flaky.
settings.register_profile("memhp", deadline=None)
settings.load_profile("memhp")


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """``small_tmpfs(bytes, inodes=None)``: a folder on a tmpfs of that size (and that many
    inodes, the root's included), the honest full disk (needs root and mount, as on the
    project's machines); unmounted after the test."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a size-limited tmpfs needs root and mount")
    mounted: list[Path] = []

    def mount(size: int, inodes: int | None = None) -> Path:
        folder = tmp_path / f"tmpfs{len(mounted)}"
        folder.mkdir()
        options = f"size={size}" + (f",nr_inodes={inodes}" if inodes else "")
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], check=True)
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", str(folder)], check=True)


# ---- boots counted: how many real QEMUs the suite started, printed at its end ----------
# A benchmark, never a test: the figure the suite's speed is argued with (issue 28).

_QEMU_POLL_SECONDS = 0.25  # a boot takes seconds


class QemuCounter:
    """Every guest that QEMUs of this process or its children (memhp run, Dask workers)
    ran, seen by polling /proc: a boot once the QEMU's console shows a kernel's banner (a
    QEMU started paused and quit, or one that died first, booted nothing), or a restore of
    a saved guest (``-incoming``); each put on the test file that was running."""

    def __init__(self) -> None:
        self.current = "(outside tests)"
        self.seen: dict[tuple[int, float], tuple[str, str]] = {}  # (pid, start) → (file, kind)
        self.pending: dict[tuple[int, float], tuple[str, Path | None]] = {}  # no banner yet
        self.ignored: set[tuple[int, float]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="memhp-qemu-count", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(_QEMU_POLL_SECONDS):
            alive = set()
            for proc in psutil.process_iter(["name", "create_time"]):
                if not (proc.info["name"] or "").startswith("qemu-system"):
                    continue
                key = (proc.pid, proc.info["create_time"] or 0.0)
                alive.add(key)
                if key not in self.seen and key not in self.pending and key not in self.ignored:
                    self._first_sight(key, proc)
            for key in [k for k in self.pending if k not in alive]:
                self._settle(key)
            for key in list(self.pending):
                self._settle(key, final=False)

    def _first_sight(self, key: tuple[int, float], proc: psutil.Process) -> None:
        try:
            mine = any(p.pid == os.getpid() for p in proc.parents())
            argv = proc.cmdline()
        except psutil.Error:
            return
        # Every guest of memhp has an initramfs; the accelerator probe's kernel has not.
        if not mine or "-initrd" not in argv:
            self.ignored.add(key)
        elif "-incoming" in argv:
            self.seen[key] = (self.current, "restore")
        else:
            self.pending[key] = (self.current, _console_of(argv))

    def _settle(self, key: tuple[int, float], final: bool = True) -> None:
        where, console = self.pending[key]
        try:
            booted = console is not None and b"Linux version" in console.read_bytes()[:1 << 16]
        except OSError:
            booted = False
        if booted:
            self.seen[key] = (where, "boot")
        if booted or final:
            del self.pending[key]

    def counts(self) -> dict[str, dict[str, int]]:
        self._stop.set()
        self._thread.join()
        for key in list(self.pending):
            self._settle(key)
        out: dict[str, dict[str, int]] = {}
        for where, kind in self.seen.values():
            out.setdefault(where, {"boot": 0, "restore": 0})[kind] += 1
        return out


def _console_of(argv: list[str]) -> Path | None:
    """The file QEMU's serial console goes to (harness.qemu.cmdline: a file chardev)."""
    for arg in argv:
        if arg.startswith("file,id=console,path="):
            return Path(arg.removeprefix("file,id=console,path=").replace(",,", ","))
    return None


_COUNTER = pytest.StashKey[QemuCounter]()
_TOTALS = pytest.StashKey[dict[str, dict[str, int]]]()
_STARTED = pytest.StashKey[float]()
_RUNNING: list[QemuCounter] = []  # this process's counter, for the hook that has no config


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_TOTALS] = {}
    config.stash[_STARTED] = time.monotonic()
    if _xdist_controller(config):
        # Its workers count their own QEMUs (which are its descendants too) and report them.
        config.pluginmanager.register(_XdistTotals(config), "memhp-qemu-totals")
    else:
        config.stash[_COUNTER] = QemuCounter()
        _RUNNING.append(config.stash[_COUNTER])


def _xdist_controller(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "numprocesses", None)) and not hasattr(config, "workeroutput")


def pytest_runtest_logstart(nodeid: str) -> None:
    for counter in _RUNNING:
        counter.current = nodeid.split("::")[0]


def _add(totals: dict[str, dict[str, int]], counts: dict[str, dict[str, int]]) -> None:
    for where, kinds in counts.items():
        for kind, n in kinds.items():
            totals.setdefault(where, {"boot": 0, "restore": 0})[kind] += n


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _COUNTER not in session.config.stash:
        return
    counts = session.config.stash[_COUNTER].counts()
    if hasattr(session.config, "workeroutput"):  # an xdist worker: the controller adds it up
        session.config.workeroutput["memhp_qemu"] = counts
    else:
        _add(session.config.stash[_TOTALS], counts)


class _XdistTotals:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        _add(self.config.stash[_TOTALS], getattr(node, "workeroutput", {}).get("memhp_qemu", {}))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if hasattr(config, "workeroutput"):
        return
    totals = config.stash[_TOTALS]
    boots = sum(k["boot"] for k in totals.values())
    restores = sum(k["restore"] for k in totals.values())
    wall = time.monotonic() - config.stash[_STARTED]
    terminalreporter.write_sep("-", f"memhp: {boots} QEMU boots, {restores} restores, {wall:.0f} s wall")
    for where, kinds in sorted(totals.items()):
        terminalreporter.write_line(f"  {where}: {kinds['boot']} boots, {kinds['restore']} restores")
