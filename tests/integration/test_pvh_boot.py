"""memhp run --boot pvh on a real kernel: QEMU enters the vmlinux at its PVH entry, and the
verdicts are the bzImage boot's (the pass scenario passes, its sibling fails its claims)."""
from __future__ import annotations

from pathlib import Path

import pytest
from must_fail_claims import MUST_FAIL

from harness.run.verdict import Verdict

pytestmark = pytest.mark.integration

SCENARIOS = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios"
SIBLING = "three-node-movable-claims-offline-refused"


def test_pvh_boot_gives_the_bzimage_boots_verdicts(shared_run) -> None:
    result = shared_run(SCENARIOS / "three-node-movable.toml", boot="pvh")
    assert result.verdict is Verdict.PASS, result.summary()
    assert result.info.boot == "pvh"
    out = Path(result.info.out_dir or "")
    kernel_arg = (out / "command.txt").read_text().split(" -kernel ")[1].split()[0]
    assert Path(kernel_arg).name == "vmlinux"
    # The kernel's own word that it came in through PVH: init_pvh_bootparams
    # (arch/x86/platform/pvh/enlighten.c) adds the ISA hole as reserved, which the
    # bzImage path's BIOS map leaves as a gap between 0xa0000 and 0xf0000.
    console = (out / "console.log").read_text(errors="replace")
    assert "BIOS-e820: [mem 0x000000000009fc00-0x00000000000fffff] reserved" in console

    sibling = shared_run(SCENARIOS / "must-fail" / f"{SIBLING}.toml", boot="pvh")
    assert sibling.verdict is Verdict.FAIL
    assert {c.name for c in sibling.checks if not c.ok} == MUST_FAIL[SIBLING], sibling.summary()
