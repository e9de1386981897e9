"""Kernels beyond the Debian packages: a local build boots through the same path; a kernel
that lacks a needed option is refused before it boots, with the option named."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import kernels
from harness.cli import main
from harness.errors import ExitCode
from harness.paths import cache_root
from harness.run.verdict import Verdict

pytestmark = pytest.mark.integration

SCENARIOS = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios"
# Where `scripts/build-kernel --out $MEMHP_CACHE/build/linux-6.1-local` leaves its image
# (16 min on 2 cores here: scripts/setup builds it only with MEMHP_BUILD_KERNEL=1).
LOCAL_BZIMAGE = cache_root() / "build" / "linux-6.1-local" / "build" / "arch" / "x86" / "boot" / "bzImage"


def test_kernel_without_table_upgrade_is_refused_naming_the_option(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    debian = kernels.resolve("debian:6.1")
    assert debian.config is not None
    lines = [ln for ln in debian.config.read_text().splitlines() if "CONFIG_ACPI_TABLE_UPGRADE" not in ln]
    config = tmp_path / "config"
    config.write_text("\n".join(lines + ["# CONFIG_ACPI_TABLE_UPGRADE is not set"]) + "\n")
    code = main(["run", str(SCENARIOS / "three-node-movable.toml"), "--out", str(tmp_path / "out"),
                 "--kernel", f"{debian.bzimage},config={config}"])
    assert code == ExitCode.BAD_INPUT
    assert "lacks CONFIG_ACPI_TABLE_UPGRADE" in capsys.readouterr().out
    assert not (tmp_path / "out" / "console.log").exists(), "refused before booting"


@pytest.mark.slow
@pytest.mark.skipif(not LOCAL_BZIMAGE.exists(),
                    reason=f"no local build at {LOCAL_BZIMAGE} (scripts/build-kernel, ~16 min)")
def test_locally_built_kernel_boots_the_default_scenario(memhp_run) -> None:
    result = memhp_run(SCENARIOS / "three-node-movable.toml", kernel=os.fspath(LOCAL_BZIMAGE))
    assert result.verdict is Verdict.PASS, result.summary()
    assert result.release is not None and result.release.startswith("6.1.")
