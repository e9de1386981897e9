"""crashkernel= in the simulator: the kernel's parse (6.1 kernel/crash_core.c, 6.12
kernel/crash_reserve.c), and the placement of real boots recorded in fixtures/crashkernel/
(memhp run of the scenarios beside them, both kernels)."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.analysis.crashkernel import CALLER, CALLER_LOW, CrashRequest, crash_request, logged_caller
from harness.analysis.simulate import simulate
from harness.logparse import load_boot_log
from harness.run.model_agreement import _crashkernel_check
from harness.run.verdict import RunResult
from harness.scenario.schema import load_scenario
from kernels.profile import profile_for

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "crashkernel"
M, G = 1 << 20, 1 << 30
V61, V612 = profile_for("6.1").profile.crashkernel, profile_for("6.12").profile.crashkernel


@pytest.mark.parametrize(("cmdline", "ram", "v61", "v612"), [
    ("crashkernel=256M", 4 * G, CrashRequest(256 * M, 0, False, None), CrashRequest(256 * M, 0, False, None)),
    ("crashkernel=128M@0x148000000", 4 * G, CrashRequest(128 * M, 0x148000000, False, None),
     CrashRequest(128 * M, 0x148000000, False, None)),
    # the last value without a suffix counts (get_last_crashkernel)
    ("crashkernel=64M crashkernel=1G,high crashkernel=256M", 4 * G, CrashRequest(256 * M, 0, False, None),
     CrashRequest(256 * M, 0, False, None)),
    # ranges by system RAM, end exclusive and optional
    ("crashkernel=512M-2G:64M,2G-:128M", 4 * G, CrashRequest(128 * M, 0, False, None),
     CrashRequest(128 * M, 0, False, None)),
    ("crashkernel=512M-2G:64M,2G-:128M@16M", 1 * G, CrashRequest(64 * M, 16 * M, False, None),
     CrashRequest(64 * M, 16 * M, False, None)),
    ("crashkernel=1G-2G:64M", 4 * G, None, None),  # no range holds 4G: zero bytes
    ("crashkernel=1G,high", 4 * G, CrashRequest(G, 0, True, None), CrashRequest(G, 0, True, None)),
    ("crashkernel=1G,high crashkernel=0,low", 4 * G, CrashRequest(G, 0, True, 0), CrashRequest(G, 0, True, 0)),
    # 6.1 falls back to ,high when the plain value fails; 6.12 only when there is none
    ("crashkernel=256Mx crashkernel=1G,high", 4 * G, CrashRequest(G, 0, True, None), None),
    # 6.12 refuses a size not below the system RAM; 6.1 tries (and memblock fails)
    ("crashkernel=4G", 4 * G, CrashRequest(4 * G, 0, False, None), None),
    # an unreadable ,low fails the whole 6.12 parse; 6.1 reads it when it needs it, then defaults
    ("crashkernel=1G,high crashkernel=x,low", 4 * G, CrashRequest(G, 0, True, None), None),
    ("crashkernel=0", 4 * G, None, None),
    ("nokaslr", 4 * G, None, None),
])
def test_parse_as_each_kernel_does(cmdline: str, ram: int, v61: CrashRequest | None,
                                   v612: CrashRequest | None) -> None:
    assert crash_request(cmdline, ram, V61) == v61
    assert crash_request(cmdline, ram, V612) == v612


def _logged(scenario: str, kernel: str) -> list[tuple[str, int, int]]:
    log = load_boot_log(FIXTURES / f"{scenario}-{kernel}.log")
    return sorted((logged_caller(c), c.range.start, c.range.end) for c in log.crashkernel)


def _predicted(scenario: str, kernel: str, extra: str = "") -> list[tuple[str, int, int]]:
    prediction = simulate(load_scenario(FIXTURES / f"{scenario}.toml"), kernel, extra)
    return sorted((r.caller, r.start, r.end) for r in prediction.crashkernel)


CASES = [(s, k) for s in ("crash-low", "crash-high", "crash-high-movable-node") for k in ("6.1", "6.12")]


@pytest.mark.parametrize(("scenario", "kernel"), CASES)
def test_simulated_placement_is_the_recorded_one(scenario: str, kernel: str) -> None:
    assert _predicted(scenario, kernel) == _logged(scenario, kernel)


def test_the_recordings_show_each_path() -> None:
    """Top-down below 4 GiB; the fallback high with its low part; nothing under
    movable_node, where the kernel says why."""
    assert _logged("crash-low", "6.1") == [(CALLER, 0xAF000000, 0xBF000000)]
    assert _logged("crash-high", "6.12") == [(CALLER, 0x13B000000, 0x1FB000000),
                                             (CALLER_LOW, 0xAF000000, 0xBF000000)]
    refusals = {"6.1": "crashkernel reservation failed - No suitable area found.",
                "6.12": "cannot allocate crashkernel (size:0xc0000000)"}
    for kernel, line in refusals.items():
        assert _logged("crash-high-movable-node", kernel) == []
        assert line in (FIXTURES / f"crash-high-movable-node-{kernel}.log").read_text()


def test_the_crash_kernel_pins_the_hotpluggable_node_without_movable_node() -> None:
    prediction = simulate(load_scenario(FIXTURES / "crash-high.toml"), "6.1")
    held = [b.index for b in prediction.blocks if "crashkernel" in b.reservations]
    assert held == list(range(39, 64)) and {b.node for b in prediction.blocks if b.index in held} == {2}
    assert prediction.actions[0].outcome == "failure"


@pytest.mark.parametrize("kernel", ["6.1", "6.12"])
def test_model_check_agrees_on_the_recording_and_not_on_another_request(kernel: str) -> None:
    log = load_boot_log(FIXTURES / f"crash-high-{kernel}.log")
    scenario = load_scenario(FIXTURES / "crash-high.toml")
    for extra, agrees in (("", True), ("crashkernel=2G", False)):
        result = RunResult(scenario.name, kernel)
        _crashkernel_check(result, simulate(scenario, kernel, extra), log)
        (check,) = result.model_checks
        assert check.name == "model agrees: crashkernel placement" and check.ok is agrees
    assert "crashkernel [0x13b000000-0x1faffffff]" in check.observed
