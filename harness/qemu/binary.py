"""Which QEMU runs: ``--qemu PATH|SPEC`` resolved to a binary and what it needs to run.

``system`` (the default) is ``qemu-system-x86_64`` on ``PATH``. A PATH is the binary
itself or the root of a private tree (an unpacked Debian package: ``usr/bin``,
``usr/share/qemu``, ``usr/lib/x86_64-linux-gnu/qemu``). A QEMU from a private tree runs
with ``-L`` to its own data files (firmware, option ROMs) and ``QEMU_MODULE_DIR`` at its
own modules: without them it loads the system QEMU's modules, whose build stamp differs,
and aborts (util/module.c refuses a module of another build).
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from harness.errors import BadInputError, InfrastructureError

QEMU_BINARY = "qemu-system-x86_64"
SYSTEM = "system"
_DATA = Path("usr/share/qemu")
_MODULES = Path("usr/lib/x86_64-linux-gnu/qemu")


@dataclass(frozen=True)
class QemuBinary:
    """A QEMU to run: its executable and, for a private tree, where its own files are."""

    spec: str                      # as the user gave it: "system", a path, "debian:10.0"
    path: Path                     # the executable (a bare name is looked up on PATH)
    root: Path | None = None       # the private tree it came from, if any
    package: str | None = None     # "qemu-system-x86 1:10.0.2+ds-… (bookworm-backports)" from the archive

    @property
    def data_dir(self) -> Path | None:
        return self.root / _DATA if self.root is not None and (self.root / _DATA).is_dir() else None

    def argv(self) -> list[str]:
        """The start of every command line of this QEMU."""
        data = self.data_dir
        return [str(self.path)] + (["-L", str(data)] if data is not None else [])

    def env(self) -> dict[str, str] | None:
        """The environment QEMU runs in: None (inherit) for the system's QEMU; for a
        private tree, its own module folder, even one it lacks: never the host QEMU's
        modules (the libraries are the host's)."""
        if self.root is None:
            return None
        return dict(os.environ, QEMU_MODULE_DIR=str(self.root / _MODULES))

    def resolved(self) -> Path:
        """The executable's absolute path (InfrastructureError when there is none)."""
        found = shutil.which(str(self.path))
        if found is None:
            raise InfrastructureError(f"{self.path} not found: run scripts/setup "
                                      "(apt-get install qemu-system-x86) or give --qemu PATH")
        return Path(found)


def system_qemu() -> QemuBinary:
    return QemuBinary(SYSTEM, Path(QEMU_BINARY))


def _tree_root(binary: Path) -> Path | None:
    """The private tree a binary sits in (``ROOT/usr/bin/qemu…``), None for the host's own."""
    if binary.parent.name == "bin" and binary.parent.parent.name == "usr":
        root = binary.parent.parent.parent
        return None if root == Path("/") else root
    return None


def from_path(spec: str) -> QemuBinary:
    """A QEMU binary or the root of a tree holding ``usr/bin/qemu-system-x86_64``."""
    path = Path(spec).expanduser().absolute()
    if path.is_dir():
        path = path / "usr/bin" / QEMU_BINARY
    if not path.is_file() or not os.access(path, os.X_OK):
        raise BadInputError(f"--qemu: {spec}: no executable QEMU there "
                            f"(give the binary or a folder with usr/bin/{QEMU_BINARY})")
    return QemuBinary(spec, path, _tree_root(path))


