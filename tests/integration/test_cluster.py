"""A matrix through a real multi-process Dask cluster on 127.0.0.1 (Debian 6.1): a
``dask scheduler`` and two ``dask worker`` processes, one guest slot each; one worker is
SIGKILLed while its guest runs. Three boots: the killed cell's first try, the other cell,
the killed cell again on the surviving worker, which only starts it once its slot is free.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from harness.errors import ExitCode
from harness.run.artifacts import ResultFile

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DASK = Path(sys.executable).parent / "dask"
KILLED, OTHER = "two-node-dimm-refused", "two-node-dimms"


def _start(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _until(what: str, check, seconds: float = 120.0):  # type: ignore[no-untyped-def]
    """Poll ``check`` until it returns something true; a bounded wait, not a speed check."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.2)
    raise AssertionError(f"never happened: {what}")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[str, dict[str, subprocess.Popen[bytes]]]]:
    info = tmp_path / "scheduler.json"
    procs = {"scheduler": _start([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0",
                                  "--no-dashboard", "--scheduler-file", str(info)], tmp_path / "scheduler.log")}
    try:
        _until("the scheduler file", info.exists)
        address = json.loads(info.read_text())["address"]
        for name in ("w1", "w2"):
            # Two threads but one guest slot: the slot, not the threads, bounds the QEMUs.
            procs[name] = _start([str(DASK), "worker", address, "--name", name, "--host", "127.0.0.1",
                                  "--nthreads", "2", "--resources", "guests=1", "--no-nanny",
                                  "--no-dashboard"], tmp_path / f"{name}.log")
        from distributed import Client
        with Client(address, timeout=60) as client:
            _until("two workers", lambda: len(client.scheduler_info()["workers"]) == 2)
        yield address, procs
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _qemu_of(scenario: str) -> psutil.Process | None:
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or ())
        if proc.info["name"] == "qemu-system-x86_64" and "memhp-cell-" in cmd and f"/{scenario}@" in cmd:
            return proc
    return None


def _qmp_span(folder: Path) -> tuple[float, float]:
    times = [json.loads(line)["t"] for line in (folder / "qmp.jsonl").read_text().splitlines()]
    return times[0], times[-1]


def test_a_matrix_on_a_real_cluster_survives_a_killed_worker_and_keeps_to_the_slots(
        tmp_path: Path, cluster: tuple[str, dict[str, subprocess.Popen[bytes]]]) -> None:
    address, procs = cluster
    matrix = tmp_path / "m.toml"
    matrix.write_text(f'name = "cluster"\nkernels = ["debian:6.1"]\naccel = "tcg"\nretries = 0\n'
                      f'scenarios = ["{ROOT}/fixtures/scenarios/{KILLED}.toml", '
                      f'"{ROOT}/fixtures/scenarios/{OTHER}.toml"]\n')
    out = tmp_path / "out"
    matrix_proc = _start([sys.executable, "-m", "harness.cli", "matrix", str(matrix), "--out", str(out),
                          "--scheduler", address, "--db", str(tmp_path / "h.sqlite")], tmp_path / "matrix.log")
    try:
        qemu = _until(f"{KILLED}'s QEMU on a worker", lambda: _qemu_of(KILLED))
        run = qemu.parent()  # memhp run; its parent is the worker process (no nanny)
        worker = run.parent()
        killed = next(name for name, p in procs.items() if p.pid == worker.pid)
        os.killpg(worker.pid, signal.SIGKILL)
        # The killed worker's run got SIGTERM from the kernel (PR_SET_PDEATHSIG) and took its QEMU.
        _until("the orphaned run and its QEMU gone", lambda: not run.is_running() and not qemu.is_running())
        assert matrix_proc.wait(timeout=600) == ExitCode.PASS, (tmp_path / "matrix.log").read_text()
    finally:
        if matrix_proc.poll() is None:
            os.killpg(matrix_proc.pid, signal.SIGKILL)
    runs = out / "runs"
    survivor = next(name for name in ("w1", "w2") if name != killed)
    folders = {s: runs / f"{s}@debian-6.1+default" for s in (KILLED, OTHER)}
    for scenario, folder in folders.items():
        assert ResultFile.read(folder / "result.json").verdict.value == "pass", scenario
        assert b"Linux version" in (folder / "console.log").read_bytes()
        # Both ended on the surviving worker: the killed cell was retried there.
        assert (folder / "worker.txt").read_text().split()[1] == \
               _worker_address(address, survivor), scenario
    # One slot: the retried cell's QEMU started only after the other cell's had quit.
    first, second = sorted(_qmp_span(f) for f in folders.values())
    assert first[1] <= second[0], (first, second)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ok"] and sorted(r["verdict"] for r in summary["runs"]) == ["pass", "pass"]
    assert _qemu_of(KILLED) is None and _qemu_of(OTHER) is None


def _worker_address(scheduler: str, name: str) -> str:
    from distributed import Client
    with Client(scheduler, timeout=30) as client:
        return next(addr for addr, w in client.scheduler_info()["workers"].items() if w["name"] == name)
