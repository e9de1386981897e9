"""The ``Kernel`` the harness boots: a bzImage plus what is known about it."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness.errors import ParseError
from kernels.bzimage import read_setup_header
from kernels.elfinfo import is_placeholder_system_map

# The real-mode setup (header and kernel_version string) is at most 64 KiB.
_SETUP_MAX = 0x10000
_RELEASE_VERSION = re.compile(r"^(\d+)\.(\d+)")
# How QEMU may enter a kernel: its bzImage, or its vmlinux at the PVH entry (kernels.pvh).
BOOT_MODES = ("bzimage", "pvh")


@dataclass(frozen=True)
class Kernel:
    """A bootable kernel and its companions; ``source`` is ``"debian"`` or ``"local"``.

    ``system_map`` is None when there is none or it is Debian's placeholder;
    ``release`` is ``uname -r`` as the bzImage header states it; ``modules`` is a local
    kernel's module tree (build tree or ``lib/modules/<release>``), None for Debian kernels,
    whose modules come from their package (``kernels.debian_modules``).
    """

    spec: str
    bzimage: Path
    system_map: Path | None
    config: Path | None
    vmlinux: Path | None
    release: str
    version: tuple[int, int]
    package_version: str | None
    source: str
    modules: Path | None = None


def release_version(release: str, where: str) -> tuple[int, int]:
    """``(6, 1)`` from ``6.1.0-47-amd64``."""
    match = _RELEASE_VERSION.match(release)
    if match is None:
        raise ParseError(where, f"kernel release {release!r} does not start with MAJOR.MINOR")
    return int(match.group(1)), int(match.group(2))


def make_kernel(spec: str, bzimage: Path, *, system_map: Path | None, config: Path | None,
                vmlinux: Path | None, package_version: str | None, source: str,
                modules: Path | None = None) -> Kernel:
    """Build a ``Kernel``, reading the release from the bzImage's setup header."""
    with bzimage.open("rb") as fh:
        head = fh.read(_SETUP_MAX)
    release = read_setup_header(head, str(bzimage)).release
    if system_map is not None and is_placeholder_system_map(system_map):
        system_map = None
    return Kernel(spec, bzimage, system_map, config, vmlinux, release,
                  release_version(release, str(bzimage)), package_version, source, modules)
