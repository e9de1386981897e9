"""``memhp run --repeat 3`` on Debian 6.1: one boot, three restored QEMUs, each judged.

The scenario's eject is refused by the guest (ACPI hot-remove switched off), so every
repetition must report that refusal from its own restored kernel: the totals count it.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import ExitCode, Verdict
from harness.qemu.migration import MAPPED_RAM
from harness.run.artifacts import ModelFile, ResultFile
from harness.scenario.schema import load_scenario

pytestmark = pytest.mark.integration

SCENARIO = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios" / "two-node-dimm-refused.toml"
IDENTITY = ("restored guest is the booted one (boot_id)", "restored guest has the booted zones",
            "QEMU restored the DIMMs (query-memory-devices)",
            "QEMU restored the memory backends (query-memdev)",
            "restored DIMMs are the scenario's coldplugged ones")


def test_repeat_3_boots_once_and_judges_each_restored_repetition(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(SCENARIO), "--out", str(out),
                           "--accel", "tcg", "--repeat", "3"], capture_output=True, text=True, timeout=400)
    assert proc.returncode == ExitCode.PASS, (proc.stdout, proc.stderr)
    result = ResultFile.read(out / "result.json")
    repeat = result.info.repeat
    assert repeat is not None and repeat.count == 3 and repeat.totals() == "3 pass of 3"
    assert [c.name for c in result.checks] == ["repetition 1", "repetition 2", "repetition 3"]
    # Each restored kernel refused the eject itself, with the _OST status in the reason.
    assert repeat.refusals == ("remove-hot0 did not succeed in 3 of 3: guest refused: "
                               "eject request: eject not supported by OSPM (0x80) ×3",)
    assert repeat.state_bytes > 10 << 20 and not (out / "state.bin").exists()
    booted = (out / "boot" / "console.log").read_bytes()
    assert b"Linux version" in booted
    saved = ModelFile.read(out / "model.json")  # the boot as saved: the reports' memory map
    assert saved.guest.before is not None and saved.guest.before.blocks and not saved.actions
    for index in (1, 2, 3):
        rep = ResultFile.read(out / f"rep-{index:02d}" / "result.json")
        assert rep.verdict is Verdict.PASS, rep.failed_checks
        names = {c.name: c for c in rep.checks}
        assert all(names[n].ok for n in IDENTITY)
        assert names["action remove-hot0 (dimm_remove)"].observed == "failure"
        # The restored guest printed no new boot: it continued the saved one.
        assert b"Linux version" not in (out / f"rep-{index:02d}" / "console.log").read_bytes()
        # The host's QEMU restores through its own way: mapped-ram (QEMU >= 9.0, -incoming
        # defer then migrate-incoming file:) or the fd: stream (QEMU 7.2 on Debian 12).
        incoming = "-incoming defer" if repeat.migration == MAPPED_RAM else "-incoming fd:"
        assert incoming in (out / f"rep-{index:02d}" / "command.txt").read_text()
        model = ModelFile.read(out / f"rep-{index:02d}" / "model.json")
        assert [a.id for a in model.actions] == [a.id for a in load_scenario(SCENARIO).actions]
        assert model.boot_log.source == str(out / "boot" / "console.log") and model.guest.after is not None
    left = subprocess.run(["pgrep", "-f", str(out)], capture_output=True, text=True)
    assert left.stdout == "", f"a QEMU outlived its repetition: {left.stdout}"
