"""A full disk under a real run (Debian 6.1): could not test, never a kernel failure."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import ExitCode
from harness.run.artifacts import ResultFile
from harness.run.verdict import Verdict

pytestmark = pytest.mark.integration

SCENARIO = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios" / "two-node-dimms.toml"


def test_a_run_on_a_full_disk_prints_its_verdict_names_the_artifact_and_exits_125(small_tmpfs) -> None:
    # 96 KiB: the console, the transcripts and result.json fit (about 72 KiB in 4 KiB pages),
    # model.json (about 50 KiB) does not; the cached initrd (1 MB) is only linked.
    out = small_tmpfs(96 << 10)
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(SCENARIO), "--out", str(out),
                           "--accel", "tcg", "--bisect"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 125, (proc.stdout, proc.stderr)
    assert proc.stderr.splitlines() == [
        f"memhp: could not write {out / 'model.json'}: No space left on device"], proc.stderr
    assert proc.stdout.startswith("two-node-dimms on debian:6.1 (6.1.") and ": PASS\n" in proc.stdout
    result = ResultFile.read(out / "result.json")
    assert result.verdict is Verdict.PASS and result.error == "not written (could not test): model.json"
    assert result.exit_code is ExitCode.CANNOT_TEST  # the file says the exit the process made
    assert not list(out.glob("*.tmp")) and not (out / "model.json").exists()
    initrd = out / "initrd.img"
    assert initrd.is_symlink() and initrd.resolve().stat().st_size > 500_000
    assert b"Linux version" in (out / "console.log").read_bytes()


def test_a_disk_that_fills_during_the_boot_is_one_line_125_not_a_kernel_failure(small_tmpfs) -> None:
    """40 KiB: the console fills the disk while the kernel boots (QEMU's own writes are lost
    without a word); the agent's transcript is the first of memhp's writes to fail."""
    out = small_tmpfs(40 << 10)
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(SCENARIO), "--out", str(out),
                           "--accel", "tcg", "--bisect"], capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.returncode == 125, (proc.stdout, proc.stderr)
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"memhp: could not write {out}/") and line.endswith(": No space left on device"), line
    assert not list(out.glob("*.tmp"))
