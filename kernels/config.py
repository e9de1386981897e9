"""Kernel .config: read it from a file or the vmlinux's IKCONFIG, check required options."""
from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from harness.errors import BadInputError, ParseError

if TYPE_CHECKING:
    from kernels.kernel import Kernel

# What every memhp guest relies on. Built-in (=y) is required: the ACPI table upgrade and
# boot-time NUMA setup run before any module could load. Drivers only some scenarios need
# (virtio_mem) may be modules: kernels.needed_modules puts them in the initrd.
REQUIRED_FOR_HOTPLUG = (
    "ACPI_TABLE_UPGRADE", "MEMORY_HOTPLUG", "MEMORY_HOTREMOVE", "ACPI_HOTPLUG_MEMORY",
    "NUMA", "ACPI_NUMA", "PROC_PAGE_MONITOR", "SERIAL_8250_CONSOLE", "BLK_DEV_INITRD",
)
# kernel/configs.c wraps the gzipped .config in these markers (CONFIG_IKCONFIG).
_IKCFG_START = b"IKCFG_ST"
_IKCFG_END = b"IKCFG_ED"
_SET = re.compile(r"^CONFIG_([A-Za-z0-9_]+)=(.*)$")
_UNSET = re.compile(r"^# CONFIG_([A-Za-z0-9_]+) is not set$")


@dataclass(frozen=True)
class KernelConfig:
    """Option name (without ``CONFIG_``) → value as written (``y``, ``m``, ``"str"``, ``10``)."""

    source: str
    options: Mapping[str, str]

    def value(self, name: str) -> str | None:
        """The value of ``name`` (with or without ``CONFIG_``), None if unset."""
        return self.options.get(name.removeprefix("CONFIG_"))

    def is_builtin(self, name: str) -> bool:
        return self.value(name) == "y"


def parse_config(text: str, source: str) -> KernelConfig:
    """Parse Kconfig output; ``# CONFIG_X is not set`` lines leave X absent."""
    options: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or _UNSET.match(line) or line.startswith("#"):
            continue
        match = _SET.match(line)
        if match is None:
            raise ParseError(f"{source}: line {lineno}", f"not 'CONFIG_NAME=value': {line!r}")
        options[match.group(1)] = match.group(2)
    return KernelConfig(source, MappingProxyType(options))


_READ: dict[tuple[str, int, int], KernelConfig] = {}


def read_config(path: Path) -> KernelConfig:
    """Read a ``.config`` or ``/boot/config-<release>`` file."""
    try:
        stat = path.stat()
        # Parsed once per file version: every run checks its kernel's config, and its
        # ~9000 lines cost 20 ms a run (a lab worker runs hundreds).
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
        if key not in _READ:
            _READ[key] = parse_config(path.read_text(encoding="utf-8", errors="replace"), str(path))
    except OSError as err:
        raise BadInputError(f"{path}: cannot read kernel config: {err.strerror}") from err
    return _READ[key]


def config_from_vmlinux(data: bytes, where: str) -> KernelConfig:
    """The ``IKCFG_ST`` gzip blob of a kernel built with CONFIG_IKCONFIG."""
    start = data.find(_IKCFG_START)
    end = data.find(_IKCFG_END, start + len(_IKCFG_START))
    if start < 0 or end < 0:
        raise BadInputError(f"{where}: no embedded config (kernel built without CONFIG_IKCONFIG)")
    blob = data[start + len(_IKCFG_START):end]
    try:
        text = gzip.decompress(blob).decode("utf-8", "replace")
    except (OSError, EOFError, zlib.error) as err:
        raise ParseError(f"{where}: offset {start:#x}", f"IKCONFIG blob does not gunzip: {err}") from err
    return parse_config(text, f"{where}: IKCONFIG")


def missing_options(config: KernelConfig, required: Iterable[str]) -> list[str]:
    """The ``CONFIG_``-prefixed names of required options that are not built in."""
    names = (name.removeprefix("CONFIG_") for name in required)
    return [f"CONFIG_{name}" for name in names if not config.is_builtin(name)]


def kernel_config(kernel: Kernel) -> KernelConfig:
    """The kernel's .config file, else the config embedded in its vmlinux."""
    if kernel.config is not None:
        return read_config(kernel.config)
    if kernel.vmlinux is not None:
        return config_from_vmlinux(kernel.vmlinux.read_bytes(), str(kernel.vmlinux))
    raise BadInputError(f"kernel {kernel.spec}: no .config and no vmlinux to read IKCONFIG from")


def check_kernel(kernel: Kernel, required: Iterable[str] = REQUIRED_FOR_HOTPLUG) -> None:
    """Raise ``BadInputError`` naming every required option the kernel lacks."""
    missing = missing_options(kernel_config(kernel), required)
    if missing:
        raise BadInputError(f"kernel {kernel.spec} ({kernel.release}) lacks {', '.join(missing)}")
