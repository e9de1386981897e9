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

_QEMU_POLL_SECONDS = 0.25  # a boot takes seconds; a QEMU gone sooner booted no kernel


class QemuCounter:
    """Every QEMU with a guest (kernel and initramfs) that this process or its children
    (memhp run, Dask workers) start, seen by polling /proc, counted as a boot or as a
    restore of a saved guest (``-incoming``), and put on the test file that was running."""

    def __init__(self) -> None:
        self.current = "(outside tests)"
        self.seen: dict[tuple[int, float], tuple[str, str]] = {}  # (pid, start) → (file, kind)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="memhp-qemu-count", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        me = os.getpid()
        while not self._stop.wait(_QEMU_POLL_SECONDS):
            for proc in psutil.process_iter(["name", "create_time"]):
                key = (proc.pid, proc.info["create_time"] or 0.0)
                if not (proc.info["name"] or "").startswith("qemu-system") or key in self.seen:
                    continue
                try:
                    mine = any(p.pid == me for p in proc.parents())
                    argv = proc.cmdline()
                except psutil.Error:
                    continue
                # Every guest of memhp has an initramfs; the accelerator probe's kernel has not.
                if mine and "-initrd" in argv:
                    self.seen[key] = (self.current, "restore" if "-incoming" in argv else "boot")

    def counts(self) -> dict[str, dict[str, int]]:
        self._stop.set()
        self._thread.join()
        out: dict[str, dict[str, int]] = {}
        for where, kind in self.seen.values():
            out.setdefault(where, {"boot": 0, "restore": 0})[kind] += 1
        return out


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
