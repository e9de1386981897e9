"""Faults on a real Debian 6.1 guest: every run ends in time, with the right verdict and exit
status, its artifacts intact and its QEMU gone.

Each test finds *its* QEMU by the run's out dir on the command line, so QEMUs of other runs
on the same host never count.
"""
from __future__ import annotations

import inspect
import json
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from child_signals import interruptible

from harness.guest.vm import GuestVM
from harness.qemu.machine import ACCEPT_TIMEOUT
from harness.run.runner import RunOptions, booted

pytestmark = pytest.mark.integration

MEMHP = [sys.executable, "-m", "harness.cli"]
SCENARIO = """
name = "fault"
[machine]
slots = 2
maxmem = "{maxmem}"
nodes = [{{ memory = "512M", cpus = [0] }}, {{ memory = "512M" }}]
[[dimms]]
id = "d0"
size = "256M"
node = 1
[srat]
source = "qemu"
[kernel]
cmdline = "{cmdline}"
{actions}
"""
FAULT_TIMEOUT = 8.0
FAULT = """
[[actions]]
id = "fault"
do = "inject_fault"
fault = "{fault}"
timeout = {timeout}
[[actions]]
id = "after"
do = "dimm_add"
dimm = "d0"
"""


def _scenario(tmp_path: Path, actions: str = "", cmdline: str = "", maxmem: str = "2G") -> Path:
    path = tmp_path / "fault.toml"
    path.write_text(SCENARIO.format(actions=actions, cmdline=cmdline, maxmem=maxmem))
    return path


def _fault(fault: str, timeout: float = FAULT_TIMEOUT) -> str:
    return FAULT.format(fault=fault, timeout=f"{timeout:g}")


def _qemu_pids(out: Path) -> list[int]:
    """QEMUs whose command line names this run's initrd (so: this run's QEMU only)."""
    needle = str(out / "initrd.img").encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"qemu-system-x86_64") and needle in argv:
            pids.append(int(entry.name))
    return pids


BOOT_TIMEOUT = 120.0  # every run here gets it as --boot-timeout


def _default(func: Callable[..., object], name: str) -> float:
    value = inspect.signature(func).parameters[name].default
    assert isinstance(value, float)
    return value


# What memhp may wait besides the boot and the actions' own timeouts, by its own limits:
# accepting QEMU's agent and QMP connections, each agent call (GuestVM.call; a dozen around
# the actions: snapshots, SRAT, distances), the power-off, and Machine.shutdown's ladder
# (quit, 3 s, SIGTERM, 3 s, SIGKILL, 5 s). A run that outlives them broke a timeout of its
# own; the tests bound their waits by this, never by how fast a machine boots.
CALLS_PER_RUN = 12
OWN_WAITS = (2 * ACCEPT_TIMEOUT + CALLS_PER_RUN * _default(GuestVM.call, "timeout")
             + 2 * _default(GuestVM.poweroff, "timeout") + 3 + 3 + 5)


def _own_timeouts(boot: float, actions: float) -> float:
    return boot + actions + OWN_WAITS


def _run(scenario: Path, out: Path, boot: float = BOOT_TIMEOUT, actions: float = 0,
         address_space: int | None = None) -> tuple[int, dict]:
    """``address_space``: RLIMIT_AS of memhp and so of its QEMU (a host out of memory)."""
    argv = ["run", str(scenario), "--out", str(out), "--accel", "tcg", "--boot-timeout", f"{boot:g}"]

    def limit() -> None:
        if address_space is not None:
            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    try:
        proc = subprocess.run(MEMHP + argv, capture_output=True, text=True, preexec_fn=limit,
                              timeout=_own_timeouts(boot, actions), check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"memhp outlived its own timeouts ({_own_timeouts(boot, actions):.0f} s in all)")
    assert "Traceback" not in proc.stderr, proc.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["exit_code"] == proc.returncode, (result, proc.stderr)
    assert not _qemu_pids(out), "QEMU outlived the run"
    return proc.returncode, result


def _check(result: dict, name: str) -> dict:
    return next(c for c in result["checks"] if c["name"].startswith(name))


def _console(out: Path) -> str:
    text = (out / "console.log").read_text(errors="replace")
    assert "Linux version" in text
    return text


@pytest.fixture(scope="module")
def panicked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, dict]:
    """The panic fault's run, once for the tests that read it (its folder, exit, result)."""
    tmp = tmp_path_factory.mktemp("panic")
    out = tmp / "out"
    code, result = _run(_scenario(tmp, _fault("panic")), out, actions=FAULT_TIMEOUT)
    return out, code, result


@pytest.mark.parametrize(("fault", "why"), [
    pytest.param("panic", "guest panicked: Kernel panic - not syncing: sysrq triggered crash",
                 marks=pytest.mark.xdist_group("faults-panic")),
    ("hang", "no answer within 8 s"),
    ("stop_vcpus", "no answer within 8 s"),
    ("kill_qemu", "agent channel closed"),
])
def test_guest_fault_fails_the_run_with_its_cause(tmp_path: Path, request: pytest.FixtureRequest,
                                                  fault: str, why: str) -> None:
    if fault == "panic":
        out, code, result = request.getfixturevalue("panicked")
    else:
        out = tmp_path / "out"
        code, result = _run(_scenario(tmp_path, _fault(fault)), out, actions=FAULT_TIMEOUT)
    assert (code, result["verdict"]) == (1, "fail")
    assert why in str(_check(result, "guest answered to the end")["observed"])
    assert _check(result, "action after")["observed"] == "not run"
    _console(out)
    assert json.loads((out / "model.json").read_text())["guest"]["error"]
    assert (out / "qmp.jsonl").stat().st_size and (out / "agent.log").stat().st_size


@pytest.mark.xdist_group("faults-panic")
def test_panic_is_in_the_console_log(panicked: tuple[Path, int, dict]) -> None:
    out, _, _ = panicked
    assert "sysrq triggered crash" in _console(out)


def test_lost_qmp_means_cannot_test(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, result = _run(_scenario(tmp_path, _fault("close_qmp")), out, actions=FAULT_TIMEOUT)
    assert (code, result["verdict"]) == (125, "error")
    assert "QMP query-status" in result["error"]
    _console(out)


def test_boot_that_never_reaches_the_shell_fails_at_the_boot_timeout(tmp_path: Path) -> None:
    # No usable rdinit, and rootwait waits for a disk that never comes: the kernel runs
    # but the agent never starts, and nothing panics.
    out = tmp_path / "out"
    scenario = _scenario(tmp_path, cmdline="rdinit=/nonexistent root=/dev/vda rootwait")
    code, result = _run(scenario, out, boot=15)
    assert (code, result["verdict"]) == (1, "fail")
    assert "boot: no answer within 15 s" in str(_check(result, "guest answered")["observed"])
    assert "Waiting for root device" in _console(out)


def test_qemu_dead_before_the_kernel_ran_cannot_test(tmp_path: Path) -> None:
    """The real QEMU cannot start the machine: with the address space memhp (and so QEMU)
    may map held to 1.5 GiB, QEMU fails to map 3 GiB of guest RAM, a host's limit no
    scenario check can know. No kernel runs, the run could not test, and the error carries
    QEMU's own words."""
    out = tmp_path / "out"
    scenario = tmp_path / "big.toml"
    scenario.write_text('name = "big"\n[machine]\nnodes = [{ memory = "3G", cpus = [0] }]\n')
    code, result = _run(scenario, out, address_space=1536 << 20)
    assert (code, result["verdict"]) == (125, "error")
    assert "cannot set up guest memory" in result["error"]
    console = out / "console.log"
    assert not console.exists() or b"Linux version" not in console.read_bytes()


def test_device_del_that_never_completes_ends_at_its_timeout(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with booted(_scenario(tmp_path), RunOptions(out_dir=out, accel="tcg")) as (prep, vm):
        pid = vm.machine.proc.pid
        vm.dimm_add(prep.scenario.dimm("d0"))
        vm.qmp.command("stop")  # a guest with stopped vCPUs never runs the eject
        outcome = vm.dimm_remove(prep.scenario.dimm("d0"), timeout=4)
    assert not outcome.deleted
    assert outcome.reason == "no DEVICE_DELETED within 4 s; no _OST event"
    assert not Path(f"/proc/{pid}").exists() and not _qemu_pids(out)


def _wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _popen_run(scenario: Path, out: Path, **kwargs) -> subprocess.Popen[str]:
    return subprocess.Popen(MEMHP + ["run", str(scenario), "--out", str(out), "--accel", "tcg",
                                     "--boot-timeout", f"{BOOT_TIMEOUT:g}"], text=True, **kwargs)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_mid_boot_ends_memhp_and_its_qemu(tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "out"
    proc = _popen_run(_scenario(tmp_path), out, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                      preexec_fn=interruptible)
    try:
        console = out / "console.log"
        assert _wait_for(lambda: console.exists() and console.stat().st_size > 0, BOOT_TIMEOUT), "no boot"
        qemus = _qemu_pids(out)
        assert qemus, "QEMU is running mid-boot"
        proc.send_signal(sig)
        try:  # an interrupt stops QEMU (Machine.shutdown's ladder) and nothing else is waited for
            _, stderr = proc.communicate(timeout=OWN_WAITS)
        except subprocess.TimeoutExpired:
            pytest.fail(f"memhp outlived its own shutdown timeouts ({OWN_WAITS:.0f} s) after {sig.name}")
    finally:
        proc.kill()
    assert proc.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr
    assert not any(Path(f"/proc/{pid}").exists() for pid in qemus)
    assert console.stat().st_size > 0


def _socket_dirs(pid: int) -> set[str]:
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    return {str(Path(a.split("path=")[1]).parent) for a in argv if a.startswith("socket,") and "path=" in a}


def test_parallel_runs_share_no_sockets_or_folders(tmp_path: Path) -> None:
    hang = 3.0
    scenario = _scenario(tmp_path, _fault("hang", hang))
    outs = [tmp_path / "a", tmp_path / "b"]
    procs = [_popen_run(scenario, out, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for out in outs]
    try:
        assert _wait_for(lambda: all(_qemu_pids(out) for out in outs), BOOT_TIMEOUT), "both QEMUs run"
        dirs = [_socket_dirs(_qemu_pids(out)[0]) for out in outs]
        assert all(len(d) == 1 for d in dirs) and dirs[0] != dirs[1]
        try:
            codes = [p.wait(timeout=_own_timeouts(BOOT_TIMEOUT, hang)) for p in procs]
        except subprocess.TimeoutExpired:
            pytest.fail("a run outlived its own timeouts")
    finally:
        for proc in procs:
            proc.kill()
    assert codes == [1, 1]
    for out, sock_dir in zip(outs, dirs, strict=True):
        assert json.loads((out / "result.json").read_text())["verdict"] == "fail"
        assert "Linux version" in (out / "console.log").read_text(errors="replace")
        assert not Path(next(iter(sock_dir))).exists(), "socket folder removed"
