"""A slice of the suite on a second QEMU: the host release's backports QEMU from Debian's
archive (bookworm-backports' 10.0 on Debian 12, trixie-backports' 11.1 on Debian 13;
``MEMHP_SECOND_QEMU`` names another), beside the whole suite on the host's own QEMU.

Six boots: the demo and its refused sibling, a whole node removed, a virtio-mem resize,
``--repeat 3`` (one boot, three restores), and the QEMU-bug reproducer, which crashes
QEMU 7.2 and must pass on a QEMU that fixed it.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from harness.qemu.archive import BACKPORTS, host_release
from harness.run.repeat import run_repeated
from harness.run.verdict import RunResult, Verdict

pytestmark = pytest.mark.integration

SCENARIOS = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios"


@pytest.fixture(scope="module")
def second() -> str:
    spec = os.environ.get("MEMHP_SECOND_QEMU") or BACKPORTS.get(host_release() or "")
    if spec is None:
        pytest.fail("no second QEMU for this host (Debian 12 or 13): set MEMHP_SECOND_QEMU")
    return spec


def _on(result: RunResult, spec: str) -> RunResult:
    """The run's verdict is PASS and it ran on the QEMU asked for, not the host's."""
    assert result.verdict is Verdict.PASS, result.summary()
    qemu = result.info.qemu
    assert qemu is not None and qemu.spec == spec, result.summary()
    assert spec.startswith("debian:") is (qemu.archive is not None)
    return result


def _check(result: RunResult, name: str) -> str:
    return next(c.reason or "" for c in result.checks if c.name.startswith(name))


def test_demo_and_its_refused_sibling(shared_run, second: str) -> None:
    _on(shared_run(SCENARIOS / "three-node-boot-dimm-movable.toml", qemu=second), second)
    refused = _on(shared_run(SCENARIOS / "three-node-boot-dimm-refused.toml", qemu=second), second)
    assert "device busy (0x82)" in _check(refused, "action remove-boot0")


def test_node_removal(shared_run, second: str) -> None:
    result = _on(shared_run(SCENARIOS / "two-node-remove-movable.toml", qemu=second), second)
    assert "node 1 removed" in _check(result, "action remove-node1")


def test_virtio_mem_resize(shared_run, second: str) -> None:
    result = _on(shared_run(SCENARIOS / "two-node-virtio-mem-movable.toml", qemu=second), second)
    assert any(c.name.startswith("action") and "virtio_mem_resize" in c.name and c.ok for c in result.checks)


def test_repeat_3_restores_through_the_qemu_s_own_migration(memhp_options, second: str) -> None:
    result = run_repeated(SCENARIOS / "two-node-dimms.toml", dataclasses.replace(memhp_options, qemu=second), 3)
    repeat = _on(result, second).info.repeat
    assert repeat is not None and repeat.totals() == "3 pass of 3"
    assert repeat.migration == "mapped-ram"  # 10.0 and 11.1 have it; QEMU 7.2 does not


def test_the_qemu_bug_reproducer_passes_on_a_fixed_qemu(shared_run, second: str) -> None:
    """QEMU 7.2 crashes (SIGSEGV) in this node removal, CPUs first; 10.0 and 11.1 do not."""
    _on(shared_run(SCENARIOS / "qemu-bugs" / "two-node-remove-cpus-first.toml", qemu=second), second)
