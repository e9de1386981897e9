"""The kernel's "Movable zone start for each node" in every recorded boot, predicted exactly:
by the port of find_zone_movable_pfns_for_nodes on the boot's own final memblock dump, and
by ``simulate`` from the scenario alone for the zone scenarios memhp recorded (both kernels)."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.analysis.simulate import simulate
from harness.logparse import load_boot_log
from harness.memblock.model import Memblock, MemblockType
from harness.memblock.movable_zone import movable_zone
from harness.scenario.schema import Scenario, load_scenario

FIXTURES = Path(__file__).parents[2] / "fixtures"
LOGS = sorted((FIXTURES / "logs").rglob("*.log"))
# Recorded by scripts/zone-boots --record: case → (scenario, command line it was booted with
# instead of the scenario's, or None).
ZONE_CASES = {
    "four-node-kernelcore": ("four-node-kernelcore", None),
    "three-node-kernelcore-percent": ("three-node-kernelcore-percent", None),
    "three-node-movablecore": ("three-node-movablecore", None),
    "four-node-movablecore-percent": ("four-node-movablecore-percent", None),
    "three-node-movable-node-movablecore": ("three-node-movable-node-movablecore", None),
    "four-node-kernelcore-mirror": ("four-node-kernelcore", "kernelcore=mirror"),
}
ZONE_LOGS = [(k, case) for k in ("6.1", "6.12") for case in ZONE_CASES]


def _version(log: Path) -> str:
    return "6.12" if "-6.12-" in log.name else "6.1"


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.stem)
def test_the_port_on_the_final_dump_gives_the_kernel_s_zone_starts(path: Path) -> None:
    log = load_boot_log(path)
    state = Memblock(memory=MemblockType("memory", list(log.memblock_dumps[-1].memory)))
    predicted = movable_zone(state, log.command_line or "", _version(path))
    assert predicted.starts == log.movable_zone_start


def test_the_zone_cases_were_recorded_on_both_kernels() -> None:
    recorded = {p.name for p in LOGS}
    assert {f"memhp-{k}-{case}.log" for k, case in ZONE_LOGS} <= recorded


def _scenario(case: str) -> Scenario:
    name, cmdline = ZONE_CASES[case]
    scenario = load_scenario(FIXTURES / "scenarios" / f"{name}.toml")
    if cmdline is None:
        return scenario
    return scenario.model_copy(update={"kernel": scenario.kernel.model_copy(update={"cmdline": cmdline})})


@pytest.mark.parametrize(("kernel", "case"), ZONE_LOGS, ids=lambda v: v)
def test_simulate_gives_the_recorded_zone_starts(kernel: str, case: str) -> None:
    log = load_boot_log(FIXTURES / "logs" / "recorded" / f"memhp-{kernel}-{case}.log")
    prediction = simulate(_scenario(case), kernel)
    assert {n.node: n.movable_start for n in prediction.nodes if n.movable_start is not None} \
        == log.movable_zone_start
    # Only 6.12 ignores kernelcore=mirror; every other case has a ZONE_MOVABLE somewhere.
    assert log.movable_zone_start or (kernel, case) == ("6.12", "four-node-kernelcore-mirror")


@pytest.mark.parametrize("kernel", ["6.1", "6.12"])
def test_kernelcore_mirror_without_mirrored_memory(kernel: str) -> None:
    """6.1 makes all memory at or above 4 GiB movable and warns; 6.12 ignores the option."""
    prediction = simulate(_scenario("four-node-kernelcore-mirror"), kernel)
    text = (FIXTURES / "logs" / "recorded" / f"memhp-{kernel}-four-node-kernelcore-mirror.log").read_text()
    starts = {n.node: n.movable_start for n in prediction.nodes if n.movable_start is not None}
    if kernel == "6.1":
        assert starts == {2: 0x100000000, 3: 0x160000000}
        assert prediction.inferred["zone_warnings"] == ["This configuration results in unmirrored kernel memory."]
    else:
        assert starts == {}
        assert prediction.inferred["zone_warnings"] == ["The system has no mirror memory, ignore kernelcore=mirror."]
    assert all(warning in text for warning in prediction.inferred["zone_warnings"])  # the kernel said it
    assert "EFI_MEMORY_MORE_RELIABLE" in prediction.inferred["kernelcore_mirror"]
