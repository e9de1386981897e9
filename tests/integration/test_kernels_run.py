"""Kernels beyond the Debian packages: a local build boots through the same path; a kernel
that lacks a needed option is refused before it boots, with the option named."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import kernels
from harness.cli import main
from harness.errors import ExitCode
from harness.run.verdict import Verdict

pytestmark = pytest.mark.integration

SCENARIOS = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios"


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
    err = capsys.readouterr().err  # bad input: one line on stderr, as every subcommand's
    assert err.count("\n") == 1 and "lacks CONFIG_ACPI_TABLE_UPGRADE" in err, err
    assert not (tmp_path / "out" / "console.log").exists(), "refused before booting"


def test_a_kernel_tree_boots_the_default_scenario(memhp_run, tmp_path: Path) -> None:
    """A patched kernel's build tree (``<root>/arch/x86/boot/bzImage`` with ``.config`` and
    ``vmlinux`` beside it, as scripts/build-kernel leaves it) boots through the local path. The tree is laid out from Debian's files: compiling one
    takes 16 min on 2 cores, which is scripts/build-kernel's job, not CI's."""
    debian = kernels.resolve("debian:6.1")
    assert debian.config is not None and debian.vmlinux is not None
    boot = tmp_path / "linux" / "arch" / "x86" / "boot"
    boot.mkdir(parents=True)
    shutil.copyfile(debian.bzimage, boot / "bzImage")
    for source, name in ((debian.config, ".config"), (debian.vmlinux, "vmlinux")):
        (tmp_path / "linux" / name).symlink_to(source)
    local = kernels.resolve(os.fspath(boot / "bzImage"))
    tree = tmp_path / "linux"
    assert (local.source, local.config, local.vmlinux) == ("local", tree / ".config", tree / "vmlinux")
    result = memhp_run(SCENARIOS / "three-node-movable.toml", kernel=os.fspath(boot / "bzImage"))
    assert result.verdict is Verdict.PASS, result.summary()
    assert result.release == debian.release
