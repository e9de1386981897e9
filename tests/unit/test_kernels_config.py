"""Kernel .config parsing, IKCONFIG extraction and the missing-options error."""
from __future__ import annotations

import gzip
from pathlib import Path

import pytest

import kernels
from harness.errors import BadInputError, ParseError
from kernels.config import (
    REQUIRED_FOR_HOTPLUG,
    check_kernel,
    config_from_vmlinux,
    missing_options,
    parse_config,
    read_config,
)
from kernels.kernel import Kernel

FULL = "\n".join(f"CONFIG_{name}=y" for name in REQUIRED_FOR_HOTPLUG) + "\n"
TEXT = """\
#
# Automatically generated file; DO NOT EDIT.
#
CONFIG_MEMORY_HOTPLUG=y
CONFIG_NUMA=y
CONFIG_VIRTIO_BLK=m
CONFIG_NODES_SHIFT=10
CONFIG_CMDLINE="console=ttyS0"
# CONFIG_ACPI_TABLE_UPGRADE is not set
"""


def _kernel(tmp_path: Path, config: Path | None, vmlinux: Path | None) -> Kernel:
    return Kernel("test:k", tmp_path / "bzImage", None, config, vmlinux, "6.1.0-t", (6, 1), None, "local")


def test_values_and_unset_lines() -> None:
    config = parse_config(TEXT, "cfg")
    assert config.value("NODES_SHIFT") == "10"
    assert config.value("CONFIG_CMDLINE") == '"console=ttyS0"'
    assert config.value("ACPI_TABLE_UPGRADE") is None
    assert config.is_builtin("NUMA") and not config.is_builtin("VIRTIO_BLK")


def test_missing_options_in_required_order() -> None:
    config = parse_config(TEXT, "cfg")
    assert missing_options(config, ["ACPI_TABLE_UPGRADE", "CONFIG_NUMA", "VIRTIO_BLK", "MEMORY_HOTREMOVE"]) == [
        "CONFIG_ACPI_TABLE_UPGRADE", "CONFIG_VIRTIO_BLK", "CONFIG_MEMORY_HOTREMOVE"]


def test_check_kernel_names_every_missing_option(tmp_path: Path) -> None:
    path = tmp_path / ".config"
    path.write_text(TEXT)
    with pytest.raises(BadInputError) as info:
        check_kernel(_kernel(tmp_path, path, None))
    message = str(info.value)
    assert message.startswith("kernel test:k (6.1.0-t) lacks CONFIG_ACPI_TABLE_UPGRADE, CONFIG_MEMORY_HOTREMOVE")
    expected = [f"CONFIG_{n}" for n in REQUIRED_FOR_HOTPLUG if n not in ("MEMORY_HOTPLUG", "NUMA")]
    assert message.endswith(", ".join(expected))


def test_check_kernel_passes_a_complete_config(tmp_path: Path) -> None:
    path = tmp_path / ".config"
    path.write_text(FULL)
    check_kernel(_kernel(tmp_path, path, None))


def test_ikconfig_blob_is_read_from_vmlinux(tmp_path: Path) -> None:
    vmlinux = tmp_path / "vmlinux"
    vmlinux.write_bytes(b"\x7fELF...IKCFG_ST" + gzip.compress(TEXT.encode()) + b"IKCFG_ED...")
    config = config_from_vmlinux(vmlinux.read_bytes(), str(vmlinux))
    assert config.value("NODES_SHIFT") == "10"
    with pytest.raises(BadInputError, match="lacks CONFIG_ACPI_TABLE_UPGRADE"):
        check_kernel(_kernel(tmp_path, None, vmlinux))


def test_no_ikconfig_says_so() -> None:
    with pytest.raises(BadInputError, match="vmlinux: no embedded config"):
        config_from_vmlinux(b"\x7fELF nothing", "vmlinux")


def test_corrupt_ikconfig_names_offset() -> None:
    with pytest.raises(ParseError, match=r"vmlinux: offset 0x2: IKCONFIG blob does not gunzip"):
        config_from_vmlinux(b"..IKCFG_STnot-gzipIKCFG_ED", "vmlinux")


def test_bad_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("CONFIG_NUMA=y\nnonsense\n")
    with pytest.raises(ParseError, match=r"config: line 2: not 'CONFIG_NAME=value'"):
        read_config(path)


@pytest.mark.parametrize("series", ["6.1", "6.12"])
def test_debian_configs_have_everything(series: str) -> None:
    # The kernels scripts/setup fetches into memhp's cache (fetched here if they are not).
    path = kernels.resolve(f"debian:{series}").config
    assert path is not None
    config = read_config(path)
    assert missing_options(config, REQUIRED_FOR_HOTPLUG) == []
    assert config.value("NODES_SHIFT") == "10"
