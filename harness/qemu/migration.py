"""Saving a stopped guest to a file and restoring it in a new QEMU: the two ways QEMU has.

``stream``: the migration stream written to a file descriptor handed over QMP (``fd:``),
read back by ``-incoming fd:N``; every QEMU has it (7.2 has no ``file:`` URI).
``mapped-ram``: ``file:`` with the ``mapped-ram`` capability (QEMU 9.0+,
docs/devel/migration/mapped-ram.rst): each RAM page at a fixed offset of the file, so the
file is as large as the guest's RAM but sparse, and the restore reads the pages in place.
It must be set on both sides: the restoring QEMU starts with ``-incoming defer``, gets the
capability, then ``migrate-incoming``. Which one memhp takes where both exist is
:data:`PREFERRED`, measured by scripts/bench-repeat.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.qemu.facts import QemuFacts
from harness.qemu.qmp import QmpSession

STREAM = "stream"
MAPPED_RAM = "mapped-ram"
FORMATS = (STREAM, MAPPED_RAM)
# scripts/bench-repeat 5 --qemu debian:10.0 (QEMU 10.0.2, TCG, debian:6.1 6.1.0-57,
# two-node-dimms, 1 GiB guest, the host shared by 8 sessions), both in one run: restore
# median 0.26 s with mapped-ram against 0.58 s with the fd: stream (save 0.54 s and 0.57 s).
PREFERRED = MAPPED_RAM
# The default 32 MiB/s bandwidth cap would make a 4 GiB guest take seconds for nothing.
_UNCAPPED = {"max-bandwidth": 1 << 40}


@dataclass(frozen=True)
class SaveFormat:
    """One way to save and restore; ``path`` is the state file."""

    name: str

    def save(self, qmp: QmpSession, path: Path, timeout: float) -> dict[str, Any]:
        """Migrate the (stopped) guest into ``path``; QEMU's final ``query-migrate`` answer."""
        qmp.command("migrate-set-parameters", **_UNCAPPED)
        if self.name == MAPPED_RAM:
            qmp.command("migrate-set-capabilities",
                        capabilities=[{"capability": MAPPED_RAM, "state": True}])
            qmp.command("migrate", uri=f"file:{path}")
            return qmp.wait_migration(timeout)
        with open(path, "wb") as state:
            qmp.send_fd(state.fileno(), "memhp-state")
            qmp.command("migrate", uri="fd:memhp-state")
            return qmp.wait_migration(timeout)

    def incoming_args(self, fd: int | None) -> list[str]:
        """The restoring QEMU's ``-incoming`` (``fd``: the state file, open, for ``stream``)."""
        return ["-incoming", "defer" if self.name == MAPPED_RAM else f"fd:{fd}"]

    def start_incoming(self, qmp: QmpSession, path: Path) -> None:
        """After QMP is up in the restoring QEMU: what ``-incoming`` could not say."""
        if self.name == MAPPED_RAM:
            qmp.command("migrate-set-capabilities",
                        capabilities=[{"capability": MAPPED_RAM, "state": True}])
            qmp.command("migrate-incoming", uri=f"file:{path}")


def save_format(facts: QemuFacts, asked: str | None = None) -> SaveFormat:
    """``asked`` (scripts/bench-repeat), else :data:`PREFERRED` where this QEMU has it."""
    name = asked or (PREFERRED if PREFERRED != MAPPED_RAM or facts.mapped_ram else STREAM)
    if name == MAPPED_RAM and not facts.mapped_ram:
        raise ValueError(f"{facts.label} has no {MAPPED_RAM} migration capability")
    return SaveFormat(name)
